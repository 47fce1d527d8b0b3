// Greedy decoding of stories260K through the paged KV cache against the float64 references in
// models/stories260K/reference_outputs.json.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/engine/model/runner_test_util.h"

namespace manifold {
namespace {

using testing_runner::argmaxRow;
using testing_runner::iota;

constexpr const char* kModel = MANIFOLD_SOURCE_DIR "/models/stories260K";

// Greedy continuation of `prompt`: one prefill, then one decode step per token.
std::vector<int32_t> greedy(ModelRunner& runner, const std::vector<int32_t>& prompt,
                            int max_new_tokens, const std::vector<int32_t>& blocks) {
  std::vector<int32_t> tokens = prompt;
  std::vector<float> logits(runner.vocabSize());
  ForwardBatchBuilder builder(runner.blockSize());
  std::vector<int32_t> out;
  int num_cached = 0;
  while (static_cast<int>(out.size()) < max_new_tokens) {
    builder.clear();
    builder.addSequence(std::span(tokens).subspan(num_cached), num_cached, blocks);
    Status status = runner.forward(builder.view(), logits.data());
    EXPECT_TRUE(status.isOk()) << status.toString();
    if (!status.isOk()) break;
    num_cached = static_cast<int>(tokens.size());
    const int32_t next = argmaxRow(logits.data(), runner.vocabSize());
    out.push_back(next);
    tokens.push_back(next);
  }
  return out;
}

TEST(Stories260KGreedy, ReproducesEveryReferenceContinuation) {
  std::ifstream in(std::string(kModel) + "/reference_outputs.json");
  const nlohmann::json reference = nlohmann::json::parse(in);
  ModelRunnerOptions options;
  options.kv_cache.num_blocks = 32;
  Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(kModel, options);
  ASSERT_TRUE(runner.isOk()) << runner.status().toString();
  for (const auto& c : reference["cases"]) {
    const std::string name = c["name"];
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    const auto want = c["output_ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> got =
        greedy(**runner, prompt, static_cast<int>(want.size()), iota(32));
    ASSERT_EQ(got.size(), want.size());
    size_t first_difference = want.size();
    for (size_t i = 0; i < want.size(); ++i) {
      if (got[i] != want[i]) {
        first_difference = i;
        break;
      }
    }
    std::printf(
        "[ greedy ] %s: %zu of %zu tokens match the float64 reference before the first "
        "difference\n",
        name.c_str(), first_difference, want.size());
    // bos_only_200 has a top-1/top-2 gap of 0.004 late in the run, which float32 may flip;
    // at least its first 100 tokens must match, and every other case entirely.
    const size_t required = name == "bos_only_200" ? 100 : want.size();
    EXPECT_GE(first_difference, required) << name;
  }
}

// Reduced-precision weights: the first 64 tokens of each reference continuation, of which at
// least `min_same` must agree, in every case whose first token leads the runner-up by at least
// `min_margin` logits in the reference (a closer call may flip); prints how many do.
void expectFirstTokensOfEveryReference(const ModelRunnerOptions& base, const char* label,
                                       size_t min_same, double min_margin = 0.0) {
  std::ifstream in(std::string(kModel) + "/reference_outputs.json");
  const nlohmann::json reference = nlohmann::json::parse(in);
  ModelRunnerOptions options = base;
  options.kv_cache.num_blocks = 32;
  Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(kModel, options);
  ASSERT_TRUE(runner.isOk()) << runner.status().toString();
  for (const auto& c : reference["cases"]) {
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    const auto want = c["output_ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> got = greedy(**runner, prompt, 64, iota(32));
    size_t same = 0;
    while (same < got.size() && got[same] == want[same]) ++same;
    std::printf("[ greedy ] %s %s: first %zu of 64 tokens match\n", label,
                c["name"].get<std::string>().c_str(), same);
    if (min_margin > 0 && c.contains("last_prompt_position_top10")) {
      const auto& top = c["last_prompt_position_top10"];
      if (top[0][1].get<double>() - top[1][1].get<double>() < min_margin) continue;
    }
    EXPECT_GE(same, min_same) << label << " " << c["name"];
  }
}

TEST(Stories260KGreedy, BF16WeightsKeepTheFirstTokensOfEveryReference) {
  // BF16 rounding perturbs logits by ~0.3% of their range: only the first few tokens, where
  // the margins are wide, are bound to agree.
  ModelRunnerOptions options;
  options.weight_dtype = DType::kBF16;
  expectFirstTokensOfEveryReference(options, "BF16", 8);
}

TEST(Stories260KGreedy, Int8WeightsKeepTheFirstTokensOfEveryReference) {
  if (!testing_runner::haveInt8Matmul()) {
    GTEST_SKIP() << "no INT8 matmul on this CPU (needs AVX-512 BF16)";
  }
  // INT8 per channel with BF16 activations moves logits by up to 1.3% of their range, ~0.3
  // logits here (golden_logits_test): "The cat sat on the mat" starts with a 0.1-logit call
  // (11.30 vs 11.20), which it may flip; the others lead by 2 or more.
  ModelRunnerOptions options;
  options.quantization = Quantization::kInt8;
  expectFirstTokensOfEveryReference(options, "INT8", 8, 0.6);
}

TEST(Stories260KGreedy, W8A8KeepsTheFirstTokensOfEveryReference) {
  if (!testing_runner::haveInt8Matmul(Quantization::kW8A8)) {
    GTEST_SKIP() << "no W8A8 matmul on this CPU (needs AVX-512 VNNI)";
  }
  // INT8 activations per token on top of the INT8 weights: up to 2.2% of the range
  // (golden_logits_test); the same close call is left out. The others keep 14-64 tokens.
  ModelRunnerOptions options;
  options.quantization = Quantization::kW8A8;
  expectFirstTokensOfEveryReference(options, "W8A8", 8, 0.6);
}

}  // namespace
}  // namespace manifold
