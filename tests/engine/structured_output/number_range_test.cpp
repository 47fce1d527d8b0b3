// numberRangePattern: the numbers its pattern takes are exactly the plainly written JSON numbers
// between the bounds, judged by an exact comparison of scaled integers over random ranges; and
// a `number` near an exclusive bound never reads as the bound itself when parsed as a double.
#include "engine/structured_output/number_range.h"

#include <cstdint>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/structured_output/regex_dfa.h"

namespace manifold {
namespace {

constexpr int kScaleDigits = 4;  // texts and bounds here have at most this many fraction digits

RegexDfa rangeDfa(const NumberRange& range) {
  Result<std::string> pattern = numberRangePattern(range);
  EXPECT_TRUE(pattern.isOk()) << pattern.status().toString();
  Result<RegexDfa> dfa =
      RegexDfa::compile(pattern.isOk() ? *pattern : "x", RegexDfa::Anchoring::kFullMatch);
  EXPECT_TRUE(dfa.isOk()) << (pattern.isOk() ? *pattern : "") << ": " << dfa.status().toString();
  return std::move(dfa).value();
}

// A JSON number without exponent, as value * 10^-kScaleDigits; false for anything else.
bool scaled(const std::string& text, int64_t* value, bool* negative_zero) {
  size_t i = 0;
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) ++i;
  const size_t whole_start = i;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  const std::string whole = text.substr(whole_start, i - whole_start);
  if (whole.empty() || (whole.size() > 1 && whole[0] == '0')) return false;
  std::string fraction;
  if (i < text.size() && text[i] == '.') {
    const size_t start = ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    fraction = text.substr(start, i - start);
    if (fraction.empty() || fraction.size() > kScaleDigits) return false;
  }
  if (i != text.size()) return false;
  fraction.resize(kScaleDigits, '0');
  const int64_t magnitude = std::stoll(whole + fraction);
  *value = negative ? -magnitude : magnitude;
  *negative_zero = negative && magnitude == 0;
  return true;
}

std::string decimalText(int64_t value) {  // value * 10^-kScaleDigits, shortest plain form
  std::string digits = std::to_string(std::llabs(value));
  digits.insert(0, static_cast<size_t>(std::max<int>(0, kScaleDigits + 1 - digits.size())), '0');
  std::string text = digits.substr(0, digits.size() - kScaleDigits);
  std::string fraction = digits.substr(digits.size() - kScaleDigits);
  fraction.erase(fraction.find_last_not_of('0') + 1);
  if (!fraction.empty()) text += "." + fraction;
  return (value < 0 ? "-" : "") + text;
}

TEST(NumberRange, TakesExactlyThePlainNumbersBetweenRandomBounds) {
  std::mt19937 rng(7);
  // Candidate texts: integers, decimals with trailing zeros, and malformed or narrowed forms.
  std::vector<std::string> texts = {"-0", "-0.0", "00",    "01", "-01", "1.",  ".5",   "1e2",
                                    "-",  "0.",   "1.0e1", "+1", "1E2", "--1", "0.00", "-0.000"};
  for (int v = -1200; v <= 1200; ++v) texts.push_back(std::to_string(v));
  for (int i = 0; i < 3000; ++i) {
    const int whole = static_cast<int>(rng() % 41) - 20;
    const int digits = 1 + static_cast<int>(rng() % kScaleDigits);
    std::string fraction;
    for (int d = 0; d < digits; ++d) fraction += static_cast<char>('0' + rng() % 10);
    texts.push_back((whole == 0 && rng() % 2 ? "-" : "") + std::to_string(whole) + "." + fraction);
  }
  auto randomBound = [&]() -> std::optional<NumberRange::Bound> {
    if (rng() % 5 == 0) return std::nullopt;
    const int64_t scale[] = {1000000, 10000, 1000, 100, 10, 1};
    const int64_t value = (static_cast<int64_t>(rng() % 4001) - 2000) * scale[rng() % 6] / 100;
    std::string text = decimalText(value);
    if (rng() % 4 == 0 && text.find('.') == std::string::npos) text += ".0";  // 3.0 as JSON writes
    return NumberRange::Bound{text, rng() % 3 == 0};
  };
  int ranges = 0;
  int accepted = 0;
  for (int trial = 0; trial < 400; ++trial) {
    NumberRange range;
    range.lower = randomBound();
    range.upper = randomBound();
    range.integer = rng() % 2 == 0;
    if (!range.lower && !range.upper) continue;
    int64_t lo = INT64_MIN;
    int64_t hi = INT64_MAX;
    bool unused = false;
    if (range.lower) {
      ASSERT_TRUE(scaled(range.lower->text, &lo, &unused)) << range.lower->text;
    }
    if (range.upper) {
      ASSERT_TRUE(scaled(range.upper->text, &hi, &unused)) << range.upper->text;
    }
    auto inside = [&](int64_t v) {
      return (range.lower ? (range.lower->exclusive ? v > lo : v >= lo) : true) &&
             (range.upper ? (range.upper->exclusive ? v < hi : v <= hi) : true);
    };
    // Whether any number (of any digits) or integer lies inside.
    bool some = !range.lower || !range.upper || lo < hi ||
                (lo == hi && !range.lower->exclusive && !range.upper->exclusive);
    if (range.integer && range.lower) {
      const int64_t first = range.lower->exclusive ? lo + 1 : lo;
      const int64_t whole = first >= 0 ? (first + 9999) / 10000 : -((-first) / 10000);
      some = !range.upper || inside(whole * 10000);
    }
    Result<std::string> pattern = numberRangePattern(range);
    const std::string described =
        std::string(range.integer ? "integers" : "numbers") + " from " +
        (range.lower ? range.lower->text + (range.lower->exclusive ? " (excl)" : "") : "-inf") +
        " to " +
        (range.upper ? range.upper->text + (range.upper->exclusive ? " (excl)" : "") : "inf");
    if (!some) {
      EXPECT_FALSE(pattern.isOk()) << described;
      continue;
    }
    ASSERT_TRUE(pattern.isOk()) << described << ": " << pattern.status().toString();
    const RegexDfa dfa = rangeDfa(range);
    ++ranges;
    for (const std::string& text : texts) {
      int64_t v = 0;
      bool negative_zero = false;
      const bool plain = scaled(text, &v, &negative_zero) && !negative_zero &&
                         (!range.integer || text.find('.') == std::string::npos);
      const bool expected = plain && inside(v);
      accepted += expected;
      ASSERT_EQ(dfa.matches(text), expected)
          << text << " in " << described << ", pattern " << *pattern;
    }
  }
  EXPECT_GT(ranges, 200);
  EXPECT_GT(accepted, 100000);
}

TEST(NumberRange, IntegersHaveNoLengthLimitAndNumbersFifteenDigits) {
  NumberRange at_least_zero{NumberRange::Bound{"0", false}, std::nullopt, true};
  const RegexDfa integers = rangeDfa(at_least_zero);
  EXPECT_TRUE(integers.matches("0"));
  EXPECT_TRUE(integers.matches("123456789012345678901234567890"));
  EXPECT_FALSE(integers.matches("-1"));
  EXPECT_FALSE(integers.matches("-0"));
  EXPECT_FALSE(integers.matches("1.5"));

  at_least_zero.integer = false;
  const RegexDfa numbers = rangeDfa(at_least_zero);
  EXPECT_TRUE(numbers.matches("123456789012345"));
  EXPECT_FALSE(numbers.matches("1234567890123456"));
  EXPECT_TRUE(numbers.matches("1234.56789012345"));
  EXPECT_FALSE(numbers.matches("1234.567890123456"));
  EXPECT_TRUE(numbers.matches("0.5"));
  EXPECT_FALSE(numbers.matches("5e-1"));
}

TEST(NumberRange, BoundsWrittenWithExponentsOrHugeAreRead) {
  // 1e-07 < x < 2.5e+3; JSON libraries write doubles this way.
  const RegexDfa dfa =
      rangeDfa({NumberRange::Bound{"1e-07", true}, NumberRange::Bound{"2.5e+3", true}, false});
  EXPECT_TRUE(dfa.matches("0.0000002"));
  EXPECT_FALSE(dfa.matches("0.0000001"));
  EXPECT_TRUE(dfa.matches("0.00000010001"));
  EXPECT_TRUE(dfa.matches("2499.999"));
  EXPECT_FALSE(dfa.matches("2500"));
  EXPECT_FALSE(dfa.matches("0"));
  // An upper bound past 15 digits leaves every number of 15 digits below it.
  const RegexDfa below_huge = rangeDfa({std::nullopt, NumberRange::Bound{"1e17", false}, false});
  EXPECT_TRUE(below_huge.matches("999999999999999"));
  EXPECT_TRUE(below_huge.matches("-999999999999999"));
}

// Near an exclusive bound, a `number` the pattern takes still parses (as a double, as validators
// read it) to a value on the right side of the bound.
TEST(NumberRange, ExclusiveBoundsHoldForDoubles) {
  for (const char* bound : {"0.1", "1000", "0.3", "123.456", "1e-05", "0.30000000000000004"}) {
    const RegexDfa below = rangeDfa({std::nullopt, NumberRange::Bound{bound, true}, false});
    const RegexDfa above = rangeDfa({NumberRange::Bound{bound, true}, std::nullopt, false});
    const double b = std::strtod(bound, nullptr);
    // The closest texts: the bound's digits with the last one moved, and runs of 9s and 0s.
    std::set<std::string> near;
    for (int digits = 1; digits <= 17; ++digits) {
      char text[64];
      std::snprintf(text, sizeof text, "%.*g", digits, b);
      near.insert(text);
      std::snprintf(text, sizeof text, "%.*f", digits, b);
      near.insert(text);
      std::snprintf(text, sizeof text, "%.*f", digits, std::nextafter(b, 0.0));
      near.insert(text);
      std::snprintf(text, sizeof text, "%.*f", digits, std::nextafter(b, 1e300));
      near.insert(text);
    }
    near.insert("0.09999999999999");
    near.insert("999.999999999999");
    near.insert("0.299999999999999");
    for (const std::string& text : near) {
      if (below.matches(text)) {
        EXPECT_LT(std::strtod(text.c_str(), nullptr), b) << text;
      }
      if (above.matches(text)) {
        EXPECT_GT(std::strtod(text.c_str(), nullptr), b) << text;
      }
    }
    EXPECT_TRUE(below.matches("0"));
  }
}

TEST(NumberRange, EmptyRangesAndMalformedBoundsAreErrors) {
  auto message = [](const NumberRange& range) {
    Result<std::string> pattern = numberRangePattern(range);
    return pattern.isOk() ? std::string("ok: ") + *pattern : pattern.status().message();
  };
  EXPECT_EQ(message({NumberRange::Bound{"1.2", false}, NumberRange::Bound{"1.8", false}, true}),
            "no integer lies within the bounds");
  EXPECT_EQ(message({NumberRange::Bound{"3", false}, NumberRange::Bound{"2", false}, false}),
            "no number lies within the bounds (written with at most 15 digits)");
  EXPECT_EQ(message({NumberRange::Bound{"1", true}, NumberRange::Bound{"1", false}, false}),
            "no number lies within the bounds (written with at most 15 digits)");
  EXPECT_EQ(message({NumberRange::Bound{"1e16", false}, std::nullopt, false}),
            "no number lies within the bounds (written with at most 15 digits)");
  EXPECT_EQ(message({NumberRange::Bound{"1e16", false}, std::nullopt, true}).substr(0, 4), "ok: ");
  EXPECT_EQ(message({NumberRange::Bound{"1e30", false}, std::nullopt, true}),
            "the lower bound has more than 18 digits before or after the point: not supported");
  EXPECT_EQ(message({std::nullopt, NumberRange::Bound{"1e-300", false}, false}),
            "the upper bound has more than 18 digits before or after the point: not supported");
  EXPECT_EQ(message({std::nullopt, NumberRange::Bound{"12a", false}, false}),
            "the upper bound must be a number");
  // The range [1, 1] is the one number 1.
  const RegexDfa one =
      rangeDfa({NumberRange::Bound{"1", false}, NumberRange::Bound{"1.0", false}, false});
  EXPECT_TRUE(one.matches("1"));
  EXPECT_TRUE(one.matches("1.000"));
  EXPECT_FALSE(one.matches("1.0001"));
  EXPECT_FALSE(one.matches("0.9999"));
}

}  // namespace
}  // namespace manifold
