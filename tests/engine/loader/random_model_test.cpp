#include "engine/loader/random_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "engine/loader/model_tensors.h"
#include "engine/loader/safetensors.h"

namespace manifold {
namespace {

namespace fs = std::filesystem;

fs::path freshDir(const std::string& suffix = "") {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(testing::TempDir()) / "random_model_test" / (info->name() + suffix);
  fs::remove_all(dir);
  return dir;
}

int64_t parameterCount(const ModelConfig& config) {
  int64_t total = 0;
  for (const TensorSpec& spec : expectedModelTensors(config, DType::kBF16)) {
    int64_t n = 1;
    for (int64_t d : spec.shape) n *= d;
    total += n;
  }
  return total;
}

std::string readBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Published parameter counts of the real checkpoints.
TEST(RandomModelPreset, ShapesMatchThePublishedParameterCounts) {
  EXPECT_EQ(parameterCount(*randomModelPreset("smollm2-135m")), 134515008);
  EXPECT_EQ(parameterCount(*randomModelPreset("llama-3.2-1b")), 1235814400);
  EXPECT_EQ(parameterCount(*randomModelPreset("llama-3-8b")), 8030261248);
  EXPECT_EQ(parameterCount(*randomModelPreset("qwen2.5-0.5b")), 494032768);
}

TEST(RandomModelPreset, Llama32HasLlama3RopeScaling) {
  Result<ModelConfig> config = randomModelPreset("llama-3.2-1b");
  ASSERT_TRUE(config.isOk());
  EXPECT_EQ(config->rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 32.0);
  EXPECT_DOUBLE_EQ(config->rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(config->rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(config->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(config->rope_theta, 500000.0);
  EXPECT_TRUE(config->tie_word_embeddings);
}

TEST(RandomModelPreset, UnknownNameListsTheKnownOnes) {
  Status status = randomModelPreset("gpt-5").status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("smollm2-135m"), std::string::npos);
}

TEST(WriteRandomModel, WritesEveryTensorWithNormalWeightsAndUnitNorms) {
  RandomModelOptions options;
  options.config = *randomModelPreset("tiny-qwen2");
  options.dtype = DType::kF32;
  options.out_dir = freshDir();
  options.seed = 7;
  ASSERT_TRUE(writeRandomModel(options).isOk());
  Result<ModelConfig> config = loadModelConfig(options.out_dir);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->architecture, Architecture::kQwen2);
  EXPECT_TRUE(config->qkv_bias);
  Result<std::unique_ptr<WeightStore>> store = WeightStore::open(options.out_dir);
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  // tiny-qwen2: hidden 64, 4 heads x 16, 2 KV heads, intermediate 160, vocab 400, untied.
  ASSERT_TRUE((*store)->get("model.layers.1.self_attn.k_proj.bias", {32}).isOk());
  ASSERT_TRUE((*store)->get("model.layers.0.mlp.down_proj.weight", {64, 160}).isOk());
  ASSERT_TRUE((*store)->get("lm_head.weight", {400, 64}).isOk());

  Result<TensorView> norm = (*store)->get("model.layers.0.input_layernorm.weight", {64});
  ASSERT_TRUE(norm.isOk());
  for (int i = 0; i < 64; ++i) EXPECT_EQ(static_cast<const float*>(norm->data)[i], 1.0f);

  Result<TensorView> embed = (*store)->get("model.embed_tokens.weight", {400, 64});
  ASSERT_TRUE(embed.isOk());
  const float* w = static_cast<const float*>(embed->data);
  double sum = 0, sum_sq = 0;
  const int64_t n = embed->numel();
  for (int64_t i = 0; i < n; ++i) {
    sum += w[i];
    sum_sq += static_cast<double>(w[i]) * w[i];
  }
  const double mean = sum / n, std = std::sqrt(sum_sq / n - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.02 * 5 / std::sqrt(n));  // 5 standard errors
  EXPECT_NEAR(std, 0.02, 0.02 * 0.03);
}

TEST(WriteRandomModel, SameSeedGivesIdenticalBytesAndAnotherSeedDiffers) {
  RandomModelOptions options;
  options.config = *randomModelPreset("tiny-gqa4");
  options.dtype = DType::kBF16;
  options.seed = 3;
  const fs::path dir_a = freshDir("a"), dir_b = freshDir("b"), dir_c = freshDir("c");
  options.out_dir = dir_a;
  ASSERT_TRUE(writeRandomModel(options).isOk());
  options.out_dir = dir_b;
  ASSERT_TRUE(writeRandomModel(options).isOk());
  options.seed = 4;
  options.out_dir = dir_c;
  ASSERT_TRUE(writeRandomModel(options).isOk());
  const std::string a = readBytes(dir_a / "model.safetensors");
  const std::string b = readBytes(dir_b / "model.safetensors");
  const std::string c = readBytes(dir_c / "model.safetensors");
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);
}

TEST(WriteRandomModel, ShardsPastTheSizeLimitWithAnIndex) {
  RandomModelOptions options;
  options.config = *randomModelPreset("tiny-llama");
  options.dtype = DType::kBF16;
  options.out_dir = freshDir();
  options.max_shard_bytes = 40000;  // the embedding alone is 64 KB: several shards
  size_t progress_calls = 0;
  options.progress = [&](size_t, size_t, uint64_t, uint64_t) { ++progress_calls; };
  ASSERT_TRUE(writeRandomModel(options).isOk());
  EXPECT_TRUE(fs::exists(options.out_dir / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(options.out_dir / "model.safetensors"));
  Result<std::unique_ptr<WeightStore>> store = WeightStore::open(options.out_dir);
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  EXPECT_GT((*store)->numFiles(), 2u);
  const std::vector<TensorSpec> specs = expectedModelTensors(options.config, DType::kBF16);
  EXPECT_EQ(progress_calls, specs.size());
  for (const TensorSpec& spec : specs) {
    EXPECT_TRUE((*store)->get(spec.name, spec.shape).isOk()) << spec.name;
  }
}

// --quantization int8 | w8a8: a compressed-tensors INT8 checkpoint as the loader reads it: the
// config declares the scheme, every linear weight is I8 (normal values on a +-4 std grid) with an
// F32 [rows, 1] scale of one grid step, and the rest (embedding, norms, untied lm_head) float.
TEST(WriteRandomModel, WritesCompressedTensorsInt8Checkpoints) {
  for (Quantization scheme : {Quantization::kInt8, Quantization::kW8A8}) {
    SCOPED_TRACE(quantizationName(scheme));
    RandomModelOptions options;
    options.config = *randomModelPreset("tiny-gqa4");
    options.config.checkpoint_quantization = scheme;
    options.dtype = DType::kBF16;
    options.init_std = 0.25;
    options.out_dir = freshDir(std::string(quantizationName(scheme)));
    ASSERT_TRUE(writeRandomModel(options).isOk());
    Result<ModelConfig> config = loadModelConfig(options.out_dir);
    ASSERT_TRUE(config.isOk()) << config.status().toString();
    EXPECT_EQ(config->checkpoint_quantization, scheme);
    Result<std::unique_ptr<WeightStore>> store = WeightStore::open(options.out_dir);
    ASSERT_TRUE(store.isOk()) << store.status().toString();
    const float step = static_cast<float>(0.25 * 4.0 / 127.0);
    double sum_sq = 0;
    int64_t count = 0;
    for (const TensorSpec& spec : expectedModelTensors(options.config, DType::kBF16)) {
      if (spec.name.ends_with("_scale")) {
        Result<TensorView> scale = (*store)->get(spec.name, spec.shape);
        ASSERT_TRUE(scale.isOk()) << scale.status().toString();
        ASSERT_EQ(scale->dtype, DType::kF32);
        for (int64_t i = 0; i < scale->numel(); ++i) {
          EXPECT_EQ(static_cast<const float*>(scale->data)[i], step);
        }
      } else if (spec.dtype == DType::kI8) {
        Result<TensorView> q = (*store)->getInt8(spec.name, spec.shape);
        ASSERT_TRUE(q.isOk()) << q.status().toString();
        EXPECT_TRUE((*store)->contains(spec.name + "_scale")) << spec.name;
        for (int64_t i = 0; i < q->numel(); ++i) {
          const double w = static_cast<const int8_t*>(q->data)[i] * double{step};
          sum_sq += w * w;
        }
        count += q->numel();
      } else {
        EXPECT_TRUE((*store)->get(spec.name, spec.shape).isOk()) << spec.name;
      }
    }
    EXPECT_TRUE((*store)->get("lm_head.weight", {384, 64}).isOk());
    ASSERT_GT(count, 10000);
    // The grid adds step^2 / 12 of variance and the clamp at 4 std takes ~0.1%.
    EXPECT_NEAR(std::sqrt(sum_sq / count), 0.25, 0.25 * 0.03);
  }
}

TEST(WriteRandomModel, CopiesATokenizerThatFitsTheVocabulary) {
  RandomModelOptions options;
  options.config = *randomModelPreset("tiny-llama");  // vocab 512, as stories260K's tokenizer
  options.out_dir = freshDir();
  options.tokenizer_dir = fs::path(MANIFOLD_SOURCE_DIR) / "models/stories260K";
  ASSERT_TRUE(writeRandomModel(options).isOk());
  EXPECT_EQ(readBytes(options.out_dir / "tokenizer.json"),
            readBytes(*options.tokenizer_dir / "tokenizer.json"));
  EXPECT_TRUE(fs::exists(options.out_dir / "tokenizer_config.json"));
}

TEST(WriteRandomModel, RefusesATokenizerLargerThanTheVocabulary) {
  RandomModelOptions options;
  options.config = *randomModelPreset("tiny-gqa4");  // vocab 384 < 512
  options.out_dir = freshDir();
  options.tokenizer_dir = fs::path(MANIFOLD_SOURCE_DIR) / "models/stories260K";
  Status status = writeRandomModel(options);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("tokenizer has 512 token ids but the model's vocab_size is 384"),
            std::string::npos)
      << status.message();
  EXPECT_FALSE(fs::exists(options.out_dir));  // checked before the folder is made
}

// A folder that holds anything is not written into: a model left there (its tokenizer of another
// vocabulary, say) would be mixed with the new one. An empty folder is fine.
TEST(WriteRandomModel, RefusesAFolderThatIsNotEmpty) {
  RandomModelOptions options;
  options.config = *randomModelPreset("tiny-llama");
  options.out_dir = freshDir();
  ASSERT_TRUE(writeRandomModel(options).isOk());
  const std::string weights = readBytes(options.out_dir / "model.safetensors");
  options.seed = 99;
  const Status again = writeRandomModel(options);
  EXPECT_EQ(again.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(again.message().find("already exists and is not an empty folder"), std::string::npos)
      << again.message();
  EXPECT_EQ(readBytes(options.out_dir / "model.safetensors"), weights);  // untouched
  fs::path empty = freshDir("-empty");
  fs::create_directories(empty);
  options.out_dir = empty;
  EXPECT_TRUE(writeRandomModel(options).isOk());
}

TEST(WriteRandomModel, RefusesAnInitStdThatIsNoInitialisation) {
  RandomModelOptions options;
  options.config = *randomModelPreset("tiny-llama");
  options.out_dir = freshDir();
  for (double std : {0.0, -0.02, 2.0, std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()}) {
    options.init_std = std;
    EXPECT_EQ(writeRandomModel(options).code(), StatusCode::kInvalidArgument) << std;
  }
  EXPECT_FALSE(fs::exists(options.out_dir));
}

}  // namespace
}  // namespace manifold
