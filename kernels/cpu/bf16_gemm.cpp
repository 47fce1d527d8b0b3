// Compiled with AVX-512 BF16 flags (kernels/CMakeLists.txt); only plain types and intrinsics
// here, for the reason given in cpu_kernels.h.
#include "kernels/cpu/bf16_gemm.h"

#include <immintrin.h>

#include <cstddef>

namespace manifold::kernels::cpu {
namespace {

constexpr int kRows = 12;         // micro-kernel rows: 24 accumulators + 2 panel + 1 broadcast
constexpr int kCols = 32;         // micro-kernel columns: two vectors of 16
constexpr int kDepthPairs = 128;  // k pairs per panel: 128 * 32 * 4 bytes = 16 KiB, L1-resident

__mmask16 tailMask(int n) {
  if (n <= 0) return 0;
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
}

float bf16BitsToFloat(uint16_t bits) {
  return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(static_cast<int>(bits) << 16)));
}

float biasValue(const MatmulArgs& a, int index) {
  if (a.bias == nullptr) return 0.0f;
  switch (a.bias_dtype) {
    case DType::kF32:
      return static_cast<const float*>(a.bias)[index];
    case DType::kBF16:
      return bf16BitsToFloat(static_cast<const uint16_t*>(a.bias)[index]);
    case DType::kF16:
      return _mm_cvtss_f32(
          _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<const uint16_t*>(a.bias)[index])));
  }
  return 0.0f;
}

// c[MR, 32] (+)= x[MR, 2 * pairs] * panel, panel [pairs, 32 columns, 2] BF16.
template <int MR>
void microKernel(const uint16_t* x, int x_stride, const uint32_t* panel, int pairs, float* out,
                 int ldo, bool first, const float* bias, int cols) {
  __m512 c0[MR];
  __m512 c1[MR];
  if (first) {
    const __m512 b0 = _mm512_loadu_ps(bias);
    const __m512 b1 = _mm512_loadu_ps(bias + 16);
    for (int i = 0; i < MR; ++i) {
      c0[i] = b0;
      c1[i] = b1;
    }
  } else {
    for (int i = 0; i < MR; ++i) {
      c0[i] = _mm512_maskz_loadu_ps(tailMask(cols), out + static_cast<size_t>(i) * ldo);
      c1[i] = _mm512_maskz_loadu_ps(tailMask(cols - 16), out + static_cast<size_t>(i) * ldo + 16);
    }
  }
  const uint32_t* x32 = reinterpret_cast<const uint32_t*>(x);
  const int x32_stride = x_stride / 2;
  for (int p = 0; p < pairs; ++p) {
    const __m512bh p0 = (__m512bh)_mm512_loadu_si512(panel + p * kCols);
    const __m512bh p1 = (__m512bh)_mm512_loadu_si512(panel + p * kCols + 16);
    for (int i = 0; i < MR; ++i) {
      const __m512bh xv = (__m512bh)_mm512_set1_epi32(
          static_cast<int>(x32[static_cast<size_t>(i) * x32_stride + p]));
      c0[i] = _mm512_dpbf16_ps(c0[i], xv, p0);
      c1[i] = _mm512_dpbf16_ps(c1[i], xv, p1);
    }
  }
  for (int i = 0; i < MR; ++i) {
    _mm512_mask_storeu_ps(out + static_cast<size_t>(i) * ldo, tailMask(cols), c0[i]);
    _mm512_mask_storeu_ps(out + static_cast<size_t>(i) * ldo + 16, tailMask(cols - 16), c1[i]);
  }
}

template <int MaxRows>
void microKernelRows(int rows, const uint16_t* x, int x_stride, const uint32_t* panel, int pairs,
                     float* out, int ldo, bool first, const float* bias, int cols) {
  if constexpr (MaxRows >= 1) {
    if (rows == MaxRows) {
      microKernel<MaxRows>(x, x_stride, panel, pairs, out, ldo, first, bias, cols);
    } else {
      microKernelRows<MaxRows - 1>(rows, x, x_stride, panel, pairs, out, ldo, first, bias, cols);
    }
  }
}

void loadBias(const MatmulArgs& a, int n0, int cols, float* bias) {
  for (int j = 0; j < kCols; ++j) bias[j] = j < cols ? biasValue(a, n0 + j) : 0.0f;
}

}  // namespace

bool cpuHasAvx512Bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bf16");
}

void convertRowsToBf16(const float* x, int m, int k, uint16_t* out, int stride) {
  for (int i = 0; i < m; ++i) {
    const float* src = x + static_cast<size_t>(i) * k;
    uint16_t* dst = out + static_cast<size_t>(i) * stride;
    for (int j = 0; j < stride; j += 16) {
      const __m512 v = _mm512_maskz_loadu_ps(tailMask(k - j), src + j);
      const __m256i bits = (__m256i)_mm512_cvtneps_pbh(v);
      _mm256_mask_storeu_epi16(dst + j, tailMask(stride - j), bits);
    }
  }
}

void matmulBf16DotProducts(const MatmulArgs& a, const uint16_t* x_bf16, int x_stride, int n_begin,
                           int n_end) {
  alignas(64) uint32_t panel[kDepthPairs * kCols];  // [pairs, 32 columns] of BF16 pairs
  alignas(64) float bias[kCols];
  const uint16_t* w = static_cast<const uint16_t*>(a.w);
  const int total_pairs = (a.k + 1) / 2;
  for (int n0 = n_begin; n0 < n_end; n0 += kCols) {
    const int cols = n_end - n0 < kCols ? n_end - n0 : kCols;
    loadBias(a, n0, cols, bias);
    for (int p0 = 0; p0 < total_pairs; p0 += kDepthPairs) {
      const int pairs = total_pairs - p0 < kDepthPairs ? total_pairs - p0 : kDepthPairs;
      // Full pairs are one 32-bit copy each; the odd last value and missing columns are padded.
      const int full_pairs = (a.k / 2 - p0) < pairs ? (a.k / 2 - p0) : pairs;
      for (int j = 0; j < kCols; ++j) {
        if (j >= cols) {
          for (int p = 0; p < pairs; ++p) panel[p * kCols + j] = 0;
          continue;
        }
        const uint16_t* row = w + static_cast<size_t>(n0 + j) * a.k + 2 * p0;
        for (int p = 0; p < full_pairs; ++p) {
          uint32_t pair;
          __builtin_memcpy(&pair, row + 2 * p, sizeof(pair));
          panel[p * kCols + j] = pair;
        }
        for (int p = full_pairs; p < pairs; ++p) panel[p * kCols + j] = row[2 * p];
      }
      for (int m0 = 0; m0 < a.m; m0 += kRows) {
        const int rows = a.m - m0 < kRows ? a.m - m0 : kRows;
        microKernelRows<kRows>(rows, x_bf16 + static_cast<size_t>(m0) * x_stride + 2 * p0, x_stride,
                               panel, pairs, a.out + static_cast<size_t>(m0) * a.n + n0, a.n,
                               p0 == 0, bias, cols);
      }
    }
  }
}

size_t packedBf16Bytes(int n, int k) {
  const size_t panels = (static_cast<size_t>(n) + kCols - 1) / kCols;
  const size_t pairs = (static_cast<size_t>(k) + 1) / 2;
  return panels * pairs * kCols * sizeof(uint32_t);
}

void packBf16Panels(const uint16_t* w, int n, int k, uint32_t* out, int panel_begin,
                    int panel_end) {
  const int pairs = (k + 1) / 2;
  for (int panel = panel_begin; panel < panel_end; ++panel) {
    uint32_t* dst = out + static_cast<size_t>(panel) * pairs * kCols;
    for (int j = 0; j < kCols; ++j) {
      const int col = panel * kCols + j;
      const uint16_t* row = w + static_cast<size_t>(col) * k;
      for (int p = 0; p < pairs; ++p) {
        uint32_t pair = 0;
        if (col < n) {
          const uint32_t lo = row[2 * p];
          const uint32_t hi = 2 * p + 1 < k ? row[2 * p + 1] : 0;
          pair = lo | (hi << 16);
        }
        dst[static_cast<size_t>(p) * kCols + j] = pair;
      }
    }
  }
}

void matmulBf16Packed(const MatmulArgs& a, const uint16_t* x_bf16, int x_stride, int panel_begin,
                      int panel_end) {
  alignas(64) float bias[kCols];
  const auto* packed = static_cast<const uint32_t*>(a.w);
  const int total_pairs = (a.k + 1) / 2;
  for (int panel_index = panel_begin; panel_index < panel_end; ++panel_index) {
    const int n0 = panel_index * kCols;
    const int cols = a.n - n0 < kCols ? a.n - n0 : kCols;
    loadBias(a, n0, cols, bias);
    const uint32_t* panel_base = packed + static_cast<size_t>(panel_index) * total_pairs * kCols;
    for (int p0 = 0; p0 < total_pairs; p0 += kDepthPairs) {
      const int pairs = total_pairs - p0 < kDepthPairs ? total_pairs - p0 : kDepthPairs;
      const uint32_t* panel = panel_base + static_cast<size_t>(p0) * kCols;
      float* out = a.out + n0;
      const uint16_t* x = x_bf16 + 2 * p0;
      for (int m0 = 0; m0 < a.m; m0 += kRows) {
        const int rows = a.m - m0 < kRows ? a.m - m0 : kRows;
        microKernelRows<kRows>(rows, x + static_cast<size_t>(m0) * x_stride, x_stride, panel,
                               pairs, out + static_cast<size_t>(m0) * a.n, a.n, p0 == 0, bias,
                               cols);
      }
    }
  }
}

}  // namespace manifold::kernels::cpu
