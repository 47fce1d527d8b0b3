// A byte-level recognizer of JSON that follows a JsonSchema: response_format json_schema, and
// json_object (JsonSchema::anyObject(), the default); also of one of a few raw texts
// (JsonSchema::choice(), vLLM's guided_choice). Structured output checks every candidate
// token's bytes against it, so the sampler can only draw tokens that keep the output a prefix of
// a value the schema allows.
//
// The state is a value type without heap memory, copied freely: TokenBytesIndex keeps one copy
// per byte of the token it is testing, and a copy moves only the open containers. advance()
// either takes a byte or refuses it; after a refusal the state is unspecified and the caller goes
// back to a copy.
//
// The JSON it reads is RFC 8259, as a strict parser (nlohmann::json, Python's json) reads it:
// strings of valid UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF) without raw
// control characters, escapes \" \\ \/ \b \f \n \r \t \uXXXX with surrogate escapes only as a
// high-low pair, numbers -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, true, false, null.
// Object keys with properties and enum/const values are matched as written by compact JSON
// (json_schema.h).
//
// Limits a parser does not have, so that a model cannot spend its tokens on them: at most
// kMaxLeadingWhitespace whitespace bytes before the value (one: a sentencepiece token's leading
// space), nesting at most kMaxDepth containers deep, and at most kMaxWhitespaceRun whitespace
// bytes in a row between tokens (indentation 4 deep 7 levels fits). Small models left free fill a
// whole max_tokens with newlines before the opening brace.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "engine/structured_output/json_schema.h"

namespace manifold {

class JsonGrammar {
 public:
  static constexpr int kMaxDepth = 64;
  static constexpr int kMaxLeadingWhitespace = 1;
  static constexpr int kMaxWhitespaceRun = 32;

  // Expects the start of a value of `schema`'s root; the schema must outlive the grammar.
  explicit JsonGrammar(const JsonSchema& schema = JsonSchema::anyObject());
  // Copies move the header and the open containers only (frames above depth_ are never read):
  // a copy per byte is what the vocabulary walk costs.
  JsonGrammar(const JsonGrammar& other) { *this = other; }
  JsonGrammar& operator=(const JsonGrammar& other) {
    static_assert(offsetof(JsonGrammar, frames_) + sizeof(frames_) == sizeof(JsonGrammar),
                  "frames_ must be last");
    if (this == &other) return *this;
    std::memcpy(static_cast<void*>(this), &other, offsetof(JsonGrammar, frames_));
    std::memcpy(frames_, other.frames_, sizeof(Frame) * other.depth_);
    return *this;
  }

  // Takes one byte; false if no allowed value continues with it (the state is then unspecified).
  [[nodiscard]] bool advance(uint8_t byte);
  // Takes every byte of `bytes`; false at the first refused one.
  [[nodiscard]] bool advance(std::string_view bytes);
  // What was read is a whole value: the output may end here. After a closing bracket or quote
  // nothing else may follow; after a top-level number or literal that another allowed value
  // extends ("1" of "12"), more bytes may.
  [[nodiscard]] bool complete() const;
  // No byte can follow: the output must end.
  [[nodiscard]] bool done() const {
    return mode_ == Mode::kDone || (mode_ == Mode::kRegex && !pattern().hasNext(dfa_state_)) ||
           (mode_ == Mode::kNumberPattern && depth_ == 0 && !pattern().hasNext(dfa_state_));
  }
  // Inside a free string (a key or value without enum, length limits or pattern), between
  // characters: any text of whole characters without '"', '\\' or control characters keeps it
  // there.
  [[nodiscard]] bool betweenStringCharacters() const {
    return mode_ == Mode::kString && !constrained_string_;
  }

 private:
  enum class Mode : uint8_t {
    kValue,        // a value of value_node_ (also the start, depth 0)
    kObjectFirst,  // after '{': a key or '}'
    kObjectKey,    // after ',' in an object: a key
    kColon,        // after a key
    kArrayFirst,   // after '[': an item or ']'
    kAfterValue,   // ',' or the container's closing bracket
    kString,
    kEscape,        // after '\'
    kHex,           // in \uXXXX; aux_ digits left
    kLowBackslash,  // after a high surrogate escape: must be '\'
    kLowU,          // ... then 'u'
    kUtf8,          // aux_ continuation bytes left; the next in [utf8_lo_, utf8_hi_]
    kNumberMinus,   // after '-'
    kNumberZero,    // a leading 0
    kNumberInt,     // in [1-9][0-9]*
    kNumberDot,     // after '.'
    kNumberFraction,
    kNumberExp,      // after 'e' or 'E'
    kNumberExpSign,  // after the exponent's sign
    kNumberExpInt,
    kNumberPattern,  // a number with bounds: its text follows pattern_ (JsonSchema::Node)
    kLiteral,        // in true / false / null: literal_ which, aux_ bytes matched
    kAlternative,    // matching candidates_ of node_'s literals (or its property keys when key_)
    kRegex,          // raw text matching pattern_ (JsonSchema::regex())
    kDone,
  };

  // No initializers: the frames above depth_ stay unset, and a copy does not clear them.
  struct Frame {
    uint64_t seen;   // object with properties: bit i, properties[i] was written
    uint32_t items;  // array: items begun
    uint16_t node;   // the container's schema node
    bool object;
  };

  [[nodiscard]] const JsonSchema::Node& schemaNode(int index) const { return schema_->node(index); }
  [[nodiscard]] Frame& top() { return frames_[depth_ - 1]; }
  [[nodiscard]] const Frame& top() const { return frames_[depth_ - 1]; }
  [[nodiscard]] bool openContainer(bool object, int node);
  [[nodiscard]] bool closeContainer(bool object);
  // A value (scalar or container) ended: what follows depends on the container around it.
  void endValue();
  [[nodiscard]] bool startValue(uint8_t byte);
  [[nodiscard]] bool startKey(uint8_t byte);
  [[nodiscard]] bool stringByte(uint8_t byte);
  [[nodiscard]] bool countCharacter();
  [[nodiscard]] bool numberByte(uint8_t byte);
  [[nodiscard]] bool alternativeByte(uint8_t byte);
  // A value alternative (enum/const) `index` is whole; in an undecided union it picks the branch.
  void endAlternativeValue(int index);
  [[nodiscard]] bool structural(uint8_t byte);
  [[nodiscard]] std::string_view alternative(int i) const;
  [[nodiscard]] bool numberCanEnd() const;
  [[nodiscard]] const RegexDfa& pattern() const { return schema_->pattern(pattern_); }
  // A character of a string with a pattern (its UTF-8 bytes, escapes decoded): false if the
  // pattern refuses it. No-ops without a pattern.
  [[nodiscard]] bool patternByte(uint8_t byte);
  // Pattern state `state` can still end a match within the string's minLength and maxLength.
  [[nodiscard]] bool fits(int state) const;
  // Some character in lo..hi takes the pattern to a state that fits: an escape being written may
  // still become one the pattern takes.
  [[nodiscard]] bool someCodePointFits(uint32_t lo, uint32_t hi) const;
  [[nodiscard]] bool hexPrefixFits() const;
  [[nodiscard]] bool patternCodePoint(uint32_t code_point);

  const JsonSchema* schema_;
  uint64_t candidates_ = 0;  // kAlternative: which alternatives still match
  uint32_t length_ = 0;      // code points of the string being read; bytes of an alternative
  uint16_t node_ = 0;        // node of the value expected next (kValue) or being read
  uint16_t hex_ = 0;         // the \uXXXX value read so far
  uint16_t high_surrogate_ = 0;  // the \uXXXX before a low surrogate escape
  uint16_t dfa_state_ = 0;       // the pattern's state (kRegex, kNumberPattern, a string's pattern)
  int16_t pattern_ = -1;         // the pattern the string or number being read follows; -1: none
  Mode mode_ = Mode::kValue;
  uint8_t depth_ = 0;  // open containers
  uint8_t aux_ = 0;
  uint8_t utf8_lo_ = 0;
  uint8_t utf8_hi_ = 0;
  uint8_t literal_ = 0;  // index into the literals (true, false, null)
  uint8_t whitespace_run_ = 0;
  bool key_ = false;             // the string being read is an object key
  bool low_surrogate_ = false;   // the \uXXXX being read must be a low surrogate
  bool constrained_string_ = false;  // the string being read has a maxLength or pattern
  bool integer_ = false;         // the number being read must be an integer
  Frame frames_[kMaxDepth];      // must stay last (operator=)
};

}  // namespace manifold
