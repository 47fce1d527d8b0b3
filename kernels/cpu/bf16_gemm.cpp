// Compiled with AVX-512 BF16 flags (kernels/CMakeLists.txt); only plain types and intrinsics
// here, for the reason given in cpu_kernels.h.
#include "kernels/cpu/bf16_gemm.h"

#include <immintrin.h>

#include <cstddef>

#include "kernels/cpu/panel_gemm_impl.h"

namespace manifold::kernels::cpu {
namespace {

constexpr int kCols = kPanelColumns;
static_assert(kCols == kBf16PanelColumns);
// k pairs per panel block packed per call (matmulBf16DotProducts): 128 * 32 * 4 bytes = 16 KiB.
constexpr int kDepthPairs = 128;

// c[MR, 32] (+)= x[MR, 2 * pairs] * panel, panel [pairs, 32 columns, 2] BF16.
template <int MR>
void microKernel(const uint16_t* x, int x_stride, const uint32_t* panel, int pairs, float* out,
                 int ldo, bool first, const float* bias, int cols) {
  __m512 c0[MR];
  __m512 c1[MR];
  loadTile<MR>(c0, c1, out, ldo, first, bias, cols);
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
  storeTile<MR>(c0, c1, out, ldo, cols);
}

// One depth block of a panel against every row tile of x_bf16 (rows [0, m), row stride
// x_stride, already offset to the block's first pair).
void panelBlock(const MatmulArgs& a, const uint16_t* x, int x_stride, const uint32_t* panel,
                int pairs, float* out, bool first, const float* bias, int cols) {
  forEachRowTiles(a.m, [&](auto tile, int m0) {
    microKernel<decltype(tile)::value>(x + static_cast<size_t>(m0) * x_stride, x_stride, panel,
                                       pairs, out + static_cast<size_t>(m0) * a.n, a.n, first,
                                       bias, cols);
  });
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
      panelBlock(a, x_bf16 + 2 * p0, x_stride, panel, pairs, a.out + n0, p0 == 0, bias, cols);
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
  const int block_pairs = panelBlockDepth(total_pairs);
  for (int panel_index = panel_begin; panel_index < panel_end; ++panel_index) {
    const int n0 = panel_index * kCols;
    const int cols = a.n - n0 < kCols ? a.n - n0 : kCols;
    loadBias(a, n0, cols, bias);
    const uint32_t* panel_base = packed + static_cast<size_t>(panel_index) * total_pairs * kCols;
    for (int p0 = 0; p0 < total_pairs; p0 += block_pairs) {
      const int pairs = total_pairs - p0 < block_pairs ? total_pairs - p0 : block_pairs;
      panelBlock(a, x_bf16 + 2 * p0, x_stride, panel_base + static_cast<size_t>(p0) * kCols, pairs,
                 a.out + n0, p0 == 0, bias, cols);
    }
  }
}

}  // namespace manifold::kernels::cpu
