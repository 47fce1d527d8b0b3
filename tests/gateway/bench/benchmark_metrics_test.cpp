#include "gateway/bench/benchmark_metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace manifold::bench {
namespace {

RequestResult success(int prompt_len, double start, double ttft, double latency,
                      int output_tokens) {
  RequestResult r;
  r.success = true;
  r.prompt_len = prompt_len;
  r.start_s = start;
  r.ttft_s = ttft;
  r.latency_s = latency;
  r.output_tokens = output_tokens;
  // Evenly spaced chunks, one token each.
  for (int i = 0; i < output_tokens; ++i) {
    const double t = output_tokens > 1 ? ttft + (latency - ttft) * i / (output_tokens - 1) : ttft;
    r.chunk_times_s.push_back(start + t);
    if (i > 0) r.itl_s.push_back((latency - ttft) / (output_tokens - 1));
  }
  return r;
}

std::vector<RequestResult> handComputedRun() {
  RequestResult failed;
  failed.prompt_len = 99;
  failed.error = "HTTP 500";
  return {success(10, 0.05, 0.1, 1.1, 11),  // TPOT 1.0 / 10 = 0.1, 10 gaps of 0.1
          success(20, 0.5, 0.3, 0.3, 1),    // one token: no TPOT, no gap
          failed,                           //
          success(5, 1.0, 0.2, 2.2, 5)};    // TPOT 2.0 / 4 = 0.5, 4 gaps of 0.5
}

TEST(Percentile, InterpolatesLinearlyBetweenClosestRanksLikeNumpy) {
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 50), 2.5);
  EXPECT_NEAR(percentile({1, 2, 3, 4}, 99), 3.97, 1e-12);          // rank 2.97
  EXPECT_NEAR(percentile({10, 20, 30, 40, 50}, 90), 46.0, 1e-12);  // rank 3.6
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7.0);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3}, 100), 3.0);
  EXPECT_DOUBLE_EQ(percentile({}, 50), 0.0);
}

TEST(CalculateMetrics, CountsTokensAndThroughputOverSuccessfulRequestsOnly) {
  const BenchmarkMetrics m = calculateMetrics(handComputedRun(), 4.0, {}, {99});
  EXPECT_EQ(m.completed, 3);
  EXPECT_EQ(m.failed, 1);
  EXPECT_EQ(m.total_input_tokens, 35);
  EXPECT_EQ(m.total_output_tokens, 17);
  EXPECT_DOUBLE_EQ(m.request_throughput, 0.75);
  EXPECT_DOUBLE_EQ(m.output_throughput, 4.25);
  EXPECT_DOUBLE_EQ(m.total_token_throughput, 13.0);
  EXPECT_EQ(m.output_lens, (std::vector<int>{11, 1, 0, 5}));
  EXPECT_DOUBLE_EQ(m.request_goodput, 0.0);  // no SLO given
  EXPECT_EQ(m.max_concurrent_requests, 2);   // [0.05, 1.15] overlaps [0.5, 0.8] and [1, 3.2]
}

TEST(CalculateMetrics, UsesVllmDefinitionsOfTtftTpotItlAndE2el) {
  const BenchmarkMetrics m = calculateMetrics(handComputedRun(), 4.0, {}, {50, 99});
  EXPECT_NEAR(m.ttft.mean_ms, 200.0, 1e-9);
  EXPECT_NEAR(m.ttft.median_ms, 200.0, 1e-9);
  EXPECT_NEAR(m.ttft.std_ms, 1000.0 * std::sqrt(0.02 / 3.0), 1e-9);
  // TPOT = (E2EL - TTFT) / (output - 1): 0.1 and 0.5; the one-token request has none.
  EXPECT_EQ(m.tpots_s.size(), 2u);
  EXPECT_NEAR(m.tpot.mean_ms, 300.0, 1e-9);
  ASSERT_EQ(m.tpot.percentiles_ms.size(), 2u);
  EXPECT_EQ(m.tpot.percentiles_ms[1].first, 99.0);
  EXPECT_NEAR(m.tpot.percentiles_ms[1].second, 496.0, 1e-9);  // 100 + 0.99 * 400
  // ITL pools 10 gaps of 0.1 and 4 gaps of 0.5.
  EXPECT_NEAR(m.itl.mean_ms, 3000.0 / 14.0, 1e-9);
  EXPECT_NEAR(m.itl.median_ms, 100.0, 1e-9);
  EXPECT_NEAR(m.e2el.mean_ms, 1200.0, 1e-9);
  EXPECT_NEAR(m.e2el.percentiles_ms[0].second, 1100.0, 1e-9);
}

TEST(CalculateMetrics, GoodputCountsRequestsMeetingEverySlo) {
  GoodputSlo slo;
  slo.ttft_ms = 250;
  slo.tpot_ms = 200;
  // Request 1: TTFT 100, TPOT 100 -> good. Request 2: TTFT 300 -> bad. Request 4: TPOT 500 -> bad.
  EXPECT_DOUBLE_EQ(calculateMetrics(handComputedRun(), 4.0, slo, {99}).request_goodput, 0.25);
  // A one-token request has TPOT 0 for the check.
  GoodputSlo ttft_only;
  ttft_only.ttft_ms = 300;
  ttft_only.tpot_ms = 0.001;
  auto one_token = std::vector<RequestResult>{success(3, 0.0, 0.25, 0.25, 1)};
  EXPECT_DOUBLE_EQ(calculateMetrics(one_token, 2.0, ttft_only, {99}).request_goodput, 0.5);
  GoodputSlo e2el;
  e2el.e2el_ms = 1100;  // inclusive: request 1 (1100 ms) and 2 (300 ms) meet it
  EXPECT_DOUBLE_EQ(calculateMetrics(handComputedRun(), 4.0, e2el, {99}).request_goodput, 0.5);
}

TEST(CalculateMetrics, PeakOutputThroughputUsesOneSecondWindows) {
  // Request 1 emits 11 chunks at 0.15, 0.25, ... 1.15 s: 9 in [0, 1) and 2 in [1, 2). Request 4
  // emits at 1.2, 1.7, 2.2, 2.7, 3.2 s. Request 2 at 0.8 s.
  const auto per_second = outputTokensPerSecond(handComputedRun(), 4.0);
  ASSERT_EQ(per_second.size(), 4u);
  EXPECT_DOUBLE_EQ(per_second[0], 10.0);
  EXPECT_DOUBLE_EQ(per_second[1], 4.0);
  EXPECT_DOUBLE_EQ(per_second[2], 2.0);
  EXPECT_DOUBLE_EQ(per_second[3], 1.0);
  EXPECT_DOUBLE_EQ(calculateMetrics(handComputedRun(), 4.0, {}, {99}).max_output_tokens_per_s,
                   10.0);
}

// vLLM counts one token per chunk (not usage / chunks) and starts the windows at the earliest
// successful request's start.
TEST(CalculateMetrics, PeakOutputThroughputCountsChunksFromTheFirstStart) {
  RequestResult r = success(3, 10.5, 0.25, 1.45, 4);  // chunks 0.25, 0.65, 1.05, 1.45 s in
  r.output_tokens = 20;                               // usage says 20 tokens in 4 chunks
  const auto per_second = outputTokensPerSecond({r}, 12.0);
  ASSERT_GE(per_second.size(), 2u);
  EXPECT_DOUBLE_EQ(per_second[0], 2.0);
  EXPECT_DOUBLE_EQ(per_second[1], 2.0);
}

TEST(ParseGoodput, AcceptsKnownMetricsInMilliseconds) {
  auto slo = parseGoodput({"ttft:500", "tpot:50.5", "e2el:10000"});
  ASSERT_TRUE(slo.isOk());
  EXPECT_EQ(slo->ttft_ms, 500.0);
  EXPECT_EQ(slo->tpot_ms, 50.5);
  EXPECT_EQ(slo->e2el_ms, 10000.0);
  EXPECT_TRUE(parseGoodput({})->empty());
}

TEST(ParseGoodput, RejectsUnknownMetricsAndBadValues) {
  EXPECT_FALSE(parseGoodput({"itl:5"}).isOk());
  EXPECT_FALSE(parseGoodput({"ttft"}).isOk());
  EXPECT_FALSE(parseGoodput({"ttft:-1"}).isOk());
  EXPECT_FALSE(parseGoodput({"ttft:abc"}).isOk());
}

TEST(ParsePercentiles, ParsesACommaSeparatedListInRange) {
  EXPECT_EQ(*parsePercentiles("50,90,99.9"), (std::vector<double>{50, 90, 99.9}));
  EXPECT_FALSE(parsePercentiles("50,101").isOk());
  EXPECT_FALSE(parsePercentiles("").isOk());
  EXPECT_FALSE(parsePercentiles("p99").isOk());
}

}  // namespace
}  // namespace manifold::bench
