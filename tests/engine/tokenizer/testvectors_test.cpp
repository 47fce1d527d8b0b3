// Conformance with Hugging Face tokenizers: every case of tests/data/tokenizers/*/testvectors.json
// (expected ids produced by HF AutoTokenizer, add_special_tokens=False).
#include <iostream>
#include <map>

#include <gtest/gtest.h>

#include "engine/tokenizer/tokenizer.h"
#include "tests/engine/tokenizer/tokenizer_fixtures.h"

namespace manifold {
namespace {

using testing::loadTestVectors;
using testing::sharedTokenizer;
using testing::tokenizerDir;

class TestVectors : public ::testing::TestWithParam<std::string> {};

TEST_P(TestVectors, EncodeMatchesHuggingFaceIdsForEveryCase) {
  const std::string dir = tokenizerDir(GetParam());
  const Tokenizer& tokenizer = sharedTokenizer(dir);
  const auto cases = loadTestVectors(dir);
  ASSERT_GE(cases.size(), 40u);
  size_t passed = 0;
  for (const auto& test_case : cases) {
    const std::vector<int32_t> ids = tokenizer.encode(test_case.text, false);
    EXPECT_EQ(ids, test_case.ids) << "text: \"" << test_case.text << "\"";
    if (ids == test_case.ids) ++passed;
  }
  std::cout << "[ testvectors ] " << GetParam() << ": " << passed << "/" << cases.size()
            << " cases match\n";
  RecordProperty("passed", static_cast<int>(passed));
  RecordProperty("total", static_cast<int>(cases.size()));
}

// Decoding the expected (HF) ids gives the text back exactly. Byte-level BPE is lossless; for
// llama2 (sentencepiece-style) the space added by the Prepend("▁") normalizer is the one the
// Strip decoder removes, so its texts round-trip too (none of them needs <unk>).
TEST_P(TestVectors, DecodingExpectedIdsGivesBackTheText) {
  const std::string dir = tokenizerDir(GetParam());
  const Tokenizer& tokenizer = sharedTokenizer(dir);
  for (const auto& test_case : loadTestVectors(dir)) {
    EXPECT_EQ(tokenizer.decode(test_case.ids, false), test_case.text)
        << "text: \"" << test_case.text << "\"";
  }
}

// Same round trip through our own encoder (the ids are checked against HF above).
TEST_P(TestVectors, DecodeOfEncodeIsTheIdentity) {
  const std::string dir = tokenizerDir(GetParam());
  const Tokenizer& tokenizer = sharedTokenizer(dir);
  for (const auto& test_case : loadTestVectors(dir)) {
    EXPECT_EQ(tokenizer.decode(tokenizer.encode(test_case.text, false), false), test_case.text);
  }
}

// tokenBytes (what structured output checks) is what each token after the first adds to the
// decoded text.
TEST_P(TestVectors, TokenBytesAreWhatEachLaterTokenAddsToTheText) {
  const std::string dir = tokenizerDir(GetParam());
  const Tokenizer& tokenizer = sharedTokenizer(dir);
  size_t checked = 0;
  for (const auto& test_case : loadTestVectors(dir)) {
    const std::vector<int32_t>& ids = test_case.ids;
    if (ids.size() < 2) continue;
    const std::string first = tokenizer.decode(std::span(ids).first(1), false);
    if (first.find("\xEF\xBF\xBD") != std::string::npos) continue;  // a partial character
    std::string text = first;
    for (size_t i = 1; i < ids.size(); ++i) {
      const std::optional<std::string> bytes = tokenizer.tokenBytes(ids[i]);
      ASSERT_TRUE(bytes.has_value()) << ids[i];
      text += *bytes;
    }
    EXPECT_EQ(text, test_case.text);
    ++checked;
  }
  EXPECT_GE(checked, 20u);
}

INSTANTIATE_TEST_SUITE_P(AllTokenizers, TestVectors,
                         ::testing::Values("gpt2", "llama2", "llama3-8b-instruct",
                                           "qwen2.5-instruct"),
                         testing::tokenizerParamName);

}  // namespace
}  // namespace manifold
