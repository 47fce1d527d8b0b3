#include "engine/chat_template/builtins.h"

#include <ctime>
#include <set>
#include <string>

#include "common/utf8.h"
#include "engine/chat_template/interpreter.h"
#include "engine/chat_template/json_format.h"
#include "engine/chat_template/template_error.h"
#include "engine/chat_template/unicode.h"

namespace manifold::jinja {

namespace {

const std::string& requireString(const Value* value, const char* what) {
  if (value == nullptr || !value->isString()) {
    throwRuntime(std::string(what) + " must be a string");
  }
  return value->asString();
}

bool isNoneOrMissing(const Value* value) {
  return value == nullptr || value->isNone() || value->isUndefined();
}

// Python str.strip family: with `chars`, strips any of those code points; without, whitespace.
std::string stripString(const std::string& text, const Value* chars, bool left, bool right) {
  if (isNoneOrMissing(chars)) return std::string(trimUnicodeSpace(text, left, right));
  const std::vector<std::string> strip_set = splitCodePoints(requireString(chars, "strip chars"));
  const std::set<std::string> set(strip_set.begin(), strip_set.end());
  const std::vector<std::string> parts = splitCodePoints(text);
  size_t begin = 0;
  size_t end = parts.size();
  if (left) {
    while (begin < end && set.count(parts[begin])) ++begin;
  }
  if (right) {
    while (end > begin && set.count(parts[end - 1])) --end;
  }
  std::string out;
  for (size_t i = begin; i < end; ++i) out.append(parts[i]);
  return out;
}

Value splitString(const std::string& text, const Value* separator, const Value* max_split_value) {
  int64_t max_split = -1;
  if (!isNoneOrMissing(max_split_value)) {
    if (!max_split_value->isInt()) throwRuntime("maxsplit must be an integer");
    max_split = max_split_value->asInt();
  }
  ValueList parts;
  if (isNoneOrMissing(separator)) {
    // Runs of whitespace separate; leading and trailing whitespace is ignored.
    size_t offset = 0;
    while (true) {
      offset += text.size() - offset -
                trimUnicodeSpace(std::string_view(text).substr(offset), true, false).size();
      if (offset >= text.size()) break;
      if (max_split >= 0 && static_cast<int64_t>(parts.size()) >= max_split) {
        parts.push_back(Value::string(
            std::string(trimUnicodeSpace(std::string_view(text).substr(offset), false, true))));
        break;
      }
      size_t end = offset;
      while (end < text.size()) {
        size_t next = end;
        if (isUnicodeSpace(utf8::decodeNext(text, next))) break;
        end = next;
      }
      parts.push_back(Value::string(text.substr(offset, end - offset)));
      offset = end;
    }
    return Value::list(std::move(parts));
  }
  const std::string& sep = requireString(separator, "separator");
  if (sep.empty()) throwRuntime("empty separator");
  size_t start = 0;
  while (true) {
    const size_t found = text.find(sep, start);
    if (found == std::string::npos ||
        (max_split >= 0 && static_cast<int64_t>(parts.size()) >= max_split)) {
      parts.push_back(Value::string(text.substr(start)));
      break;
    }
    parts.push_back(Value::string(text.substr(start, found - start)));
    start = found + sep.size();
  }
  return Value::list(std::move(parts));
}

bool matchesAffix(const std::string& text, const Value* affix, bool prefix) {
  const auto test = [&](const std::string& candidate) {
    if (candidate.size() > text.size()) return false;
    return prefix ? text.compare(0, candidate.size(), candidate) == 0
                  : text.compare(text.size() - candidate.size(), candidate.size(), candidate) == 0;
  };
  if (affix != nullptr && affix->isList()) {
    for (const Value& item : affix->asList()) {
      if (test(requireString(&item, "prefix"))) return true;
    }
    return false;
  }
  return test(requireString(affix, prefix ? "startswith argument" : "endswith argument"));
}

std::string replaceString(Interpreter& interpreter, const std::string& text,
                          const std::string& old_text, const std::string& new_text, int64_t count) {
  std::string out;
  if (old_text.empty()) {
    // Python inserts the replacement between every code point and at both ends.
    const std::vector<std::string> parts = splitCodePoints(text);
    int64_t done = 0;
    for (size_t i = 0; i <= parts.size(); ++i) {
      if (count < 0 || done < count) {
        out.append(new_text);
        ++done;
      }
      if (i < parts.size()) out.append(parts[i]);
      interpreter.checkSize(out.size());
    }
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t found = text.find(old_text, start);
    if (found == std::string::npos) break;
    out.append(text, start, found - start);
    out.append(new_text);
    interpreter.checkSize(out.size());
    start = found + old_text.size();
    ++done;
  }
  out.append(text, start, std::string::npos);
  interpreter.checkSize(out.size());
  return out;
}

// str.format with {} / {0} / {name} fields (no format specs beyond an empty one).
std::string formatString(const std::string& format, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c == '{' && i + 1 < format.size() && format[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    if (c == '}' && i + 1 < format.size() && format[i + 1] == '}') {
      out.push_back('}');
      ++i;
      continue;
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    const size_t close = format.find('}', i);
    if (close == std::string::npos) throwRuntime("single '{' encountered in format string");
    const std::string field = format.substr(i + 1, close - i - 1);
    const Value* value = nullptr;
    if (field.empty()) {
      value = auto_index < args.positional.size() ? &args.positional[auto_index] : nullptr;
      ++auto_index;
    } else if (field.find_first_not_of("0123456789") == std::string::npos) {
      const size_t index = std::stoul(field);
      value = index < args.positional.size() ? &args.positional[index] : nullptr;
    } else {
      for (const auto& [name, item] : args.keyword) {
        if (name == field) value = &item;
      }
    }
    if (value == nullptr) throwRuntime("format: no argument for field '{" + field + "}'");
    out.append(value->toString());
    i = close;
  }
  return out;
}

bool allCodePoints(const std::string& text, bool (*predicate)(char32_t)) {
  if (text.empty()) return false;
  size_t offset = 0;
  while (offset < text.size()) {
    if (!predicate(utf8::decodeNext(text, offset))) return false;
  }
  return true;
}

std::optional<Value> callStringMethod(Interpreter& interpreter, const std::string& text,
                                      std::string_view name, CallArgs& args) {
  const Value* first = args.get(0, "");
  if (name == "strip") return Value::string(stripString(text, args.get(0, "chars"), true, true));
  if (name == "lstrip") return Value::string(stripString(text, args.get(0, "chars"), true, false));
  if (name == "rstrip") return Value::string(stripString(text, args.get(0, "chars"), false, true));
  if (name == "split") return splitString(text, args.get(0, "sep"), args.get(1, "maxsplit"));
  if (name == "startswith") return Value::boolean(matchesAffix(text, first, true));
  if (name == "endswith") return Value::boolean(matchesAffix(text, first, false));
  if (name == "upper") return Value::string(toUpperUtf8(text));
  if (name == "lower") return Value::string(toLowerUtf8(text));
  if (name == "title") return Value::string(titleCaseUtf8(text));
  if (name == "capitalize") return Value::string(capitalizeUtf8(text));
  if (name == "replace") {
    const Value* count = args.get(2, "count");
    return Value::string(replaceString(interpreter, text,
                                       requireString(args.get(0, "old"), "replace() old"),
                                       requireString(args.get(1, "new"), "replace() new"),
                                       isNoneOrMissing(count) ? -1 : count->asInt()));
  }
  if (name == "format") return Value::string(formatString(text, args));
  if (name == "join") {
    if (first == nullptr || !first->isList()) throwRuntime("join() argument must be a list");
    std::string out;
    const ValueList& items = first->asList();
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out.append(text);
      out.append(items[i].toString());
      interpreter.checkSize(out.size());
    }
    return Value::string(std::move(out));
  }
  if (name == "find" || name == "count") {
    const std::string& needle = requireString(first, "substring");
    if (name == "find") {
      const size_t found = text.find(needle);
      return Value::integer(found == std::string::npos ? -1
                                                       : static_cast<int64_t>(utf8::codePointCount(
                                                             text.substr(0, found))));
    }
    if (needle.empty()) return Value::integer(static_cast<int64_t>(utf8::codePointCount(text)) + 1);
    int64_t count = 0;
    for (size_t at = text.find(needle); at != std::string::npos;
         at = text.find(needle, at + needle.size())) {
      ++count;
    }
    return Value::integer(count);
  }
  if (name == "splitlines") {
    ValueList lines;
    size_t start = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n' || text[i] == '\r') {
        lines.push_back(Value::string(text.substr(start, i - start)));
        if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
        start = i + 1;
      }
    }
    if (start < text.size()) lines.push_back(Value::string(text.substr(start)));
    return Value::list(std::move(lines));
  }
  if (name == "isdigit") {
    return Value::boolean(allCodePoints(text, [](char32_t c) { return c >= '0' && c <= '9'; }));
  }
  if (name == "isspace") return Value::boolean(allCodePoints(text, isUnicodeSpace));
  if (name == "islower")
    return Value::boolean(text == toLowerUtf8(text) && text != toUpperUtf8(text));
  if (name == "isupper")
    return Value::boolean(text == toUpperUtf8(text) && text != toLowerUtf8(text));
  return std::nullopt;
}

std::optional<Value> callDictMethod(const Dict& dict, std::string_view name, CallArgs& args) {
  if (name == "items") {
    ValueList items;
    items.reserve(dict.size());
    for (const auto& [key, value] : dict.entries()) {
      items.push_back(Value::list({Value::string(key), value}));
    }
    return Value::list(std::move(items));
  }
  if (name == "keys") {
    ValueList keys;
    for (const auto& entry : dict.entries()) keys.push_back(Value::string(entry.first));
    return Value::list(std::move(keys));
  }
  if (name == "values") {
    ValueList values;
    for (const auto& entry : dict.entries()) values.push_back(entry.second);
    return Value::list(std::move(values));
  }
  if (name == "get") {
    const Value* key = args.get(0, "key");
    if (key != nullptr && key->isString()) {
      if (const Value* value = dict.find(key->asString())) return *value;
    }
    const Value* fallback = args.get(1, "default");
    return fallback != nullptr ? *fallback : Value::none();
  }
  return std::nullopt;
}

std::optional<Value> callListMethod(Interpreter& interpreter, const Value& list,
                                    std::string_view name, CallArgs& args) {
  ValueList& items = list.asList();
  if (name == "append") {
    const Value* item = args.get(0, "object");
    if (item == nullptr) throwRuntime("append() takes exactly one argument");
    if (containsContainer(*item, list)) throwRuntime("cannot append a list to itself");
    interpreter.checkSize((items.size() + 1) * sizeof(Value));
    items.push_back(*item);
    return Value::none();
  }
  if (name == "pop") {
    if (items.empty()) throwRuntime("pop from empty list");
    const Value* index_value = args.get(0, "index");
    int64_t index = index_value == nullptr ? -1 : index_value->asInt();
    if (index < 0) index += static_cast<int64_t>(items.size());
    if (index < 0 || index >= static_cast<int64_t>(items.size())) {
      throwRuntime("pop index out of range");
    }
    Value item = items[static_cast<size_t>(index)];
    items.erase(items.begin() + index);
    return item;
  }
  if (name == "index" || name == "count") {
    const Value* needle = args.get(0, "value");
    if (needle == nullptr) throwRuntime(std::string(name) + "() takes exactly one argument");
    int64_t count = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (valuesEqual(items[i], *needle)) {
        if (name == "index") return Value::integer(static_cast<int64_t>(i));
        ++count;
      }
    }
    if (name == "index") throwRuntime("value is not in list");
    return Value::integer(count);
  }
  return std::nullopt;
}

bool containsContainerBounded(const Value& haystack, const void* needle, int depth,
                              size_t* budget) {
  if (depth > 64 || *budget == 0) return true;  // too big to prove acyclic: refuse
  --*budget;
  switch (haystack.kind()) {
    case Value::Kind::kList:
      if (&haystack.asList() == needle) return true;
      for (const Value& item : haystack.asList()) {
        if (containsContainerBounded(item, needle, depth + 1, budget)) return true;
      }
      return false;
    case Value::Kind::kDict:
    case Value::Kind::kNamespace: {
      const Dict& dict = haystack.isDict() ? haystack.asDict() : haystack.asNamespace();
      if (&dict == needle) return true;
      for (const auto& entry : dict.entries()) {
        if (containsContainerBounded(entry.second, needle, depth + 1, budget)) return true;
      }
      return false;
    }
    default:
      return false;
  }
}

Value makeRange(Interpreter& interpreter, CallArgs& args) {
  std::vector<int64_t> bounds;
  for (const Value& value : args.positional) {
    if (!value.isInt() && !value.isBool()) throwRuntime("range() arguments must be integers");
    bounds.push_back(value.isInt() ? value.asInt() : value.asBool());
  }
  int64_t start = 0;
  int64_t stop = 0;
  int64_t step = 1;
  if (bounds.size() == 1) {
    stop = bounds[0];
  } else if (bounds.size() == 2 || bounds.size() == 3) {
    start = bounds[0];
    stop = bounds[1];
    if (bounds.size() == 3) step = bounds[2];
  } else {
    throwRuntime("range() takes 1 to 3 arguments");
  }
  if (step == 0) throwRuntime("range() step must not be zero");
  // Exact in 128 bits: int64's whole span and any step fit.
  const __int128 span =
      step > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
  const __int128 magnitude = step > 0 ? static_cast<__int128>(step) : -static_cast<__int128>(step);
  const __int128 count = span <= 0 ? 0 : (span + magnitude - 1) / magnitude;
  if (count > static_cast<__int128>(interpreter.limits().max_loop_iterations)) {
    throw TemplateError(TemplateError::Kind::kLimit,
                        "range() of " + std::to_string(static_cast<uint64_t>(count)) +
                            " items exceeds the loop iteration limit");
  }
  ValueList items;
  const auto n = static_cast<int64_t>(count);
  items.reserve(static_cast<size_t>(n));
  // Each item lies between start and stop; only the products may leave int64.
  for (int64_t k = 0; k < n; ++k) {
    items.push_back(Value::integer(
        static_cast<int64_t>(static_cast<__int128>(start) + static_cast<__int128>(k) * step)));
  }
  return Value::list(std::move(items));
}

Value makeNamespace(CallArgs& args) {
  Dict attributes;
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (!source.isDict()) throwRuntime("namespace() positional argument must be a dict");
    for (const auto& [key, value] : source.asDict().entries()) attributes.set(key, value);
  }
  for (const auto& [key, value] : args.keyword) attributes.set(key, value);
  return Value::makeNamespace(std::move(attributes));
}

Value strftimeNow(CallArgs& args) {
  const std::string& format = requireString(args.get(0, "format"), "strftime_now() format");
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buffer[512];
  const size_t length = std::strftime(buffer, sizeof(buffer), format.c_str(), &local);
  return Value::string(std::string(buffer, length));
}

// Python's "%s" % value formatting, the subset templates use: %s %d %i %f %r %%.
std::string percentFormatImpl(const std::string& format, const Value& arguments) {
  ValueList items;
  if (arguments.isList()) {
    items = arguments.asList();
  } else {
    items.push_back(arguments);
  }
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    if (++i >= format.size()) throwRuntime("incomplete format");
    const char spec = format[i];
    if (spec == '%') {
      out.push_back('%');
      continue;
    }
    if (next >= items.size()) throwRuntime("not enough arguments for format string");
    const Value& item = items[next++];
    switch (spec) {
      case 's':
        out.append(item.toString());
        break;
      case 'r':
        out.append(item.repr());
        break;
      case 'd':
      case 'i':
        out.append(
            std::to_string(static_cast<int64_t>(item.isInt() ? item.asInt() : item.toDouble())));
        break;
      case 'f': {
        char buffer[64];
        std::snprintf(buffer, sizeof(buffer), "%f", item.toDouble());
        out.append(buffer);
        break;
      }
      default:
        throwRuntime(std::string("unsupported format character '") + spec + "'");
    }
  }
  return out;
}

}  // namespace

std::string percentFormat(const std::string& format, const Value& arguments) {
  return percentFormatImpl(format, arguments);
}

bool hasMethod(const Value& object, std::string_view name) {
  static const std::set<std::string, std::less<>> kStringMethods = {
      "strip", "lstrip",     "rstrip",     "split",   "startswith", "endswith", "upper",
      "lower", "title",      "capitalize", "replace", "format",     "join",     "find",
      "count", "splitlines", "isdigit",    "isspace", "islower",    "isupper"};
  static const std::set<std::string, std::less<>> kDictMethods = {"items", "keys", "values", "get"};
  static const std::set<std::string, std::less<>> kListMethods = {"append", "pop", "index",
                                                                  "count"};
  switch (object.kind()) {
    case Value::Kind::kString:
      return kStringMethods.count(name) > 0;
    case Value::Kind::kDict:
      return kDictMethods.count(name) > 0;
    case Value::Kind::kList:
      return kListMethods.count(name) > 0;
    default:
      return false;
  }
}

std::optional<Value> callMethod(Interpreter& interpreter, const Value& object,
                                std::string_view name, CallArgs& args) {
  switch (object.kind()) {
    case Value::Kind::kString:
      return callStringMethod(interpreter, object.asString(), name, args);
    case Value::Kind::kDict:
      return callDictMethod(object.asDict(), name, args);
    case Value::Kind::kList:
      return callListMethod(interpreter, object, name, args);
    default:
      return std::nullopt;
  }
}

bool containsContainer(const Value& haystack, const Value& needle) {
  const void* address = nullptr;
  if (needle.isList()) address = &needle.asList();
  if (needle.isDict()) address = &needle.asDict();
  if (needle.isNamespace()) address = &needle.asNamespace();
  if (address == nullptr) return false;
  size_t budget = 100000;
  return containsContainerBounded(haystack, address, 0, &budget);
}

void addGlobalFunctions(Interpreter& interpreter, Dict& globals) {
  Interpreter* bound = &interpreter;
  globals.set("range", Value::callable(
                           "range", [bound](CallArgs& args) { return makeRange(*bound, args); }));
  globals.set("namespace", Value::callable("namespace", makeNamespace));
  globals.set("dict", Value::callable("dict", [](CallArgs& args) {
                Dict dict;
                for (const auto& [key, value] : args.keyword) dict.set(key, value);
                return Value::dict(std::move(dict));
              }));
  globals.set("raise_exception", Value::callable("raise_exception", [](CallArgs& args) -> Value {
                const Value* message = args.get(0, "message");
                throw TemplateError(TemplateError::Kind::kRaised,
                                    message != nullptr ? message->toString() : "");
              }));
  globals.set("strftime_now", Value::callable("strftime_now", strftimeNow));
}

}  // namespace manifold::jinja
