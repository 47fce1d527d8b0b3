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
constexpr int kInt8PairBytes = kCols * 2;  // one pair row of an INT8 panel: 32 columns x 2 depths

// Where a micro-kernel's pair rows come from. Each yields, for pair p, the two vectors of the
// panel's 32 columns x 2 depths that vdpbf16ps multiplies.
struct Bf16Pairs {  // packed BF16 panels, as stored
  const uint32_t* panel;
  void load(int p, __m512bh& p0, __m512bh& p1) const {
    p0 = (__m512bh)_mm512_loadu_si512(panel + p * kCols);
    p1 = (__m512bh)_mm512_loadu_si512(panel + p * kCols + 16);
  }
};

struct Int8Pairs {  // packed INT8 panels, widened in registers (every INT8 value is exact in BF16)
  const int8_t* panel;
  static __m512 widen16(const int8_t* src) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)src)));
  }
  void load(int p, __m512bh& p0, __m512bh& p1) const {
    const int8_t* row = panel + p * kInt8PairBytes;
    p0 = _mm512_cvtne2ps_pbh(widen16(row + 16), widen16(row));
    p1 = _mm512_cvtne2ps_pbh(widen16(row + 48), widen16(row + 32));
  }
};

// c[MR, 32] (+)= x[MR, 2 * pairs] * panel. The first depth block starts from `start` (the bias,
// or zeros for INT8), later ones from what the previous block stored. With `scale` (the last
// block of an INT8 panel: the column's scale factors out of its sum) the tile is stored as
// c * scale + bias.
template <int MR, class Pairs>
void microKernel(const uint16_t* x, int x_stride, Pairs source, int pairs, float* out, int ldo,
                 bool first, const float* start, int cols, const float* scale, const float* bias) {
  __m512 c0[MR];
  __m512 c1[MR];
  loadTile<MR>(c0, c1, out, ldo, first, start, cols);
  const uint32_t* x32 = reinterpret_cast<const uint32_t*>(x);
  const int x32_stride = x_stride / 2;
  for (int p = 0; p < pairs; ++p) {
    __m512bh p0;
    __m512bh p1;
    source.load(p, p0, p1);
    for (int i = 0; i < MR; ++i) {
      const __m512bh xv = (__m512bh)_mm512_set1_epi32(
          static_cast<int>(x32[static_cast<size_t>(i) * x32_stride + p]));
      c0[i] = _mm512_dpbf16_ps(c0[i], xv, p0);
      c1[i] = _mm512_dpbf16_ps(c1[i], xv, p1);
    }
  }
  if (scale != nullptr) {
    const __m512 s0 = _mm512_loadu_ps(scale);
    const __m512 s1 = _mm512_loadu_ps(scale + 16);
    const __m512 b0 = _mm512_loadu_ps(bias);
    const __m512 b1 = _mm512_loadu_ps(bias + 16);
    for (int i = 0; i < MR; ++i) {
      c0[i] = _mm512_fmadd_ps(c0[i], s0, b0);
      c1[i] = _mm512_fmadd_ps(c1[i], s1, b1);
    }
  }
  storeTile<MR>(c0, c1, out, ldo, cols);
}

// One depth block of a panel against every row tile of x_bf16 (rows [0, m), row stride
// x_stride, already offset to the block's first pair).
template <class Pairs>
void panelBlock(const MatmulArgs& a, const uint16_t* x, int x_stride, Pairs source, int pairs,
                float* out, bool first, const float* start, int cols, const float* scale = nullptr,
                const float* bias = nullptr) {
  forEachRowTiles(a.m, [&](auto tile, int m0) {
    microKernel<decltype(tile)::value>(x + static_cast<size_t>(m0) * x_stride, x_stride, source,
                                       pairs, out + static_cast<size_t>(m0) * a.n, a.n, first,
                                       start, cols, scale, bias);
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
      panelBlock(a, x_bf16 + 2 * p0, x_stride, Bf16Pairs{panel}, pairs, a.out + n0, p0 == 0, bias,
                 cols);
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
      panelBlock(a, x_bf16 + 2 * p0, x_stride,
                 Bf16Pairs{panel_base + static_cast<size_t>(p0) * kCols}, pairs, a.out + n0,
                 p0 == 0, bias, cols);
    }
  }
}

size_t packedInt8Bytes(int n, int k) {
  const size_t panels = (static_cast<size_t>(n) + kCols - 1) / kCols;
  const size_t pairs = (static_cast<size_t>(k) + 1) / 2;
  return panels * pairs * kInt8PairBytes + panels * kCols * sizeof(float);
}

void packInt8Panel(const int8_t* q, const float* scales, int cols, int n, int k, int panel_index,
                   void* out) {
  const int pairs = (k + 1) / 2;
  const size_t panels = (static_cast<size_t>(n) + kCols - 1) / kCols;
  int8_t* dst =
      static_cast<int8_t*>(out) + static_cast<size_t>(panel_index) * pairs * kInt8PairBytes;
  float* scale_dst =
      reinterpret_cast<float*>(static_cast<int8_t*>(out) + panels * pairs * kInt8PairBytes) +
      static_cast<size_t>(panel_index) * kCols;
  for (int j = 0; j < kCols; ++j) {
    const int8_t* row = q + static_cast<size_t>(j) * k;
    for (int p = 0; p < pairs; ++p) {
      int8_t* pair = dst + static_cast<size_t>(p) * kInt8PairBytes + 2 * j;
      pair[0] = j < cols ? row[2 * p] : 0;
      pair[1] = j < cols && 2 * p + 1 < k ? row[2 * p + 1] : 0;
    }
    scale_dst[j] = j < cols ? scales[j] : 0.0f;
  }
}

void matmulInt8Packed(const MatmulArgs& a, const uint16_t* x_bf16, int x_stride, int panel_begin,
                      int panel_end) {
  alignas(64) float bias[kCols];
  alignas(64) static constexpr float kZeros[kCols] = {};
  const int total_pairs = (a.k + 1) / 2;
  const size_t panel_bytes = static_cast<size_t>(total_pairs) * kInt8PairBytes;
  const size_t panels = (static_cast<size_t>(a.n) + kCols - 1) / kCols;
  const auto* packed = static_cast<const int8_t*>(a.w);
  const auto* scales = reinterpret_cast<const float*>(packed + panels * panel_bytes);
  const int block_pairs = panelBlockDepth(total_pairs);
  // One row tile widens each pair row once in registers. Several (prefill) widen the block once
  // into BF16 panel form in L1/L2 and run the BF16 kernel over it for every tile: the same
  // products in the same order, so a row's result does not depend on the batch.
  const bool widen_once = a.m > kTileRows;
  alignas(64) uint32_t widened[kMaxPanelDepth * kCols];  // 96 KiB, one depth block
  for (int panel_index = panel_begin; panel_index < panel_end; ++panel_index) {
    const int n0 = panel_index * kCols;
    const int cols = a.n - n0 < kCols ? a.n - n0 : kCols;
    loadBias(a, n0, cols, bias);
    const int8_t* panel_base = packed + static_cast<size_t>(panel_index) * panel_bytes;
    for (int p0 = 0; p0 < total_pairs; p0 += block_pairs) {
      const int pairs = total_pairs - p0 < block_pairs ? total_pairs - p0 : block_pairs;
      const int8_t* block = panel_base + static_cast<size_t>(p0) * kInt8PairBytes;
      const float* scale = p0 + pairs == total_pairs ? scales + n0 : nullptr;
      const uint16_t* x = x_bf16 + 2 * p0;
      if (widen_once) {
        const Int8Pairs source{block};
        for (int p = 0; p < pairs; ++p) {
          __m512bh p0v;
          __m512bh p1v;
          source.load(p, p0v, p1v);
          _mm512_store_si512(widened + p * kCols, (__m512i)p0v);
          _mm512_store_si512(widened + p * kCols + 16, (__m512i)p1v);
        }
        panelBlock(a, x, x_stride, Bf16Pairs{widened}, pairs, a.out + n0, p0 == 0, kZeros, cols,
                   scale, bias);
      } else {
        panelBlock(a, x, x_stride, Int8Pairs{block}, pairs, a.out + n0, p0 == 0, kZeros, cols,
                   scale, bias);
      }
    }
  }
}

}  // namespace manifold::kernels::cpu
