#include "engine/chat_template/filters.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <unordered_map>

#include "common/utf8.h"
#include "engine/chat_template/builtins.h"
#include "engine/chat_template/interpreter.h"
#include "engine/chat_template/json_format.h"
#include "engine/chat_template/template_error.h"
#include "engine/chat_template/unicode.h"

namespace manifold::jinja {

namespace {

using FilterFunction = std::function<Value(Interpreter&, const Value&, CallArgs&)>;
using TestFunction = std::function<bool(Interpreter&, const Value&, CallArgs&)>;

bool flag(const Value* value, bool fallback) {
  return value == nullptr ? fallback : value->truthy();
}

const Value& requireArgument(const Value* value, const char* what) {
  if (value == nullptr) throwRuntime(std::string("missing argument: ") + what);
  return *value;
}

// `a.b.0` attribute paths of map, sort, selectattr, ...
Value attributePath(Interpreter& interpreter, const Value& item, const Value& path) {
  if (path.isInt()) return getItem(item, path);
  const std::string& text = path.asString();
  Value current = item;
  size_t start = 0;
  while (true) {
    const size_t dot = text.find('.', start);
    const std::string part = text.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!part.empty() && part.find_first_not_of("0123456789") == std::string::npos &&
        current.isList()) {
      current = getItem(current, Value::integer(std::stoll(part)));
    } else {
      current = getAttribute(interpreter, current, part);
    }
    if (dot == std::string::npos) return current;
    start = dot + 1;
  }
}

// The items a filter iterates: lists as they are, dict keys, string code points.
ValueList iterate(const Value& value, const char* filter) {
  switch (value.kind()) {
    case Value::Kind::kList:
      return value.asList();
    case Value::Kind::kUndefined:
      return {};
    case Value::Kind::kDict: {
      ValueList keys;
      for (const auto& entry : value.asDict().entries()) keys.push_back(Value::string(entry.first));
      return keys;
    }
    case Value::Kind::kString: {
      ValueList chars;
      for (std::string& part : splitCodePoints(value.asString())) {
        chars.push_back(Value::string(std::move(part)));
      }
      return chars;
    }
    default:
      throwRuntime(std::string(filter) + ": '" + value.typeName() + "' object is not iterable");
  }
}

// Sort key comparison with Jinja2's case-insensitive default for strings.
int compareForSort(const Value& a, const Value& b, bool case_sensitive) {
  if (!case_sensitive && a.isString() && b.isString()) {
    return compareValues(Value::string(toLowerUtf8(a.asString())),
                         Value::string(toLowerUtf8(b.asString())));
  }
  return compareValues(a, b);
}

std::string htmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out.append("&amp;");
        break;
      case '<':
        out.append("&lt;");
        break;
      case '>':
        out.append("&gt;");
        break;
      case '"':
        out.append("&#34;");
        break;
      case '\'':
        out.append("&#39;");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

Value toInteger(const Value& value, const Value& fallback) {
  switch (value.kind()) {
    case Value::Kind::kInt:
      return value;
    case Value::Kind::kBool:
      return Value::integer(value.asBool() ? 1 : 0);
    case Value::Kind::kFloat:
      if (!std::isfinite(value.asFloat())) return fallback;
      return Value::integer(static_cast<int64_t>(std::trunc(value.asFloat())));
    case Value::Kind::kString: {
      const std::string text(trimUnicodeSpace(value.asString(), true, true));
      try {
        size_t used = 0;
        const int64_t parsed = std::stoll(text, &used, 10);
        if (used == text.size()) return Value::integer(parsed);
        const double number = std::stod(text, &used);
        if (used == text.size() && std::isfinite(number)) {
          return Value::integer(static_cast<int64_t>(std::trunc(number)));
        }
      } catch (const std::exception&) {
      }
      return fallback;
    }
    default:
      return fallback;
  }
}

Value toFloat(const Value& value, const Value& fallback) {
  switch (value.kind()) {
    case Value::Kind::kInt:
    case Value::Kind::kBool:
    case Value::Kind::kFloat:
      return Value::number(value.toDouble());
    case Value::Kind::kString: {
      const std::string text(trimUnicodeSpace(value.asString(), true, true));
      try {
        size_t used = 0;
        const double number = std::stod(text, &used);
        if (used == text.size()) return Value::number(number);
      } catch (const std::exception&) {
      }
      return fallback;
    }
    default:
      return fallback;
  }
}

// Test name and extra arguments of select/reject (`args` from `first`) or selectattr/rejectattr.
bool passesTest(Interpreter& interpreter, const Value& item, const CallArgs& args, size_t first) {
  if (args.positional.size() <= first) return item.truthy();
  const Value& test_name = args.positional[first];
  if (!test_name.isString()) throwRuntime("test name must be a string");
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<long>(first) + 1,
                              args.positional.end());
  return applyTest(interpreter, test_name.asString(), item, test_args);
}

Value filterItems(Interpreter& interpreter, const Value& operand, CallArgs& args, bool select,
                  bool by_attribute) {
  ValueList kept;
  for (const Value& item : iterate(operand, select ? "select" : "reject")) {
    bool passes;
    if (by_attribute) {
      const Value& attribute = requireArgument(args.get(0, "attribute"), "attribute");
      passes = passesTest(interpreter, attributePath(interpreter, item, attribute), args, 1);
    } else {
      passes = passesTest(interpreter, item, args, 0);
    }
    if (passes == select) kept.push_back(item);
  }
  return Value::list(std::move(kept));
}

Value tojsonFilter(const Value& operand, CallArgs& args) {
  JsonFormatOptions options;
  if (const Value* indent = args.get(0, "indent"); indent != nullptr && !indent->isNone()) {
    if (!indent->isInt()) throwRuntime("tojson: indent must be an integer");
    options.indent = static_cast<int>(std::clamp<int64_t>(indent->asInt(), 0, 64));
  }
  options.ensure_ascii = flag(args.get(99, "ensure_ascii"), false);
  options.sort_keys = flag(args.get(99, "sort_keys"), false);
  if (const Value* separators = args.get(99, "separators");
      separators != nullptr && !separators->isNone()) {
    if (!separators->isList() || separators->asList().size() != 2 ||
        !separators->asList()[0].isString() || !separators->asList()[1].isString()) {
      throwRuntime("tojson: separators must be a pair of strings");
    }
    options.separators.emplace(separators->asList()[0].asString(),
                               separators->asList()[1].asString());
  }
  return Value::string(toJson(operand, options));
}

Value indentFilter(const Value& operand, CallArgs& args) {
  const Value* width_value = args.get(0, "width");
  std::string indentation(4, ' ');
  if (width_value != nullptr) {
    indentation = width_value->isString()
                      ? width_value->asString()
                      : std::string(static_cast<size_t>(std::clamp<int64_t>(
                                        width_value->isInt() ? width_value->asInt() : 4, 0, 256)),
                                    ' ');
  }
  const bool first = flag(args.get(1, "first"), false);
  const bool blank = flag(args.get(2, "blank"), false);
  const std::string text = operand.toString();
  std::string out;
  size_t start = 0;
  bool is_first_line = true;
  while (true) {
    const size_t newline = text.find('\n', start);
    const std::string line =
        text.substr(start, newline == std::string::npos ? std::string::npos : newline - start);
    if ((!is_first_line || first) && (blank || !line.empty())) out.append(indentation);
    out.append(line);
    if (newline == std::string::npos) break;
    out.push_back('\n');
    start = newline + 1;
    is_first_line = false;
  }
  return Value::string(std::move(out));
}

Value roundFilter(const Value& operand, CallArgs& args) {
  const Value* precision_value = args.get(0, "precision");
  const int64_t precision = precision_value != nullptr ? precision_value->asInt() : 0;
  const Value* method_value = args.get(1, "method");
  const std::string method = method_value != nullptr ? method_value->toString() : "common";
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = operand.toDouble() * scale;
  double rounded;
  if (method == "ceil") {
    rounded = std::ceil(scaled);
  } else if (method == "floor") {
    rounded = std::floor(scaled);
  } else if (method == "common") {
    rounded = std::nearbyint(scaled);  // half to even, as Python's round()
  } else {
    throwRuntime("round: method must be 'common', 'ceil' or 'floor'");
  }
  return Value::number(rounded / scale);
}

Value sortFilter(Interpreter& interpreter, const Value& operand, CallArgs& args) {
  ValueList items = iterate(operand, "sort");
  const bool reverse = flag(args.get(0, "reverse"), false);
  const bool case_sensitive = flag(args.get(1, "case_sensitive"), false);
  const Value* attribute = args.get(2, "attribute");
  const auto key = [&](const Value& item) {
    return attribute == nullptr || attribute->isNone()
               ? item
               : attributePath(interpreter, item, *attribute);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    const int c = compareForSort(key(a), key(b), case_sensitive);
    return reverse ? c > 0 : c < 0;
  });
  return Value::list(std::move(items));
}

Value dictsortFilter(const Value& operand, CallArgs& args) {
  if (!operand.isDict()) throwRuntime("dictsort: expected a dict");
  const bool case_sensitive = flag(args.get(0, "case_sensitive"), false);
  const Value* by_value = args.get(1, "by");
  const bool by_key = by_value == nullptr || by_value->toString() == "key";
  const bool reverse = flag(args.get(2, "reverse"), false);
  ValueList items;
  for (const auto& [key, value] : operand.asDict().entries()) {
    items.push_back(Value::list({Value::string(key), value}));
  }
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    const size_t index = by_key ? 0 : 1;
    const int c = compareForSort(a.asList()[index], b.asList()[index], case_sensitive);
    return reverse ? c > 0 : c < 0;
  });
  return Value::list(std::move(items));
}

Value mapFilter(Interpreter& interpreter, const Value& operand, CallArgs& args) {
  ValueList mapped;
  const Value* attribute = args.get(99, "attribute");
  if (attribute != nullptr) {
    const Value* fallback = args.get(99, "default");
    for (const Value& item : iterate(operand, "map")) {
      Value value = attributePath(interpreter, item, *attribute);
      if (value.isUndefined() && fallback != nullptr) value = *fallback;
      mapped.push_back(std::move(value));
    }
    return Value::list(std::move(mapped));
  }
  if (args.positional.empty() || !args.positional[0].isString()) {
    throwRuntime("map: expected a filter name or attribute=");
  }
  const std::string filter = args.positional[0].asString();
  CallArgs filter_args;
  filter_args.positional.assign(args.positional.begin() + 1, args.positional.end());
  filter_args.keyword = args.keyword;
  for (const Value& item : iterate(operand, "map")) {
    mapped.push_back(applyFilter(interpreter, filter, item, filter_args));
  }
  return Value::list(std::move(mapped));
}

Value uniqueFilter(Interpreter& interpreter, const Value& operand, CallArgs& args) {
  const bool case_sensitive = flag(args.get(0, "case_sensitive"), false);
  const Value* attribute = args.get(1, "attribute");
  ValueList kept;
  ValueList seen;
  for (const Value& item : iterate(operand, "unique")) {
    Value key = attribute != nullptr ? attributePath(interpreter, item, *attribute) : item;
    if (!case_sensitive && key.isString()) key = Value::string(toLowerUtf8(key.asString()));
    bool duplicate = false;
    for (const Value& previous : seen) {
      if (valuesEqual(previous, key)) {
        duplicate = true;
        break;
      }
    }
    if (!duplicate) {
      seen.push_back(std::move(key));
      kept.push_back(item);
    }
  }
  return Value::list(std::move(kept));
}

Value minMaxFilter(const Value& operand, CallArgs& args, bool want_max) {
  const ValueList items = iterate(operand, want_max ? "max" : "min");
  if (items.empty()) return Value::undefined();
  const bool case_sensitive = flag(args.get(0, "case_sensitive"), false);
  const Value* best = &items[0];
  for (const Value& item : items) {
    const int c = compareForSort(item, *best, case_sensitive);
    if (want_max ? c > 0 : c < 0) best = &item;
  }
  return *best;
}

Value joinFilter(Interpreter& interpreter, const Value& operand, CallArgs& args) {
  const Value* separator = args.get(0, "d");
  const std::string sep = separator != nullptr ? separator->toString() : "";
  const Value* attribute = args.get(1, "attribute");
  std::string out;
  bool first = true;
  for (const Value& item : iterate(operand, "join")) {
    if (!first) out.append(sep);
    first = false;
    out.append(attribute != nullptr ? attributePath(interpreter, item, *attribute).toString()
                                    : item.toString());
    interpreter.checkSize(out.size());
  }
  return Value::string(std::move(out));
}

Value lengthFilter(const Value& operand) {
  switch (operand.kind()) {
    case Value::Kind::kString:
      return Value::integer(static_cast<int64_t>(utf8::codePointCount(operand.asString())));
    case Value::Kind::kList:
      return Value::integer(static_cast<int64_t>(operand.asList().size()));
    case Value::Kind::kDict:
      return Value::integer(static_cast<int64_t>(operand.asDict().size()));
    case Value::Kind::kNamespace:
      return Value::integer(static_cast<int64_t>(operand.asNamespace().size()));
    case Value::Kind::kUndefined:
      return Value::integer(0);
    default:
      throwRuntime(std::string("object of type '") + operand.typeName() + "' has no len()");
  }
}

const std::unordered_map<std::string_view, FilterFunction>& filterTable() {
  static const auto* table = new std::unordered_map<std::string_view, FilterFunction>{
      {"safe", [](Interpreter&, const Value& v, CallArgs&) { return v; }},
      {"tojson", [](Interpreter&, const Value& v, CallArgs& a) { return tojsonFilter(v, a); }},
      {"trim",
       [](Interpreter& in, const Value& v, CallArgs& a) {
         return *callMethod(in, Value::string(v.toString()), "strip", a);
       }},
      {"length", [](Interpreter&, const Value& v, CallArgs&) { return lengthFilter(v); }},
      {"count", [](Interpreter&, const Value& v, CallArgs&) { return lengthFilter(v); }},
      {"upper",
       [](Interpreter&, const Value& v, CallArgs&) { return Value::string(toUpperUtf8(v.toString())); }},
      {"lower",
       [](Interpreter&, const Value& v, CallArgs&) { return Value::string(toLowerUtf8(v.toString())); }},
      {"title",
       [](Interpreter&, const Value& v, CallArgs&) { return Value::string(titleCaseUtf8(v.toString())); }},
      {"capitalize",
       [](Interpreter&, const Value& v, CallArgs&) {
         return Value::string(capitalizeUtf8(v.toString()));
       }},
      {"replace",
       [](Interpreter& in, const Value& v, CallArgs& a) {
         return *callMethod(in, Value::string(v.toString()), "replace", a);
       }},
      {"join", joinFilter},
      {"first",
       [](Interpreter&, const Value& v, CallArgs&) {
         const ValueList items = iterate(v, "first");
         return items.empty() ? Value::undefined() : items.front();
       }},
      {"last",
       [](Interpreter&, const Value& v, CallArgs&) {
         const ValueList items = iterate(v, "last");
         return items.empty() ? Value::undefined() : items.back();
       }},
      {"default",
       [](Interpreter&, const Value& v, CallArgs& a) {
         const Value* fallback = a.get(0, "default_value");
         const bool boolean = flag(a.get(1, "boolean"), false);
         if (v.isUndefined() || (boolean && !v.truthy())) {
           return fallback != nullptr ? *fallback : Value::string("");
         }
         return v;
       }},
      {"items",
       [](Interpreter& in, const Value& v, CallArgs& a) {
         if (v.isUndefined()) return Value::list();
         if (!v.isDict()) throwRuntime(std::string("items: expected a dict, got ") + v.typeName());
         return *callMethod(in, v, "items", a);
       }},
      {"dictsort", [](Interpreter&, const Value& v, CallArgs& a) { return dictsortFilter(v, a); }},
      {"map", mapFilter},
      {"select",
       [](Interpreter& in, const Value& v, CallArgs& a) { return filterItems(in, v, a, true, false); }},
      {"reject",
       [](Interpreter& in, const Value& v, CallArgs& a) { return filterItems(in, v, a, false, false); }},
      {"selectattr",
       [](Interpreter& in, const Value& v, CallArgs& a) { return filterItems(in, v, a, true, true); }},
      {"rejectattr",
       [](Interpreter& in, const Value& v, CallArgs& a) { return filterItems(in, v, a, false, true); }},
      {"list", [](Interpreter&, const Value& v, CallArgs&) { return Value::list(iterate(v, "list")); }},
      {"string", [](Interpreter&, const Value& v, CallArgs&) { return Value::string(v.toString()); }},
      {"int",
       [](Interpreter&, const Value& v, CallArgs& a) {
         const Value* fallback = a.get(0, "default");
         return toInteger(v, fallback != nullptr ? *fallback : Value::integer(0));
       }},
      {"float",
       [](Interpreter&, const Value& v, CallArgs& a) {
         const Value* fallback = a.get(0, "default");
         return toFloat(v, fallback != nullptr ? *fallback : Value::number(0.0));
       }},
      {"bool", [](Interpreter&, const Value& v, CallArgs&) { return Value::boolean(v.truthy()); }},
      {"abs",
       [](Interpreter&, const Value& v, CallArgs&) {
         if (v.isInt()) {
           if (v.asInt() == INT64_MIN) throwRuntime("integer overflow");
           return Value::integer(std::abs(v.asInt()));
         }
         return Value::number(std::fabs(v.toDouble()));
       }},
      {"round", [](Interpreter&, const Value& v, CallArgs& a) { return roundFilter(v, a); }},
      {"sort", sortFilter},
      {"unique", uniqueFilter},
      {"min", [](Interpreter&, const Value& v, CallArgs& a) { return minMaxFilter(v, a, false); }},
      {"max", [](Interpreter&, const Value& v, CallArgs& a) { return minMaxFilter(v, a, true); }},
      {"sum",
       [](Interpreter& in, const Value& v, CallArgs& a) {
         const Value* attribute = a.get(0, "attribute");
         const Value* start = a.get(1, "start");
         Value total = start != nullptr ? *start : Value::integer(0);
         for (const Value& item : iterate(v, "sum")) {
           const Value term = attribute != nullptr ? attributePath(in, item, *attribute) : item;
           total = total.isInt() && term.isInt()
                       ? Value::integer(total.asInt() + term.asInt())
                       : Value::number(total.toDouble() + term.toDouble());
         }
         return total;
       }},
      {"reverse",
       [](Interpreter&, const Value& v, CallArgs&) {
         ValueList items = iterate(v, "reverse");
         std::reverse(items.begin(), items.end());
         if (!v.isString()) return Value::list(std::move(items));
         std::string text;
         for (const Value& item : items) text.append(item.asString());
         return Value::string(std::move(text));
       }},
      {"indent", [](Interpreter&, const Value& v, CallArgs& a) { return indentFilter(v, a); }},
      {"escape",
       [](Interpreter&, const Value& v, CallArgs&) { return Value::string(htmlEscape(v.toString())); }},
      {"wordcount",
       [](Interpreter&, const Value& v, CallArgs&) {
         const std::string text = v.toString();
         int64_t words = 0;
         bool in_word = false;
         size_t offset = 0;
         while (offset < text.size()) {
           const char32_t c = utf8::decodeNext(text, offset);
           const bool word_char = c == '_' || (c >= '0' && c <= '9') ||
                                  (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
           if (word_char && !in_word) ++words;
           in_word = word_char && !isUnicodeSpace(c);
         }
         return Value::integer(words);
       }},
      {"format",
       [](Interpreter&, const Value& v, CallArgs& a) {
         return Value::string(percentFormat(v.toString(), Value::list(a.positional)));
       }},
      {"attr",
       [](Interpreter& in, const Value& v, CallArgs& a) {
         return getAttribute(in, v, requireArgument(a.get(0, "name"), "name").toString());
       }},
      {"pprint", [](Interpreter&, const Value& v, CallArgs&) { return Value::string(v.repr()); }},
  };
  return *table;
}

const std::unordered_map<std::string_view, TestFunction>& testTable() {
  using K = Value::Kind;
  static const auto* table = new std::unordered_map<std::string_view, TestFunction>{
      {"defined", [](Interpreter&, const Value& v, CallArgs&) { return !v.isUndefined(); }},
      {"undefined", [](Interpreter&, const Value& v, CallArgs&) { return v.isUndefined(); }},
      {"none", [](Interpreter&, const Value& v, CallArgs&) { return v.isNone(); }},
      {"string", [](Interpreter&, const Value& v, CallArgs&) { return v.isString(); }},
      {"number", [](Interpreter&, const Value& v, CallArgs&) { return v.isNumber(); }},
      {"integer", [](Interpreter&, const Value& v, CallArgs&) { return v.isInt(); }},
      {"float", [](Interpreter&, const Value& v, CallArgs&) { return v.isFloat(); }},
      {"boolean", [](Interpreter&, const Value& v, CallArgs&) { return v.isBool(); }},
      {"mapping", [](Interpreter&, const Value& v, CallArgs&) { return v.isDict(); }},
      {"iterable",
       [](Interpreter&, const Value& v, CallArgs&) {
         return v.kind() == K::kList || v.kind() == K::kDict || v.kind() == K::kString;
       }},
      {"sequence",
       [](Interpreter&, const Value& v, CallArgs&) {
         return v.kind() == K::kList || v.kind() == K::kDict || v.kind() == K::kString;
       }},
      {"callable", [](Interpreter&, const Value& v, CallArgs&) { return v.isCallable(); }},
      {"true", [](Interpreter&, const Value& v, CallArgs&) { return v.isBool() && v.asBool(); }},
      {"false", [](Interpreter&, const Value& v, CallArgs&) { return v.isBool() && !v.asBool(); }},
      {"odd",
       [](Interpreter&, const Value& v, CallArgs&) {
         if (!v.isInt()) throwRuntime(std::string("odd: expected an integer, got ") + v.typeName());
         return v.asInt() % 2 != 0;
       }},
      {"even",
       [](Interpreter&, const Value& v, CallArgs&) {
         if (!v.isInt())
           throwRuntime(std::string("even: expected an integer, got ") + v.typeName());
         return v.asInt() % 2 == 0;
       }},
      {"divisibleby",
       [](Interpreter&, const Value& v, CallArgs& a) {
         const Value& divisor = requireArgument(a.get(0, "num"), "num");
         if (!v.isInt() || !divisor.isInt() || divisor.asInt() == 0) {
           throwRuntime("divisibleby: expected integers and a non-zero divisor");
         }
         return v.asInt() % divisor.asInt() == 0;
       }},
      {"lower",
       [](Interpreter&, const Value& v, CallArgs&) {
         return v.isString() && v.asString() == toLowerUtf8(v.asString());
       }},
      {"upper",
       [](Interpreter&, const Value& v, CallArgs&) {
         return v.isString() && v.asString() == toUpperUtf8(v.asString());
       }},
      {"in",
       [](Interpreter&, const Value& v, CallArgs& a) {
         const Value& container = requireArgument(a.get(0, "seq"), "seq");
         if (container.isList()) {
           for (const Value& item : container.asList()) {
             if (valuesEqual(v, item)) return true;
           }
           return false;
         }
         if (container.isString() && v.isString()) {
           return container.asString().find(v.asString()) != std::string::npos;
         }
         if (container.isDict() && v.isString())
           return container.asDict().find(v.asString()) != nullptr;
         return false;
       }},
      {"sameas",
       [](Interpreter&, const Value& v, CallArgs& a) {
         // Identity for containers (Python `is`), equality for scalars.
         const Value& other = requireArgument(a.get(0, "other"), "other");
         if (v.kind() != other.kind()) return false;
         switch (v.kind()) {
           case K::kList:
             return &v.asList() == &other.asList();
           case K::kDict:
             return &v.asDict() == &other.asDict();
           case K::kNamespace:
             return &v.asNamespace() == &other.asNamespace();
           case K::kCallable:
             return &v.asCallable() == &other.asCallable();
           default:
             return valuesEqual(v, other);
         }
       }},
  };
  return *table;
}

bool compareTest(std::string_view name, const Value& v, const Value& other, bool* result) {
  if (name == "equalto" || name == "eq" || name == "==") {
    *result = valuesEqual(v, other);
  } else if (name == "ne" || name == "!=") {
    *result = !valuesEqual(v, other);
  } else if (name == "lt" || name == "lessthan" || name == "<") {
    *result = compareValues(v, other) < 0;
  } else if (name == "le" || name == "<=") {
    *result = compareValues(v, other) <= 0;
  } else if (name == "gt" || name == "greaterthan" || name == ">") {
    *result = compareValues(v, other) > 0;
  } else if (name == "ge" || name == ">=") {
    *result = compareValues(v, other) >= 0;
  } else {
    return false;
  }
  return true;
}

}  // namespace

Value applyFilter(Interpreter& interpreter, std::string_view name, const Value& operand,
                  CallArgs& args) {
  static const std::unordered_map<std::string_view, std::string_view> kAliases = {
      {"d", "default"}, {"e", "escape"}, {"forceescape", "escape"}};
  if (const auto alias = kAliases.find(name); alias != kAliases.end()) name = alias->second;
  const auto& table = filterTable();
  const auto it = table.find(name);
  if (it == table.end()) throwRuntime("unknown filter '" + std::string(name) + "'");
  // Text filters on none fail, as in @huggingface/jinja, rather than rendering Python's "None"
  // into the prompt (e.g. `message.content | trim` on a tool-call message without content).
  static const std::set<std::string_view> kTextFilters = {
      "trim", "upper", "lower", "title", "capitalize", "replace", "indent", "wordcount"};
  if (operand.isNone() && kTextFilters.count(name) > 0) {
    throwRuntime("cannot apply filter '" + std::string(name) + "' to none");
  }
  return it->second(interpreter, operand, args);
}

bool applyTest(Interpreter& interpreter, std::string_view name, const Value& operand,
               CallArgs& args) {
  bool result = false;
  if (const Value* other = args.get(0, "value");
      other != nullptr && compareTest(name, operand, *other, &result)) {
    return result;
  }
  const auto& table = testTable();
  const auto it = table.find(name);
  if (it == table.end()) throwRuntime("unknown test '" + std::string(name) + "'");
  return it->second(interpreter, operand, args);
}

}  // namespace manifold::jinja
