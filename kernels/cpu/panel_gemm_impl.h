// The scaffolding the panel GEMMs share (bf16_gemm.cpp, f32_gemm.cpp): a 32-column output tile
// held in 2 x MR AVX-512 accumulators, started from the bias or the previous depth block and
// stored back with the panel's column tail masked, and the row-tile loop over m.
//
// Everything here has internal linkage on purpose: each including translation unit is compiled
// with its own -m flags, and an inline function with external linkage could be merged across
// them by the linker (cpu_kernels.h). Only plain types and intrinsics.
#pragma once

#include <immintrin.h>

#include <cstddef>

#include "kernels/cpu/cpu_kernels.h"

namespace manifold::kernels::cpu {
namespace {

constexpr int kPanelColumns = 32;  // two vectors of 16
constexpr int kTileRows = 12;      // 24 accumulators + 2 panel vectors + 1 broadcast

__mmask16 tailMask(int n) {
  if (n <= 0) return 0;
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
}

float biasValue(const MatmulArgs& a, int index) {
  if (a.bias == nullptr) return 0.0f;
  const auto* bits = static_cast<const uint16_t*>(a.bias);
  switch (a.bias_dtype) {
    case DType::kF32:
      return static_cast<const float*>(a.bias)[index];
    case DType::kBF16:
      return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(static_cast<int>(bits[index]) << 16)));
    case DType::kF16:
      return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits[index])));
    case DType::kI8:  // biases are float (common/dtype.h)
      break;
  }
  return 0.0f;
}

// bias[j] for the panel's columns n0 + j, zero past its `cols` real columns.
void loadBias(const MatmulArgs& a, int n0, int cols, float* bias) {
  for (int j = 0; j < kPanelColumns; ++j) bias[j] = j < cols ? biasValue(a, n0 + j) : 0.0f;
}

// The first depth block starts from the bias, later ones from what the previous one stored.
template <int MR>
void loadTile(__m512 (&c0)[MR], __m512 (&c1)[MR], const float* out, int ldo, bool first,
              const float* bias, int cols) {
  for (int i = 0; i < MR; ++i) {
    if (first) {
      c0[i] = _mm512_loadu_ps(bias);
      c1[i] = _mm512_loadu_ps(bias + 16);
    } else {
      c0[i] = _mm512_maskz_loadu_ps(tailMask(cols), out + static_cast<size_t>(i) * ldo);
      c1[i] = _mm512_maskz_loadu_ps(tailMask(cols - 16), out + static_cast<size_t>(i) * ldo + 16);
    }
  }
}

template <int MR>
void storeTile(const __m512 (&c0)[MR], const __m512 (&c1)[MR], float* out, int ldo, int cols) {
  for (int i = 0; i < MR; ++i) {
    _mm512_mask_storeu_ps(out + static_cast<size_t>(i) * ldo, tailMask(cols), c0[i]);
    _mm512_mask_storeu_ps(out + static_cast<size_t>(i) * ldo + 16, tailMask(cols - 16), c1[i]);
  }
}

// Packed panels are read in depth blocks of at most 768 depths (F32 values or BF16 pairs: 96 KiB
// of panel, which stays in L2 while every row tile of x runs against it; a 12-row tile of x for
// one block is 36 KiB). The depth is split evenly, so there is no short tail block whose
// accumulator loads and stores are not paid back: smollm2's k = 576 and 1536 run as one block.
// Measured in kernels_bench BM_MatmulPacked against the 16 KiB L1 blocks used before: +12-16% at
// m = 512 and +20-40% at m = 8; against 512-deep blocks, better at k = 576 and even at k = 14336.
constexpr int kMaxPanelDepth = 768;

// The depth of each block when `depth` values are split into as few blocks of at most
// kMaxPanelDepth as possible, evenly.
int panelBlockDepth(int depth) {
  const int blocks = (depth + kMaxPanelDepth - 1) / kMaxPanelDepth;
  return blocks <= 1 ? depth : (depth + blocks - 1) / blocks;
}

template <int N>
struct TileRows {
  static constexpr int value = N;
};

// Calls kernel(TileRows<R>{}, m0) for row tiles [m0, m0 + R) covering [0, m): R = kTileRows, then
// the remainder.
template <class Kernel, int MaxRows = kTileRows>
void forEachRowTile(int m0, int rows, Kernel&& kernel) {
  if constexpr (MaxRows >= 1) {
    if (rows == MaxRows) {
      kernel(TileRows<MaxRows>{}, m0);
    } else {
      forEachRowTile<Kernel, MaxRows - 1>(m0, rows, static_cast<Kernel&&>(kernel));
    }
  }
}

template <class Kernel>
void forEachRowTiles(int m, Kernel&& kernel) {
  for (int m0 = 0; m0 < m; m0 += kTileRows) {
    forEachRowTile(m0, m - m0 < kTileRows ? m - m0 : kTileRows, kernel);
  }
}

}  // namespace
}  // namespace manifold::kernels::cpu
