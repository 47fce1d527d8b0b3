#include "common/json_depth.h"

#include <algorithm>

namespace manifold {

JsonBrackets scanJsonBrackets(std::string_view text, size_t at, bool stop_when_closed) {
  JsonBrackets out;
  int depth = 0;
  bool in_string = false;
  for (size_t i = at; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      out.max_depth = std::max(out.max_depth, ++depth);
    } else if (c == ']' || c == '}') {
      if (--depth == 0 && stop_when_closed) {
        out.end = i + 1;
        return out;
      }
    }
  }
  return out;
}

}  // namespace manifold
