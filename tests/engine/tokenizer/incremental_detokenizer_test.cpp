#include "engine/tokenizer/incremental_detokenizer.h"

#include <gtest/gtest.h>

#include "common/utf8.h"
#include "tests/engine/tokenizer/tokenizer_fixtures.h"

namespace manifold {
namespace {

using testing::loadTestVectors;
using testing::sharedTokenizer;
using testing::tokenizerDir;

class StreamingDecode : public ::testing::TestWithParam<std::string> {};

// For every HF test vector, feeding its ids one at a time yields valid UTF-8 chunks whose
// concatenation is the full decode, which (checked in testvectors_test) is the original text.
TEST_P(StreamingDecode, ChunksAreValidUtf8AndConcatenateToTheFullDecode) {
  const std::string dir = tokenizerDir(GetParam());
  const Tokenizer& tokenizer = sharedTokenizer(dir);
  for (const auto& test_case : loadTestVectors(dir)) {
    for (bool skip_special : {false, true}) {
      IncrementalDetokenizer detokenizer(tokenizer, skip_special);
      std::string streamed;
      for (int32_t id : test_case.ids) {
        const std::string chunk = detokenizer.append(id);
        EXPECT_TRUE(utf8::isValid(chunk)) << "text: \"" << test_case.text << "\"";
        EXPECT_EQ(chunk.find("\xEF\xBF\xBD"), std::string::npos)
            << "a chunk split a character in \"" << test_case.text << "\"";
        streamed += chunk;
      }
      streamed += detokenizer.flush();
      EXPECT_EQ(streamed, test_case.text);
      EXPECT_EQ(detokenizer.numGenerated(), test_case.ids.size());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTokenizers, StreamingDecode,
                         ::testing::Values("gpt2", "llama2", "llama3-8b-instruct",
                                           "qwen2.5-instruct"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(IncrementalDetokenizer, HoldsBackBytesUntilTheCharacterIsComplete) {
  // Llama-2 spells 🦙 (F0 9F A6 99) as four byte-fallback tokens (HF test vector " this is
  // 🦙.cpp").
  const Tokenizer& tokenizer = sharedTokenizer(tokenizerDir("llama2"));
  const std::vector<int32_t> llama = {243, 162, 169, 156};
  IncrementalDetokenizer detokenizer(tokenizer, true);
  EXPECT_EQ(detokenizer.append(llama[0]), "");
  EXPECT_EQ(detokenizer.append(llama[1]), "");
  EXPECT_EQ(detokenizer.append(llama[2]), "");
  EXPECT_EQ(detokenizer.append(llama[3]), "\xF0\x9F\xA6\x99");
}

TEST(IncrementalDetokenizer, FlushEmitsAnIncompleteTailAsReplacementCharacter) {
  const Tokenizer& tokenizer = sharedTokenizer(tokenizerDir("llama2"));
  IncrementalDetokenizer detokenizer(tokenizer, true);
  EXPECT_EQ(detokenizer.append(15043), "Hello");  // "▁Hello": first token loses its space
  EXPECT_EQ(detokenizer.append(243), "");         // <0xF0>: start of a 4-byte sequence
  EXPECT_EQ(detokenizer.flush(), "\xEF\xBF\xBD");
}

TEST(IncrementalDetokenizer, ContinuationOfAPromptKeepsItsLeadingSpace) {
  const Tokenizer& tokenizer = sharedTokenizer(tokenizerDir("llama2"));
  const std::vector<int32_t> prompt = {1, 15043};  // <s> ▁Hello
  IncrementalDetokenizer detokenizer(tokenizer, true, prompt);
  EXPECT_EQ(detokenizer.append(3186), " world");  // ▁world
  IncrementalDetokenizer no_prompt(tokenizer, true);
  EXPECT_EQ(no_prompt.append(3186), "world");
}

// Byte-fallback decoding judges a whole run of byte tokens at once, so a run that was valid ("中")
// turns into U+FFFDs when a stray byte joins it. Chunks must stay valid UTF-8 even then.
TEST(IncrementalDetokenizer, ChunksStayValidWhenADecoderRewritesEarlierText) {
  const Tokenizer& tokenizer = sharedTokenizer(tokenizerDir("llama2"));
  // Llama-2 byte tokens are <0x00>..<0xFF> at ids 3..258 (SOURCE.md).
  const std::vector<int32_t> ids = {3 + 0xE4, 3 + 0xB8, 3 + 0xAD, 3 + 0xE4, 263, 3 + 0xB8};
  IncrementalDetokenizer detokenizer(tokenizer, true);
  for (int32_t id : ids) EXPECT_TRUE(utf8::isValid(detokenizer.append(id)));
  EXPECT_TRUE(utf8::isValid(detokenizer.flush()));
}

TEST(IncrementalDetokenizer, OutOfRangeIdsProduceNoText) {
  const Tokenizer& tokenizer = sharedTokenizer(tokenizerDir("gpt2"));
  IncrementalDetokenizer detokenizer(tokenizer, false);
  EXPECT_EQ(detokenizer.append(1000000), "");
  EXPECT_EQ(detokenizer.append(-5), "");
  EXPECT_EQ(detokenizer.flush(), "");
}

}  // namespace
}  // namespace manifold
