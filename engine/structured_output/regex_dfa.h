// A regular expression compiled into a DFA over UTF-8 bytes: JSON Schema's `pattern` (and the
// `format`s read as patterns) inside JsonGrammar's strings, and vLLM's guided_regex as a whole
// output. The sampler tests token bytes against it one byte at a time, so it must say at every
// byte whether some match still continues: next() refuses a byte that leads only to dead ends.
//
// The syntax is ECMA-262's (JSON Schema's dialect), without what a finite automaton cannot do:
// - literals, `.` (any character but \n, \r, U+2028, U+2029), classes `[a-z_]` and `[^...]`;
// - escapes \d \D \w \W \s \S (ASCII digits and word characters; ECMA's whitespace), \t \n \r
//   \f \v \0, \xHH, \uHHHH (surrogate pairs joined), and any punctuation escaped;
// - groups `(...)`, `(?:...)`, `(?<name>...)`, `(?P<name>...)` (captures mean nothing here),
//   alternation, quantifiers * + ? {n} {n,} {n,m} and their lazy forms (laziness changes which
//   match a search reports, not which texts match);
// - ^ at the start and $ at the end of the pattern or of a top-level alternative.
// Backreferences, lookaround, \b, \p{...}, inline flags and anchors elsewhere are errors that
// name them.
//
// Matching is on code points, and the DFA only takes valid UTF-8 (no surrogates, nothing past
// U+10FFFF), so what it accepts is always text.
//
// Building it is bounded: at most kMaxStates states, counted repeats of at most 1000, and
// kMaxWork NFA states and edges visited; a pattern past a bound is an error naming it.
//
// Thread safety: immutable after compile().
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace manifold {

class RegexDfa {
 public:
  static constexpr int kDead = -1;
  static constexpr size_t kMaxStates = 30000;
  // NFA states and edges the construction may visit (about 0.2 s).
  static constexpr size_t kMaxWork = 8000000;
  static constexpr uint32_t kUnbounded = UINT32_MAX;

  enum class Anchoring {
    // The whole text must match (Python's re.fullmatch; guided_regex, as outlines and xgrammar
    // read it). ^ and $ change nothing.
    kFullMatch,
    // The text must contain a match (JSON Schema's pattern, ECMA's RegExp.test): an alternative
    // without ^ may follow any text, one without $ may be followed by any text.
    kSearch,
  };

  // Errors (kInvalidArgument) say what is not supported, or where the pattern is malformed.
  // `budget`, when given, caps the work (kMaxWork at most) and is charged what it cost, so that
  // several patterns of one schema share one bound.
  [[nodiscard]] static Result<RegexDfa> compile(std::string_view pattern, Anchoring anchoring,
                                                size_t* budget = nullptr);

  [[nodiscard]] int start() const { return 0; }
  // The state after `byte`, or kDead when no match continues with it.
  [[nodiscard]] int next(int state, uint8_t byte) const {
    return transitions_[static_cast<size_t>(state) * num_classes_ + byte_class_[byte]];
  }
  // The text read so far matches.
  [[nodiscard]] bool accepting(int state) const { return accepting_[static_cast<size_t>(state)]; }
  // Some byte continues a match (false: a match that may only end here).
  [[nodiscard]] bool hasNext(int state) const { return has_next_[static_cast<size_t>(state)]; }
  // Characters (code points) still to write before a match can end: the fewest, and the most
  // (kUnbounded when a loop is in reach). With these a string's minLength and maxLength are kept
  // without leading it where neither a character nor the end fits.
  [[nodiscard]] uint32_t minRemaining(int state) const {
    return min_remaining_[static_cast<size_t>(state)];
  }
  [[nodiscard]] uint32_t maxRemaining(int state) const {
    return max_remaining_[static_cast<size_t>(state)];
  }
  // The states one code point in lo..hi (surrogates skipped) leads to from `state`, into `out`,
  // sorted: what a JSON escape such as \u00XX may still become.
  void afterCodePoints(int state, uint32_t lo, uint32_t hi, std::vector<int>& out) const;
  [[nodiscard]] size_t numStates() const { return accepting_.size(); }
  // Runs the DFA over `text`: whether it matches as a whole (tests and enum/const filtering).
  [[nodiscard]] bool matches(std::string_view text) const;

 private:
  // Keeps only transitions into states from which a match can be reached (an error when none
  // can from the start), and counts the characters left.
  [[nodiscard]] Status finish();

  std::array<uint8_t, 256> byte_class_{};
  size_t num_classes_ = 0;
  std::vector<int32_t> transitions_;  // [state * num_classes_ + class]
  std::vector<uint8_t> accepting_;
  std::vector<uint8_t> has_next_;
  std::vector<uint32_t> min_remaining_;
  std::vector<uint32_t> max_remaining_;
};

}  // namespace manifold
