// Loops over one vocabulary row, written so that GCC and Clang vectorise them at -O2/-O3 with
// -fno-trapping-math (set for manifold_sampler): independent accumulators for the reductions and
// selects instead of branches. Sums are in double; the association order is fixed (eight lanes),
// so a result never depends on anything but the row.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "engine/sampler/fast_exp.h"

// Marks a function whose row loops should also be compiled for AVX2, chosen at run time (the binary
// must run on any x86-64, so no -march). Put it on a non-inline function that calls the helpers
// below; they inline into each clone. Not under ThreadSanitizer: the clones' resolver runs while
// the dynamic loader relocates, before the TSan runtime is up, and its instrumentation crashes.
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(__SANITIZE_THREAD__)
#define MANIFOLD_ROW_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define MANIFOLD_ROW_KERNEL
#endif

namespace manifold {

inline constexpr size_t kRowLanes = 8;

// The largest value; NaN is skipped; -inf for an empty or all -inf / NaN row.
[[nodiscard]] inline float rowMax(std::span<const float> values) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  std::array<float, kRowLanes> best;
  best.fill(kNegInf);
  size_t i = 0;
  for (; i + kRowLanes <= values.size(); i += kRowLanes) {
    for (size_t lane = 0; lane < kRowLanes; ++lane) {
      best[lane] = values[i + lane] > best[lane] ? values[i + lane] : best[lane];
    }
  }
  float result = kNegInf;
  for (float lane_best : best) result = lane_best > result ? lane_best : result;
  for (; i < values.size(); ++i) result = values[i] > result ? values[i] : result;
  return result;
}

// The lowest index holding `value`. REQUIRES: the row contains it.
[[nodiscard]] inline int32_t rowFirstIndexOf(std::span<const float> values, float value) {
  size_t i = 0;
  while (values[i] != value) ++i;
  return static_cast<int32_t>(i);
}

[[nodiscard]] inline double rowSum(std::span<const float> values) {
  std::array<double, kRowLanes> sums{};
  size_t i = 0;
  for (; i + kRowLanes <= values.size(); i += kRowLanes) {
    for (size_t lane = 0; lane < kRowLanes; ++lane) sums[lane] += values[i + lane];
  }
  double result = 0.0;
  for (double lane_sum : sums) result += lane_sum;
  for (; i < values.size(); ++i) result += values[i];
  return result;
}

// sum_i exp(values[i] - max_value), NaN counting as -inf. REQUIRES: max_value is finite and no
// value exceeds it.
[[nodiscard]] inline double rowSumExp(std::span<const float> values, float max_value) {
  std::array<double, kRowLanes> sums{};
  size_t i = 0;
  auto term = [&](float value) {
    const float cleaned = value == value ? value : -std::numeric_limits<float>::infinity();
    return fastExpNonPositive(cleaned - max_value);
  };
  for (; i + kRowLanes <= values.size(); i += kRowLanes) {
    for (size_t lane = 0; lane < kRowLanes; ++lane) sums[lane] += term(values[i + lane]);
  }
  double result = 0.0;
  for (double lane_sum : sums) result += lane_sum;
  for (; i < values.size(); ++i) result += term(values[i]);
  return result;
}

}  // namespace manifold
