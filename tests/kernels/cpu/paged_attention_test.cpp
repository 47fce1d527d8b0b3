// writeKvCache + pagedAttention of CpuBackend on mixed varlen batches (full prefills, prefill
// chunks over a cached prefix, decodes), scattered block tables, GQA ratios 1/2/3/4/8, head dims
// 8/64/128, block sizes 16/32, sliding windows and BF16 KV, on every SIMD path, against a dense
// double-precision attention written here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cpu/bf16_gemm.h"
#include "kernels/cpu/cpu_backend.h"
#include "tests/kernels/cpu/kernel_test_util.h"

namespace manifold::kernels::cpu {
namespace {

using testing::availableSimdLevels;
using testing::randomFloats;

struct SeqSpec {
  int context_len;  // cached + new
  int q_len;        // new tokens this step
};

struct AttentionCase {
  int q_heads;
  int kv_heads;
  int head_dim;
  int block_size;
  int sliding_window;
  DType kv_dtype;
  std::vector<SeqSpec> seqs;
};

// Scores and outputs are sums of F32 products of O(1) values over up to a few hundred keys.
constexpr double kAttentionTolerance = 3e-5;
// BF16 dot products also round each probability to BF16 (relative error <= 2^-9) before it
// weights values in [-1, 1]: the output moves by at most 2^-9 of the largest value.
constexpr double kBf16DotTolerance = 2.5e-3;

double stored(float value, DType dtype) {
  return dtype == DType::kBF16 ? bf16ToF32(f32ToBf16(value)) : value;
}

// bf16_dot: let a BF16 cache take the BF16 dot-product kernel (bf16_attention.h) where the CPU
// has it; the reference then rounds the scaled queries to BF16 as that kernel does.
void runCaseWith(SimdLevel level, const AttentionCase& c, uint32_t seed, bool bf16_dot) {
  CpuBackend backend({.num_threads = 2, .simd_level = level, .bf16_dot_products = bf16_dot});
  const bool rounds_queries = bf16_dot && c.kv_dtype == DType::kBF16 &&
                              backend.simdLevel() == SimdLevel::kAvx512 && cpuHasAvx512Bf16();
  const double tolerance = rounds_queries ? kBf16DotTolerance : kAttentionTolerance;
  const int num_seqs = static_cast<int>(c.seqs.size());
  const int dim = c.head_dim;
  const int bs = c.block_size;
  const int stride = (c.q_heads + 2 * c.kv_heads) * dim;  // fused [q | k | v] rows

  // Block tables: every sequence's blocks drawn from one shuffled pool, so they are scattered.
  int max_blocks = 0;
  int total_blocks = 0;
  for (const SeqSpec& s : c.seqs) {
    max_blocks = std::max(max_blocks, (s.context_len + bs - 1) / bs);
    total_blocks += (s.context_len + bs - 1) / bs;
  }
  const int num_blocks = total_blocks + 3;
  std::vector<int32_t> free_blocks(num_blocks);
  std::iota(free_blocks.begin(), free_blocks.end(), 0);
  std::shuffle(free_blocks.begin(), free_blocks.end(), std::mt19937(seed));
  std::vector<int32_t> block_tables(static_cast<size_t>(num_seqs) * max_blocks, -1);
  int next_free = 0;
  for (int s = 0; s < num_seqs; ++s) {
    for (int b = 0; b < (c.seqs[s].context_len + bs - 1) / bs; ++b) {
      block_tables[s * max_blocks + b] = free_blocks[next_free++];
    }
  }

  const KvCacheShape shape{num_blocks, bs, c.kv_heads, dim, c.kv_dtype};
  const size_t pool_elems = shape.elementsPerLayer();
  std::vector<float> k_pool_f32(c.kv_dtype == DType::kF32 ? pool_elems : 0);
  std::vector<float> v_pool_f32(k_pool_f32.size());
  std::vector<uint16_t> k_pool_bf16(c.kv_dtype == DType::kBF16 ? pool_elems : 0);
  std::vector<uint16_t> v_pool_bf16(k_pool_bf16.size());
  void* k_pool = c.kv_dtype == DType::kF32 ? static_cast<void*>(k_pool_f32.data())
                                           : static_cast<void*>(k_pool_bf16.data());
  void* v_pool = c.kv_dtype == DType::kF32 ? static_cast<void*>(v_pool_f32.data())
                                           : static_cast<void*>(v_pool_bf16.data());
  // Layout [num_blocks, kv_heads, block_size, head_dim].
  auto pool_index = [&](int s, int pos, int h, int d) {
    const size_t block = block_tables[s * max_blocks + pos / bs];
    return ((block * c.kv_heads + h) * bs + pos % bs) * dim + d;
  };
  auto pool_value = [&](const std::vector<float>& f32, const std::vector<uint16_t>& bf16,
                        size_t i) -> double {
    return c.kv_dtype == DType::kF32 ? f32[i] : bf16ToF32(bf16[i]);
  };

  // Per sequence: all K and V, [context_len, kv_heads, head_dim].
  std::vector<std::vector<float>> keys(num_seqs), values(num_seqs);
  std::vector<int32_t> query_start = {0}, seq_lens, slot_mapping, positions;
  for (int s = 0; s < num_seqs; ++s) {
    const SeqSpec& spec = c.seqs[s];
    keys[s] =
        randomFloats(static_cast<size_t>(spec.context_len) * c.kv_heads * dim, seed + 10 * s + 1);
    values[s] = randomFloats(keys[s].size(), seed + 10 * s + 2);
    const int cached = spec.context_len - spec.q_len;
    for (int pos = 0; pos < cached; ++pos) {  // the cached prefix, written by "earlier steps"
      for (int h = 0; h < c.kv_heads; ++h) {
        for (int d = 0; d < dim; ++d) {
          const size_t src = (static_cast<size_t>(pos) * c.kv_heads + h) * dim + d;
          const size_t dst = pool_index(s, pos, h, d);
          if (c.kv_dtype == DType::kF32) {
            k_pool_f32[dst] = keys[s][src];
            v_pool_f32[dst] = values[s][src];
          } else {
            k_pool_bf16[dst] = f32ToBf16(keys[s][src]);
            v_pool_bf16[dst] = f32ToBf16(values[s][src]);
          }
        }
      }
    }
    for (int pos = cached; pos < spec.context_len; ++pos) {
      const int32_t block = block_tables[s * max_blocks + pos / bs];
      slot_mapping.push_back(block * bs + pos % bs);
      positions.push_back(pos);
    }
    query_start.push_back(query_start.back() + spec.q_len);
    seq_lens.push_back(spec.context_len);
  }
  const int num_tokens = query_start.back();

  std::vector<float> qkv = randomFloats(static_cast<size_t>(num_tokens) * stride, seed + 7);
  for (int s = 0; s < num_seqs; ++s) {  // k and v slices of the new tokens
    for (int i = 0; i < c.seqs[s].q_len; ++i) {
      const int t = query_start[s] + i;
      const int pos = positions[t];
      for (int j = 0; j < c.kv_heads * dim; ++j) {
        qkv[static_cast<size_t>(t) * stride + c.q_heads * dim + j] =
            keys[s][pos * c.kv_heads * dim + j];
        qkv[static_cast<size_t>(t) * stride + (c.q_heads + c.kv_heads) * dim + j] =
            values[s][pos * c.kv_heads * dim + j];
      }
    }
  }

  AttentionPlanLimits limits;
  limits.max_num_seqs = num_seqs;
  limits.max_num_tokens = num_tokens;
  limits.max_blocks_per_seq = max_blocks;
  std::unique_ptr<AttentionPlan> plan = backend.createAttentionPlan(limits);
  AttentionBatch batch;
  batch.num_seqs = num_seqs;
  batch.num_tokens = num_tokens;
  batch.max_blocks_per_seq = max_blocks;
  batch.query_start = query_start;
  batch.seq_lens = seq_lens;
  batch.block_tables = block_tables;
  batch.slot_mapping = slot_mapping;
  batch.positions = positions;
  backend.planAttention(*plan, batch);
  ASSERT_EQ(plan->numTokens(), num_tokens);
  ASSERT_TRUE(std::equal(positions.begin(), positions.end(), plan->positions()));

  backend.writeKvCache(*plan, qkv.data() + c.q_heads * dim, stride,
                       qkv.data() + (c.q_heads + c.kv_heads) * dim, stride, shape, k_pool, v_pool);
  for (int s = 0; s < num_seqs; ++s) {
    for (int pos = c.seqs[s].context_len - c.seqs[s].q_len; pos < c.seqs[s].context_len; ++pos) {
      for (int h = 0; h < c.kv_heads; ++h) {
        for (int d = 0; d < dim; ++d) {
          const size_t src = (static_cast<size_t>(pos) * c.kv_heads + h) * dim + d;
          const size_t dst = pool_index(s, pos, h, d);
          ASSERT_EQ(pool_value(k_pool_f32, k_pool_bf16, dst), stored(keys[s][src], c.kv_dtype));
          ASSERT_EQ(pool_value(v_pool_f32, v_pool_bf16, dst), stored(values[s][src], c.kv_dtype));
        }
      }
    }
  }

  const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
  std::vector<float> out(static_cast<size_t>(num_tokens) * c.q_heads * dim, NAN);
  backend.pagedAttention(*plan, qkv.data(), stride, c.q_heads, shape, k_pool, v_pool, scale,
                         c.sliding_window, out.data());

  const int group = c.q_heads / c.kv_heads;
  for (int s = 0; s < num_seqs; ++s) {
    for (int i = 0; i < c.seqs[s].q_len; ++i) {
      const int t = query_start[s] + i;
      const int pos = positions[t];
      const int lo = c.sliding_window > 0 ? std::max(0, pos - c.sliding_window + 1) : 0;
      for (int h = 0; h < c.q_heads; ++h) {
        const int kvh = h / group;
        std::vector<double> scores;
        double max_score = -INFINITY;
        for (int j = lo; j <= pos; ++j) {
          double dot = 0;
          for (int d = 0; d < dim; ++d) {
            const float q = qkv[static_cast<size_t>(t) * stride + h * dim + d];
            const double key =
                stored(keys[s][(static_cast<size_t>(j) * c.kv_heads + kvh) * dim + d], c.kv_dtype);
            dot += rounds_queries ? stored(q * scale, DType::kBF16) * key : q * key * scale;
          }
          scores.push_back(dot);
          max_score = std::max(max_score, scores.back());
        }
        double sum = 0;
        for (double& score : scores) sum += (score = std::exp(score - max_score));
        for (int d = 0; d < dim; ++d) {
          double expected = 0;
          for (int j = lo; j <= pos; ++j) {
            expected += scores[j - lo] / sum *
                        stored(values[s][(static_cast<size_t>(j) * c.kv_heads + kvh) * dim + d],
                               c.kv_dtype);
          }
          ASSERT_NEAR(out[(static_cast<size_t>(t) * c.q_heads + h) * dim + d], expected,
                      tolerance)
              << "seq " << s << " query " << i << " head " << h << " dim " << d;
        }
      }
    }
  }
}

// A BF16 cache runs both ways: F32 products, and BF16 dot products where the CPU has them.
void runCase(SimdLevel level, const AttentionCase& c, uint32_t seed) {
  runCaseWith(level, c, seed, /*bf16_dot=*/false);
  if (c.kv_dtype == DType::kBF16) {
    SCOPED_TRACE("bf16 dot products");
    runCaseWith(level, c, seed, /*bf16_dot=*/true);
  }
}

// Full prefill, prefill chunk over a cached prefix ending mid-block, first decode, decodes at
// odd offsets across block boundaries, and a two-token chunk; all in one batch.
const std::vector<SeqSpec> kMixedBatch = {{37, 37}, {70, 13}, {1, 1}, {129, 1}, {300, 1}, {33, 2}};

class PagedAttention : public ::testing::TestWithParam<SimdLevel> {};

TEST_P(PagedAttention, MixedBatchMatchesDenseReferenceAcrossGqaRatiosAndHeadDims) {
  const std::vector<std::vector<int>> heads = {
      {4, 4, 8}, {8, 4, 64}, {9, 3, 64}, {8, 2, 128}, {16, 2, 64}};
  uint32_t seed = 1000;
  for (const std::vector<int>& h : heads) {
    for (int block_size : {16, 32}) {
      SCOPED_TRACE(::testing::Message() << "q_heads " << h[0] << " kv_heads " << h[1]
                                        << " head_dim " << h[2] << " block " << block_size);
      runCase(GetParam(), {h[0], h[1], h[2], block_size, 0, DType::kF32, kMixedBatch}, seed++);
    }
  }
}

// Attention folds consecutive blocks into spans of up to 64 keys: odd block sizes make spans of
// several partial blocks (5: 8 blocks, 7: 8 blocks), and blocks longer than 64 keys are spans
// of their own; with windows and split decodes too.
TEST_P(PagedAttention, SpansOfOddAndLongBlocksMatchTheReference) {
  uint32_t seed = 6000;
  for (int block_size : {5, 7, 128, 256}) {
    SCOPED_TRACE(::testing::Message() << "block " << block_size);
    runCase(GetParam(), {9, 3, 64, block_size, 0, DType::kF32, kMixedBatch}, seed++);
    runCase(GetParam(), {8, 2, 64, block_size, 20, DType::kBF16, kMixedBatch}, seed++);
    runCase(GetParam(), {8, 2, 64, block_size, 0, DType::kF32, {{700, 1}}}, seed++);
  }
}

TEST_P(PagedAttention, SlidingWindowHidesKeysOlderThanTheWindow) {
  uint32_t seed = 2000;
  for (int window : {1, 20, 64}) {
    SCOPED_TRACE(::testing::Message() << "window " << window);
    runCase(GetParam(), {8, 2, 64, 16, window, DType::kF32, kMixedBatch}, seed++);
  }
}

// Head dims that are not a multiple of the BF16 kernel's 32-dim loads (8, 80) or span two
// (128); GQA 1/2/3; a long prefill in query tiles.
TEST_P(PagedAttention, Bf16KvCacheStoresRoundedValuesAndAttendsOverThem) {
  runCase(GetParam(), {8, 4, 64, 16, 0, DType::kBF16, kMixedBatch}, 3000);
  runCase(GetParam(), {4, 4, 8, 32, 0, DType::kBF16, kMixedBatch}, 3001);
  runCase(GetParam(), {8, 2, 128, 16, 0, DType::kBF16, kMixedBatch}, 3002);
  runCase(GetParam(), {9, 3, 80, 16, 0, DType::kBF16, kMixedBatch}, 3003);
  runCase(GetParam(), {9, 3, 64, 16, 0, DType::kBF16, {{150, 150}, {200, 77}}}, 3004);
}

TEST_P(PagedAttention, LongPrefillIsSplitIntoQueryTiles) {
  runCase(GetParam(), {2, 2, 64, 16, 0, DType::kF32, {{150, 150}, {200, 77}}}, 4000);
  runCase(GetParam(), {8, 1, 64, 32, 0, DType::kF32, {{90, 90}}}, 4001);
}

// Too few work items for two threads: the key range is split and the parts merged, including
// parts where the window hides every key from some rows.
TEST_P(PagedAttention, LongDecodesOfFewSequencesSplitTheKeysAcrossThreads) {
  runCase(GetParam(), {8, 2, 64, 16, 0, DType::kF32, {{700, 1}}}, 5000);
  runCase(GetParam(), {4, 1, 8, 32, 0, DType::kBF16, {{1000, 1}}}, 5001);
  runCase(GetParam(), {8, 2, 64, 16, 100, DType::kF32, {{600, 3}}}, 5002);
  runCase(GetParam(), {9, 3, 64, 16, 0, DType::kF32, {{257, 1}}}, 5003);
}

INSTANTIATE_TEST_SUITE_P(AllSimdPaths, PagedAttention, ::testing::ValuesIn(availableSimdLevels()),
                         testing::simdLevelParamName);

}  // namespace
}  // namespace manifold::kernels::cpu
