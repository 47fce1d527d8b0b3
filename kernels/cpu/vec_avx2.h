// 8-lane F32 vectors on AVX2 + FMA + F16C. Only avx2_kernels.cpp includes it, compiled with the
// matching -m flags. Same interface as vec_scalar.h.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/vec_types.h"

namespace manifold::kernels::cpu::avx2_isa {

struct Vec {
  using V = __m256;
  static constexpr int kWidth = 8;
  // Activation rows per dot-product matmul tile (2 x 4 accumulators: 4 x 4 would spill 16
  // registers).
  static constexpr int kDotRows = 2;
  // GEMM micro-kernel rows: 2 x 6 accumulators + 2 panel vectors + 1 broadcast of 16 registers.
  static constexpr int kGemmRows = 6;

  // BF16 pair order: one 32-byte load of 16 BF16 values, widened without shuffles: a 32-bit
  // shift left by 16 gives the even values as F32, masking off the low half gives the odd ones.
  // So lo holds w[0, 2, .., 14] and hi w[1, 3, .., 15].
  static constexpr int kBf16PairBlock = 16;
  static int bf16PairSource(int lane) { return lane < 8 ? 2 * lane : 2 * (lane - 8) + 1; }
  static void widenBf16Pair(__m256i bits, V& lo, V& hi) {
    lo = _mm256_castsi256_ps(_mm256_slli_epi32(bits, 16));
    hi = _mm256_castsi256_ps(
        _mm256_and_si256(bits, _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static void loadBf16Pair(const Bf16* p, V& lo, V& hi) {
    widenBf16Pair(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), lo, hi);
  }
  static void loadBf16PairTail(const Bf16* p, int n, V& lo, V& hi) {
    alignas(32) uint16_t tmp[16] = {};
    for (int i = 0; i < n && i < 16; ++i) tmp[i] = p[i].bits;
    widenBf16Pair(_mm256_load_si256(reinterpret_cast<const __m256i*>(tmp)), lo, hi);
  }

  static __m256i tailMask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V fromBf16Bits(__m128i bits) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
  }
  // Round to nearest even, NaN stays NaN (as common/dtype.h f32ToBf16).
  static __m128i toBf16Bits(V v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb));
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    rounded = _mm256_blendv_epi8(rounded, _mm256_or_si256(u, _mm256_set1_epi32(0x400000)), nan);
    const __m256i shifted = _mm256_srli_epi32(rounded, 16);
    return _mm_packus_epi32(_mm256_castsi256_si128(shifted), _mm256_extracti128_si256(shifted, 1));
  }
  template <typename T>
  static __m128i loadBitsTail(const T* p, int n) {
    alignas(16) uint16_t tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < n && i < 8; ++i) tmp[i] = p[i].bits;
    return _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
  }

  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load(const Bf16* p) {
    return fromBf16Bits(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static V load(const F16* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static V loadTail(const float* p, int n) {
    return n >= 8 ? load(p) : _mm256_maskload_ps(p, tailMask(n));
  }
  static V loadTail(const Bf16* p, int n) {
    return n >= 8 ? load(p) : fromBf16Bits(loadBitsTail(p, n));
  }
  static V loadTail(const F16* p, int n) {
    return n >= 8 ? load(p) : _mm256_cvtph_ps(loadBitsTail(p, n));
  }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void store(Bf16* p, V v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), toBf16Bits(v));
  }
  static void storeTail(float* p, V v, int n) {
    if (n >= 8) {
      store(p, v);
    } else {
      _mm256_maskstore_ps(p, tailMask(n), v);
    }
  }
  static void storeTail(Bf16* p, V v, int n) {
    alignas(16) uint16_t tmp[8];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), toBf16Bits(v));
    for (int i = 0; i < n && i < 8; ++i) p[i].bits = tmp[i];
  }

  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V keepFirst(V v, int n) {
    return n >= 8 ? v : _mm256_and_ps(v, _mm256_castsi256_ps(tailMask(n)));
  }
  static float reduceAdd(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // out[0..3] = reduceAdd of a, b, c, d, sharing the shuffles.
  static void reduceAdd4(V a, V b, V c, V d, float* out) {
    const V ab = _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
    const V cd = _mm256_add_ps(_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
    const __m256d abd = _mm256_castps_pd(ab);
    const __m256d cdd = _mm256_castps_pd(cd);
    const V abcd = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(abd, cdd)),
                                 _mm256_castpd_ps(_mm256_unpackhi_pd(abd, cdd)));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1)));
  }
  // Transposes the 8 x 8 matrix whose rows are r[0..7].
  static void transpose(V (&r)[8]) {
    V t[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    V u[8];
    for (int i = 0; i < 8; i += 4) {
      u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
      u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; ++i) {
      r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
      r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
  }
  static float reduceMax(V v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }

  // e^x, about 2 ulp on [-87, 88] (Cephes polynomial); below -87.3 (and -inf) gives 0.
  static V exp(V x) {
    const V underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3f));
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
    const V n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    V y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i pow2 =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    const V result = _mm256_mul_ps(y, _mm256_castsi256_ps(pow2));
    return _mm256_andnot_ps(underflow, result);
  }
  static float expScalar(float x) { return __builtin_expf(x); }
  static float sqrtScalar(float x) { return __builtin_sqrtf(x); }
  static float logScalar(float x) { return __builtin_logf(x); }
};

}  // namespace manifold::kernels::cpu::avx2_isa
