// Compiled with AVX-512 VNNI flags (kernels/CMakeLists.txt); only plain types and intrinsics
// here, for the reason given in cpu_kernels.h.
#include "kernels/cpu/int8_gemm.h"

#include <immintrin.h>

#include <cfloat>
#include <cmath>
#include <cstddef>

#include "kernels/cpu/panel_gemm_impl.h"

namespace manifold::kernels::cpu {
namespace {

constexpr int kCols = kPanelColumns;
static_assert(kCols == kW8A8PanelColumns);
constexpr int kQuadBytes = kCols * 4;  // one quad row of a panel: 32 columns x 4 depths

// What the last depth block of a panel applies to its INT32 sums.
struct Finish {
  const int32_t* offsets;  // 128 * sum of the column's INT8 values
  const float* scales;     // the columns' weight scales
  const float* bias;       // the columns' bias (zeros without one)
  const float* x_scales;   // the tile's rows' activation scales
};

// c[MR, 32] (+)= x_q[MR, 4 * quads] * panel in INT32, kept in `out` between depth blocks (the
// first block starts from zero). With `finish` (the last block) the tile is stored as
// F32 (c - offset) * (x_scale * scale) + bias.
template <int MR>
void microKernel(const uint8_t* x, int x_stride, const int8_t* panel, int quads, float* out,
                 int ldo, bool first, int cols, const Finish* finish) {
  __m512i c0[MR];
  __m512i c1[MR];
  for (int i = 0; i < MR; ++i) {
    if (first) {
      c0[i] = _mm512_setzero_si512();
      c1[i] = _mm512_setzero_si512();
    } else {
      c0[i] = _mm512_maskz_loadu_epi32(tailMask(cols), out + static_cast<size_t>(i) * ldo);
      c1[i] =
          _mm512_maskz_loadu_epi32(tailMask(cols - 16), out + static_cast<size_t>(i) * ldo + 16);
    }
  }
  const auto* x32 = reinterpret_cast<const int32_t*>(x);
  const int x32_stride = x_stride / 4;
  for (int q = 0; q < quads; ++q) {
    const __m512i w0 = _mm512_loadu_si512(panel + static_cast<size_t>(q) * kQuadBytes);
    const __m512i w1 = _mm512_loadu_si512(panel + static_cast<size_t>(q) * kQuadBytes + 64);
    for (int i = 0; i < MR; ++i) {
      const __m512i xv = _mm512_set1_epi32(x32[static_cast<size_t>(i) * x32_stride + q]);
      c0[i] = _mm512_dpbusd_epi32(c0[i], xv, w0);
      c1[i] = _mm512_dpbusd_epi32(c1[i], xv, w1);
    }
  }
  if (finish == nullptr) {
    for (int i = 0; i < MR; ++i) {
      _mm512_mask_storeu_epi32(out + static_cast<size_t>(i) * ldo, tailMask(cols), c0[i]);
      _mm512_mask_storeu_epi32(out + static_cast<size_t>(i) * ldo + 16, tailMask(cols - 16), c1[i]);
    }
    return;
  }
  const __m512i o0 = _mm512_loadu_si512(finish->offsets);
  const __m512i o1 = _mm512_loadu_si512(finish->offsets + 16);
  const __m512 s0 = _mm512_loadu_ps(finish->scales);
  const __m512 s1 = _mm512_loadu_ps(finish->scales + 16);
  const __m512 b0 = _mm512_loadu_ps(finish->bias);
  const __m512 b1 = _mm512_loadu_ps(finish->bias + 16);
  for (int i = 0; i < MR; ++i) {
    const __m512 row_scale = _mm512_set1_ps(finish->x_scales[i]);
    const __m512 r0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(c0[i], o0)),
                                      _mm512_mul_ps(s0, row_scale), b0);
    const __m512 r1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(c1[i], o1)),
                                      _mm512_mul_ps(s1, row_scale), b1);
    _mm512_mask_storeu_ps(out + static_cast<size_t>(i) * ldo, tailMask(cols), r0);
    _mm512_mask_storeu_ps(out + static_cast<size_t>(i) * ldo + 16, tailMask(cols - 16), r1);
  }
}

}  // namespace

bool cpuHasAvx512Vnni() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vnni");
}

size_t packedW8A8Bytes(int n, int k) {
  const size_t panels = (static_cast<size_t>(n) + kCols - 1) / kCols;
  const size_t quads = (static_cast<size_t>(k) + 3) / 4;
  return panels * quads * kQuadBytes + panels * kCols * (sizeof(float) + sizeof(int32_t));
}

void packW8A8Panel(const int8_t* q, const float* scales, int cols, int n, int k, int panel_index,
                   void* out) {
  const int quads = (k + 3) / 4;
  const size_t panels = (static_cast<size_t>(n) + kCols - 1) / kCols;
  auto* base = static_cast<int8_t*>(out);
  int8_t* dst = base + static_cast<size_t>(panel_index) * quads * kQuadBytes;
  auto* all_scales = reinterpret_cast<float*>(base + panels * quads * kQuadBytes);
  auto* all_offsets = reinterpret_cast<int32_t*>(all_scales + panels * kCols);
  float* scale_dst = all_scales + static_cast<size_t>(panel_index) * kCols;
  int32_t* offset_dst = all_offsets + static_cast<size_t>(panel_index) * kCols;
  for (int j = 0; j < kCols; ++j) {
    const int8_t* row = q + static_cast<size_t>(j) * k;
    int32_t sum = 0;
    for (int d = 0; d < quads * 4; ++d) {
      const int8_t value = j < cols && d < k ? row[d] : 0;
      dst[static_cast<size_t>(d / 4) * kQuadBytes + 4 * j + d % 4] = value;
      sum += value;
    }
    scale_dst[j] = j < cols ? scales[j] : 0.0f;
    offset_dst[j] = 128 * sum;
  }
}

void quantizeRowsToInt8(const float* x, int m, int k, uint8_t* out, int stride, float* scales) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  for (int i = 0; i < m; ++i) {
    const float* src = x + static_cast<size_t>(i) * k;
    __m512 max_abs = _mm512_setzero_ps();
    __mmask16 not_finite = 0;
    for (int j = 0; j < k; j += 16) {
      const __m512 v = _mm512_andnot_ps(sign, _mm512_maskz_loadu_ps(tailMask(k - j), src + j));
      // NLE_UQ: above FLT_MAX or unordered, so infinities and NaNs.
      not_finite |= _mm512_cmp_ps_mask(v, _mm512_set1_ps(FLT_MAX), _CMP_NLE_UQ);
      max_abs = _mm512_max_ps(max_abs, v);
    }
    const float row_max = _mm512_reduce_max_ps(max_abs);
    scales[i] = not_finite != 0 ? NAN : row_max / 127.0f;
    const __m512 inverse =
        _mm512_set1_ps(not_finite == 0 && row_max > 0.0f ? 127.0f / row_max : 0.0f);
    const __m512i lowest = _mm512_set1_epi32(-127);
    const __m512i highest = _mm512_set1_epi32(127);
    const __m512i offset = _mm512_set1_epi32(128);
    uint8_t* dst = out + static_cast<size_t>(i) * stride;
    for (int j = 0; j < stride; j += 16) {
      // Padding past k loads as 0 and stores as 128. Under the default rounding mode,
      // cvtps_epi32 rounds to nearest even, as nearbyint does.
      const __m512 v = _mm512_maskz_loadu_ps(tailMask(k - j), src + j);
      __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(v, inverse));
      q = _mm512_min_epi32(_mm512_max_epi32(q, lowest), highest);
      const __m128i bytes = _mm512_cvtepi32_epi8(_mm512_add_epi32(q, offset));
      _mm_mask_storeu_epi8(dst + j, tailMask(stride - j), bytes);
    }
  }
}

void matmulW8A8Packed(const MatmulArgs& a, const uint8_t* x_q, int x_stride, const float* x_scales,
                      int panel_begin, int panel_end) {
  alignas(64) float bias[kCols];
  const int total_quads = (a.k + 3) / 4;
  const size_t panel_bytes = static_cast<size_t>(total_quads) * kQuadBytes;
  const size_t panels = (static_cast<size_t>(a.n) + kCols - 1) / kCols;
  const auto* packed = static_cast<const int8_t*>(a.w);
  const auto* scales = reinterpret_cast<const float*>(packed + panels * panel_bytes);
  const auto* offsets = reinterpret_cast<const int32_t*>(scales + panels * kCols);
  const int block_quads = panelBlockDepth(total_quads);
  for (int panel_index = panel_begin; panel_index < panel_end; ++panel_index) {
    const int n0 = panel_index * kCols;
    const int cols = a.n - n0 < kCols ? a.n - n0 : kCols;
    loadBias(a, n0, cols, bias);
    const int8_t* panel_base = packed + static_cast<size_t>(panel_index) * panel_bytes;
    for (int q0 = 0; q0 < total_quads; q0 += block_quads) {
      const int quads = total_quads - q0 < block_quads ? total_quads - q0 : block_quads;
      const bool last = q0 + quads == total_quads;
      forEachRowTiles(a.m, [&](auto tile, int m0) {
        const Finish finish{offsets + n0, scales + n0, bias, x_scales + m0};
        microKernel<decltype(tile)::value>(
            x_q + static_cast<size_t>(m0) * x_stride + 4 * static_cast<size_t>(q0), x_stride,
            panel_base + static_cast<size_t>(q0) * kQuadBytes, quads,
            a.out + static_cast<size_t>(m0) * a.n + n0, a.n, q0 == 0, cols,
            last ? &finish : nullptr);
      });
    }
  }
}

}  // namespace manifold::kernels::cpu
