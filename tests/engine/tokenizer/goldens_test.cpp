// Agreement with transformers.js on 45 varied texts (tests/data/tokenizer_goldens): encode with
// and without special tokens, and decode where the tokenizer asks for no transformers clean-up.
#include <iostream>

#include <gtest/gtest.h>

#include "engine/tokenizer/tokenizer.h"
#include "tests/engine/tokenizer/tokenizer_fixtures.h"

namespace manifold {
namespace {

using testing::readJsonFile;
using testing::sharedTokenizer;

std::string goldenDir() {
  return std::string(MANIFOLD_SOURCE_DIR) + "/tests/data/tokenizer_goldens";
}

std::string tokenizerFolder(const std::string& name) {
  if (name == "stories260K") return testing::stories260kDir();
  return testing::tokenizerDir(name);
}

class Goldens : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    texts_ = readJsonFile(goldenDir() + "/corpus.json").get<std::vector<std::string>>();
    cases_ = readJsonFile(goldenDir() + "/" + GetParam() + ".json").at("cases");
    ASSERT_EQ(cases_.size(), texts_.size());
  }
  std::vector<std::string> texts_;
  nlohmann::json cases_;
};

TEST_P(Goldens, EncodeMatchesTransformersJsWithAndWithoutSpecialTokens) {
  const Tokenizer& tokenizer = sharedTokenizer(tokenizerFolder(GetParam()));
  size_t passed = 0;
  for (size_t i = 0; i < texts_.size(); ++i) {
    const auto ids = tokenizer.encode(texts_[i], false);
    const auto with_special = tokenizer.encode(texts_[i], true);
    EXPECT_EQ(ids, cases_[i].at("ids").get<std::vector<int32_t>>()) << "text " << i;
    EXPECT_EQ(with_special, cases_[i].at("ids_with_special").get<std::vector<int32_t>>())
        << "text " << i;
    if (ids == cases_[i].at("ids").get<std::vector<int32_t>>()) ++passed;
  }
  std::cout << "[ goldens ] " << GetParam() << ": " << passed << "/" << texts_.size()
            << " texts match transformers.js\n";
}

TEST_P(Goldens, DecodeMatchesTransformersJsOrRoundTripsWhenItCleansUp) {
  const Tokenizer& tokenizer = sharedTokenizer(tokenizerFolder(GetParam()));
  const bool cleans_up = tokenizer.config().raw.value("clean_up_tokenization_spaces", false);
  for (size_t i = 0; i < texts_.size(); ++i) {
    const auto with_special = cases_[i].at("ids_with_special").get<std::vector<int32_t>>();
    if (cleans_up) {
      // Byte-level tokenizers (gpt2, llama3): lossless without transformers' clean-up.
      EXPECT_EQ(tokenizer.decode(cases_[i].at("ids").get<std::vector<int32_t>>(), false), texts_[i])
          << "text " << i;
      continue;
    }
    EXPECT_EQ(tokenizer.decode(with_special, false), cases_[i].at("decoded").get<std::string>())
        << "text " << i;
    EXPECT_EQ(tokenizer.decode(with_special, true),
              cases_[i].at("decoded_skip_special").get<std::string>())
        << "text " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTokenizers, Goldens,
                         ::testing::Values("gpt2", "llama2", "llama3-8b-instruct",
                                           "mistral-7b-v0.1", "qwen2.5-instruct", "stories260K"),
                         testing::tokenizerParamName);

}  // namespace
}  // namespace manifold
