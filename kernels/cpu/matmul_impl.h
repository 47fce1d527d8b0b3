// Matrix products for the CPU kernels, over the same `Vec` abstraction as ops_impl.h.
//
// Dot-product form (small m, and every m where it measured best): each weight row is read once
// per call and reduced against up to Vec::kDotRows activation rows at a time (MB x NB register
// tile). BF16 weights are widened with a shift and a mask per 16 values, which yields the even
// and the odd values; the activations are permuted once per call into that order, so full F32
// precision is kept. Blocked GEMM (large m where it measured best): weights widened and
// transposed into L1-resident panels, broadcast-FMA micro-kernel. CpuBackend::useGemm chooses.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/impl_util.h"
#include "kernels/cpu/vec_types.h"

namespace manifold::kernels::cpu::impl {

template <typename W>
inline constexpr bool kIsBf16 = false;
template <>
inline constexpr bool kIsBf16<Bf16> = true;

// Permutes activation rows into Vec's BF16 pair order: within each block of kBf16PairBlock
// values, the kWidth values that loadBf16Pair puts in `lo` come first, then those in `hi`.
// x [m, k] -> out [m, stride], stride = k rounded up to the block, padding zeroed.
template <class Vec>
void packBf16Activations(const float* x, int m, int k, float* out) {
  constexpr int kBlock = Vec::kBf16PairBlock;
  if constexpr (kBlock > 0) {
    const int stride = (k + kBlock - 1) / kBlock * kBlock;
    for (int i = 0; i < m; ++i) {
      const float* src = x + static_cast<size_t>(i) * k;
      float* dst = out + static_cast<size_t>(i) * stride;
      for (int b = 0; b < stride; b += kBlock) {
        for (int lane = 0; lane < kBlock; ++lane) {
          const int index = b + Vec::bf16PairSource(lane);
          dst[b + lane] = index < k ? src[index] : 0.0f;
        }
      }
    }
  }
}

// out[i, j] = sum of acc[i][j]'s lanes + bias[j]; four columns share one reduction (short k,
// as in small models, would otherwise spend as long reducing as multiplying).
template <class Vec, int MB, int NB>
void storeTile(const typename Vec::V (&acc)[MB][NB], float* out, int ldo, const float* bias) {
  for (int i = 0; i < MB; ++i) {
    float* row = out + static_cast<size_t>(i) * ldo;
    if constexpr (NB == 4) {
      float sums[4];
      Vec::reduceAdd4(acc[i][0], acc[i][1], acc[i][2], acc[i][3], sums);
      for (int j = 0; j < 4; ++j) row[j] = sums[j] + bias[j];
    } else {
      for (int j = 0; j < NB; ++j) row[j] = Vec::reduceAdd(acc[i][j]) + bias[j];
    }
  }
}

// Independent accumulators per weight row in the matrix-vector tiles: enough FMA chains in
// flight to keep up with one streaming core.
inline constexpr int kMatvecUnroll = 4;

// 1 x NB tile (decode's matrix-vector product): one weight row at a time, front to back. The
// rows of a tile are contiguous, so the whole matrix is read as one sequential stream, which the
// hardware prefetcher follows at close to the core's DRAM bandwidth; interleaving NB rows (NB
// streams 4*k bytes apart) plus software prefetches reached only about half of it (Zen 5: 14
// against 30 GB/s on a 113 MB LM head).
template <class Vec, typename W, int NB>
void matvecTile(const float* x, int k, const W* w, float* out, const float* bias) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  constexpr int kU = kMatvecUnroll;
  static_assert(kU == 4);
  V sums[1][NB];
  for (int j = 0; j < NB; ++j) {
    const W* row = w + static_cast<size_t>(j) * k;
    V acc[kU];
    for (int u = 0; u < kU; ++u) acc[u] = Vec::zero();
    int kk = 0;
    for (; kk + kU * kW <= k; kk += kU * kW) {
      for (int u = 0; u < kU; ++u) {
        acc[u] = Vec::fmadd(Vec::load(x + kk + u * kW), Vec::load(row + kk + u * kW), acc[u]);
      }
    }
    for (; kk + kW <= k; kk += kW) {
      acc[0] = Vec::fmadd(Vec::load(x + kk), Vec::load(row + kk), acc[0]);
    }
    if (kk < k) {
      acc[1] = Vec::fmadd(Vec::loadTail(x + kk, k - kk), Vec::loadTail(row + kk, k - kk), acc[1]);
    }
    sums[0][j] = Vec::add(Vec::add(acc[0], acc[1]), Vec::add(acc[2], acc[3]));
  }
  storeTile<Vec, 1, NB>(sums, out, 0, bias);
}

// MB x NB output tile: rows x[0..MB) against weight rows w[0..NB), reduced over k.
template <class Vec, typename W, int MB, int NB>
void matmulTile(const float* x, int k, const W* w, float* out, int ldo, const float* bias) {
  if constexpr (MB == 1) return matvecTile<Vec, W, NB>(x, k, w, out, bias);
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  V acc[MB][NB];
  for (int i = 0; i < MB; ++i) {
    for (int j = 0; j < NB; ++j) acc[i][j] = Vec::zero();
  }
  int kk = 0;
  for (; kk + kW <= k; kk += kW) {
    V wv[NB];
    for (int j = 0; j < NB; ++j) wv[j] = Vec::load(w + static_cast<size_t>(j) * k + kk);
    // The next NB weight rows, one step at a time: single-core DRAM streams need more
    // requests in flight than the hardware prefetcher issues for NB interleaved rows.
    for (int j = 0; j < NB; ++j) Vec::prefetch(w + static_cast<size_t>(j + NB) * k + kk);
    for (int i = 0; i < MB; ++i) {
      const V xv = Vec::load(x + static_cast<size_t>(i) * k + kk);
      for (int j = 0; j < NB; ++j) acc[i][j] = Vec::fmadd(xv, wv[j], acc[i][j]);
    }
  }
  if (kk < k) {
    const int left = k - kk;
    V wv[NB];
    for (int j = 0; j < NB; ++j) wv[j] = Vec::loadTail(w + static_cast<size_t>(j) * k + kk, left);
    for (int i = 0; i < MB; ++i) {
      const V xv = Vec::loadTail(x + static_cast<size_t>(i) * k + kk, left);
      for (int j = 0; j < NB; ++j) acc[i][j] = Vec::fmadd(xv, wv[j], acc[i][j]);
    }
  }
  storeTile<Vec, MB, NB>(acc, out, ldo, bias);
}

// As matmulTile for BF16 weights on SIMD paths: xp holds the activation rows permuted into
// Vec's BF16 pair order (packBf16Activations), row stride xp_stride, zero-padded to a multiple of
// Vec::kBf16PairBlock.
// As matvecTile for matmulTileBf16Pairs: one weight row at a time, two blocks per step.
template <class Vec, int NB>
void matvecTileBf16Pairs(const float* xp, int k, const Bf16* w, float* out, const float* bias) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  constexpr int kBlock = Vec::kBf16PairBlock;
  static_assert(kMatvecUnroll == 4);
  V sums[1][NB];
  for (int j = 0; j < NB; ++j) {
    const Bf16* row = w + static_cast<size_t>(j) * k;
    V acc[4] = {Vec::zero(), Vec::zero(), Vec::zero(), Vec::zero()};
    int kk = 0;
    for (; kk + 2 * kBlock <= k; kk += 2 * kBlock) {
      V lo0, hi0, lo1, hi1;
      Vec::loadBf16Pair(row + kk, lo0, hi0);
      Vec::loadBf16Pair(row + kk + kBlock, lo1, hi1);
      acc[0] = Vec::fmadd(Vec::load(xp + kk), lo0, acc[0]);
      acc[1] = Vec::fmadd(Vec::load(xp + kk + kW), hi0, acc[1]);
      acc[2] = Vec::fmadd(Vec::load(xp + kk + kBlock), lo1, acc[2]);
      acc[3] = Vec::fmadd(Vec::load(xp + kk + kBlock + kW), hi1, acc[3]);
    }
    if (kk + kBlock <= k) {
      V lo, hi;
      Vec::loadBf16Pair(row + kk, lo, hi);
      acc[0] = Vec::fmadd(Vec::load(xp + kk), lo, acc[0]);
      acc[1] = Vec::fmadd(Vec::load(xp + kk + kW), hi, acc[1]);
      kk += kBlock;
    }
    if (kk < k) {  // the tail, zero-padded in both operands
      V lo, hi;
      Vec::loadBf16PairTail(row + kk, k - kk, lo, hi);
      acc[2] = Vec::fmadd(Vec::load(xp + kk), lo, acc[2]);
      acc[3] = Vec::fmadd(Vec::load(xp + kk + kW), hi, acc[3]);
    }
    sums[0][j] = Vec::add(Vec::add(acc[0], acc[1]), Vec::add(acc[2], acc[3]));
  }
  storeTile<Vec, 1, NB>(sums, out, 0, bias);
}

template <class Vec, int MB, int NB>
void matmulTileBf16Pairs(const float* xp, int xp_stride, int k, const Bf16* w, float* out, int ldo,
                         const float* bias) {
  if constexpr (MB == 1) return matvecTileBf16Pairs<Vec, NB>(xp, k, w, out, bias);
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  constexpr int kBlock = Vec::kBf16PairBlock;
  V acc[MB][NB];
  for (int i = 0; i < MB; ++i) {
    for (int j = 0; j < NB; ++j) acc[i][j] = Vec::zero();
  }
  int kk = 0;
  for (; kk + kBlock <= k; kk += kBlock) {
    V lo[NB];
    V hi[NB];
    for (int j = 0; j < NB; ++j) {
      Vec::loadBf16Pair(w + static_cast<size_t>(j) * k + kk, lo[j], hi[j]);
      Vec::prefetch(w + static_cast<size_t>(j + NB) * k + kk);
    }
    for (int i = 0; i < MB; ++i) {
      const V xl = Vec::load(xp + static_cast<size_t>(i) * xp_stride + kk);
      const V xh = Vec::load(xp + static_cast<size_t>(i) * xp_stride + kk + kW);
      for (int j = 0; j < NB; ++j)
        acc[i][j] = Vec::fmadd(xh, hi[j], Vec::fmadd(xl, lo[j], acc[i][j]));
    }
  }
  if (kk < k) {  // the tail, zero-padded in both operands
    V lo[NB];
    V hi[NB];
    for (int j = 0; j < NB; ++j) {
      Vec::loadBf16PairTail(w + static_cast<size_t>(j) * k + kk, k - kk, lo[j], hi[j]);
    }
    for (int i = 0; i < MB; ++i) {
      const V xl = Vec::load(xp + static_cast<size_t>(i) * xp_stride + kk);
      const V xh = Vec::load(xp + static_cast<size_t>(i) * xp_stride + kk + kW);
      for (int j = 0; j < NB; ++j)
        acc[i][j] = Vec::fmadd(xh, hi[j], Vec::fmadd(xl, lo[j], acc[i][j]));
    }
  }
  storeTile<Vec, MB, NB>(acc, out, ldo, bias);
}

// Rows [m_begin, m_end) of one NB-column group, in tiles of up to four rows.
template <class Vec, typename W, int NB>
void matmulColumns(const MatmulArgs& a, const W* w, float* out, const float* bias, int m_begin,
                   int m_end) {
  constexpr int kMB = Vec::kDotRows;
  static_assert(kMB == 2 || kMB == 4);
  for (int m0 = m_begin; m0 < m_end; m0 += kMB) {
    const int rows = minOf(kMB, m_end - m0);
    float* o = out + static_cast<size_t>(m0) * a.n;
    if constexpr (kIsBf16<W> && Vec::kBf16PairBlock > 0) {
      const float* xp = a.x_packed + static_cast<size_t>(m0) * a.x_packed_stride;
      const int s = a.x_packed_stride;
      switch (rows) {
        case 4:
          if constexpr (kMB == 4) matmulTileBf16Pairs<Vec, 4, NB>(xp, s, a.k, w, o, a.n, bias);
          break;
        case 3:
          if constexpr (kMB == 4) matmulTileBf16Pairs<Vec, 3, NB>(xp, s, a.k, w, o, a.n, bias);
          break;
        case 2:
          matmulTileBf16Pairs<Vec, 2, NB>(xp, s, a.k, w, o, a.n, bias);
          break;
        default:
          matmulTileBf16Pairs<Vec, 1, NB>(xp, s, a.k, w, o, a.n, bias);
          break;
      }
    } else {
      const float* x = a.x + static_cast<size_t>(m0) * a.k;
      switch (rows) {
        case 4:
          if constexpr (kMB == 4) matmulTile<Vec, W, 4, NB>(x, a.k, w, o, a.n, bias);
          break;
        case 3:
          if constexpr (kMB == 4) matmulTile<Vec, W, 3, NB>(x, a.k, w, o, a.n, bias);
          break;
        case 2:
          matmulTile<Vec, W, 2, NB>(x, a.k, w, o, a.n, bias);
          break;
        default:
          matmulTile<Vec, W, 1, NB>(x, a.k, w, o, a.n, bias);
          break;
      }
    }
  }
}

template <class Vec>
float biasValue(const MatmulArgs& a, int index) {
  if (a.bias == nullptr) return 0.0f;
  switch (a.bias_dtype) {
    case DType::kF32:
      return static_cast<const float*>(a.bias)[index];
    case DType::kBF16:
      return loadScalar<Vec>(static_cast<const Bf16*>(a.bias) + index);
    case DType::kF16:
      return loadScalar<Vec>(static_cast<const F16*>(a.bias) + index);
    case DType::kI8:  // stored quantized weights only (common/dtype.h)
      break;
  }
  return 0.0f;
}

// Dot-product form for small m: output columns [n_begin, n_end) in groups of four weight rows.
template <class Vec, typename W>
void matmulDot(const MatmulArgs& a, int n_begin, int n_end) {
  constexpr int kNB = 4;
  // Rows of x per pass: the x panel stays in L2 while the weight rows stream past it.
  constexpr int kMBlock = 64;
  const W* w = static_cast<const W*>(a.w);
  float bias[kNB];
  for (int mb = 0; mb < a.m; mb += kMBlock) {
    const int mb_end = minOf(a.m, mb + kMBlock);
    for (int n0 = n_begin; n0 < n_end; n0 += kNB) {
      const int nb = minOf(kNB, n_end - n0);
      for (int j = 0; j < nb; ++j) bias[j] = a.bias == nullptr ? 0.0f : biasValue<Vec>(a, n0 + j);
      const W* wr = w + static_cast<size_t>(n0) * a.k;
      if (nb == kNB) {
        matmulColumns<Vec, W, kNB>(a, wr, a.out + n0, bias, mb, mb_end);
      } else {
        for (int j = 0; j < nb; ++j) {
          matmulColumns<Vec, W, 1>(a, wr + static_cast<size_t>(j) * a.k, a.out + n0 + j, bias + j,
                                   mb, mb_end);
        }
      }
    }
  }
}

// GEMM micro-kernel: c[MR, 2 * kWidth] (+)= x[MR, kc] * panel[kc, 2 * kWidth], with the x rows
// broadcast one value at a time and the panel (packed weights) read as two vectors per k.
// first: start from bias instead of out. cols: valid output columns (the rest is padding).
template <class Vec, int MR>
void gemmMicroKernel(const float* x, int ldx, const float* panel, int kc, float* out, int ldo,
                     bool first, const float* bias, int cols) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  V c0[MR];
  V c1[MR];
  if (first) {
    const V b0 = Vec::load(bias);
    const V b1 = Vec::load(bias + kW);
    for (int i = 0; i < MR; ++i) {
      c0[i] = b0;
      c1[i] = b1;
    }
  } else {
    for (int i = 0; i < MR; ++i) {
      c0[i] = Vec::loadTail(out + static_cast<size_t>(i) * ldo, cols);
      c1[i] = Vec::loadTail(out + static_cast<size_t>(i) * ldo + kW, cols - kW);
    }
  }
  for (int kk = 0; kk < kc; ++kk) {
    const V p0 = Vec::load(panel + kk * 2 * kW);
    const V p1 = Vec::load(panel + kk * 2 * kW + kW);
    for (int i = 0; i < MR; ++i) {
      const V xv = Vec::set1(x[static_cast<size_t>(i) * ldx + kk]);
      c0[i] = Vec::fmadd(xv, p0, c0[i]);
      c1[i] = Vec::fmadd(xv, p1, c1[i]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    Vec::storeTail(out + static_cast<size_t>(i) * ldo, c0[i], cols);
    Vec::storeTail(out + static_cast<size_t>(i) * ldo + kW, c1[i], cols - kW);
  }
}

// Calls gemmMicroKernel with MR = rows (1 <= rows <= MaxRows), chosen at run time.
template <class Vec, int MaxRows>
void gemmRows(int rows, const float* x, int ldx, const float* panel, int kc, float* out, int ldo,
              bool first, const float* bias, int cols) {
  if constexpr (MaxRows >= 1) {
    if (rows == MaxRows) {
      gemmMicroKernel<Vec, MaxRows>(x, ldx, panel, kc, out, ldo, first, bias, cols);
    } else {
      gemmRows<Vec, MaxRows - 1>(rows, x, ldx, panel, kc, out, ldo, first, bias, cols);
    }
  }
}

// Blocked GEMM for large m (prefill), GotoBLAS-style: for each panel of 2 * kWidth output
// columns and each block of kGemmDepth values of k, the weights are widened and transposed once
// into an L1-resident panel [kc, 2 * kWidth], then every tile of kGemmRows x rows runs the
// micro-kernel against it. Output columns [n_begin, n_end).
template <class Vec, typename W>
void matmulGemm(const MatmulArgs& a, int n_begin, int n_end) {
  constexpr int kW = Vec::kWidth;
  constexpr int kNR = 2 * kW;
  constexpr int kMR = Vec::kGemmRows;
  constexpr int kKC = 256;
  alignas(64) float panel[kKC * kNR];  // [kc, kNR]
  alignas(64) float bias[kNR];
  alignas(64) float row[kKC];  // one weight row of the block, widened
  const W* w = static_cast<const W*>(a.w);
  for (int n0 = n_begin; n0 < n_end; n0 += kNR) {
    const int cols = minOf(kNR, n_end - n0);
    for (int j = 0; j < kNR; ++j) bias[j] = j < cols ? biasValue<Vec>(a, n0 + j) : 0.0f;
    for (int kc0 = 0; kc0 < a.k; kc0 += kKC) {
      const int kc = minOf(kKC, a.k - kc0);
      for (int j = 0; j < kNR; ++j) {
        if (j < cols) {
          convertRow<Vec>(w + static_cast<size_t>(n0 + j) * a.k + kc0, row, kc);
          for (int kk = 0; kk < kc; ++kk) panel[kk * kNR + j] = row[kk];
        } else {
          for (int kk = 0; kk < kc; ++kk) panel[kk * kNR + j] = 0.0f;
        }
      }
      for (int m0 = 0; m0 < a.m; m0 += kMR) {
        const int rows = minOf(kMR, a.m - m0);
        gemmRows<Vec, kMR>(rows, a.x + static_cast<size_t>(m0) * a.k + kc0, a.k, panel, kc,
                           a.out + static_cast<size_t>(m0) * a.n + n0, a.n, kc0 == 0, bias, cols);
      }
    }
  }
}

template <class Vec, typename W>
void matmul(const MatmulArgs& a, int n_begin, int n_end) {
  if constexpr (Vec::kGemmRows > 0) {
    if (a.use_gemm) return matmulGemm<Vec, W>(a, n_begin, n_end);
  }
  matmulDot<Vec, W>(a, n_begin, n_end);
}

template <class Vec>
void matmulAny(const MatmulArgs& a, int n_begin, int n_end) {
  switch (a.w_dtype) {
    case DType::kF32:
      return matmul<Vec, float>(a, n_begin, n_end);
    case DType::kBF16:
      return matmul<Vec, Bf16>(a, n_begin, n_end);
    case DType::kF16:
      return matmul<Vec, F16>(a, n_begin, n_end);
    case DType::kI8:  // packed by packMatmulWeightInt8, never row-major (common/dtype.h)
      break;
  }
}

}  // namespace manifold::kernels::cpu::impl
