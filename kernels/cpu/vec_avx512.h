// 16-lane F32 vectors on AVX-512 (F, BW, VL, DQ). Same interface as vec_scalar.h. Included by
// translation units compiled with (at least) the matching -m flags: avx512_kernels.cpp, and
// bf16_attention.cpp, which also has AVX-512 BF16 and so names its copy's namespace with
// MANIFOLD_AVX512_ISA: the inline members must not be shared between the two (cpu_kernels.h).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/vec_types.h"

#ifndef MANIFOLD_AVX512_ISA
#define MANIFOLD_AVX512_ISA avx512_isa
#endif

namespace manifold::kernels::cpu::MANIFOLD_AVX512_ISA {

struct Vec {
  using V = __m512;
  static constexpr int kWidth = 16;
  // Activation rows per dot-product matmul tile (4 x 4 accumulators of 32 registers).
  static constexpr int kDotRows = 4;
  // GEMM micro-kernel rows: 2 x 12 accumulators + 2 panel vectors + 1 broadcast of 32 registers.
  static constexpr int kGemmRows = 12;

  // BF16 pair order: one 64-byte load of 32 BF16 values, widened without shuffles: a 32-bit
  // shift left by 16 gives the even values as F32, masking off the low half gives the odd ones.
  // So lo holds w[0, 2, .., 30] and hi w[1, 3, .., 31].
  static constexpr int kBf16PairBlock = 32;
  static int bf16PairSource(int lane) { return lane < 16 ? 2 * lane : 2 * (lane - 16) + 1; }
  static void widenBf16Pair(__m512i bits, V& lo, V& hi) {
    lo = _mm512_castsi512_ps(_mm512_slli_epi32(bits, 16));
    hi = _mm512_castsi512_ps(
        _mm512_and_si512(bits, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static void loadBf16Pair(const Bf16* p, V& lo, V& hi) {
    widenBf16Pair(_mm512_loadu_si512(p), lo, hi);
  }
  static void loadBf16PairTail(const Bf16* p, int n, V& lo, V& hi) {
    const __mmask32 mask = n >= 32 ? ~__mmask32{0} : ((__mmask32{1} << n) - 1);
    widenBf16Pair(_mm512_maskz_loadu_epi16(mask, p), lo, hi);
  }

  static __mmask16 tailMask(int n) {
    if (n <= 0) return 0;
    return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
  }
  static V fromBf16Bits(__m256i bits) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
  }
  // Round to nearest even, NaN stays NaN (as common/dtype.h f32ToBf16).
  static __m256i toBf16Bits(V v) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    rounded = _mm512_mask_or_epi32(rounded, nan, u, _mm512_set1_epi32(0x400000));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16));
  }

  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load(const Bf16* p) {
    return fromBf16Bits(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static V load(const F16* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static V loadTail(const float* p, int n) { return _mm512_maskz_loadu_ps(tailMask(n), p); }
  static V loadTail(const Bf16* p, int n) {
    return fromBf16Bits(_mm256_maskz_loadu_epi16(tailMask(n), p));
  }
  static V loadTail(const F16* p, int n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(tailMask(n), p));
  }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void store(Bf16* p, V v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), toBf16Bits(v));
  }
  static void storeTail(float* p, V v, int n) { _mm512_mask_storeu_ps(p, tailMask(n), v); }
  static void storeTail(Bf16* p, V v, int n) {
    _mm256_mask_storeu_epi16(p, tailMask(n), toBf16Bits(v));
  }

  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V keepFirst(V v, int n) { return _mm512_maskz_mov_ps(tailMask(n), v); }
  static float reduceAdd(V v) { return _mm512_reduce_add_ps(v); }
  // out[0..3] = reduceAdd of a, b, c, d, sharing the shuffles.
  static void reduceAdd4(V a, V b, V c, V d, float* out) {
    const V ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    const V cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    const __m512d abd = _mm512_castps_pd(ab);
    const __m512d cdd = _mm512_castps_pd(cd);
    const V abcd = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(abd, cdd)),
                                 _mm512_castpd_ps(_mm512_unpackhi_pd(abd, cdd)));
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(abcd), _mm512_extractf32x8_ps(abcd, 1));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
  }
  static float reduceMax(V v) { return _mm512_reduce_max_ps(v); }
  // Transposes the 16 x 16 matrix whose rows are r[0..15].
  static void transpose(V (&r)[16]) {
    V t[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    const auto pd = [](V v) { return _mm512_castps_pd(v); };
    for (int i = 0; i < 16; i += 4) {
      r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[i]), pd(t[i + 2])));
      r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[i]), pd(t[i + 2])));
      r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[i + 1]), pd(t[i + 3])));
      r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[i + 1]), pd(t[i + 3])));
    }
    // Each 128-bit lane of r[i] now holds its row's part of a 4 x 4 block: gather the lanes of
    // rows i, i + 4, i + 8 and i + 12.
    for (int i = 0; i < 4; ++i) {
      const V a = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);  // lanes 0 and 2 of each
      const V b = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);  // lanes 1 and 3 of each
      const V c = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
      const V d = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
      t[i] = _mm512_shuffle_f32x4(a, c, 0x88);
      t[i + 4] = _mm512_shuffle_f32x4(b, d, 0x88);
      t[i + 8] = _mm512_shuffle_f32x4(a, c, 0xdd);
      t[i + 12] = _mm512_shuffle_f32x4(b, d, 0xdd);
    }
    for (int i = 0; i < 16; ++i) r[i] = t[i];
  }

  // e^x, about 2 ulp on [-87, 88] (Cephes polynomial); underflows to 0, -inf gives 0.
  static V exp(V x) {
    x = _mm512_min_ps(x, _mm512_set1_ps(88.7f));
    x = _mm512_max_ps(x, _mm512_set1_ps(-110.0f));
    const V n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    V y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(y, n);
  }
  static float expScalar(float x) { return __builtin_expf(x); }
  static float sqrtScalar(float x) { return __builtin_sqrtf(x); }
  static float logScalar(float x) { return __builtin_logf(x); }
};

}  // namespace manifold::kernels::cpu::MANIFOLD_AVX512_ISA
