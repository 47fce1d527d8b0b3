#include "gateway/cli/cli_checks.h"

#include <charconv>
#include <cstdint>
#include <string>

namespace manifold::cli {

CLI::Validator unsigned64() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        uint64_t value = 0;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data(), end, value);
        if (text.empty() || error != std::errc() || stop != end) {
          return "must be a whole number from 0 to 18446744073709551615, got " + text;
        }
        return "";
      },
      "UINT64");
}

}  // namespace manifold::cli
