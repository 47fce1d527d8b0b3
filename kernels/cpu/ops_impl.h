// The CPU kernels, written once over a vector abstraction `Vec` (vec_scalar.h, vec_avx2.h,
// vec_avx512.h) and instantiated by each instruction set's translation unit. Every template here
// is parameterised by Vec, so each instantiation is a distinct symbol with that ISA's code.
//
// Only plain types and Vec operations are used here (see cpu_kernels.h for why).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/attention_impl.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/impl_util.h"
#include "kernels/cpu/matmul_impl.h"
#include "kernels/cpu/vec_types.h"

namespace manifold::kernels::cpu::impl {

template <class Vec, typename T>
void embedding(const int32_t* ids, const void* table, int hidden, float* out, int t_begin,
               int t_end) {
  const T* rows = static_cast<const T*>(table);
  for (int t = t_begin; t < t_end; ++t) {
    convertRow<Vec>(rows + static_cast<size_t>(ids[t]) * hidden,
                    out + static_cast<size_t>(t) * hidden, hidden);
  }
}

template <class Vec>
void embeddingAny(const int32_t* ids, const void* table, DType dtype, int hidden, float* out,
                  int t_begin, int t_end) {
  switch (dtype) {
    case DType::kF32:
      return embedding<Vec, float>(ids, table, hidden, out, t_begin, t_end);
    case DType::kBF16:
      return embedding<Vec, Bf16>(ids, table, hidden, out, t_begin, t_end);
    case DType::kF16:
      return embedding<Vec, F16>(ids, table, hidden, out, t_begin, t_end);
    case DType::kI8:  // stored quantized weights only (common/dtype.h)
      break;
  }
}

template <class Vec, typename W>
void rmsNorm(const float* x, float* residual, const void* weight, int hidden, float eps, float* out,
             int t_begin, int t_end) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  const W* w = static_cast<const W*>(weight);
  for (int t = t_begin; t < t_end; ++t) {
    const size_t row = static_cast<size_t>(t) * hidden;
    const float* src = x + row;
    V sumsq = Vec::zero();
    if (residual != nullptr) {
      float* res = residual + row;
      for (int i = 0; i < hidden; i += kW) {
        const int left = hidden - i;
        const V v = Vec::add(Vec::loadTail(src + i, left), Vec::loadTail(res + i, left));
        Vec::storeTail(res + i, v, left);
        sumsq = Vec::fmadd(v, v, sumsq);
      }
      src = res;
    } else {
      for (int i = 0; i < hidden; i += kW) {
        const V v = Vec::loadTail(src + i, hidden - i);
        sumsq = Vec::fmadd(v, v, sumsq);
      }
    }
    const float inv = 1.0f / Vec::sqrtScalar(Vec::reduceAdd(sumsq) / hidden + eps);
    const V vinv = Vec::set1(inv);
    float* dst = out + row;
    for (int i = 0; i < hidden; i += kW) {
      const int left = hidden - i;
      const V v =
          Vec::mul(Vec::mul(Vec::loadTail(src + i, left), vinv), Vec::loadTail(w + i, left));
      Vec::storeTail(dst + i, v, left);
    }
  }
}

template <class Vec>
void rmsNormAny(const float* x, float* residual, const void* weight, DType w_dtype, int hidden,
                float eps, float* out, int t_begin, int t_end) {
  switch (w_dtype) {
    case DType::kF32:
      return rmsNorm<Vec, float>(x, residual, weight, hidden, eps, out, t_begin, t_end);
    case DType::kBF16:
      return rmsNorm<Vec, Bf16>(x, residual, weight, hidden, eps, out, t_begin, t_end);
    case DType::kF16:
      return rmsNorm<Vec, F16>(x, residual, weight, hidden, eps, out, t_begin, t_end);
    case DType::kI8:  // stored quantized weights only (common/dtype.h)
      break;
  }
}

template <class Vec>
void ropeHead(float* x, const float* cos, const float* sin, int half) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  for (int i = 0; i < half; i += kW) {
    const int left = half - i;
    const V x1 = Vec::loadTail(x + i, left);
    const V x2 = Vec::loadTail(x + half + i, left);
    const V c = Vec::loadTail(cos + i, left);
    const V s = Vec::loadTail(sin + i, left);
    Vec::storeTail(x + i, Vec::sub(Vec::mul(x1, c), Vec::mul(x2, s)), left);
    Vec::storeTail(x + half + i, Vec::fmadd(x1, s, Vec::mul(x2, c)), left);
  }
}

template <class Vec>
void rope(float* q, int q_stride, float* k, int k_stride, const int32_t* positions, int num_q_heads,
          int num_kv_heads, int head_dim, const float* cos_sin, int t_begin, int t_end) {
  const int half = head_dim / 2;
  for (int t = t_begin; t < t_end; ++t) {
    const float* cos = cos_sin + static_cast<size_t>(positions[t]) * head_dim;
    const float* sin = cos + half;
    float* qt = q + static_cast<size_t>(t) * q_stride;
    for (int h = 0; h < num_q_heads; ++h) ropeHead<Vec>(qt + h * head_dim, cos, sin, half);
    float* kt = k + static_cast<size_t>(t) * k_stride;
    for (int h = 0; h < num_kv_heads; ++h) ropeHead<Vec>(kt + h * head_dim, cos, sin, half);
  }
}

template <class Vec, typename KV>
void writeKv(const float* k, int k_stride, const float* v, int v_stride,
             const int32_t* slot_mapping, int num_kv_heads, int head_dim, int block_size,
             void* k_cache, void* v_cache, int t_begin, int t_end) {
  KV* kc = static_cast<KV*>(k_cache);
  KV* vc = static_cast<KV*>(v_cache);
  for (int t = t_begin; t < t_end; ++t) {
    const int32_t slot = slot_mapping[t];
    if (slot < 0) continue;
    const size_t block = static_cast<size_t>(slot / block_size);
    const size_t offset = static_cast<size_t>(slot % block_size);
    for (int h = 0; h < num_kv_heads; ++h) {
      const size_t dst = ((block * num_kv_heads + h) * block_size + offset) * head_dim;
      convertRow<Vec>(k + static_cast<size_t>(t) * k_stride + h * head_dim, kc + dst, head_dim);
      convertRow<Vec>(v + static_cast<size_t>(t) * v_stride + h * head_dim, vc + dst, head_dim);
    }
  }
}

template <class Vec>
void writeKvAny(const float* k, int k_stride, const float* v, int v_stride,
                const int32_t* slot_mapping, int num_kv_heads, int head_dim, int block_size,
                void* k_cache, void* v_cache, DType kv_dtype, int t_begin, int t_end) {
  if (kv_dtype == DType::kBF16) {
    writeKv<Vec, Bf16>(k, k_stride, v, v_stride, slot_mapping, num_kv_heads, head_dim, block_size,
                       k_cache, v_cache, t_begin, t_end);
  } else {
    writeKv<Vec, float>(k, k_stride, v, v_stride, slot_mapping, num_kv_heads, head_dim, block_size,
                        k_cache, v_cache, t_begin, t_end);
  }
}

template <class Vec>
void siluAndMul(const float* gate_up, int intermediate, float* out, int t_begin, int t_end) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  const V one = Vec::set1(1.0f);
  const V zero = Vec::zero();
  for (int t = t_begin; t < t_end; ++t) {
    const float* gate = gate_up + static_cast<size_t>(t) * 2 * intermediate;
    const float* up = gate + intermediate;
    float* dst = out + static_cast<size_t>(t) * intermediate;
    for (int i = 0; i < intermediate; i += kW) {
      const int left = intermediate - i;
      const V g = Vec::loadTail(gate + i, left);
      // silu(g) = g / (1 + exp(-g))
      const V sig = Vec::div(one, Vec::add(one, Vec::exp(Vec::sub(zero, g))));
      Vec::storeTail(dst + i, Vec::mul(Vec::mul(g, sig), Vec::loadTail(up + i, left)), left);
    }
  }
}

template <class Vec>
void add(const float* x, float* out, int64_t begin, int64_t end) {
  constexpr int kW = Vec::kWidth;
  int64_t i = begin;
  for (; i + kW <= end; i += kW)
    Vec::store(out + i, Vec::add(Vec::load(out + i), Vec::load(x + i)));
  for (; i < end; ++i) out[i] += x[i];
}

template <class Vec>
float rowMax(const float* x, int cols) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  V vmax = Vec::set1(-__builtin_inff());
  int i = 0;
  for (; i + kW <= cols; i += kW) vmax = Vec::max(vmax, Vec::load(x + i));
  float best = Vec::reduceMax(vmax);
  for (; i < cols; ++i) best = maxOf(best, x[i]);
  return best;
}

template <class Vec>
void argmax(const float* x, int cols, int32_t* out, int r_begin, int r_end) {
  for (int r = r_begin; r < r_end; ++r) {
    const float* row = x + static_cast<size_t>(r) * cols;
    const float best = rowMax<Vec>(row, cols);
    int index = 0;
    while (index < cols - 1 && !(row[index] == best)) ++index;
    out[r] = index;
  }
}

template <class Vec>
void softmax(const float* x, int cols, bool log, float* out, int r_begin, int r_end) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  for (int r = r_begin; r < r_end; ++r) {
    const float* row = x + static_cast<size_t>(r) * cols;
    float* dst = out + static_cast<size_t>(r) * cols;
    const float row_max = rowMax<Vec>(row, cols);
    const V vmax = Vec::set1(row_max);
    // Blocked summation: partial sums of at most kSumBlock terms, added in double, so that a
    // 150K-entry vocabulary sums as accurately on one lane as on sixteen.
    constexpr int kSumBlock = 256;
    double total = 0.0;
    for (int block = 0; block < cols; block += kSumBlock) {
      const int block_end = minOf(cols, block + kSumBlock);
      V vsum = Vec::zero();
      for (int i = block; i < block_end; i += kW) {
        const int left = block_end - i;
        const V e = Vec::keepFirst(Vec::exp(Vec::sub(Vec::loadTail(row + i, left), vmax)), left);
        vsum = Vec::add(vsum, e);
        if (!log) Vec::storeTail(dst + i, e, left);
      }
      total += Vec::reduceAdd(vsum);
    }
    const float sum = static_cast<float>(total);
    if (log) {
      const V shift = Vec::set1(row_max + Vec::logScalar(sum));
      for (int i = 0; i < cols; i += kW) {
        const int left = cols - i;
        Vec::storeTail(dst + i, Vec::sub(Vec::loadTail(row + i, left), shift), left);
      }
    } else {
      const V inv = Vec::set1(1.0f / sum);
      for (int i = 0; i < cols; i += kW) {
        const int left = cols - i;
        Vec::storeTail(dst + i, Vec::mul(Vec::loadTail(dst + i, left), inv), left);
      }
    }
  }
}

template <class Vec>
CpuKernels makeKernels(const char* name) {
  CpuKernels kernels{};
  kernels.name = name;
  kernels.embedding = &embeddingAny<Vec>;
  kernels.rmsNorm = &rmsNormAny<Vec>;
  kernels.rope = &rope<Vec>;
  kernels.writeKv = &writeKvAny<Vec>;
  kernels.attention = &attentionAny<Vec>;
  kernels.siluAndMul = &siluAndMul<Vec>;
  kernels.matmul = &matmulAny<Vec>;
  kernels.bf16_pack_block = Vec::kBf16PairBlock;
  kernels.packBf16Activations = &packBf16Activations<Vec>;
  kernels.add = &add<Vec>;
  kernels.argmax = &argmax<Vec>;
  kernels.softmax = &softmax<Vec>;
  return kernels;
}

}  // namespace manifold::kernels::cpu::impl
