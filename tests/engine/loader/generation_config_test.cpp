#include "engine/loader/generation_config.h"

#include <gtest/gtest.h>

namespace manifold {
namespace {

TEST(GenerationConfig, ReadsSamplingDefaultsAndEosList) {
  Result<GenerationConfig> config = parseGenerationConfig(R"({
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "do_sample": true,
    "temperature": 0.6, "top_p": 0.9, "top_k": 50, "max_new_tokens": 256})");
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->bos_token_id, 128000);
  EXPECT_EQ(config->eos_token_ids, (std::vector<int32_t>{128001, 128008, 128009}));
  EXPECT_EQ(config->do_sample, true);
  EXPECT_FLOAT_EQ(*config->temperature, 0.6f);
  EXPECT_FLOAT_EQ(*config->top_p, 0.9f);
  EXPECT_EQ(config->top_k, 50);
  EXPECT_EQ(config->max_new_tokens, 256);
  EXPECT_FALSE(config->min_p.has_value());
}

TEST(GenerationConfig, ReadsTheBundledStories260KFile) {
  Result<GenerationConfig> config = loadGenerationConfig(MANIFOLD_SOURCE_DIR "/models/stories260K");
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->bos_token_id, 1);
  EXPECT_EQ(config->eos_token_ids, std::vector<int32_t>{2});
  EXPECT_EQ(config->max_length, 512);
}

TEST(GenerationConfig, MissingFileGivesAnEmptyConfig) {
  Result<GenerationConfig> config = loadGenerationConfig("/nonexistent/model");
  ASSERT_TRUE(config.isOk());
  EXPECT_FALSE(config->temperature.has_value());
  EXPECT_TRUE(config->eos_token_ids.empty());
}

TEST(GenerationConfig, RejectsWrongTypesNamingTheField) {
  Status status = parseGenerationConfig(R"({"temperature": "hot"})").status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("temperature"), std::string::npos);
  status = parseGenerationConfig("[1, 2]").status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
}

// Stop ids must be token ids of the model: not negative, not past int32, and (once the model's
// vocabulary is known) below vocab_size.
TEST(GenerationConfig, RejectsStopIdsThatAreNotTheModels) {
  for (const char* text : {R"({"eos_token_id": -1})", R"({"eos_token_id": [2, -5]})",
                           R"({"eos_token_id": 4294967298})", R"({"eos_token_id": [2.5]})"}) {
    Status status = parseGenerationConfig(text).status();
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(status.message().find("eos_token_id"), std::string::npos) << status.message();
  }
  Result<GenerationConfig> config = parseGenerationConfig(R"({"eos_token_id": [2, 99999]})");
  ASSERT_TRUE(config.isOk());
  EXPECT_TRUE(config->checkTokenIds(100000).isOk());
  EXPECT_EQ(config->checkTokenIds(512).message(),
            "generation_config.json: eos_token_id 99999 is not below vocab_size 512");
}

// The stop ids are all three sources' ids, each once.
TEST(GenerationConfig, MergesEveryEosIdTheModelNames) {
  GenerationConfig generation;
  generation.eos_token_ids = {128009, 128001};
  EXPECT_EQ(mergeEosIds(generation, {128001}, {128009, 7}),
            (std::vector<int32_t>{7, 128001, 128009}));
  EXPECT_EQ(mergeEosIds(GenerationConfig{}, {}, {2}), std::vector<int32_t>{2});
}

}  // namespace
}  // namespace manifold
