#include "common/utf8.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace manifold {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

TEST(Utf8, AcceptsWellFormedTextAndRejectsMalformedSequences) {
  EXPECT_TRUE(utf8::isValid("plain ascii"));
  EXPECT_TRUE(utf8::isValid("\xE4\xB8\xAD\xF0\x9F\xA6\x99"));  // 中 🦙
  EXPECT_FALSE(utf8::isValid("\xFF"));
  EXPECT_FALSE(utf8::isValid("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(utf8::isValid("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(utf8::isValid("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(utf8::isValid("\xE4\xB8"));          // truncated
}

// Expected strings follow the Unicode "maximal subpart" practice that Rust's from_utf8_lossy
// (and so HF decode) uses: each maximal invalid subsequence becomes one U+FFFD.
TEST(Utf8, LossyRepairReplacesEachMaximalInvalidSubpartOnce) {
  EXPECT_EQ(utf8::repairLossy("ok"), "ok");
  EXPECT_EQ(utf8::repairLossy("a\xFF"
                              "b"),
            "a" + kReplacement + "b");
  EXPECT_EQ(utf8::repairLossy("\xE4\xB8"), kReplacement);  // one truncated char
  EXPECT_EQ(utf8::repairLossy("\xE4\xB8"
                              "a"),
            kReplacement + "a");
  EXPECT_EQ(utf8::repairLossy("\xC0\xAF"), kReplacement + kReplacement);  // C0 never starts one
  EXPECT_EQ(utf8::repairLossy("\xF0\x9F\xA6"), kReplacement);
}

TEST(Utf8, DecodesAndReencodesCodePoints) {
  const std::string text = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\xA6\x99";  // a é 中 🦙
  std::vector<char32_t> code_points;
  size_t pos = 0;
  while (pos < text.size()) code_points.push_back(utf8::decodeNext(text, pos));
  EXPECT_EQ(code_points, (std::vector<char32_t>{U'a', 0xE9, 0x4E2D, 0x1F999}));
  std::string encoded;
  for (char32_t cp : code_points) utf8::append(cp, encoded);
  EXPECT_EQ(encoded, text);
}

TEST(Utf8, CountsCodePointsAsPythonLenDoes) {
  EXPECT_EQ(utf8::codePointCount(""), 0u);
  EXPECT_EQ(utf8::codePointCount("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\xA6\x99"), 4u);  // a é 中 🦙
}

// The code points Python 3.11's str.isspace() accepts, listed by
// [c for c in range(0x110000) if chr(c).isspace()].
TEST(Utf8, KnowsPythonsWhitespace) {
  const std::vector<char32_t> python = {
      0x9,    0xa,    0xb,    0xc,    0xd,    0x1c,   0x1d,   0x1e,   0x1f,   0x20,
      0x85,   0xa0,   0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006,
      0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000};
  std::vector<char32_t> ours;
  for (char32_t cp = 0; cp < 0x110000; ++cp) {
    if (utf8::isPythonSpace(cp)) ours.push_back(cp);
  }
  EXPECT_EQ(ours, python);
  EXPECT_EQ(utf8::lstripPythonSpace("\xE3\x80\x80 \t\xC2\xA0word \xE3\x80\x80"),
            "word \xE3\x80\x80");                                       // U+3000 and U+00A0 lead
  EXPECT_EQ(utf8::lstripPythonSpace(" \xE2\x80\x8B"), "\xE2\x80\x8B");  // U+200B is not one
  EXPECT_EQ(utf8::lstripPythonSpace(" \n"), "");
  EXPECT_EQ(utf8::lstripPythonSpace("\xC2"), "\xC2");  // a broken byte is not whitespace
}

}  // namespace
}  // namespace manifold
