// Kernel benchmarks: matmul (own kernels vs OpenBLAS) at smollm2-135m shapes, paged attention
// decode, and the worker pool's per-op overhead. Weights rotate through copies totalling more than
// the last-level cache, so decode-shaped matmuls stream from DRAM as they do in a real model.
//
//   build-kern/bench/kernels_bench --benchmark_filter=Matmul
// Counters: weight_GBps (weight bytes read per second), GFLOPs (2*m*n*k per second).
// Rates are per CPU second of the calling thread, not wall time: the shared development machine is
// oversubscribed, and the caller is busy for the whole op (working, or spinning until the workers'
// chunks are done), so its CPU time is what the wall time would be on an idle machine.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "common/dtype.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_backend.h"

namespace manifold::kernels::cpu {
namespace {

constexpr size_t kStreamBytes = size_t{256} << 20;  // > 32 MiB L3

std::vector<float> randomFloats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(n);
  for (float& v : values) v = dist(rng);
  return values;
}

// Enough copies of an n x k weight in `dtype` to exceed the cache, cycled per iteration.
struct WeightSet {
  DType dtype;
  size_t elems;
  int copies;
  std::vector<float> f32;
  std::vector<uint16_t> bits;

  WeightSet(DType d, int n, int k) : dtype(d), elems(size_t(n) * k) {
    const size_t bytes = elems * dtypeSize(d);
    copies = static_cast<int>(std::max<size_t>(1, kStreamBytes / bytes));
    const std::vector<float> source = randomFloats(elems, 1);
    if (d == DType::kF32) {
      f32.resize(elems * copies);
      for (int c = 0; c < copies; ++c)
        std::copy(source.begin(), source.end(), f32.begin() + c * elems);
    } else {
      bits.resize(elems * copies);
      for (size_t i = 0; i < elems; ++i) {
        const uint16_t b = d == DType::kBF16 ? f32ToBf16(source[i]) : f32ToF16(source[i]);
        for (int c = 0; c < copies; ++c) bits[c * elems + i] = b;
      }
    }
  }
  const void* copy(int64_t i) const {
    const size_t offset = (i % copies) * elems;
    return dtype == DType::kF32 ? static_cast<const void*>(f32.data() + offset)
                                : static_cast<const void*>(bits.data() + offset);
  }
};

void setCounters(benchmark::State& state, int m, int k, int n, DType dtype, bool int8 = false) {
  const double iters = static_cast<double>(state.iterations());
  const double bytes_per_weight = int8 ? 1.0 : static_cast<double>(dtypeSize(dtype));
  state.counters["weight_GBps"] =
      benchmark::Counter(iters * n * k * bytes_per_weight / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOPs"] =
      benchmark::Counter(iters * 2.0 * m * n * k / 1e9, benchmark::Counter::kIsRate);
}

// Args: m, k, n, dtype (0 F32, 1 F16, 2 BF16), threads, blas (0 own kernels, 1 OpenBLAS).
void BM_Matmul(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  const int k = static_cast<int>(state.range(1));
  const int n = static_cast<int>(state.range(2));
  const DType dtype = static_cast<DType>(state.range(3));
  const int threads = static_cast<int>(state.range(4));
  const bool blas = state.range(5) != 0;
  CpuBackendOptions options;
  options.num_threads = threads;
  options.blas_min_rows = blas ? 1 : 0;
  CpuBackend backend(options);
  const WeightSet weights(dtype, n, k);
  const std::vector<float> x = randomFloats(size_t(m) * k, 2);
  std::vector<float> out(size_t(m) * n);
  int64_t i = 0;
  for (auto _ : state) {
    backend.matmul(x.data(), m, k, {weights.copy(i++), dtype}, n, {}, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  setCounters(state, m, k, n, dtype);
  state.SetLabel(std::string(blas ? "openblas " : "own ") +
                 std::string(simdLevelName(backend.simdLevel())));
}

void matmulArgs(benchmark::internal::Benchmark* b) {
  // smollm2-135m: q/o 576x576, k/v 192x576, gate+up fused 3072x576, down 576x1536, lm_head.
  const std::vector<std::pair<int, int>> nk = {{576, 576}, {3072, 576}, {576, 1536}, {49152, 576}};
  for (int dtype : {0, 2}) {
    for (int threads : {1, 2}) {
      for (auto [n, k] : nk) b->Args({1, k, n, dtype, threads, 0});
      for (auto [n, k] : nk) {
        if (dtype == 0) b->Args({1, k, n, dtype, threads, 1});
      }
      for (int m : {128, 512}) {
        b->Args({m, 576, 3072, dtype, threads, 0});
        b->Args({m, 1536, 576, dtype, threads, 0});
        b->Args({m, 576, 3072, dtype, threads, 1});
        b->Args({m, 1536, 576, dtype, threads, 1});
      }
    }
  }
  b->ArgNames({"m", "k", "n", "dtype", "threads", "blas"});
}
BENCHMARK(BM_Matmul)->Apply(matmulArgs)->MinTime(0.3);

// Weights packed at load (CpuBackend::packMatmulWeight): BF16 in vdpbf16ps panels (CPUs with
// AVX-512 BF16), F32 in FMA panels (AVX-512); one GEMM for every m. INT8: BF16 weights
// quantized by packMatmulWeightInt8, weight-only (same CPUs as BF16) or W8A8 (AVX-512 VNNI).
// Args: m, k, n, threads, dtype (0 F32, 2 BF16, 3 INT8 weight-only, 4 INT8 W8A8).
constexpr int kInt8Arg = 3;
constexpr int kW8A8Arg = 4;
void BM_MatmulPacked(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  const int k = static_cast<int>(state.range(1));
  const int n = static_cast<int>(state.range(2));
  const Quantization scheme = state.range(4) == kInt8Arg   ? Quantization::kInt8
                              : state.range(4) == kW8A8Arg ? Quantization::kW8A8
                                                           : Quantization::kNone;
  const bool int8 = scheme != Quantization::kNone;
  const DType dtype = int8 ? DType::kBF16 : static_cast<DType>(state.range(4));
  CpuBackendOptions options;
  options.num_threads = static_cast<int>(state.range(3));
  CpuBackend backend(options);
  const size_t bytes = int8 ? backend.packedInt8MatmulWeightBytes(scheme, n, k)
                            : backend.packedMatmulWeightBytes(dtype, n, k);
  if (bytes == 0) {
    state.SkipWithError("this CPU does not pack weights of this dtype");
    return;
  }
  const WeightSet weights(dtype, n, k);
  std::vector<DeviceBuffer> packed;
  std::vector<WeightView> views;
  for (int c = 0; c < weights.copies; ++c) {
    packed.push_back(std::move(backend.allocate(bytes)).value());
    const WeightView row_major{weights.copy(c), dtype};
    views.push_back(
        int8 ? backend.packMatmulWeightInt8(scheme, row_major, nullptr, n, k, packed.back().data())
             : backend.packMatmulWeight(row_major, n, k, packed.back().data()));
  }
  const std::vector<float> x = randomFloats(size_t(m) * k, 2);
  std::vector<float> out(size_t(m) * n);
  int64_t i = 0;
  for (auto _ : state) {
    backend.matmul(x.data(), m, k, views[i++ % views.size()], n, {}, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  setCounters(state, m, k, n, dtype, int8);
}
BENCHMARK(BM_MatmulPacked)
    ->ArgNames({"m", "k", "n", "threads", "dtype"})
    ->ArgsProduct({{1, 8, 64, 512}, {576}, {3072}, {1, 2}, {0, 2, kInt8Arg, kW8A8Arg}})
    ->ArgsProduct({{1, 8, 64, 512}, {1536}, {576}, {1, 2}, {0, 2, kInt8Arg, kW8A8Arg}})
    ->ArgsProduct({{1}, {576}, {49152}, {1, 2}, {0, 2, kInt8Arg, kW8A8Arg}})
    // Batched decode out of cache (the LM head is 56 MB in BF16): does the arithmetic of 4 or 8
    // rows hide under the weight stream?
    ->ArgsProduct({{4, 8}, {576}, {49152}, {2}, {2, kInt8Arg, kW8A8Arg}})
    // Llama-3-8B's attention and down projection depths: several depth blocks per panel.
    ->ArgsProduct({{8, 512}, {4096, 14336}, {4096}, {2}, {0, 2, kW8A8Arg}})
    ->MinTime(0.3);

// The DRAM read ceiling through the pool: argmax over 512 MiB of floats (one compare per value),
// the bound for decode, which reads every weight once per token.
void BM_StreamReadCeiling(benchmark::State& state) {
  CpuBackendOptions options;
  options.num_threads = static_cast<int>(state.range(0));
  CpuBackend backend(options);
  constexpr int kCols = 1 << 16;
  const int rows = static_cast<int>((size_t{512} << 20) / sizeof(float) / kCols);
  DeviceBuffer data = std::move(backend.allocate(size_t(rows) * kCols * sizeof(float))).value();
  std::fill_n(data.as<float>(), size_t(rows) * kCols, 1.0f);
  std::vector<int32_t> out(rows);
  for (auto _ : state) {
    backend.argmax(data.as<float>(), rows, kCols, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["read_GBps"] = benchmark::Counter(
      double(state.iterations()) * rows * kCols * sizeof(float) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_StreamReadCeiling)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->MinTime(1);

// Paged attention over `batch` sequences of `context` tokens whose last `q_len` are new
// (1: decode; context: a whole prefill), smollm2 heads (9 query, 3 kv, head_dim 64), block size
// `bs`, KV cache of `kv_dtype`. Counters: KV bytes read per second (each query tile reads its keys
// once) and attention GFLOP/s (QK and PV, causal).
void runPagedAttention(benchmark::State& state, int context, int q_len, int batch, int threads,
                       DType kv_dtype, int bs = 16) {
  const int q_heads = 9, kv_heads = 3, dim = 64;
  CpuBackendOptions options;
  options.num_threads = threads;
  CpuBackend backend(options);
  const int blocks_per_seq = (context + bs - 1) / bs;
  const KvCacheShape shape{blocks_per_seq * batch, bs, kv_heads, dim, kv_dtype};
  // In backend memory (huge pages), as the engine's pool is.
  const size_t elems = shape.elementsPerLayer();
  DeviceBuffer k_buffer = std::move(backend.allocate(elems * dtypeSize(kv_dtype))).value();
  DeviceBuffer v_buffer = std::move(backend.allocate(elems * dtypeSize(kv_dtype))).value();
  const std::vector<float> k_values = randomFloats(elems, 3);
  const std::vector<float> v_values = randomFloats(elems, 4);
  for (size_t i = 0; i < elems; ++i) {
    if (kv_dtype == DType::kBF16) {
      k_buffer.as<uint16_t>()[i] = f32ToBf16(k_values[i]);
      v_buffer.as<uint16_t>()[i] = f32ToBf16(v_values[i]);
    } else {
      k_buffer.as<float>()[i] = k_values[i];
      v_buffer.as<float>()[i] = v_values[i];
    }
  }
  const void* k_cache = k_buffer.data();
  const void* v_cache = v_buffer.data();
  std::vector<int32_t> block_tables(size_t(batch) * blocks_per_seq);
  for (size_t i = 0; i < block_tables.size(); ++i) block_tables[i] = static_cast<int32_t>(i);
  const int tokens = batch * q_len;
  std::vector<int32_t> query_start(batch + 1), seq_lens(batch, context), slots, positions;
  for (int s = 0; s <= batch; ++s) query_start[s] = s * q_len;
  for (int s = 0; s < batch; ++s) {
    for (int pos = context - q_len; pos < context; ++pos) {
      slots.push_back(s * blocks_per_seq * bs + pos);
      positions.push_back(pos);
    }
  }
  AttentionPlanLimits limits{batch, tokens, blocks_per_seq};
  auto plan = backend.createAttentionPlan(limits);
  AttentionBatch b{batch,    tokens,       blocks_per_seq, query_start,
                   seq_lens, block_tables, slots,          positions};
  backend.planAttention(*plan, b);
  const std::vector<float> q = randomFloats(size_t(tokens) * q_heads * dim, 5);
  std::vector<float> out(q.size());
  for (auto _ : state) {
    backend.pagedAttention(*plan, q.data(), q_heads * dim, q_heads, shape, k_cache, v_cache,
                           0.125f, 0, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  double keys_seen = 0;  // query rows x keys each attends to
  for (int pos = context - q_len; pos < context; ++pos) keys_seen += pos + 1;
  const double iterations = static_cast<double>(state.iterations());
  state.counters["kv_GBps"] = benchmark::Counter(
      iterations * batch * context * kv_heads * dim * 2 * dtypeSize(kv_dtype) / 1e9,
      benchmark::Counter::kIsRate);
  state.counters["GFLOPs"] = benchmark::Counter(
      iterations * batch * keys_seen * q_heads * dim * 4 / 1e9, benchmark::Counter::kIsRate);
}

// Args: context, batch, threads, kv dtype (0 F32, 2 BF16: the DType values). 256 sequences of
// 256 tokens hold 50 MB of BF16 KV, past the last-level cache, as a real step's layers do.
void BM_PagedAttentionDecode(benchmark::State& state) {
  runPagedAttention(state, static_cast<int>(state.range(0)), 1, static_cast<int>(state.range(1)),
                    static_cast<int>(state.range(2)), static_cast<DType>(state.range(3)));
}
BENCHMARK(BM_PagedAttentionDecode)
    ->ArgNames({"context", "batch", "threads", "dtype"})
    ->ArgsProduct({{128, 512, 2048}, {1, 8}, {1, 2}, {0}})
    ->ArgsProduct({{256}, {32, 256}, {2}, {0, 2}})
    ->MinTime(0.3);

// The 50 MB BF16 case past the last-level cache with larger KV blocks: a head's slice of a block
// is block_size x 128 bytes, read as one run. Args: block size.
void BM_PagedAttentionDecodeBlockSize(benchmark::State& state) {
  runPagedAttention(state, 256, 1, 256, 2, DType::kBF16, static_cast<int>(state.range(0)));
}
BENCHMARK(BM_PagedAttentionDecodeBlockSize)->ArgName("block")->Arg(16)->Arg(64)->MinTime(0.3);

// A whole causal prefill of `context` tokens, one sequence. Args: context, threads, kv dtype.
void BM_PagedAttentionPrefill(benchmark::State& state) {
  const int context = static_cast<int>(state.range(0));
  runPagedAttention(state, context, context, 1, static_cast<int>(state.range(1)),
                    static_cast<DType>(state.range(2)));
}
BENCHMARK(BM_PagedAttentionPrefill)
    ->ArgNames({"context", "threads", "dtype"})
    ->ArgsProduct({{512}, {2}, {0, 2}})
    ->MinTime(0.3);

// The cost of one tiny op through the pool: what every op of a stories260K step pays.
void BM_ThreadPoolRoundTrip(benchmark::State& state) {
  ThreadPool pool(static_cast<int>(state.range(0)));
  std::vector<float> data(1024, 1.0f);
  for (auto _ : state) {
    pool.parallelFor(2, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) data[i] += 1.0f;
    });
    benchmark::DoNotOptimize(data.data());
  }
}
BENCHMARK(BM_ThreadPoolRoundTrip)->ArgName("threads")->Arg(1)->Arg(2);

// One decode step of a stories260K-shaped model (5 layers, hidden 64, 8 query / 4 kv heads of 8,
// intermediate 172, vocab 512, F32 weights, 64 tokens of context) through every op the runner
// calls: what per-op overhead costs on a model too small to be bandwidth-bound. Arg: threads.
void BM_TinyModelDecodeStep(benchmark::State& state) {
  constexpr int kLayers = 5, kHidden = 64, kHeads = 8, kKvHeads = 4, kDim = 8, kInter = 172;
  constexpr int kVocab = 512, kContext = 64, kBlock = 16;
  constexpr int kQkv = (kHeads + 2 * kKvHeads) * kDim;
  CpuBackendOptions options;
  options.num_threads = static_cast<int>(state.range(0));
  CpuBackend backend(options);
  const std::vector<float> embed = randomFloats(size_t(kVocab) * kHidden, 1);
  const std::vector<float> norm(kHidden, 1.0f);
  const std::vector<float> w_qkv = randomFloats(size_t(kQkv) * kHidden, 2);
  const std::vector<float> w_o = randomFloats(size_t(kHidden) * kHeads * kDim, 3);
  const std::vector<float> w_gate_up = randomFloats(size_t(2 * kInter) * kHidden, 4);
  const std::vector<float> w_down = randomFloats(size_t(kHidden) * kInter, 5);
  const std::vector<float> rope = randomFloats(size_t(kContext) * kDim, 6);
  const KvCacheShape shape{kContext / kBlock, kBlock, kKvHeads, kDim, DType::kF32};
  std::vector<float> k_cache = randomFloats(shape.elementsPerLayer() * kLayers, 7);
  std::vector<float> v_cache = randomFloats(shape.elementsPerLayer() * kLayers, 8);
  std::vector<int32_t> block_table = {0, 1, 2, 3}, query_start = {0, 1}, seq_lens = {kContext};
  std::vector<int32_t> slots = {kContext - 1}, positions = {kContext - 1}, ids = {5}, argmax(1);
  auto plan = backend.createAttentionPlan({1, 1, 4});
  backend.planAttention(*plan, {1, 1, 4, query_start, seq_lens, block_table, slots, positions});
  std::vector<float> residual(kHidden), hidden(kHidden), qkv(kQkv), attn(kHeads * kDim),
      proj(kHidden), gate_up(2 * kInter), act(kInter), logits(kVocab);
  const WeightView n{norm.data(), DType::kF32};
  for (auto _ : state) {
    backend.planAttention(*plan, {1, 1, 4, query_start, seq_lens, block_table, slots, positions});
    backend.embedding(ids.data(), 1, {embed.data(), DType::kF32}, kHidden, residual.data());
    for (int l = 0; l < kLayers; ++l) {
      if (l == 0) {
        backend.rmsNorm(residual.data(), n, 1, kHidden, 1e-5f, hidden.data());
      } else {
        backend.addRmsNorm(proj.data(), residual.data(), n, 1, kHidden, 1e-5f, hidden.data());
      }
      backend.matmul(hidden.data(), 1, kHidden, {w_qkv.data(), DType::kF32}, kQkv, {}, qkv.data());
      backend.rope(qkv.data(), kQkv, qkv.data() + kHeads * kDim, kQkv, plan->positions(), 1, kHeads,
                   kKvHeads, kDim, rope.data());
      float* kc = k_cache.data() + shape.elementsPerLayer() * l;
      float* vc = v_cache.data() + shape.elementsPerLayer() * l;
      backend.writeKvCache(*plan, qkv.data() + kHeads * kDim, kQkv,
                           qkv.data() + (kHeads + kKvHeads) * kDim, kQkv, shape, kc, vc);
      backend.pagedAttention(*plan, qkv.data(), kQkv, kHeads, shape, kc, vc, 0.35f, 0, attn.data());
      backend.matmul(attn.data(), 1, kHeads * kDim, {w_o.data(), DType::kF32}, kHidden, {},
                     proj.data());
      backend.addRmsNorm(proj.data(), residual.data(), n, 1, kHidden, 1e-5f, hidden.data());
      backend.matmul(hidden.data(), 1, kHidden, {w_gate_up.data(), DType::kF32}, 2 * kInter, {},
                     gate_up.data());
      backend.siluAndMul(gate_up.data(), 1, kInter, act.data());
      backend.matmul(act.data(), 1, kInter, {w_down.data(), DType::kF32}, kHidden, {}, proj.data());
    }
    backend.addRmsNorm(proj.data(), residual.data(), n, 1, kHidden, 1e-5f, hidden.data());
    backend.matmul(hidden.data(), 1, kHidden, {embed.data(), DType::kF32}, kVocab, {},
                   logits.data());
    backend.argmax(logits.data(), 1, kVocab, argmax.data());
    benchmark::DoNotOptimize(argmax.data());
  }
  state.counters["steps_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TinyModelDecodeStep)->ArgName("threads")->Arg(1)->Arg(2);

}  // namespace
}  // namespace manifold::kernels::cpu

BENCHMARK_MAIN();
