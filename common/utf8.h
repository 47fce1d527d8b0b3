// UTF-8 helpers shared by the tokenizer, the chat template renderer and the OpenAI layer: code
// point iteration, validation, counting and lossy repair.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace manifold::utf8 {

// Length in bytes of the valid UTF-8 sequence starting at text[pos], or 0 when the bytes there are
// not a valid (shortest-form, non-surrogate) sequence. REQUIRES: pos < text.size().
[[nodiscard]] size_t validSequenceLength(std::string_view text, size_t pos);

// Decodes the code point at text[pos] and advances pos. Invalid bytes decode as U+FFFD and advance
// by one byte. REQUIRES: pos < text.size().
[[nodiscard]] char32_t decodeNext(std::string_view text, size_t& pos);

// Appends the UTF-8 encoding of `cp` to `out`.
void append(char32_t cp, std::string& out);

[[nodiscard]] bool isValid(std::string_view text);

// Number of code points, as Python's len(str) and OpenAI's character offsets count them: every byte
// that does not continue a sequence starts one.
[[nodiscard]] size_t codePointCount(std::string_view text);

// Whether `cp` is whitespace as Python's str.isspace() says (what str.strip() removes): ASCII
// whitespace, U+001C..U+001F, and Unicode's spaces and line and paragraph separators.
[[nodiscard]] bool isPythonSpace(char32_t cp);

// `text` without its leading Python whitespace (str.lstrip()).
[[nodiscard]] std::string_view lstripPythonSpace(std::string_view text);

// Like Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes one U+FFFD.
[[nodiscard]] std::string repairLossy(std::string_view bytes);

}  // namespace manifold::utf8
