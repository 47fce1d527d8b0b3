#include "engine/structured_output/number_range.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace manifold {
namespace {

// A bound as decimal digits, exactly as written.
struct Decimal {
  bool negative = false;
  std::string whole;     // digits before the point, without leading zeros ("0" for none)
  std::string fraction;  // digits after it, without trailing zeros

  [[nodiscard]] bool zero() const { return whole == "0" && fraction.empty(); }
};

bool isDigit(char c) { return c >= '0' && c <= '9'; }

Result<Decimal> parseDecimal(std::string_view text) {
  const Status malformed = invalidArgument("must be a number");
  size_t i = 0;
  Decimal d;
  if (i < text.size() && text[i] == '-') {
    d.negative = true;
    ++i;
  }
  std::string digits;
  while (i < text.size() && isDigit(text[i])) digits += text[i++];
  if (digits.empty()) return malformed;
  int64_t point = static_cast<int64_t>(digits.size());  // digits before the point
  if (i < text.size() && text[i] == '.') {
    const size_t first = ++i;
    while (i < text.size() && isDigit(text[i])) digits += text[i++];
    if (i == first) return malformed;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    const bool minus = i < text.size() && text[i] == '-';
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    const size_t first = i;
    int64_t exponent = 0;
    while (i < text.size() && isDigit(text[i])) {
      exponent = std::min<int64_t>(exponent * 10 + (text[i++] - '0'), 1000);
    }
    if (i == first) return malformed;
    point += minus ? -exponent : exponent;
  }
  if (i != text.size()) return malformed;
  const Status too_long = invalidArgument("has more than " + std::to_string(kMaxBoundDigits) +
                                          " digits before or after the point: not supported");
  if (point > kMaxBoundDigits + static_cast<int64_t>(digits.size()) ||
      -point > kMaxBoundDigits + static_cast<int64_t>(digits.size())) {
    return too_long;
  }
  if (point <= 0) {
    d.whole = "0";
    d.fraction = std::string(static_cast<size_t>(-point), '0') + digits;
  } else if (point >= static_cast<int64_t>(digits.size())) {
    d.whole = digits + std::string(static_cast<size_t>(point) - digits.size(), '0');
  } else {
    d.whole = digits.substr(0, static_cast<size_t>(point));
    d.fraction = digits.substr(static_cast<size_t>(point));
  }
  d.whole.erase(0, std::min(d.whole.find_first_not_of('0'), d.whole.size() - 1));
  d.fraction.erase(d.fraction.find_last_not_of('0') + 1);
  if (d.whole.size() > static_cast<size_t>(kMaxBoundDigits) ||
      d.fraction.size() > static_cast<size_t>(kMaxBoundDigits)) {
    return too_long;
  }
  if (d.zero()) d.negative = false;
  return d;
}

// A part of the pattern, or nullopt where no text can be written.
using Piece = std::optional<std::string>;

Piece anyOf(const std::vector<Piece>& pieces) {
  std::vector<std::string> present;
  for (const Piece& piece : pieces) {
    if (piece.has_value()) present.push_back(*piece);
  }
  if (present.empty()) return std::nullopt;
  if (present.size() == 1) return present[0];
  std::string out = "(?:";
  for (size_t i = 0; i < present.size(); ++i) out += (i == 0 ? "" : "|") + present[i];
  return out + ")";
}

Piece then(const std::string& prefix, const Piece& rest) {
  if (!rest.has_value()) return std::nullopt;
  return prefix + *rest;
}

std::string digitClass(int lo, int hi) {
  if (lo == hi) return std::string(1, static_cast<char>('0' + lo));
  if (lo == 0 && hi == 9) return "\\d";
  return std::string("[") + static_cast<char>('0' + lo) + "-" + static_cast<char>('0' + hi) + "]";
}

// Any `lo` to `hi` digits.
std::string anyDigits(int lo, int hi) {
  if (hi == 0) return "";
  if (lo == hi) return lo == 1 ? "\\d" : "\\d{" + std::to_string(lo) + "}";
  return "\\d{" + std::to_string(lo) + "," + std::to_string(hi) + "}";
}

int leadingDigit(std::string_view digits) { return digits.empty() ? 0 : digits[0] - '0'; }

// One side of the comparison still open: the bound's digits from here on (a fraction's without
// trailing zeros; a whole part's of the same length as the text), and whether equal is outside.
struct Side {
  std::string_view digits;
  bool exclusive = false;

  [[nodiscard]] Side rest() const {
    return Side{digits.empty() ? digits : digits.substr(1), exclusive};
  }
};

class RangeWriter {
 public:
  explicit RangeWriter(bool integer) : integer_(integer) {}

  // The JSON numbers between `lower` and `upper` (each optional).
  Piece numbers(const Decimal* lower, bool lower_exclusive, const Decimal* upper,
                bool upper_exclusive) const {
    std::vector<Piece> out;
    // Zero and up.
    if (upper == nullptr || (!upper->negative && !(upper->zero() && upper_exclusive))) {
      const bool from_zero = lower == nullptr || lower->negative;
      out.push_back(
          magnitudes(from_zero ? nullptr : lower, lower_exclusive, upper, upper_exclusive));
    }
    // Below zero: "-" and a magnitude above 0 (there is no "-0") and above |upper|'s.
    if (lower == nullptr || lower->negative) {
      static const Decimal kZero{false, "0", ""};
      const bool below_upper = upper != nullptr && upper->negative;
      out.push_back(
          then("-", magnitudes(below_upper ? upper : &kZero, below_upper ? upper_exclusive : true,
                               lower, lower_exclusive)));
    }
    return anyOf(out);
  }

 private:
  // Non-negative numbers between the magnitudes of `lower` and `upper` (each optional).
  Piece magnitudes(const Decimal* lower, bool lower_exclusive, const Decimal* upper,
                   bool upper_exclusive) const {
    if (lower != nullptr && lower->zero() && !lower_exclusive) lower = nullptr;
    if (!integer_ && upper != nullptr &&
        upper->whole.size() > static_cast<size_t>(kMaxNumberDigits)) {
      upper = nullptr;  // past any number of kMaxNumberDigits digits
    }
    const int shortest = lower != nullptr ? static_cast<int>(lower->whole.size()) : 1;
    const int longest = upper != nullptr ? static_cast<int>(upper->whole.size())
                        : integer_       ? shortest
                                         : kMaxNumberDigits;
    const Side lower_fraction{lower != nullptr ? std::string_view(lower->fraction) : "",
                              lower_exclusive};
    const Side upper_fraction{upper != nullptr ? std::string_view(upper->fraction) : "",
                              upper_exclusive};
    std::vector<Piece> out;
    for (int length = shortest; length <= longest; ++length) {
      const bool at_lower = lower != nullptr && static_cast<int>(lower->whole.size()) == length;
      const bool at_upper = upper != nullptr && static_cast<int>(upper->whole.size()) == length;
      out.push_back(wholeDigits(at_lower ? &lower->whole : nullptr,
                                at_upper ? &upper->whole : nullptr, 0, length, lower_fraction,
                                upper_fraction));
    }
    if (integer_ && upper == nullptr) {  // integers longer than any of those
      out.push_back("[1-9]\\d{" + std::to_string(shortest) + ",}");
    }
    return anyOf(out);
  }

  // Whole parts of `length` digits (no leading zero unless the only one) from digit `at` on,
  // between the bounds' whole parts where given (nullptr: that side is already decided), then
  // the fraction: against a bound's fraction when the whole part equals that bound's.
  Piece wholeDigits(const std::string* lo, const std::string* hi, int at, int length,
                    const Side& lower_fraction, const Side& upper_fraction) const {
    const int left = length - at;
    if (left == 0) {
      return fraction(lo != nullptr ? &lower_fraction : nullptr,
                      hi != nullptr ? &upper_fraction : nullptr, length);
    }
    const int a = lo != nullptr ? (*lo)[static_cast<size_t>(at)] - '0' : (at == 0 && length > 1);
    const int b = hi != nullptr ? (*hi)[static_cast<size_t>(at)] - '0' : 9;
    if (lo != nullptr && hi != nullptr && a > b) return std::nullopt;
    std::vector<Piece> out;
    const int free_lo = lo != nullptr ? a + 1 : a;
    const int free_hi = hi != nullptr ? b - 1 : b;
    if (free_lo <= free_hi) {
      out.push_back(then(digitClass(free_lo, free_hi) + anyDigits(left - 1, left - 1),
                         fraction(nullptr, nullptr, length)));
    }
    if (lo != nullptr && hi != nullptr && a == b) {
      out.push_back(then(digitClass(a, a),
                         wholeDigits(lo, hi, at + 1, length, lower_fraction, upper_fraction)));
    } else {
      if (lo != nullptr) {
        out.push_back(then(digitClass(a, a), wholeDigits(lo, nullptr, at + 1, length,
                                                         lower_fraction, upper_fraction)));
      }
      if (hi != nullptr) {
        out.push_back(then(digitClass(b, b), wholeDigits(nullptr, hi, at + 1, length,
                                                         lower_fraction, upper_fraction)));
      }
    }
    return anyOf(out);
  }

  // After a whole part of `whole_length` digits: nothing, or a point and fraction digits,
  // within the sides given (nullptr: no bound).
  Piece fraction(const Side* lower, const Side* upper, int whole_length) const {
    const int most = integer_ ? 0 : kMaxNumberDigits - whole_length;
    std::vector<Piece> out;
    out.push_back(fractionDigits(lower, upper, 0, false));  // no point: the value is whole
    if (most >= 1) out.push_back(then("\\.", fractionDigits(lower, upper, most, true)));
    return anyOf(out);
  }

  // Up to `most` more fraction digits (at least one if `nonempty`) whose value, read after
  // those before, is within the sides.
  static Piece fractionDigits(const Side* lower, const Side* upper, int most, bool nonempty) {
    std::vector<Piece> out;
    // No more digits: the value is the digits' so far, which equal both sides' so far.
    const bool end_above = lower == nullptr || (lower->digits.empty() && !lower->exclusive);
    const bool end_below = upper == nullptr || !upper->digits.empty() || !upper->exclusive;
    if (!nonempty && end_above && end_below) out.push_back("");
    if (most == 0) return anyOf(out);
    const int a = lower != nullptr ? leadingDigit(lower->digits) : 0;
    const int b = upper != nullptr ? leadingDigit(upper->digits) : 9;
    if (lower != nullptr && upper != nullptr && a > b) return anyOf(out);
    const int free_lo = lower != nullptr ? a + 1 : a;
    const int free_hi = upper != nullptr ? b - 1 : b;
    if (free_lo <= free_hi) out.push_back(digitClass(free_lo, free_hi) + anyDigits(0, most - 1));
    if (lower != nullptr && upper != nullptr && a == b) {
      const Side lo = lower->rest();
      const Side hi = upper->rest();
      out.push_back(then(digitClass(a, a), fractionDigits(&lo, &hi, most - 1, false)));
    } else {
      if (lower != nullptr) {
        const Side lo = lower->rest();
        out.push_back(then(digitClass(a, a), fractionDigits(&lo, nullptr, most - 1, false)));
      }
      if (upper != nullptr) {
        const Side hi = upper->rest();
        out.push_back(then(digitClass(b, b), fractionDigits(nullptr, &hi, most - 1, false)));
      }
    }
    return anyOf(out);
  }

  bool integer_;
};

}  // namespace

Result<std::string> numberRangePattern(const NumberRange& range) {
  std::optional<Decimal> lower;
  std::optional<Decimal> upper;
  if (range.lower.has_value()) {
    Result<Decimal> parsed = parseDecimal(range.lower->text);
    if (!parsed.isOk()) return invalidArgument("the lower bound " + parsed.status().message());
    lower = std::move(*parsed);
  }
  if (range.upper.has_value()) {
    Result<Decimal> parsed = parseDecimal(range.upper->text);
    if (!parsed.isOk()) return invalidArgument("the upper bound " + parsed.status().message());
    upper = std::move(*parsed);
  }
  const Piece pattern =
      RangeWriter(range.integer)
          .numbers(lower ? &*lower : nullptr, range.lower.has_value() && range.lower->exclusive,
                   upper ? &*upper : nullptr, range.upper.has_value() && range.upper->exclusive);
  if (!pattern.has_value()) {
    return invalidArgument(std::string("no ") + (range.integer ? "integer" : "number") +
                           " lies within the bounds" +
                           (range.integer ? "" : " (written with at most 15 digits)"));
  }
  return *pattern;
}

}  // namespace manifold
