// JSON Schema's minimum, maximum, exclusiveMinimum and exclusiveMaximum as a regular expression
// of the JSON numbers between the bounds, which RegexDfa turns into the automaton JsonGrammar
// follows while a bounded number is written (as xgrammar writes range regexes for them).
//
// The numbers it describes are a subset of the valid ones, written the plain way: no exponent,
// no "-0", and for `number` (not `integer`) at most kMaxNumberDigits digits in all, so that a
// validator reading them as doubles agrees with the decimal comparison made here: decimals of
// 15 digits or fewer convert to distinct doubles in the same order, and none of them rounds to
// a bound that needs 16 or 17 digits, so an exclusive bound stays exclusive. Integers have no
// digit limit (JSON Schema validators compare them exactly).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace manifold {

struct NumberRange {
  struct Bound {
    std::string text;  // the bound as JSON writes it: "-3", "0.25", "1e-07"
    bool exclusive = false;
  };
  std::optional<Bound> lower;
  std::optional<Bound> upper;
  bool integer = false;  // only integers (`type: integer`)
};

inline constexpr int kMaxNumberDigits = 15;
// Bounds with more digits than this before or after the point are not supported.
inline constexpr int kMaxBoundDigits = 18;

// The numbers in `range` as a pattern to match in full (RegexDfa's syntax). Errors
// (kInvalidArgument): a bound that is not a JSON number or has too many digits, a range that
// no number written as above lies in.
[[nodiscard]] Result<std::string> numberRangePattern(const NumberRange& range);

}  // namespace manifold
