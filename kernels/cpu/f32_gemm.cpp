// Compiled with AVX-512 flags (kernels/CMakeLists.txt); only plain types and intrinsics here, for
// the reason given in cpu_kernels.h.
#include "kernels/cpu/f32_gemm.h"

#include <immintrin.h>

#include <cstddef>

#include "kernels/cpu/panel_gemm_impl.h"

namespace manifold::kernels::cpu {
namespace {

constexpr int kCols = kPanelColumns;
static_assert(kCols == kF32PanelColumns);

// c[MR, 32] (+)= x[MR, depth] * panel, panel [depth, 32].
template <int MR>
void microKernel(const float* x, int x_stride, const float* panel, int depth, float* out, int ldo,
                 bool first, const float* bias, int cols) {
  __m512 c0[MR];
  __m512 c1[MR];
  loadTile<MR>(c0, c1, out, ldo, first, bias, cols);
  for (int p = 0; p < depth; ++p) {
    const __m512 p0 = _mm512_loadu_ps(panel + p * kCols);
    const __m512 p1 = _mm512_loadu_ps(panel + p * kCols + 16);
    for (int i = 0; i < MR; ++i) {
      const __m512 xv = _mm512_set1_ps(x[static_cast<size_t>(i) * x_stride + p]);
      c0[i] = _mm512_fmadd_ps(xv, p0, c0[i]);
      c1[i] = _mm512_fmadd_ps(xv, p1, c1[i]);
    }
  }
  storeTile<MR>(c0, c1, out, ldo, cols);
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
  const int block_depth = panelBlockDepth(a.k);
  for (int panel_index = panel_begin; panel_index < panel_end; ++panel_index) {
    const int n0 = panel_index * kCols;
    const int cols = a.n - n0 < kCols ? a.n - n0 : kCols;
    loadBias(a, n0, cols, bias);
    const float* panel_base = packed + static_cast<size_t>(panel_index) * a.k * kCols;
    for (int p0 = 0; p0 < a.k; p0 += block_depth) {
      const int depth = a.k - p0 < block_depth ? a.k - p0 : block_depth;
      const float* panel = panel_base + static_cast<size_t>(p0) * kCols;
      forEachRowTiles(a.m, [&](auto tile, int m0) {
        microKernel<decltype(tile)::value>(a.x + static_cast<size_t>(m0) * a.k + p0, a.k, panel,
                                           depth, a.out + static_cast<size_t>(m0) * a.n + n0, a.n,
                                           p0 == 0, bias, cols);
      });
    }
  }
}

}  // namespace manifold::kernels::cpu
