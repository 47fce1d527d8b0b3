#include "kernels/cpu/cpu_backend.h"

#include "kernels/cpu/bf16_attention.h"
#include "kernels/cpu/bf16_gemm.h"
#include "kernels/cpu/cpu_attention_plan.h"
#include "kernels/cpu/f32_gemm.h"
#include "kernels/cpu/int8_gemm.h"

#include <cblas.h>
#include <sys/mman.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace manifold::kernels::cpu {
namespace {

// Below this many multiply-adds an op runs on the calling thread: waking a worker costs more.
constexpr int64_t kMinParallelWork = 16 * 1024;

int64_t rowsPerChunk(int64_t work_per_row) {
  return std::max<int64_t>(1, kMinParallelWork / std::max<int64_t>(1, work_per_row));
}

const CpuAttentionPlan& asCpuPlan(const AttentionPlan& plan) {
  return static_cast<const CpuAttentionPlan&>(plan);
}

}  // namespace

SimdLevel detectSimdLevel() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return SimdLevel::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c")) {
    return SimdLevel::kAvx2;
  }
  return SimdLevel::kScalar;
}

std::string_view simdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvx512:
      return "avx512";
  }
  return "?";
}

CpuBackend::CpuBackend(const CpuBackendOptions& options)
    : blas_min_rows_(options.blas_min_rows),
      gemm_min_rows_(options.gemm_min_rows),
      pool_(std::make_unique<ThreadPool>(options.num_threads, options.spin_us)) {
  const SimdLevel best = detectSimdLevel();
  simd_level_ = options.simd_level ? std::min(*options.simd_level, best) : best;
  use_bf16_dot_ =
      options.bf16_dot_products && simd_level_ == SimdLevel::kAvx512 && cpuHasAvx512Bf16();
  use_vnni_ = simd_level_ == SimdLevel::kAvx512 && cpuHasAvx512Vnni();
  pack_weights_ = options.pack_weights;
  switch (simd_level_) {
    case SimdLevel::kScalar:
      kernels_ = &scalarKernels();
      break;
    case SimdLevel::kAvx2:
      kernels_ = &avx2Kernels();
      break;
    case SimdLevel::kAvx512:
      kernels_ = &avx512Kernels();
      break;
  }
}

CpuBackend::~CpuBackend() = default;

void* CpuBackend::allocateRaw(size_t bytes) {
  // Buffers of 2 MiB and more (weights, KV pools) on transparent huge pages where the kernel
  // allows them on request (enabled = madvise): decode streams every weight once per token, and
  // with 4 KiB pages the TLB misses cost a single core about a sixth of its DRAM bandwidth.
  constexpr size_t kHugePage = size_t{2} << 20;
  if (bytes >= kHugePage) {
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* data = std::aligned_alloc(kHugePage, rounded);
    if (data != nullptr) madvise(data, rounded, MADV_HUGEPAGE);  // a hint: failure is harmless
    return data;
  }
  const size_t rounded = (bytes + 63) / 64 * 64;
  return std::aligned_alloc(64, rounded);
}

void CpuBackend::deallocateRaw(void* data) { std::free(data); }

void CpuBackend::copyToDevice(void* dst, const void* host_src, size_t bytes) {
  std::memcpy(dst, host_src, bytes);
}
void CpuBackend::copyToHost(void* host_dst, const void* src, size_t bytes) {
  std::memcpy(host_dst, src, bytes);
}
void CpuBackend::copyOnDevice(void* dst, const void* src, size_t bytes) {
  std::memmove(dst, src, bytes);
}
void CpuBackend::fillZero(void* dst, size_t bytes) {
  // Split across the pool: zeroing a fresh KV pool faults its pages in, and on a virtual machine
  // the first touch of memory runs at about 1 GB/s per thread.
  constexpr size_t kChunk = size_t{2} << 20;
  const int64_t chunks = static_cast<int64_t>((bytes + kChunk - 1) / kChunk);
  auto* base = static_cast<uint8_t*>(dst);
  pool_->parallelFor(chunks, 1, [&](int64_t begin, int64_t end) {
    const size_t first = static_cast<size_t>(begin) * kChunk;
    std::memset(base + first, 0, std::min(bytes, static_cast<size_t>(end) * kChunk) - first);
  });
}

std::unique_ptr<AttentionPlan> CpuBackend::createAttentionPlan(const AttentionPlanLimits& limits) {
  return std::make_unique<CpuAttentionPlan>(limits, pool_->numThreads());
}

void CpuBackend::planAttention(AttentionPlan& plan, const AttentionBatch& batch) {
  static_cast<CpuAttentionPlan&>(plan).plan(batch);
}

void CpuBackend::embedding(const int32_t* ids, int num_tokens, WeightView table, int hidden,
                           float* out) {
  pool_->parallelFor(num_tokens, rowsPerChunk(hidden * 4), [&](int64_t begin, int64_t end) {
    kernels_->embedding(ids, table.data, table.dtype, hidden, out, static_cast<int>(begin),
                        static_cast<int>(end));
  });
}

void CpuBackend::gatherRows(const float* src, const int32_t* rows, int num_rows, int cols,
                            float* out) {
  for (int r = 0; r < num_rows; ++r) {
    std::memcpy(out + static_cast<size_t>(r) * cols, src + static_cast<size_t>(rows[r]) * cols,
                sizeof(float) * cols);
  }
}

void CpuBackend::rmsNorm(const float* x, WeightView weight, int num_tokens, int hidden, float eps,
                         float* out) {
  pool_->parallelFor(num_tokens, rowsPerChunk(hidden * 2), [&](int64_t begin, int64_t end) {
    kernels_->rmsNorm(x, nullptr, weight.data, weight.dtype, hidden, eps, out,
                      static_cast<int>(begin), static_cast<int>(end));
  });
}

void CpuBackend::addRmsNorm(const float* x, float* residual, WeightView weight, int num_tokens,
                            int hidden, float eps, float* out) {
  pool_->parallelFor(num_tokens, rowsPerChunk(hidden * 3), [&](int64_t begin, int64_t end) {
    kernels_->rmsNorm(x, residual, weight.data, weight.dtype, hidden, eps, out,
                      static_cast<int>(begin), static_cast<int>(end));
  });
}

void CpuBackend::rope(float* q, int q_stride, float* k, int k_stride, const int32_t* positions,
                      int num_tokens, int num_q_heads, int num_kv_heads, int head_dim,
                      const float* cos_sin) {
  assert(head_dim % 2 == 0);
  const int64_t work = int64_t{num_q_heads + num_kv_heads} * head_dim * 3;
  pool_->parallelFor(num_tokens, rowsPerChunk(work), [&](int64_t begin, int64_t end) {
    kernels_->rope(q, q_stride, k, k_stride, positions, num_q_heads, num_kv_heads, head_dim,
                   cos_sin, static_cast<int>(begin), static_cast<int>(end));
  });
}

void CpuBackend::writeKvCache(const AttentionPlan& plan, const float* k, int k_stride,
                              const float* v, int v_stride, const KvCacheShape& shape,
                              void* k_cache, void* v_cache) {
  const CpuAttentionPlan& p = asCpuPlan(plan);
  assert(shape.dtype == DType::kF32 || shape.dtype == DType::kBF16);
  const int64_t work = int64_t{shape.num_kv_heads} * shape.head_dim * 2;
  pool_->parallelFor(p.numTokens(), rowsPerChunk(work), [&](int64_t begin, int64_t end) {
    kernels_->writeKv(k, k_stride, v, v_stride, p.slot_mapping_.data(), shape.num_kv_heads,
                      shape.head_dim, shape.block_size, k_cache, v_cache, shape.dtype,
                      static_cast<int>(begin), static_cast<int>(end));
  });
}

void CpuBackend::pagedAttention(const AttentionPlan& plan, const float* q, int q_stride,
                                int num_q_heads, const KvCacheShape& shape, const void* k_cache,
                                const void* v_cache, float scale, int sliding_window, float* out) {
  const CpuAttentionPlan& p = asCpuPlan(plan);
  assert(num_q_heads % shape.num_kv_heads == 0);
  assert(shape.head_dim <= kMaxHeadDim && shape.block_size <= kMaxBlockSize);
  const int group = num_q_heads / shape.num_kv_heads;
  assert(group <= kMaxAttentionRows);
  const std::vector<AttentionWork>& work = p.work(shape.num_kv_heads, group);
  AttentionArgs args{};
  args.query_start = p.query_start_.data();
  args.seq_lens = p.seq_lens_.data();
  args.block_tables = p.block_tables_.data();
  args.max_blocks_per_seq = p.max_blocks_per_seq_;
  args.q = q;
  args.q_stride = q_stride;
  args.num_q_heads = num_q_heads;
  args.num_kv_heads = shape.num_kv_heads;
  args.head_dim = shape.head_dim;
  args.block_size = shape.block_size;
  args.k_cache = k_cache;
  args.v_cache = v_cache;
  args.kv_dtype = shape.dtype;
  args.scale = scale;
  args.sliding_window = sliding_window;
  args.out = out;
  args.partial_stride = kMaxAttentionRows * (shape.head_dim + 2);
  if (p.numPartials() > 0) {
    p.partials().resize(static_cast<size_t>(p.numPartials()) * args.partial_stride);
    args.partials = p.partials().data();
  }
  // Tiny steps (a decode of a small model) run inline: waking a worker would cost more.
  int64_t total_work = 0;
  for (const AttentionWork& item : work) {
    total_work += int64_t{item.q_end - item.q_begin} * group * item.kv_heads *
                  (item.kv_end - item.kv_begin) * shape.head_dim * 2;
  }
  const int64_t items = static_cast<int64_t>(work.size());
  const int64_t min_items = total_work < kMinParallelWork ? items : 1;
  // A BF16 cache takes BF16 dot products where the activations are rounded to BF16 too.
  const auto attention =
      use_bf16_dot_ && shape.dtype == DType::kBF16 ? &attentionBf16 : kernels_->attention;
  pool_->parallelFor(items, min_items, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) attention(args, work[i]);
  });
  for (const CpuAttentionPlan::SplitGroup& split : p.splitGroups()) {
    mergeSplitAttention(args, work.data() + split.first_item, split.parts, group, out);
  }
}

void CpuBackend::siluAndMul(const float* gate_up, int num_tokens, int intermediate, float* out) {
  pool_->parallelFor(num_tokens, rowsPerChunk(intermediate * 8), [&](int64_t begin, int64_t end) {
    kernels_->siluAndMul(gate_up, intermediate, out, static_cast<int>(begin),
                         static_cast<int>(end));
  });
}

bool CpuBackend::matmulWithBlas(const float* x, int m, int k, WeightView w, int n, WeightView bias,
                                float* out) {
  if (blas_min_rows_ <= 0 || m < blas_min_rows_) return false;
  const float* w_f32 = static_cast<const float*>(w.data);
  if (w.dtype != DType::kF32) {
    // Debian's OpenBLAS has no sbgemm: widen the weight to F32 once per call (n * k values,
    // small next to the 2 * m * n * k flops when m is large).
    blas_scratch_.resize(static_cast<size_t>(n) * k);
    const auto* bits = static_cast<const uint16_t*>(w.data);
    float* dst = blas_scratch_.data();
    const bool bf16 = w.dtype == DType::kBF16;
    pool_->parallelFor(n, rowsPerChunk(k), [&](int64_t begin, int64_t end) {
      for (size_t i = static_cast<size_t>(begin) * k; i < static_cast<size_t>(end) * k; ++i) {
        dst[i] = bf16 ? bf16ToF32(bits[i]) : f16ToF32(bits[i]);
      }
    });
    w_f32 = dst;
  }
  // OpenBLAS runs single-threaded inside our pool's chunks of output columns: its own threads
  // would spin for a long while after each call (OPENBLAS_THREAD_TIMEOUT) and take the cores
  // from the pool. The setting is process-wide, which is what every engine wants.
  openblas_set_num_threads(1);
  constexpr int kBlasColumns = 64;
  const int64_t groups = (n + kBlasColumns - 1) / kBlasColumns;
  pool_->parallelFor(
      groups, rowsPerChunk(int64_t{m} * k * kBlasColumns / 16), [&](int64_t begin, int64_t end) {
        const int n_begin = static_cast<int>(begin * kBlasColumns);
        const int n_end = static_cast<int>(std::min<int64_t>(n, end * kBlasColumns));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n_end - n_begin, k, 1.0f, x, k,
                    w_f32 + static_cast<size_t>(n_begin) * k, k, 0.0f, out + n_begin, n);
      });
  if (bias.data != nullptr) {
    std::vector<float> bias_f32(n);
    for (int j = 0; j < n; ++j) {
      const auto* bits = static_cast<const uint16_t*>(bias.data);
      switch (bias.dtype) {
        case DType::kF32:
          bias_f32[j] = static_cast<const float*>(bias.data)[j];
          break;
        case DType::kBF16:
          bias_f32[j] = bf16ToF32(bits[j]);
          break;
        case DType::kF16:
          bias_f32[j] = f16ToF32(bits[j]);
          break;
        case DType::kI8:  // biases are float (common/dtype.h)
          bias_f32[j] = 0.0f;
          break;
      }
    }
    for (int i = 0; i < m; ++i) {
      kernels_->add(bias_f32.data(), out + static_cast<size_t>(i) * n, 0, n);
    }
  }
  return true;
}

bool CpuBackend::useGemm(DType w_dtype, int m) const {
  int min_rows = gemm_min_rows_;
  if (min_rows < 0) {
    // Measured crossovers (docs/kernels.md): with AVX-512 the dot-product form runs F32 and F16
    // at the FMA peak for every m, while BF16 dot products double it from 16 rows on; with AVX2
    // (16 registers) the packed GEMM wins from about 32 rows.
    switch (simd_level_) {
      case SimdLevel::kScalar:
        min_rows = 0;
        break;
      case SimdLevel::kAvx2:
        min_rows = 32;
        break;
      case SimdLevel::kAvx512:
        min_rows = w_dtype == DType::kBF16 && use_bf16_dot_ ? 16 : 0;
        break;
    }
  }
  return min_rows > 0 && m >= min_rows;
}

size_t CpuBackend::packedMatmulWeightBytes(DType dtype, int n, int k) const {
  if (!pack_weights_) return 0;
  if (dtype == DType::kBF16 && use_bf16_dot_) return packedBf16Bytes(n, k);
  if (dtype == DType::kF32 && simd_level_ == SimdLevel::kAvx512) return packedF32Bytes(n, k);
  return 0;
}

WeightView CpuBackend::packMatmulWeight(WeightView w, int n, int k, void* dst) {
  assert(w.layout == WeightLayout::kRowMajor && packedMatmulWeightBytes(w.dtype, n, k) > 0);
  const bool bf16 = w.dtype == DType::kBF16;
  const int columns = bf16 ? kBf16PanelColumns : kF32PanelColumns;
  const int panels = (n + columns - 1) / columns;
  pool_->parallelFor(panels, 1, [&](int64_t begin, int64_t end) {
    if (bf16) {
      packBf16Panels(static_cast<const uint16_t*>(w.data), n, k, static_cast<uint32_t*>(dst),
                     static_cast<int>(begin), static_cast<int>(end));
    } else {
      packF32Panels(static_cast<const float*>(w.data), n, k, static_cast<float*>(dst),
                    static_cast<int>(begin), static_cast<int>(end));
    }
  });
  return WeightView{dst, w.dtype, WeightLayout::kPacked};
}

size_t CpuBackend::packedInt8MatmulWeightBytes(Quantization scheme, int n, int k) const {
  switch (scheme) {
    case Quantization::kNone:
      return 0;
    case Quantization::kInt8:
      return use_bf16_dot_ ? packedInt8Bytes(n, k) : 0;
    case Quantization::kW8A8:
      return use_vnni_ && k <= kW8A8MaxDepth ? packedW8A8Bytes(n, k) : 0;
  }
  return 0;
}

WeightView CpuBackend::packMatmulWeightInt8(Quantization scheme, WeightView w, const float* scales,
                                            int n, int k, void* dst) {
  assert(w.layout == WeightLayout::kRowMajor && packedInt8MatmulWeightBytes(scheme, n, k) > 0);
  assert((w.dtype == DType::kI8) == (scales != nullptr));
  const bool w8a8 = scheme == Quantization::kW8A8;
  const int panels = (n + kBf16PanelColumns - 1) / kBf16PanelColumns;
  pool_->parallelFor(panels, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> row(k);
    std::vector<int8_t> q(static_cast<size_t>(kBf16PanelColumns) * k);
    float panel_scales[kBf16PanelColumns];
    for (int64_t panel = begin; panel < end; ++panel) {
      const int n0 = static_cast<int>(panel) * kBf16PanelColumns;
      const int cols = std::min(kBf16PanelColumns, n - n0);
      for (int j = 0; j < cols; ++j) {
        const size_t first = static_cast<size_t>(n0 + j) * k;
        int8_t* q_row = q.data() + static_cast<size_t>(j) * k;
        if (w.dtype == DType::kI8) {  // quantized already (a checkpoint's)
          std::memcpy(q_row, static_cast<const int8_t*>(w.data) + first, k);
          panel_scales[j] = scales[n0 + j];
          continue;
        }
        for (int i = 0; i < k; ++i) {
          const auto* bits = static_cast<const uint16_t*>(w.data);
          row[i] = w.dtype == DType::kF32    ? static_cast<const float*>(w.data)[first + i]
                   : w.dtype == DType::kBF16 ? bf16ToF32(bits[first + i])
                                             : f16ToF32(bits[first + i]);
        }
        // Symmetric, round to nearest: |error| <= scale / 2. A NaN weight becomes 0 (as would
        // any value of an all-zero row, whose scale is 0).
        float max_abs = 0.0f;
        for (float v : row) max_abs = std::max(max_abs, std::abs(v));
        panel_scales[j] = max_abs / 127.0f;
        const float inverse = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
        for (int i = 0; i < k; ++i) {
          const float r = std::nearbyint(row[i] * inverse);
          q_row[i] = static_cast<int8_t>(r >= 127.0f ? 127 : r <= -127.0f ? -127 : r == r ? r : 0);
        }
      }
      (w8a8 ? packW8A8Panel : packInt8Panel)(q.data(), panel_scales, cols, n, k,
                                             static_cast<int>(panel), dst);
    }
  });
  return WeightView{dst, w.dtype, w8a8 ? WeightLayout::kPackedW8A8 : WeightLayout::kPackedInt8};
}

int CpuBackend::convertActivationsToBf16(const float* x, int m, int k) {
  const int stride = (k + 1) / 2 * 2;
  bf16_x_.resize(static_cast<size_t>(m) * stride);
  // In parallel for prefill-sized batches: on one thread this left the other waiting for ~1% of
  // a prefill step.
  pool_->parallelFor(m, rowsPerChunk(k), [&](int64_t begin, int64_t end) {
    convertRowsToBf16(x + begin * k, static_cast<int>(end - begin), k,
                      bf16_x_.data() + begin * stride, stride);
  });
  return stride;
}

int CpuBackend::quantizeActivationsToInt8(const float* x, int m, int k) {
  const int stride = w8a8ActivationStride(k);
  int8_x_.resize(static_cast<size_t>(m) * stride);
  int8_x_scales_.resize(m);
  pool_->parallelFor(m, rowsPerChunk(k), [&](int64_t begin, int64_t end) {
    quantizeRowsToInt8(x + begin * k, static_cast<int>(end - begin), k,
                       int8_x_.data() + begin * stride, stride, int8_x_scales_.data() + begin);
  });
  return stride;
}

void CpuBackend::matmul(const float* x, int m, int k, WeightView w, int n, WeightView bias,
                        float* out) {
  assert(out != x);
  if (w.layout == WeightLayout::kPackedW8A8) {
    // W8A8 (use_vnni_): activations quantized per row, threads split the column panels.
    assert(use_vnni_);
    const MatmulArgs args{x,         m,          k,   w.data,  w.dtype, n,
                          bias.data, bias.dtype, out, nullptr, 0,       true};
    const int stride = quantizeActivationsToInt8(x, m, k);
    const int64_t panels = (n + kW8A8PanelColumns - 1) / kW8A8PanelColumns;
    pool_->parallelFor(panels, rowsPerChunk(int64_t{m} * k * kW8A8PanelColumns / 4),
                       [&](int64_t begin, int64_t end) {
                         matmulW8A8Packed(args, int8_x_.data(), stride, int8_x_scales_.data(),
                                          static_cast<int>(begin), static_cast<int>(end));
                       });
    return;
  }
  if (w.layout == WeightLayout::kPacked && w.dtype == DType::kF32) {
    // Packed F32 (AVX-512): one kernel for every m, threads split the column panels.
    const MatmulArgs args{x, m, k, w.data, w.dtype, n, bias.data, bias.dtype, out, nullptr, 0,
                          true};
    const int64_t panels = (n + kF32PanelColumns - 1) / kF32PanelColumns;
    pool_->parallelFor(panels, rowsPerChunk(int64_t{m} * k * kF32PanelColumns),
                       [&](int64_t begin, int64_t end) {
                         matmulF32Packed(args, static_cast<int>(begin), static_cast<int>(end));
                       });
    return;
  }
  if (w.layout == WeightLayout::kPacked || w.layout == WeightLayout::kPackedInt8) {
    // Packed BF16 or INT8 (use_bf16_dot_): one kernel for every m, threads split the column
    // panels.
    const bool int8 = w.layout == WeightLayout::kPackedInt8;
    assert((int8 || w.dtype == DType::kBF16) && use_bf16_dot_);
    const MatmulArgs args{x, m, k, w.data, w.dtype, n, bias.data, bias.dtype, out, nullptr, 0,
                          true};
    const int stride = convertActivationsToBf16(x, m, k);
    const int64_t panels = (n + kBf16PanelColumns - 1) / kBf16PanelColumns;
    pool_->parallelFor(panels, rowsPerChunk(int64_t{m} * k * kBf16PanelColumns / 2),
                       [&](int64_t begin, int64_t end) {
                         (int8 ? matmulInt8Packed : matmulBf16Packed)(args, bf16_x_.data(), stride,
                                                                      static_cast<int>(begin),
                                                                      static_cast<int>(end));
                       });
    return;
  }
  if (matmulWithBlas(x, m, k, w, n, bias, out)) return;
  const bool gemm = useGemm(w.dtype, m);
  MatmulArgs args{x, m, k, w.data, w.dtype, n, bias.data, bias.dtype, out, nullptr, 0, gemm};
  if (w.dtype == DType::kBF16 && roundsActivationsToBf16(m)) {
    const int stride = convertActivationsToBf16(x, m, k);
    const int64_t groups = (n + 31) / 32;
    pool_->parallelFor(groups, 1, [&](int64_t begin, int64_t end) {
      matmulBf16DotProducts(args, bf16_x_.data(), stride, static_cast<int>(begin * 32),
                            static_cast<int>(std::min<int64_t>(n, end * 32)));
    });
    return;
  }
  if (w.dtype == DType::kBF16 && kernels_->bf16_pack_block > 0 && !gemm) {
    const int block = kernels_->bf16_pack_block;
    args.x_packed_stride = (k + block - 1) / block * block;
    packed_x_.resize(static_cast<size_t>(m) * args.x_packed_stride);
    kernels_->packBf16Activations(x, m, k, packed_x_.data());
    args.x_packed = packed_x_.data();
  }
  // Threads split the output columns, so each streams its own slice of the weights.
  // Column groups of 32 keep the GEMM's 2 x kWidth column panels whole.
  const int column_group = gemm ? 32 : 4;
  const int64_t groups = (n + column_group - 1) / column_group;
  const int64_t min_groups = rowsPerChunk(int64_t{m} * k * column_group);
  pool_->parallelFor(groups, min_groups, [&](int64_t begin, int64_t end) {
    const int n_begin = static_cast<int>(begin * column_group);
    const int n_end = static_cast<int>(std::min<int64_t>(n, end * column_group));
    kernels_->matmul(args, n_begin, n_end);
  });
}

void CpuBackend::add(const float* x, int64_t n, float* out) {
  pool_->parallelFor(n, kMinParallelWork,
                     [&](int64_t begin, int64_t end) { kernels_->add(x, out, begin, end); });
}

void CpuBackend::argmax(const float* x, int rows, int cols, int32_t* out) {
  pool_->parallelFor(rows, rowsPerChunk(cols), [&](int64_t begin, int64_t end) {
    kernels_->argmax(x, cols, out, static_cast<int>(begin), static_cast<int>(end));
  });
}

void CpuBackend::softmax(const float* x, int rows, int cols, float* out) {
  pool_->parallelFor(rows, rowsPerChunk(cols * 4), [&](int64_t begin, int64_t end) {
    kernels_->softmax(x, cols, false, out, static_cast<int>(begin), static_cast<int>(end));
  });
}

void CpuBackend::logSoftmax(const float* x, int rows, int cols, float* out) {
  pool_->parallelFor(rows, rowsPerChunk(cols * 4), [&](int64_t begin, int64_t end) {
    kernels_->softmax(x, cols, true, out, static_cast<int>(begin), static_cast<int>(end));
  });
}

}  // namespace manifold::kernels::cpu
