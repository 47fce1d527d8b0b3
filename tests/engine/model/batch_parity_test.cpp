// Paging and batching must not change what the model computes: the same tokens come out whether
// the KV cache is one contiguous block or many scattered odd-sized blocks, and whether sequences
// run one by one or together in varlen batches that mix prefill chunks and decodes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "tests/engine/model/runner_test_util.h"

namespace manifold {
namespace {

using testing_runner::argmaxRow;
using testing_runner::iota;

// "NAME", or "NAME-int8" / "NAME-w8a8" (quantized at load with that scheme).
Quantization quantizationOf(const std::string& param) {
  for (Quantization scheme : {Quantization::kInt8, Quantization::kW8A8}) {
    if (param.ends_with("-" + std::string(quantizationName(scheme)))) return scheme;
  }
  return Quantization::kNone;
}

bool isQuantized(const std::string& param) { return quantizationOf(param) != Quantization::kNone; }

std::string modelDir(std::string name) {
  if (isQuantized(name)) name.resize(name.rfind('-'));
  return name == "stories260K" ? MANIFOLD_SOURCE_DIR "/models/stories260K"
                               : MANIFOLD_SOURCE_DIR "/tests/data/models/" + name;
}

std::unique_ptr<ModelRunner> makeRunner(const std::string& model, int block_size, int num_blocks) {
  ModelRunnerOptions options;
  // INT8 weights run the BF16 dot products at every batch size (activations rounded to BF16
  // whatever m is), so they too give the same numbers alone and batched; W8A8 quantizes each row
  // of activations by itself and sums in INT32, exactly.
  options.quantization = quantizationOf(model);
  options.kv_cache.block_size = block_size;
  options.kv_cache.num_blocks = num_blocks;
  // F32 products even for BF16 weights: BF16 dot products round the activations of 16+ row
  // batches only, which would make the numbers depend on the batch by design.
  options.cpu_bf16_dot_products = isQuantized(model);
  // And an F32 KV cache ("auto" would store BF16 for tiny-gqa4's BF16 weights).
  options.kv_cache.dtype = DType::kF32;
  Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(modelDir(model), options);
  EXPECT_TRUE(runner.isOk()) << runner.status().toString();
  return runner.isOk() ? std::move(runner).value() : nullptr;
}

std::vector<std::vector<int32_t>> prompts(int vocab) {
  std::mt19937 rng(7);
  std::vector<std::vector<int32_t>> out;
  for (int len : {1, 6, 16, 17, 29, 40}) {
    std::vector<int32_t> p = {1};
    while (static_cast<int>(p.size()) < len) p.push_back(3 + rng() % (vocab - 3));
    out.push_back(p);
  }
  return out;
}

struct Generation {
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> logits;  // one row per generated token
};

// One sequence alone: a full prefill, then decodes.
Generation runAlone(ModelRunner& runner, const std::vector<int32_t>& prompt, int steps,
                    const std::vector<int32_t>& blocks) {
  Generation g;
  std::vector<int32_t> tokens = prompt;
  std::vector<float> logits(runner.vocabSize());
  ForwardBatchBuilder builder(runner.blockSize());
  int cached = 0;
  for (int i = 0; i < steps; ++i) {
    builder.clear();
    builder.addSequence(std::span(tokens).subspan(cached), cached, blocks);
    EXPECT_TRUE(runner.forward(builder.view(), logits.data()).isOk());
    cached = static_cast<int>(tokens.size());
    g.logits.push_back(logits);
    g.tokens.push_back(argmaxRow(logits.data(), runner.vocabSize()));
    tokens.push_back(g.tokens.back());
  }
  return g;
}

double maxRelativeDiff(const std::vector<float>& a, const std::vector<float>& b) {
  const auto [lo, hi] = std::minmax_element(b.begin(), b.end());
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = std::max<double>(diff, std::fabs(a[i] - b[i]));
  return diff / (*hi - *lo);
}

class BatchParity : public testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const Quantization scheme = quantizationOf(GetParam());
    if (scheme != Quantization::kNone && !testing_runner::haveInt8Matmul(scheme)) {
      GTEST_SKIP() << "no " << quantizationName(scheme) << " matmul on this CPU";
    }
  }
};

TEST_P(BatchParity, ScatteredOddSizedBlocksGiveTheSameTokensAsOneContiguousBlock) {
  const std::string model = GetParam();
  auto contiguous = makeRunner(model, 256, 1);  // one block: an unpaged cache
  auto paged = makeRunner(model, 7, 64);
  ASSERT_TRUE(contiguous && paged);
  std::vector<int32_t> scattered = iota(64);
  std::shuffle(scattered.begin(), scattered.end(), std::mt19937(3));
  // Another block size sums attention in another order: F32 rounding-level differences. With
  // INT8 weights the activations are rounded to BF16 (or to INT8) before each matmul, where such
  // a difference now and then crosses a rounding boundary and becomes a BF16 step (2^-8 of one
  // value; an INT8 step is 2^-7 of the row's largest).
  const double tolerance = isQuantized(model) ? 1e-2 : 1e-5;
  for (const auto& prompt : prompts(paged->vocabSize())) {
    const Generation a = runAlone(*contiguous, prompt, 24, {0});
    const Generation b = runAlone(*paged, prompt, 24, scattered);
    EXPECT_EQ(a.tokens, b.tokens) << "prompt of " << prompt.size();
    for (size_t i = 0; i < a.logits.size(); ++i) {
      EXPECT_LE(maxRelativeDiff(b.logits[i], a.logits[i]), tolerance) << "step " << i;
    }
  }
}

// Sequences join one step apart, prefill in chunks of different sizes (3, 5, 8, ...) while
// earlier ones decode, so most steps mix prefill chunks and single-token decodes.
TEST_P(BatchParity, OneVarlenBatchGivesTheSameTokensAsSequencesOneByOne) {
  const std::string model = GetParam();
  constexpr int kSteps = 20;
  constexpr int kBlockSize = 5;
  auto alone = makeRunner(model, kBlockSize, 64);
  auto batched = makeRunner(model, kBlockSize, 256);
  ASSERT_TRUE(alone && batched);
  const int vocab = batched->vocabSize();
  const auto all_prompts = prompts(vocab);

  struct Seq {
    std::vector<int32_t> tokens;
    int cached = 0;
    int prompt_len = 0;
    int chunk = 0;
    std::vector<int32_t> blocks;
    Generation out;
  };
  std::vector<Seq> seqs;
  std::vector<int32_t> pool = iota(256);
  std::shuffle(pool.begin(), pool.end(), std::mt19937(11));
  for (size_t i = 0; i < all_prompts.size(); ++i) {
    Seq s;
    s.tokens = all_prompts[i];
    s.prompt_len = static_cast<int>(s.tokens.size());
    s.chunk = 3 + 2 * static_cast<int>(i);
    s.blocks.assign(pool.begin() + 40 * i, pool.begin() + 40 * (i + 1));
    seqs.push_back(s);
  }
  ForwardBatchBuilder builder(kBlockSize);
  std::vector<float> logits;
  for (int step = 0;; ++step) {
    builder.clear();
    std::vector<Seq*> in_batch;
    for (size_t i = 0; i < seqs.size(); ++i) {
      Seq& s = seqs[i];
      if (step < static_cast<int>(i) || static_cast<int>(s.out.tokens.size()) == kSteps) continue;
      const int remaining = static_cast<int>(s.tokens.size()) - s.cached;
      const int n = std::min(remaining, s.cached < s.prompt_len ? s.chunk : 1);
      builder.addSequence(std::span(s.tokens).subspan(s.cached, n), s.cached, s.blocks);
      in_batch.push_back(&s);
    }
    if (in_batch.empty()) break;
    logits.resize(static_cast<size_t>(builder.numLogitsRows()) * vocab);
    ASSERT_TRUE(batched->forward(builder.view(), logits.data()).isOk());
    const ForwardBatch view = builder.view();
    for (size_t r = 0; r < in_batch.size(); ++r) {
      Seq& s = *in_batch[r];
      s.cached = view.seq_lens[r];
      if (s.cached < static_cast<int>(s.tokens.size())) continue;  // prompt not finished yet
      const float* row = logits.data() + r * vocab;
      s.out.logits.emplace_back(row, row + vocab);
      s.out.tokens.push_back(argmaxRow(row, vocab));
      s.tokens.push_back(s.out.tokens.back());
    }
  }
  for (size_t i = 0; i < seqs.size(); ++i) {
    const Generation want = runAlone(*alone, all_prompts[i], kSteps, iota(64));
    EXPECT_EQ(seqs[i].out.tokens, want.tokens) << "sequence " << i;
    for (size_t t = 0; t < want.logits.size() && t < seqs[i].out.logits.size(); ++t) {
      EXPECT_LE(maxRelativeDiff(seqs[i].out.logits[t], want.logits[t]), 1e-5)
          << "sequence " << i << " step " << t;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, BatchParity,
                         testing::Values("stories260K", "tiny-llama", "tiny-gqa4", "tiny-qwen2",
                                         "tiny-llama3", "stories260K-int8", "tiny-qwen2-int8",
                                         "stories260K-w8a8", "tiny-qwen2-w8a8"),
                         [](const testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace manifold
