// Logits at every prompt position against the float64 reference (ref_llama.py) goldens.
#include "tests/engine/model/golden_logits.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/engine/model/runner_test_util.h"

namespace manifold {
namespace {

using testing_golden::Golden;
using testing_golden::loadGolden;
using testing_runner::allPositionLogits;
using testing_runner::iota;

struct Deviation {
  double worst_ratio = 0;  // max over rows of max|diff| / (max - min of the golden row)
  int worst_row = -1;
};

Deviation compareRows(const std::vector<float>& got, const std::vector<float>& want, int vocab) {
  Deviation d;
  const int rows = static_cast<int>(want.size() / vocab);
  for (int r = 0; r < rows; ++r) {
    const float* w = want.data() + static_cast<size_t>(r) * vocab;
    const float* g = got.data() + static_cast<size_t>(r) * vocab;
    const auto [lo, hi] = std::minmax_element(w, w + vocab);
    double max_diff = 0;
    for (int i = 0; i < vocab; ++i) max_diff = std::max<double>(max_diff, std::fabs(g[i] - w[i]));
    const double ratio = max_diff / (*hi - *lo);
    if (ratio > d.worst_ratio) d = {ratio, r};
  }
  return d;
}

struct GoldenParam {
  const char* golden;
  std::optional<DType> weight_dtype;  // nullopt: the file's
  bool bf16_dot_products;             // BF16 weights: round activations to BF16
  double tolerance;                   // times the logit range of each row
  Quantization quantization = Quantization::kNone;
};

std::string paramName(const GoldenParam& p) {
  std::string name = p.golden;
  std::replace(name.begin(), name.end(), '-', '_');
  if (p.weight_dtype) name += "_" + std::string(dtypeName(*p.weight_dtype));
  if (p.bf16_dot_products) name += "_bf16_dot";
  if (p.quantization != Quantization::kNone)
    name += "_" + std::string(quantizationName(p.quantization));
  return name;
}

void PrintTo(const GoldenParam& p, std::ostream* os) { *os << paramName(p); }

ModelRunnerOptions runnerOptions(const GoldenParam& p) {
  ModelRunnerOptions options;
  options.weight_dtype = p.weight_dtype;
  options.cpu_bf16_dot_products = p.bf16_dot_products;
  options.quantization = p.quantization;
  // F32 activations keep an F32 KV cache; the BF16 dot-product cases take "auto" (a BF16 cache
  // for BF16 weights), as served.
  if (!p.bf16_dot_products) options.kv_cache.dtype = DType::kF32;
  return options;
}

class GoldenLogits : public testing::TestWithParam<GoldenParam> {
 protected:
  void SetUp() override {
    // The compressed-tensors checkpoint quantizes itself (W8A8) without --quantization.
    const Quantization scheme = std::string_view(GetParam().golden).ends_with("-w8a8")
                                    ? Quantization::kW8A8
                                    : GetParam().quantization;
    if (scheme != Quantization::kNone && !testing_runner::haveInt8Matmul(scheme)) {
      GTEST_SKIP() << "no " << quantizationName(scheme) << " matmul on this CPU";
    }
  }
};

TEST_P(GoldenLogits, EveryPromptPositionMatchesTheFloat64Reference) {
  const GoldenParam& p = GetParam();
  const Golden golden = loadGolden(p.golden);
  ModelRunnerOptions options = runnerOptions(p);
  options.kv_cache.num_blocks = 64;
  Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(golden.model_dir, options);
  ASSERT_TRUE(runner.isOk()) << runner.status().toString();
  ASSERT_EQ((*runner)->vocabSize(), golden.vocab_size);
  for (const auto& c : golden.cases) {
    ASSERT_EQ(c.logits.size(), c.prompt_ids.size() * golden.vocab_size) << c.name;
    Status status;
    const std::vector<float> got = allPositionLogits(
        **runner, c.prompt_ids, static_cast<int>(c.prompt_ids.size()), iota(64), &status);
    ASSERT_TRUE(status.isOk()) << status.toString();
    const Deviation d = compareRows(got, c.logits, golden.vocab_size);
    EXPECT_LE(d.worst_ratio, p.tolerance) << c.name << ": worst row " << d.worst_row;
    std::printf("[ golden ] %s %s: max |diff| / range = %.3g\n", paramName(p).c_str(),
                c.name.c_str(), d.worst_ratio);
  }
}

// The same positions computed through chunked prefill with a cached prefix, scattered blocks
// and an odd block size: the KV cache path must give the reference logits too.
TEST_P(GoldenLogits, ChunkedPrefillOverScatteredOddSizedBlocksMatchesTheReference) {
  const GoldenParam& p = GetParam();
  const Golden golden = loadGolden(p.golden);
  ModelRunnerOptions options = runnerOptions(p);
  options.kv_cache.block_size = 5;
  options.kv_cache.num_blocks = 200;
  Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(golden.model_dir, options);
  ASSERT_TRUE(runner.isOk()) << runner.status().toString();
  std::vector<int32_t> blocks = iota(200);
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937(42));
  for (const auto& c : golden.cases) {
    Status status;
    const std::vector<float> got = allPositionLogits(**runner, c.prompt_ids, 7, blocks, &status);
    ASSERT_TRUE(status.isOk()) << status.toString();
    const Deviation d = compareRows(got, c.logits, golden.vocab_size);
    EXPECT_LE(d.worst_ratio, p.tolerance) << c.name << ": worst row " << d.worst_row;
  }
}

// F32 activations: within 1e-4 of each row's logit range with the file's weights (F32, or BF16
// for tiny-gqa4, whose goldens use the same BF16 values). Weights converted to BF16 at load from
// F32 checkpoints move the logits by up to ~2.5% of the range (8 mantissa bits per weight):
// bound 3e-2; to F16 (11 significant bits), bound 1e-2. BF16 dot products also round the
// activations to BF16 (every batch, with packed weights) and store K/V in BF16: bound 5e-2.
// INT8 weights (per output channel, 255 levels) on top of that: 0.6-1.3% of the range for
// stories260K's trained weights (bound 2e-2), up to 7.4% for the random tiny models (1e-1).
// W8A8 (activations per token too): 1.3-2.2% for stories260K (bound 3e-2), up to 8.5% for the
// tiny models (1.2e-1). stories260K-w8a8 is a compressed-tensors INT8 checkpoint whose goldens
// are the float64 forward of its quantized weights, so only the activations' quantization
// counts: 0.8-1.3% (bound 2e-2), with or without --quantization w8a8 repeating the checkpoint's.
INSTANTIATE_TEST_SUITE_P(
    Models, GoldenLogits,
    testing::Values(GoldenParam{"stories260K", std::nullopt, false, 1e-4},
                    GoldenParam{"stories260K", DType::kBF16, false, 3e-2},
                    GoldenParam{"stories260K", DType::kBF16, true, 5e-2},
                    GoldenParam{"tiny-llama", std::nullopt, false, 1e-4},
                    GoldenParam{"tiny-llama", DType::kBF16, false, 3e-2},
                    GoldenParam{"tiny-llama", DType::kBF16, true, 5e-2},
                    GoldenParam{"tiny-gqa4", std::nullopt, false, 1e-4},
                    GoldenParam{"tiny-gqa4", std::nullopt, true, 5e-2},
                    GoldenParam{"tiny-qwen2", std::nullopt, false, 1e-4},
                    GoldenParam{"tiny-qwen2", DType::kF16, false, 1e-2},
                    GoldenParam{"stories260K", DType::kF16, false, 1e-2},
                    GoldenParam{"tiny-llama3", std::nullopt, false, 1e-4},
                    GoldenParam{"stories260K", std::nullopt, true, 2e-2, Quantization::kInt8},
                    GoldenParam{"tiny-llama", std::nullopt, true, 1e-1, Quantization::kInt8},
                    GoldenParam{"tiny-gqa4", std::nullopt, true, 1e-1, Quantization::kInt8},
                    GoldenParam{"tiny-qwen2", std::nullopt, true, 1e-1, Quantization::kInt8},
                    GoldenParam{"tiny-llama3", std::nullopt, true, 1e-1, Quantization::kInt8},
                    GoldenParam{"stories260K", std::nullopt, true, 3e-2, Quantization::kW8A8},
                    GoldenParam{"tiny-llama", std::nullopt, true, 1.2e-1, Quantization::kW8A8},
                    GoldenParam{"tiny-gqa4", std::nullopt, true, 1.2e-1, Quantization::kW8A8},
                    GoldenParam{"tiny-qwen2", std::nullopt, true, 1.2e-1, Quantization::kW8A8},
                    GoldenParam{"tiny-llama3", std::nullopt, true, 1.2e-1, Quantization::kW8A8},
                    GoldenParam{"stories260K-w8a8", std::nullopt, true, 2e-2},
                    GoldenParam{"stories260K-w8a8", std::nullopt, true, 2e-2, Quantization::kW8A8}),
    [](const testing::TestParamInfo<GoldenParam>& info) { return paramName(info.param); });

// stories260K-w8a8 changed as other compressed-tensors writers do, against the same goldens:
// `edit` changes its tensors, `edit_config` its config.json.
void expectCheckpointMatches(const char* label, double tolerance,
                             const std::function<void(std::vector<TensorView>&)>& edit,
                             const std::function<void(nlohmann::json&)>& edit_config,
                             const std::string& summary) {
  const Golden golden = loadGolden("stories260K-w8a8");
  const std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / label;
  testing_runner::writeModifiedW8a8(dir, edit, edit_config);
  ModelRunnerOptions options;
  options.kv_cache.num_blocks = 64;
  Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(dir, options);
  ASSERT_TRUE(runner.isOk()) << runner.status().toString();
  EXPECT_NE((*runner)->summary().find(summary), std::string::npos) << (*runner)->summary();
  for (const auto& c : golden.cases) {
    Status status;
    const std::vector<float> got = allPositionLogits(
        **runner, c.prompt_ids, static_cast<int>(c.prompt_ids.size()), iota(64), &status);
    ASSERT_TRUE(status.isOk()) << status.toString();
    const Deviation d = compareRows(got, c.logits, golden.vocab_size);
    EXPECT_LE(d.worst_ratio, tolerance) << c.name << ": worst row " << d.worst_row;
    std::printf("[ golden ] stories260K-w8a8 %s %s: max |diff| / range = %.3g\n", label,
                c.name.c_str(), d.worst_ratio);
  }
}

// Declared W8A16 (no input_activations in its quantization_config): the INT8 weights with BF16
// activations, 0.1-0.25% of the range (bound 5e-3), BF16 rounding only.
TEST(GoldenLogitsCheckpoint, CompressedTensorsW8A16MatchesTheFloat64Reference) {
  if (!testing_runner::haveInt8Matmul(Quantization::kInt8)) GTEST_SKIP() << "no INT8 matmul";
  expectCheckpointMatches(
      "w8a16", 5e-3, {},
      [](nlohmann::json& c) {
        c["quantization_config"]["config_groups"]["group_0"]["input_activations"] = nullptr;
      },
      "weights INT8 per channel (compressed-tensors checkpoint)");
}

// Scales stored [n] in BF16 (as checkpoints of BF16 models hold them) instead of [n, 1] F32:
// each scale moves by up to 2^-9 of itself, the logits by 0.6-1.4% of the range here as W8A8
// (bound 3e-2, the on-the-fly W8A8 bound).
TEST(GoldenLogitsCheckpoint, Bf16ScalesOfShapeNAreReadToo) {
  if (!testing_runner::haveInt8Matmul(Quantization::kW8A8)) GTEST_SKIP() << "no W8A8 matmul";
  std::vector<std::vector<uint16_t>> bf16;
  expectCheckpointMatches(
      "bf16-scales", 3e-2,
      [&](std::vector<TensorView>& tensors) {
        bf16.reserve(tensors.size());
        for (TensorView& view : tensors) {
          if (!view.name.ends_with("_scale")) continue;
          const auto* values = static_cast<const float*>(view.data);
          std::vector<uint16_t>& out = bf16.emplace_back(static_cast<size_t>(view.numel()));
          for (size_t i = 0; i < out.size(); ++i) out[i] = f32ToBf16(values[i]);
          view.dtype = DType::kBF16;
          view.shape = {view.shape[0]};
          view.data = out.data();
          view.nbytes = out.size() * sizeof(uint16_t);
        }
      },
      {}, "activations INT8 per token (compressed-tensors checkpoint)");
}

}  // namespace
}  // namespace manifold
