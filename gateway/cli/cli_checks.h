// Option checks shared by the subcommands, beyond CLI11's own.
#pragma once

#include <CLI/CLI.hpp>

namespace manifold::cli {

// A decimal number from 0 to 2^64 - 1, as a seed is: "-1" is refused (CLI11 would wrap it to
// 2^64 - 1) and so is a number past the range (CLI11 would clamp it).
[[nodiscard]] CLI::Validator unsigned64();

}  // namespace manifold::cli
