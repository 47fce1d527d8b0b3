// How deeply arrays and objects nest in JSON text, found by scanning the brackets outside
// strings, without parsing: a check to make before handing text to a recursive parser or
// compiler, whose stack a few thousand levels would overflow.
#pragma once

#include <cstddef>
#include <string_view>

namespace manifold {

// The deepest nesting of arrays and objects any request body, schema or tool call may have.
inline constexpr int kMaxJsonDepth = 64;

// Brackets of `text` from `at` on, outside strings (the text need not be valid JSON: a parser
// judges that): the greatest depth of arrays and objects, and, when `stop_when_closed`, one past
// the bracket at which the depth returns to zero (npos: never).
struct JsonBrackets {
  int max_depth = 0;
  size_t end = std::string_view::npos;
};
[[nodiscard]] JsonBrackets scanJsonBrackets(std::string_view text, size_t at,
                                            bool stop_when_closed);

// True when arrays and objects in `text` nest deeper than kMaxJsonDepth.
[[nodiscard]] inline bool nestedTooDeep(std::string_view text) {
  return scanJsonBrackets(text, 0, false).max_depth > kMaxJsonDepth;
}

}  // namespace manifold
