// Compiled with AVX-512 flags (kernels/CMakeLists.txt); only plain types and intrinsics here, for
// the reason given in cpu_kernels.h.
#include "kernels/cpu/f32_gemm.h"

#include <immintrin.h>

#include <cstddef>

namespace manifold::kernels::cpu {
namespace {

constexpr int kRows = 12;    // micro-kernel rows: 24 accumulators + 2 panel + 1 broadcast
constexpr int kCols = kF32PanelColumns;  // two vectors of 16
constexpr int kDepth = 128;  // k per depth block: 128 * 32 * 4 bytes = 16 KiB of panel, L1

__mmask16 tailMask(int n) {
  if (n <= 0) return 0;
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
}

float biasValue(const MatmulArgs& a, int index) {
  if (a.bias == nullptr) return 0.0f;
  switch (a.bias_dtype) {
    case DType::kF32:
      return static_cast<const float*>(a.bias)[index];
    case DType::kBF16:
      return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(
          static_cast<int>(static_cast<const uint16_t*>(a.bias)[index]) << 16)));
    case DType::kF16:
      return _mm_cvtss_f32(
          _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<const uint16_t*>(a.bias)[index])));
  }
  return 0.0f;
}

// c[MR, 32] (+)= x[MR, depth] * panel, panel [depth, 32].
template <int MR>
void microKernel(const float* x, int x_stride, const float* panel, int depth, float* out, int ldo,
                 bool first, const float* bias, int cols) {
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
  for (int p = 0; p < depth; ++p) {
    const __m512 p0 = _mm512_loadu_ps(panel + p * kCols);
    const __m512 p1 = _mm512_loadu_ps(panel + p * kCols + 16);
    for (int i = 0; i < MR; ++i) {
      const __m512 xv = _mm512_set1_ps(x[static_cast<size_t>(i) * x_stride + p]);
      c0[i] = _mm512_fmadd_ps(xv, p0, c0[i]);
      c1[i] = _mm512_fmadd_ps(xv, p1, c1[i]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    _mm512_mask_storeu_ps(out + static_cast<size_t>(i) * ldo, tailMask(cols), c0[i]);
    _mm512_mask_storeu_ps(out + static_cast<size_t>(i) * ldo + 16, tailMask(cols - 16), c1[i]);
  }
}

template <int MaxRows>
void microKernelRows(int rows, const float* x, int x_stride, const float* panel, int depth,
                     float* out, int ldo, bool first, const float* bias, int cols) {
  if constexpr (MaxRows >= 1) {
    if (rows == MaxRows) {
      microKernel<MaxRows>(x, x_stride, panel, depth, out, ldo, first, bias, cols);
    } else {
      microKernelRows<MaxRows - 1>(rows, x, x_stride, panel, depth, out, ldo, first, bias, cols);
    }
  }
}

}  // namespace

size_t packedF32Bytes(int n, int k) {
  const size_t panels = (static_cast<size_t>(n) + kCols - 1) / kCols;
  return panels * static_cast<size_t>(k) * kCols * sizeof(float);
}

void packF32Panels(const float* w, int n, int k, float* out, int panel_begin, int panel_end) {
  for (int panel = panel_begin; panel < panel_end; ++panel) {
    float* dst = out + static_cast<size_t>(panel) * k * kCols;
    for (int j = 0; j < kCols; ++j) {
      const int col = panel * kCols + j;
      const float* row = w + static_cast<size_t>(col) * k;
      for (int p = 0; p < k; ++p) dst[static_cast<size_t>(p) * kCols + j] = col < n ? row[p] : 0.0f;
    }
  }
}

void matmulF32Packed(const MatmulArgs& a, int panel_begin, int panel_end) {
  alignas(64) float bias[kCols];
  const auto* packed = static_cast<const float*>(a.w);
  for (int panel_index = panel_begin; panel_index < panel_end; ++panel_index) {
    const int n0 = panel_index * kCols;
    const int cols = a.n - n0 < kCols ? a.n - n0 : kCols;
    for (int j = 0; j < kCols; ++j) bias[j] = j < cols ? biasValue(a, n0 + j) : 0.0f;
    const float* panel_base = packed + static_cast<size_t>(panel_index) * a.k * kCols;
    for (int p0 = 0; p0 < a.k; p0 += kDepth) {
      const int depth = a.k - p0 < kDepth ? a.k - p0 : kDepth;
      const float* panel = panel_base + static_cast<size_t>(p0) * kCols;
      for (int m0 = 0; m0 < a.m; m0 += kRows) {
        const int rows = a.m - m0 < kRows ? a.m - m0 : kRows;
        microKernelRows<kRows>(rows, a.x + static_cast<size_t>(m0) * a.k + p0, a.k, panel, depth,
                               a.out + static_cast<size_t>(m0) * a.n + n0, a.n, p0 == 0, bias,
                               cols);
      }
    }
  }
}

}  // namespace manifold::kernels::cpu
