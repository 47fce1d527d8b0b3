#include "engine/tokenizer/byte_level.h"

#include <gtest/gtest.h>

namespace manifold {
namespace {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes spell themselves, the others are shifted to
// U+0100 upwards in byte order (so ' ' = 'Ġ' U+0120, '\n' = 'Ċ' U+010A, 0x00 = 'Ā' U+0100).
TEST(ByteLevel, MapsBytesAsGpt2Does) {
  EXPECT_EQ(byte_level::byteToChar('a'), U'a');
  EXPECT_EQ(byte_level::byteToChar(' '), char32_t{0x120});
  EXPECT_EQ(byte_level::byteToChar('\n'), char32_t{0x10A});
  EXPECT_EQ(byte_level::byteToChar(0x00), char32_t{0x100});
  EXPECT_EQ(byte_level::byteToChar(0xAD), char32_t{0x143});  // soft hyphen is the last one moved
  EXPECT_EQ(byte_level::encode(" hi\n"), "\xC4\xA0hi\xC4\x8A");
}

TEST(ByteLevel, IsABijectionOnAllBytes) {
  for (int byte = 0; byte < 256; ++byte) {
    const auto back =
        byte_level::charToByte(byte_level::byteToChar(static_cast<unsigned char>(byte)));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, byte);
  }
  EXPECT_FALSE(byte_level::charToByte(U' ').has_value());  // ' ' itself is not in the alphabet
  EXPECT_EQ(byte_level::decode("\xC4\xA0hi"), std::optional<std::string>(" hi"));
  EXPECT_EQ(byte_level::decode("<|x y|>"), std::nullopt);
}

}  // namespace
}  // namespace manifold
