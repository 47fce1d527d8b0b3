#include "engine/structured_output/json_grammar.h"

namespace manifold {
namespace {

constexpr std::string_view kLiterals[] = {"true", "false", "null"};

bool isWhitespace(uint8_t byte) {
  return byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r';
}

bool isDigit(uint8_t byte) { return byte >= '0' && byte <= '9'; }

int hexDigit(uint8_t byte) {
  if (isDigit(byte)) return byte - '0';
  if (byte >= 'a' && byte <= 'f') return byte - 'a' + 10;
  if (byte >= 'A' && byte <= 'F') return byte - 'A' + 10;
  return -1;
}

}  // namespace

bool JsonGrammar::advance(std::string_view bytes) {
  for (char c : bytes) {
    if (!advance(static_cast<uint8_t>(c))) return false;
  }
  return true;
}

bool JsonGrammar::advance(uint8_t byte) {
  switch (mode_) {
    case Mode::kString:
      return stringByte(byte);
    case Mode::kEscape:
      switch (byte) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          mode_ = Mode::kString;
          return true;
        case 'u':
          mode_ = Mode::kHex;
          aux_ = 4;
          hex_ = 0;
          low_surrogate_ = false;
          return true;
        default:
          return false;
      }
    case Mode::kHex: {
      const int digit = hexDigit(byte);
      if (digit < 0) return false;
      hex_ = static_cast<uint16_t>(hex_ * 16 + digit);
      if (--aux_ > 0) return true;
      const bool high = hex_ >= 0xD800 && hex_ <= 0xDBFF;
      const bool low = hex_ >= 0xDC00 && hex_ <= 0xDFFF;
      if (low_surrogate_) {
        if (!low) return false;
        low_surrogate_ = false;
        mode_ = Mode::kString;
        return true;
      }
      if (low) return false;
      mode_ = high ? Mode::kLowBackslash : Mode::kString;
      return true;
    }
    case Mode::kLowBackslash:
      if (byte != '\\') return false;
      mode_ = Mode::kLowU;
      return true;
    case Mode::kLowU:
      if (byte != 'u') return false;
      mode_ = Mode::kHex;
      aux_ = 4;
      hex_ = 0;
      low_surrogate_ = true;
      return true;
    case Mode::kUtf8:
      if (byte < utf8_lo_ || byte > utf8_hi_) return false;
      utf8_lo_ = 0x80;
      utf8_hi_ = 0xBF;
      if (--aux_ == 0) mode_ = Mode::kString;
      return true;
    case Mode::kNumberMinus:
    case Mode::kNumberZero:
    case Mode::kNumberInt:
    case Mode::kNumberDot:
    case Mode::kNumberFraction:
    case Mode::kNumberExp:
    case Mode::kNumberExpSign:
    case Mode::kNumberExpInt:
      return numberByte(byte);
    case Mode::kLiteral: {
      const std::string_view literal = kLiterals[literal_];
      if (static_cast<uint8_t>(literal[aux_]) != byte) return false;
      if (++aux_ == literal.size()) endValue();
      return true;
    }
    case Mode::kDone:
      return false;
    case Mode::kStart:
    case Mode::kObjectFirst:
    case Mode::kObjectKey:
    case Mode::kColon:
    case Mode::kValue:
    case Mode::kArrayFirst:
    case Mode::kAfterValue:
      return structural(byte);
  }
  return false;
}

bool JsonGrammar::structural(uint8_t byte) {
  if (isWhitespace(byte)) {
    const int limit = mode_ == Mode::kStart ? kMaxLeadingWhitespace : kMaxWhitespaceRun;
    if (whitespace_run_ >= limit) return false;
    ++whitespace_run_;
    return true;
  }
  whitespace_run_ = 0;
  switch (mode_) {
    case Mode::kStart:
      return byte == '{' && openContainer(/*object=*/true);
    case Mode::kObjectFirst:
      if (byte == '}') return closeContainer(/*object=*/true);
      [[fallthrough]];
    case Mode::kObjectKey:
      if (byte != '"') return false;
      mode_ = Mode::kString;
      key_ = true;
      return true;
    case Mode::kColon:
      if (byte != ':') return false;
      mode_ = Mode::kValue;
      return true;
    case Mode::kArrayFirst:
      if (byte == ']') return closeContainer(/*object=*/false);
      [[fallthrough]];
    case Mode::kValue:
      return startValue(byte);
    case Mode::kAfterValue:
      if (byte == ',') {
        mode_ = inObject() ? Mode::kObjectKey : Mode::kValue;
        return true;
      }
      if (byte == '}' || byte == ']') return closeContainer(byte == '}');
      return false;
    default:
      return false;
  }
}

bool JsonGrammar::openContainer(bool object) {
  if (depth_ >= kMaxDepth) return false;
  const uint64_t bit = uint64_t{1} << depth_;
  objects_ = object ? (objects_ | bit) : (objects_ & ~bit);
  ++depth_;
  mode_ = object ? Mode::kObjectFirst : Mode::kArrayFirst;
  return true;
}

bool JsonGrammar::closeContainer(bool object) {
  if (depth_ == 0 || inObject() != object) return false;
  --depth_;
  endValue();
  return true;
}

void JsonGrammar::endValue() { mode_ = depth_ == 0 ? Mode::kDone : Mode::kAfterValue; }

bool JsonGrammar::startValue(uint8_t byte) {
  switch (byte) {
    case '{':
      return openContainer(/*object=*/true);
    case '[':
      return openContainer(/*object=*/false);
    case '"':
      mode_ = Mode::kString;
      key_ = false;
      return true;
    case '-':
      mode_ = Mode::kNumberMinus;
      return true;
    case '0':
      mode_ = Mode::kNumberZero;
      return true;
    case 't':
    case 'f':
    case 'n':
      mode_ = Mode::kLiteral;
      literal_ = byte == 't' ? 0 : byte == 'f' ? 1 : 2;
      aux_ = 1;
      return true;
    default:
      if (byte < '1' || byte > '9') return false;
      mode_ = Mode::kNumberInt;
      return true;
  }
}

bool JsonGrammar::stringByte(uint8_t byte) {
  if (byte == '"') {
    if (key_) {
      key_ = false;
      mode_ = Mode::kColon;
    } else {
      endValue();
    }
    return true;
  }
  if (byte == '\\') {
    mode_ = Mode::kEscape;
    return true;
  }
  if (byte < 0x20) return false;
  if (byte < 0x80) return true;
  // A UTF-8 lead byte: how many continuation bytes follow, and the range of the first (RFC 3629:
  // no overlong forms, no surrogates, nothing past U+10FFFF).
  utf8_lo_ = 0x80;
  utf8_hi_ = 0xBF;
  if (byte >= 0xC2 && byte <= 0xDF) {
    aux_ = 1;
  } else if (byte >= 0xE0 && byte <= 0xEF) {
    aux_ = 2;
    if (byte == 0xE0) utf8_lo_ = 0xA0;
    if (byte == 0xED) utf8_hi_ = 0x9F;
  } else if (byte >= 0xF0 && byte <= 0xF4) {
    aux_ = 3;
    if (byte == 0xF0) utf8_lo_ = 0x90;
    if (byte == 0xF4) utf8_hi_ = 0x8F;
  } else {
    return false;
  }
  mode_ = Mode::kUtf8;
  return true;
}

bool JsonGrammar::numberByte(uint8_t byte) {
  const bool digit = isDigit(byte);
  switch (mode_) {
    case Mode::kNumberMinus:
      if (!digit) return false;
      mode_ = byte == '0' ? Mode::kNumberZero : Mode::kNumberInt;
      return true;
    case Mode::kNumberDot:
      if (!digit) return false;
      mode_ = Mode::kNumberFraction;
      return true;
    case Mode::kNumberExp:
      if (byte == '+' || byte == '-') {
        mode_ = Mode::kNumberExpSign;
        return true;
      }
      [[fallthrough]];
    case Mode::kNumberExpSign:
      if (!digit) return false;
      mode_ = Mode::kNumberExpInt;
      return true;
    case Mode::kNumberInt:
    case Mode::kNumberFraction:
    case Mode::kNumberExpInt:
      if (digit) return true;
      [[fallthrough]];
    case Mode::kNumberZero:
      if (mode_ != Mode::kNumberFraction && mode_ != Mode::kNumberExpInt && byte == '.') {
        mode_ = Mode::kNumberDot;
        return true;
      }
      if (mode_ != Mode::kNumberExpInt && (byte == 'e' || byte == 'E')) {
        mode_ = Mode::kNumberExp;
        return true;
      }
      // The number ended before this byte (a number is never the top-level value, so a container
      // is open around it).
      endValue();
      return structural(byte);
    default:
      return false;
  }
}

}  // namespace manifold
