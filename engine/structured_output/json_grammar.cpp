#include "engine/structured_output/json_grammar.h"

#include <algorithm>
#include <vector>

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

uint64_t firstBits(size_t n) { return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1; }

}  // namespace

JsonGrammar::JsonGrammar(const JsonSchema& schema)
    : schema_(&schema), node_(static_cast<uint16_t>(schema.root())) {
  const JsonSchema::Node& root = schema.node(schema.root());
  if (schema.raw() && root.pattern >= 0) {
    mode_ = Mode::kRegex;
    pattern_ = static_cast<int16_t>(root.pattern);
    dfa_state_ = static_cast<uint16_t>(pattern().start());
  }
}

bool JsonGrammar::advance(std::string_view bytes) {
  for (char c : bytes) {
    if (!advance(static_cast<uint8_t>(c))) return false;
  }
  return true;
}

bool JsonGrammar::complete() const {
  if (mode_ == Mode::kDone) return true;
  if (mode_ == Mode::kRegex) return pattern().accepting(dfa_state_);
  if (depth_ != 0) return false;
  if (numberCanEnd()) return true;
  if (mode_ == Mode::kAlternative && !key_) {
    for (int i = 0; i < 64; ++i) {
      if (((candidates_ >> i) & 1u) != 0 && alternative(i).size() == length_) return true;
    }
  }
  return false;
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
        case 't': {
          static constexpr std::string_view kEscaped = "\"\\/bfnrt";
          static constexpr std::string_view kMeaning = "\"\\/\b\f\n\r\t";
          mode_ = Mode::kString;
          return patternByte(
              static_cast<uint8_t>(kMeaning[kEscaped.find(static_cast<char>(byte))]));
        }
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
      if (--aux_ > 0) return hexPrefixFits();
      const bool high = hex_ >= 0xD800 && hex_ <= 0xDBFF;
      const bool low = hex_ >= 0xDC00 && hex_ <= 0xDFFF;
      if (low_surrogate_) {
        if (!low) return false;
        low_surrogate_ = false;
        mode_ = Mode::kString;
        return patternCodePoint(0x10000 + ((uint32_t{high_surrogate_} - 0xD800) << 10) +
                                (uint32_t{hex_} - 0xDC00));
      }
      if (low) return false;
      if (high) {
        high_surrogate_ = hex_;
        mode_ = Mode::kLowBackslash;
        return hexPrefixFits();  // some low surrogate after it still fits
      }
      mode_ = Mode::kString;
      return patternCodePoint(hex_);
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
      return patternByte(byte);
    case Mode::kNumberMinus:
    case Mode::kNumberZero:
    case Mode::kNumberInt:
    case Mode::kNumberDot:
    case Mode::kNumberFraction:
    case Mode::kNumberExp:
    case Mode::kNumberExpSign:
    case Mode::kNumberExpInt:
      return numberByte(byte);
    case Mode::kNumberPattern: {
      const int next = pattern().next(dfa_state_, byte);
      if (next != RegexDfa::kDead) {
        dfa_state_ = static_cast<uint16_t>(next);
        return true;
      }
      if (!pattern().accepting(dfa_state_)) return false;
      endValue();  // the number ended before this byte
      return structural(byte);
    }
    case Mode::kLiteral: {
      const std::string_view literal = kLiterals[literal_];
      if (static_cast<uint8_t>(literal[aux_]) != byte) return false;
      if (++aux_ == literal.size()) endValue();
      return true;
    }
    case Mode::kAlternative:
      return alternativeByte(byte);
    case Mode::kRegex:
      return patternByte(byte);
    case Mode::kDone:
      return false;
    case Mode::kValue:
    case Mode::kObjectFirst:
    case Mode::kObjectKey:
    case Mode::kColon:
    case Mode::kArrayFirst:
    case Mode::kAfterValue:
      return structural(byte);
  }
  return false;
}

bool JsonGrammar::structural(uint8_t byte) {
  if (mode_ == Mode::kDone) return false;
  // A raw choice starts at the first byte, whitespace included.
  if (schema_->raw() && mode_ == Mode::kValue && depth_ == 0) return startValue(byte);
  if (isWhitespace(byte)) {
    const int limit =
        mode_ == Mode::kValue && depth_ == 0 ? kMaxLeadingWhitespace : kMaxWhitespaceRun;
    if (whitespace_run_ >= limit) return false;
    ++whitespace_run_;
    return true;
  }
  whitespace_run_ = 0;
  switch (mode_) {
    case Mode::kValue:
      return startValue(byte);
    case Mode::kObjectFirst:
      if (byte == '}') return closeContainer(/*object=*/true);
      return startKey(byte);
    case Mode::kObjectKey:
      return startKey(byte);
    case Mode::kColon:
      if (byte != ':') return false;
      mode_ = Mode::kValue;
      return true;
    case Mode::kArrayFirst: {
      if (byte == ']') return closeContainer(/*object=*/false);
      const JsonSchema::Node& array = schemaNode(top().node);
      if (array.max_items == 0) return false;
      top().items = 1;
      node_ = static_cast<uint16_t>(array.itemAt(0));
      return startValue(byte);
    }
    case Mode::kAfterValue:
      if (byte == ',') {
        Frame& frame = top();
        const JsonSchema::Node& container = schemaNode(frame.node);
        if (frame.object) {
          if (!container.properties.empty() &&
              frame.seen == firstBits(container.properties.size())) {
            return false;  // every property is written: only '}' is left
          }
          mode_ = Mode::kObjectKey;
          return true;
        }
        if (frame.items >= container.max_items) return false;
        node_ = static_cast<uint16_t>(container.itemAt(frame.items));
        ++frame.items;
        mode_ = Mode::kValue;
        return true;
      }
      if (byte == '}' || byte == ']') return closeContainer(byte == '}');
      return false;
    default:
      return false;
  }
}

bool JsonGrammar::openContainer(bool object, int node) {
  if (depth_ >= kMaxDepth) return false;
  frames_[depth_] = Frame{0, 0, static_cast<uint16_t>(node), object};
  ++depth_;
  mode_ = object ? Mode::kObjectFirst : Mode::kArrayFirst;
  return true;
}

bool JsonGrammar::closeContainer(bool object) {
  if (depth_ == 0 || top().object != object) return false;
  const JsonSchema::Node& container = schemaNode(top().node);
  if (object ? (top().seen & container.required) != container.required
             : top().items < container.min_items) {
    return false;
  }
  --depth_;
  endValue();
  return true;
}

void JsonGrammar::endValue() { mode_ = depth_ == 0 ? Mode::kDone : Mode::kAfterValue; }

bool JsonGrammar::startValue(uint8_t byte) {
  const int target = schema_->targetOf(node_);
  const JsonSchema::Node& node = schemaNode(target);
  if (!node.literals.empty()) {
    node_ = static_cast<uint16_t>(target);
    candidates_ = firstBits(node.literals.size());
    length_ = 0;
    key_ = false;
    mode_ = Mode::kAlternative;
    return alternativeByte(byte);
  }
  switch (byte) {
    case '{':
      return (node.types & JsonSchema::kObject) != 0 &&
             openContainer(/*object=*/true, node.object_node);
    case '[':
      return (node.types & JsonSchema::kArray) != 0 &&
             openContainer(/*object=*/false, node.array_node);
    case '"': {
      if ((node.types & JsonSchema::kString) == 0) return false;
      node_ = static_cast<uint16_t>(node.string_node);
      mode_ = Mode::kString;
      key_ = false;
      length_ = 0;
      const JsonSchema::Node& string = schemaNode(node_);
      pattern_ = static_cast<int16_t>(string.pattern);
      if (pattern_ >= 0) dfa_state_ = static_cast<uint16_t>(pattern().start());
      constrained_string_ = string.max_length != JsonSchema::kUnlimited || pattern_ >= 0;
      return true;
    }
    case 't':
    case 'f':
      if ((node.types & JsonSchema::kBoolean) == 0) return false;
      mode_ = Mode::kLiteral;
      literal_ = byte == 't' ? 0 : 1;
      aux_ = 1;
      return true;
    case 'n':
      if ((node.types & JsonSchema::kNull) == 0) return false;
      mode_ = Mode::kLiteral;
      literal_ = 2;
      aux_ = 1;
      return true;
    default:
      if ((byte != '-' && !isDigit(byte)) ||
          (node.types & (JsonSchema::kNumber | JsonSchema::kInteger)) == 0) {
        return false;
      }
      const JsonSchema::Node& number = schemaNode(node.number_node);
      if (number.number_pattern >= 0) {
        mode_ = Mode::kNumberPattern;
        pattern_ = static_cast<int16_t>(number.number_pattern);
        dfa_state_ = static_cast<uint16_t>(pattern().start());
        return advance(byte);
      }
      integer_ = (number.types & JsonSchema::kNumber) == 0;
      mode_ = byte == '-' ? Mode::kNumberMinus : byte == '0' ? Mode::kNumberZero : Mode::kNumberInt;
      return true;
  }
}

bool JsonGrammar::startKey(uint8_t byte) {
  if (byte != '"') return false;
  const Frame& frame = top();
  const JsonSchema::Node& container = schemaNode(frame.node);
  key_ = true;
  length_ = 0;
  if (container.properties.empty()) {
    if (container.closed) return false;  // additionalProperties false: only {}
    mode_ = Mode::kString;
    pattern_ = -1;
    constrained_string_ = false;
    return true;
  }
  node_ = frame.node;
  candidates_ = firstBits(container.properties.size()) & ~frame.seen;
  mode_ = Mode::kAlternative;
  return candidates_ != 0 && alternativeByte(byte);
}

std::string_view JsonGrammar::alternative(int i) const {
  const JsonSchema::Node& node = schemaNode(node_);
  return key_ ? std::string_view(node.properties[i].key) : std::string_view(node.literals[i]);
}

bool JsonGrammar::alternativeByte(uint8_t byte) {
  uint64_t next = 0;
  int ended = -1;  // an alternative that is whole without this byte
  for (uint64_t rest = candidates_; rest != 0; rest &= rest - 1) {
    const int i = __builtin_ctzll(rest);
    const std::string_view text = alternative(i);
    if (text.size() > length_ && static_cast<uint8_t>(text[length_]) == byte) {
      next |= uint64_t{1} << i;
    } else if (text.size() == length_) {
      ended = i;
    }
  }
  if (next == 0) {
    // Only a value can end before the byte that follows it ("1" then ','); a key ends at its quote.
    if (ended < 0 || key_) return false;
    endAlternativeValue(ended);
    return structural(byte);
  }
  candidates_ = next;
  ++length_;
  int whole = -1;
  for (uint64_t rest = next; rest != 0; rest &= rest - 1) {
    const int i = __builtin_ctzll(rest);
    if (alternative(i).size() > length_) return true;  // a longer one may still follow
    whole = i;
  }
  if (key_) {
    Frame& frame = top();
    frame.seen |= uint64_t{1} << whole;
    node_ = static_cast<uint16_t>(schemaNode(frame.node).properties[whole].node);
    key_ = false;
    mode_ = Mode::kColon;
  } else {
    endAlternativeValue(whole);
  }
  return true;
}

void JsonGrammar::endAlternativeValue(int index) {
  if (depth_ > 0 && top().object) {
    Frame& frame = top();
    const JsonSchema::Node& container = schemaNode(frame.node);
    if (!container.union_branches.empty()) {
      // The discriminator's value (the only key an undecided union takes): the object goes on
      // as that branch, with its discriminator written.
      const int branch = container.union_branches[index];
      const JsonSchema::Node& chosen = schemaNode(branch);
      frame.node = static_cast<uint16_t>(branch);
      frame.seen = 0;
      for (size_t i = 0; i < chosen.properties.size(); ++i) {
        if (chosen.properties[i].key == container.properties[0].key) frame.seen = uint64_t{1} << i;
      }
    }
  }
  endValue();
}

bool JsonGrammar::countCharacter() {
  if (key_) return true;
  if (length_ >= schemaNode(node_).max_length) return false;
  ++length_;
  return true;
}

bool JsonGrammar::stringByte(uint8_t byte) {
  if (byte == '"') {
    if (key_) {
      key_ = false;
      node_ = static_cast<uint16_t>(schemaNode(top().node).additional);
      mode_ = Mode::kColon;
      return true;
    }
    if (length_ < schemaNode(node_).min_length) return false;
    if (pattern_ >= 0 && !pattern().accepting(dfa_state_)) return false;
    endValue();
    return true;
  }
  if (byte < 0x20 || !countCharacter()) return false;
  if (byte == '\\') {
    mode_ = Mode::kEscape;
    // \uXXXX can write any character: the pattern must still take one.
    return pattern_ < 0 || someCodePointFits(0, 0x10FFFF);
  }
  if (byte < 0x80) return patternByte(byte);
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
  return patternByte(byte);
}

bool JsonGrammar::fits(int state) const {
  if (mode_ == Mode::kRegex) return true;
  const JsonSchema::Node& string = schemaNode(node_);
  const RegexDfa& dfa = pattern();
  // length_ counts the character being written.
  if (string.max_length != JsonSchema::kUnlimited &&
      uint64_t{length_} + dfa.minRemaining(state) > string.max_length) {
    return false;
  }
  return dfa.maxRemaining(state) == RegexDfa::kUnbounded ||
         uint64_t{length_} + dfa.maxRemaining(state) >= string.min_length;
}

bool JsonGrammar::someCodePointFits(uint32_t lo, uint32_t hi) const {
  thread_local std::vector<int> states;
  pattern().afterCodePoints(dfa_state_, lo, hi, states);
  for (int state : states) {
    if (fits(state)) return true;
  }
  return false;
}

bool JsonGrammar::hexPrefixFits() const {
  if (pattern_ < 0) return true;
  // The \uXXXX values the digits so far begin (after a high surrogate: its low half).
  const uint32_t span = (uint32_t{1} << (4 * aux_)) - 1;
  const uint32_t lo = uint32_t{hex_} << (4 * aux_);
  const uint32_t hi = lo + span;
  auto supplementary = [](uint32_t high, uint32_t low) {
    return 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
  };
  if (mode_ == Mode::kLowBackslash) {  // a whole high surrogate: any low one may follow
    return someCodePointFits(supplementary(hex_, 0xDC00), supplementary(hex_, 0xDFFF));
  }
  if (low_surrogate_) {
    if (hi < 0xDC00 || lo > 0xDFFF) return false;
    return someCodePointFits(supplementary(high_surrogate_, std::max(lo, 0xDC00u)),
                             supplementary(high_surrogate_, std::min(hi, 0xDFFFu)));
  }
  if (lo <= 0xD7FF && someCodePointFits(lo, std::min(hi, 0xD7FFu))) return true;
  if (hi >= 0xE000 && someCodePointFits(std::max(lo, 0xE000u), hi)) return true;
  if (lo <= 0xDBFF && hi >= 0xD800) {
    return someCodePointFits(supplementary(std::max(lo, 0xD800u), 0xDC00),
                             supplementary(std::min(hi, 0xDBFFu), 0xDFFF));
  }
  return false;
}

bool JsonGrammar::patternByte(uint8_t byte) {
  if (pattern_ < 0) return true;
  const int next = pattern().next(dfa_state_, byte);
  if (next == RegexDfa::kDead || !fits(next)) return false;
  dfa_state_ = static_cast<uint16_t>(next);
  return true;
}

bool JsonGrammar::patternCodePoint(uint32_t code_point) {
  if (pattern_ < 0) return true;
  if (code_point < 0x80) return patternByte(static_cast<uint8_t>(code_point));
  uint8_t bytes[4];
  int length = code_point < 0x800 ? 2 : code_point < 0x10000 ? 3 : 4;
  static constexpr uint8_t kLead[] = {0, 0, 0xC0, 0xE0, 0xF0};
  for (int i = length - 1; i > 0; --i) {
    bytes[i] = static_cast<uint8_t>(0x80 | (code_point & 0x3F));
    code_point >>= 6;
  }
  bytes[0] = static_cast<uint8_t>(kLead[length] | code_point);
  for (int i = 0; i < length; ++i) {
    if (!patternByte(bytes[i])) return false;
  }
  return true;
}

bool JsonGrammar::numberCanEnd() const {
  return mode_ == Mode::kNumberZero || mode_ == Mode::kNumberInt ||
         mode_ == Mode::kNumberFraction || mode_ == Mode::kNumberExpInt ||
         (mode_ == Mode::kNumberPattern && pattern().accepting(dfa_state_));
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
      if (!integer_ && (mode_ == Mode::kNumberZero || mode_ == Mode::kNumberInt)) {
        if (byte == '.') {
          mode_ = Mode::kNumberDot;
          return true;
        }
      }
      if (!integer_ && mode_ != Mode::kNumberExpInt && (byte == 'e' || byte == 'E')) {
        mode_ = Mode::kNumberExp;
        return true;
      }
      // The number ended before this byte.
      endValue();
      return structural(byte);
    default:
      return false;
  }
}

}  // namespace manifold
