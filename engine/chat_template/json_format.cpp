#include "engine/chat_template/json_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/utf8.h"
#include "engine/chat_template/template_error.h"
#include "engine/chat_template/unicode.h"

namespace manifold::jinja {

namespace {

void appendEscapedCodeUnit(unsigned code_unit, std::string* out) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "\\u%04x", code_unit);
  out->append(buffer);
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonFormatOptions& options) : options_(options) {
    if (options.separators) {
      item_separator_ = options.separators->first;
      key_separator_ = options.separators->second;
    } else {
      item_separator_ = options.indent ? "," : ", ";
      key_separator_ = ": ";
    }
  }

  void write(const Value& value, int depth, std::string* out) {
    if (depth > kMaxDepth) throwRuntime("tojson: value nested too deeply");
    switch (value.kind()) {
      case Value::Kind::kUndefined:
      case Value::Kind::kNone:
        out->append("null");
        return;
      case Value::Kind::kBool:
        out->append(value.asBool() ? "true" : "false");
        return;
      case Value::Kind::kInt:
        out->append(std::to_string(value.asInt()));
        return;
      case Value::Kind::kFloat: {
        const double number = value.asFloat();
        if (std::isnan(number)) {
          out->append("NaN");
        } else if (std::isinf(number)) {
          out->append(number > 0 ? "Infinity" : "-Infinity");
        } else {
          out->append(formatPythonFloat(number));
        }
        return;
      }
      case Value::Kind::kString:
        out->append(jsonQuote(value.asString(), options_.ensure_ascii));
        return;
      case Value::Kind::kList:
        writeList(value.asList(), depth, out);
        return;
      case Value::Kind::kDict:
        writeDict(value.asDict(), depth, out);
        return;
      case Value::Kind::kNamespace:
        writeDict(value.asNamespace(), depth, out);
        return;
      case Value::Kind::kCallable:
        throwRuntime("tojson: object of type callable is not JSON serializable");
    }
  }

 private:
  static constexpr int kMaxDepth = 512;

  void newline(int depth, std::string* out) const {
    out->push_back('\n');
    out->append(static_cast<size_t>(*options_.indent) * depth, ' ');
  }

  void writeList(const ValueList& items, int depth, std::string* out) {
    if (items.empty()) {
      out->append("[]");
      return;
    }
    out->push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out->append(item_separator_);
      if (options_.indent) newline(depth + 1, out);
      write(items[i], depth + 1, out);
    }
    if (options_.indent) newline(depth, out);
    out->push_back(']');
  }

  void writeDict(const Dict& dict, int depth, std::string* out) {
    if (dict.size() == 0) {
      out->append("{}");
      return;
    }
    std::vector<const std::pair<std::string, Value>*> entries;
    entries.reserve(dict.size());
    for (const auto& entry : dict.entries()) entries.push_back(&entry);
    if (options_.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(),
                       [](const auto* a, const auto* b) { return a->first < b->first; });
    }
    out->push_back('{');
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) out->append(item_separator_);
      if (options_.indent) newline(depth + 1, out);
      out->append(jsonQuote(entries[i]->first, options_.ensure_ascii));
      out->append(key_separator_);
      write(entries[i]->second, depth + 1, out);
    }
    if (options_.indent) newline(depth, out);
    out->push_back('}');
  }

  const JsonFormatOptions& options_;
  std::string item_separator_;
  std::string key_separator_;
};

}  // namespace

std::string jsonQuote(const std::string& text, bool ensure_ascii) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  size_t offset = 0;
  while (offset < text.size()) {
    const unsigned char byte = static_cast<unsigned char>(text[offset]);
    if (byte >= 0x80) {
      const size_t start = offset;
      const char32_t code_point = utf8::decodeNext(text, offset);
      if (!ensure_ascii) {
        out.append(text, start, offset - start);
      } else if (code_point >= 0x10000) {
        const char32_t v = code_point - 0x10000;
        appendEscapedCodeUnit(0xD800 + (v >> 10), &out);
        appendEscapedCodeUnit(0xDC00 + (v & 0x3FF), &out);
      } else {
        appendEscapedCodeUnit(code_point, &out);
      }
      continue;
    }
    ++offset;
    switch (byte) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        if (byte < 0x20 || (ensure_ascii && byte == 0x7F)) {
          appendEscapedCodeUnit(byte, &out);
        } else {
          out.push_back(static_cast<char>(byte));
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string formatPythonFloat(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0) return std::signbit(value) ? "-0.0" : "0.0";
  // Shortest round-trip digits in scientific form "d.ddde+XX", then laid out as Python's repr.
  char buffer[64];
  const auto result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  std::string scientific(buffer, result.ptr);
  const size_t e = scientific.find('e');
  std::string mantissa = scientific.substr(0, e);
  const int exponent = std::stoi(scientific.substr(e + 1));
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (const char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    char exponent_text[16];
    std::snprintf(exponent_text, sizeof(exponent_text), "e%c%02d", exponent < 0 ? '-' : '+',
                  std::abs(exponent));
    out.append(exponent_text);
    return out;
  }
  if (exponent < 0) {
    out.append("0.");
    out.append(static_cast<size_t>(-exponent - 1), '0');
    out.append(digits);
    return out;
  }
  const size_t integer_digits = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= integer_digits) {
    out.append(digits);
    out.append(integer_digits - digits.size(), '0');
    out.append(".0");
  } else {
    out.append(digits, 0, integer_digits);
    out.push_back('.');
    out.append(digits, integer_digits, std::string::npos);
  }
  return out;
}

std::string toJson(const Value& value, const JsonFormatOptions& options) {
  std::string out;
  JsonWriter(options).write(value, 0, &out);
  return out;
}

}  // namespace manifold::jinja
