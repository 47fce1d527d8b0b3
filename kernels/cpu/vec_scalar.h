// The one-lane "vector" for the portable scalar kernels. Same interface as vec_avx2.h and
// vec_avx512.h; only scalar_kernels.cpp includes it.
#pragma once

#include <cmath>
#include <cstring>

#include "common/dtype.h"
#include "kernels/cpu/vec_types.h"

namespace manifold::kernels::cpu::scalar_isa {

struct Vec {
  using V = float;
  static constexpr int kWidth = 1;
  // Activation rows per dot-product matmul tile (four rows of one-lane accumulators).
  static constexpr int kDotRows = 4;
  // No pair-order BF16 loads on the scalar path.
  static constexpr int kBf16PairBlock = 0;
  // No blocked GEMM on the scalar path (the dot-product form serves every m).
  static constexpr int kGemmRows = 0;
  static int bf16PairSource(int lane) { return lane; }

  static void prefetch(const void*) {}
  static V zero() { return 0.0f; }
  static V set1(float x) { return x; }
  static V load(const float* p) { return *p; }
  static V load(const Bf16* p) { return bf16ToF32(p->bits); }
  static V load(const F16* p) { return f16ToF32(p->bits); }
  template <typename T>
  static V loadTail(const T* p, int n) {
    return n > 0 ? load(p) : 0.0f;
  }
  static void store(float* p, V v) { *p = v; }
  static void store(Bf16* p, V v) { p->bits = f32ToBf16(v); }
  template <typename T>
  static void storeTail(T* p, V v, int n) {
    if (n > 0) store(p, v);
  }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  // Lanes at and past n become zero.
  static V keepFirst(V v, int n) { return n > 0 ? v : 0.0f; }
  static V fmadd(V a, V b, V c) { return a * b + c; }
  static V max(V a, V b) { return a > b ? a : b; }
  static float reduceAdd(V v) { return v; }
  // out[0..3] = reduceAdd of a, b, c, d.
  static void reduceAdd4(V a, V b, V c, V d, float* out) {
    out[0] = a;
    out[1] = b;
    out[2] = c;
    out[3] = d;
  }
  static float reduceMax(V v) { return v; }
  static void transpose(V (&)[1]) {}
  static V exp(V v) { return std::exp(v); }
  static float expScalar(float x) { return std::exp(x); }
  static float sqrtScalar(float x) { return std::sqrt(x); }
  static float logScalar(float x) { return std::log(x); }
};

}  // namespace manifold::kernels::cpu::scalar_isa
