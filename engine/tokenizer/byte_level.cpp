#include "engine/tokenizer/byte_level.h"

#include <array>

#include "common/utf8.h"

namespace manifold::byte_level {
namespace {

struct Tables {
  std::array<char32_t, 256> byte_to_char{};
  // Every mapped code point is below 0x144 (256 + 68 remapped bytes).
  static constexpr char32_t kMaxChar = 0x144;
  std::array<int, kMaxChar> char_to_byte{};

  Tables() {
    char_to_byte.fill(-1);
    char32_t next_extra = 256;
    for (int byte = 0; byte < 256; ++byte) {
      const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
                             (byte >= 0xAE && byte <= 0xFF);
      const char32_t cp = printable ? static_cast<char32_t>(byte) : next_extra++;
      byte_to_char[byte] = cp;
      char_to_byte[cp] = byte;
    }
  }
};

const Tables& tables() {
  static const Tables kTables;
  return kTables;
}

}  // namespace

char32_t byteToChar(unsigned char byte) { return tables().byte_to_char[byte]; }

std::optional<unsigned char> charToByte(char32_t cp) {
  if (cp >= Tables::kMaxChar) return std::nullopt;
  const int byte = tables().char_to_byte[cp];
  if (byte < 0) return std::nullopt;
  return static_cast<unsigned char>(byte);
}

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8::append(byteToChar(static_cast<unsigned char>(c)), out);
  return out;
}

std::optional<std::string> decode(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  size_t pos = 0;
  while (pos < token.size()) {
    const std::optional<unsigned char> byte = charToByte(utf8::decodeNext(token, pos));
    if (!byte) return std::nullopt;
    out.push_back(static_cast<char>(*byte));
  }
  return out;
}

}  // namespace manifold::byte_level
