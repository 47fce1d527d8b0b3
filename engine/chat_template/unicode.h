// UTF-8 helpers for the renderer. Jinja templates see strings as sequences of code points (Python
// semantics), so length, indexing, slicing and case mapping work on code points, not bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace manifold::jinja {

// Splits into code points, each kept as its UTF-8 bytes.
std::vector<std::string> splitCodePoints(std::string_view text);

// Whitespace as JavaScript's String.prototype.trim and \s see it, which is what
// @huggingface/jinja uses for `trim`, `strip` and whitespace control.
bool isUnicodeSpace(char32_t c);
std::string_view trimUnicodeSpace(std::string_view text, bool left, bool right);

std::string toUpperUtf8(std::string_view text);
std::string toLowerUtf8(std::string_view text);
// Python str.title(): the first letter of each run of letters upper, the rest lower.
std::string titleCaseUtf8(std::string_view text);
// Python str.capitalize(): first code point upper, the rest lower.
std::string capitalizeUtf8(std::string_view text);

}  // namespace manifold::jinja
