// A byte-level recognizer of one JSON object (RFC 8259), the grammar behind response_format
// {"type": "json_object"}: structured output checks every candidate token's bytes against it, so
// the sampler can only draw tokens that keep the output a prefix of a JSON object.
//
// The state is a small value type (no heap), copied freely: TokenBytesIndex keeps one copy per
// byte of the token it is testing. advance() either takes a byte or refuses it; after a refusal
// the state is unspecified and the caller goes back to a copy.
//
// What it accepts, exactly as a strict parser (nlohmann::json, Python's json) would:
// - at most one whitespace byte (a sentencepiece token's leading space), then one object; nothing
//   after its closing brace;
// - strings of valid UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF), no raw
//   control characters, escapes \" \\ \/ \b \f \n \r \t \uXXXX with surrogate escapes only as a
//   high-low pair;
// - numbers -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, true, false, null.
// Limits a parser does not have, so that a model cannot spend its tokens on them: the one leading
// whitespace byte above, nesting at most kMaxDepth containers deep, and at most kMaxWhitespaceRun
// whitespace bytes in a row outside strings (indentation 4 deep 7 levels fits). Small models left
// free fill a whole max_tokens with newlines before the opening brace.
#pragma once

#include <cstdint>
#include <string_view>

namespace manifold {

class JsonGrammar {
 public:
  static constexpr int kMaxDepth = 64;
  static constexpr int kMaxLeadingWhitespace = 1;
  static constexpr int kMaxWhitespaceRun = 32;

  // Expects the start of the object.
  JsonGrammar() = default;

  // Takes one byte; false if no JSON object continues with it (the state is then unspecified).
  [[nodiscard]] bool advance(uint8_t byte);
  // Takes every byte of `bytes`; false at the first refused one.
  [[nodiscard]] bool advance(std::string_view bytes);
  // The object is closed: only the end of the output may follow.
  [[nodiscard]] bool complete() const { return mode_ == Mode::kDone; }
  // Inside a string, between characters (not in an escape or a multi-byte character): any text
  // of whole characters without '"', '\\' or control characters keeps it there.
  [[nodiscard]] bool betweenStringCharacters() const { return mode_ == Mode::kString; }

 private:
  enum class Mode : uint8_t {
    kStart,        // kMaxLeadingWhitespace, then '{'
    kObjectFirst,  // after '{': a key or '}'
    kObjectKey,    // after ',' in an object: a key
    kColon,        // after a key
    kValue,        // after ':' or ',' in an array: a value
    kArrayFirst,   // after '[': a value or ']'
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
    kLiteral,  // in true / false / null: literal_ which, aux_ bytes matched
    kDone,
  };

  [[nodiscard]] bool inObject() const { return ((objects_ >> (depth_ - 1)) & 1u) != 0; }
  [[nodiscard]] bool openContainer(bool object);
  [[nodiscard]] bool closeContainer(bool object);
  // A value (scalar or container) ended: what follows depends on the container around it.
  void endValue();
  [[nodiscard]] bool startValue(uint8_t byte);
  [[nodiscard]] bool stringByte(uint8_t byte);
  [[nodiscard]] bool numberByte(uint8_t byte);
  [[nodiscard]] bool structural(uint8_t byte);

  uint64_t objects_ = 0;  // bit d - 1: the container at depth d is an object (else an array)
  uint16_t hex_ = 0;      // the \uXXXX value read so far
  Mode mode_ = Mode::kStart;
  uint8_t depth_ = 0;  // open containers
  uint8_t aux_ = 0;
  uint8_t utf8_lo_ = 0;
  uint8_t utf8_hi_ = 0;
  uint8_t literal_ = 0;  // index into the literals (true, false, null)
  uint8_t whitespace_run_ = 0;
  bool key_ = false;            // the string being read is an object key
  bool low_surrogate_ = false;  // the \uXXXX being read must be a low surrogate
};

}  // namespace manifold
