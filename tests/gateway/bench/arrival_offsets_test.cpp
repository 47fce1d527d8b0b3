// The arrival process of `manifold bench serve` (arrivalOffsets): vLLM's get_request.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gateway/bench/request_scheduler.h"

namespace manifold::bench {
namespace {

// --request-rate and --burstiness as vLLM's get_request: gaps drawn from a gamma distribution of
// shape `burstiness` with mean 1 / rate, so the squared coefficient of variation of the gaps is
// 1 / burstiness (1: Poisson arrivals).
TEST(ArrivalOffsets, GapsHaveTheRequestedMeanAndBurstiness) {
  constexpr size_t kCount = 40001;
  for (double burstiness : {1.0, 0.25, 4.0}) {
    std::mt19937_64 rng(7);
    const std::vector<double> offsets = arrivalOffsets(kCount, 20.0, burstiness, rng);
    ASSERT_EQ(offsets.size(), kCount);
    double sum = 0.0, sum_sq = 0.0;
    for (size_t i = 0; i < kCount; ++i) {
      const double gap = offsets[i] - (i > 0 ? offsets[i - 1] : 0.0);  // the first waits too
      ASSERT_GE(gap, 0.0);
      sum += gap;
      sum_sq += gap * gap;
    }
    const double n = kCount;
    const double mean = sum / n;
    const double cv2 = (sum_sq / n - mean * mean) / (mean * mean);
    // Within 5 standard errors: the mean's relative error is sqrt(CV^2 / n); the sample CV^2's,
    // by the delta method for a gamma of shape k, is sqrt((2 + 2 / k) / n).
    const double mean_tol = 5.0 * std::sqrt(1.0 / burstiness / n) / 20.0;
    const double cv2_tol = 5.0 * std::sqrt((2.0 + 2.0 / burstiness) / n) / burstiness;
    EXPECT_NEAR(mean, 1.0 / 20.0, mean_tol) << "burstiness " << burstiness;
    EXPECT_NEAR(cv2, 1.0 / burstiness, cv2_tol) << "burstiness " << burstiness;
  }
}

// As vLLM: the schedule is scaled so that the last request goes at count / rate, and an infinite
// burstiness (or one whose product with the rate overflows) spaces requests exactly 1 / rate
// apart; it used to stop the benchmark after its first request (NaN offsets).
TEST(ArrivalOffsets, EndAtCountOverRateAndAreEvenAtInfiniteBurstiness) {
  std::mt19937_64 rng(5);
  const std::vector<double> random = arrivalOffsets(10, 4.0, 0.5, rng);
  EXPECT_NEAR(random.back(), 2.5, 1e-12);
  for (double burstiness : {std::numeric_limits<double>::infinity(), 1e308}) {
    const std::vector<double> even = arrivalOffsets(4, 10.0, burstiness, rng);
    ASSERT_EQ(even.size(), 4u);
    for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(even[i], 0.1 * static_cast<double>(i + 1), 1e-12);
  }
}

TEST(ArrivalOffsets, AreReproducibleFromTheSeedAndAllZeroAtAnInfiniteRate) {
  std::mt19937_64 a(3), b(3), c(4);
  EXPECT_EQ(arrivalOffsets(50, 5.0, 1.0, a), arrivalOffsets(50, 5.0, 1.0, b));
  std::mt19937_64 a2(3);
  EXPECT_NE(arrivalOffsets(50, 5.0, 1.0, a2), arrivalOffsets(50, 5.0, 1.0, c));
  std::mt19937_64 rng(1);
  EXPECT_EQ(arrivalOffsets(5, std::numeric_limits<double>::infinity(), 1.0, rng),
            std::vector<double>(5, 0.0));
}

}  // namespace
}  // namespace manifold::bench
