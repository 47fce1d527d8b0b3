#include "gateway/metrics/engine_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "gateway/metrics/metrics_registry.h"
#include "gateway/metrics/vllm_buckets.h"
#include "tests/gateway/metrics/exposition.h"

namespace manifold::metrics {
namespace {

using testing::Exposition;
using testing::parseExposition;
using Labels = std::map<std::string, std::string>;

const Labels kModelA = {{"model_name", "model-a"}, {"engine", "0"}};

Labels with(Labels labels, const std::string& key, const std::string& value) {
  labels[key] = value;
  return labels;
}

FinishedRequestStats finishedRequest(double queue_s, double prefill_s, double decode_s,
                                     int prompt_tokens, int generation_tokens,
                                     FinishReason reason) {
  const auto arrival = Clock::now();
  auto at = [&](double s) {
    return arrival + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  FinishedRequestStats stats;
  stats.num_prompt_tokens = prompt_tokens;
  stats.num_generation_tokens = generation_tokens;
  stats.finish_reason = reason;
  stats.timing.arrival = arrival;
  stats.timing.first_scheduled = at(queue_s);
  stats.timing.first_token = at(queue_s + prefill_s);
  stats.timing.finished = at(queue_s + prefill_s + decode_s);
  if (generation_tokens > 1) {
    stats.inter_token_latencies_s.assign(generation_tokens - 1, decode_s / (generation_tokens - 1));
  }
  return stats;
}

TEST(VllmBuckets, Build125BucketsStopsAtTheLargestValueNotAboveMax) {
  EXPECT_EQ(build125Buckets(100), (std::vector<double>{1, 2, 5, 10, 20, 50, 100}));
  EXPECT_EQ(build125Buckets(4096),
            (std::vector<double>{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000}));
  EXPECT_EQ(build125Buckets(1), (std::vector<double>{1}));
}

TEST(EngineMetrics, CountersAreExposedWithVllmNamesIncludingTotalSuffix) {
  MetricsRegistry registry;
  EngineObserver& observer = registry.observerFor("model-a");
  const std::vector<StepStats> steps = {{.num_scheduled_tokens = 100,
                                         .num_prompt_tokens = 100,
                                         .num_generation_tokens = 1,
                                         .num_running = 1,
                                         .num_waiting = 2,
                                         .kv_cache_usage = 0.25,
                                         .prefix_cache_queries_delta = 100,
                                         .prefix_cache_hits_delta = 32},
                                        {.num_scheduled_tokens = 3,
                                         .num_prompt_tokens = 0,
                                         .num_generation_tokens = 3,
                                         .num_running = 3,
                                         .num_waiting = 0,
                                         .kv_cache_usage = 0.5,
                                         .num_preemptions_delta = 1},
                                        {.num_scheduled_tokens = 50,
                                         .num_prompt_tokens = 48,
                                         .num_generation_tokens = 2,
                                         .num_running = 2,
                                         .num_waiting = 1,
                                         .kv_cache_usage = 0.375,
                                         .prefix_cache_queries_delta = 48,
                                         .prefix_cache_hits_delta = 16,
                                         .num_preemptions_delta = 2}};
  for (const StepStats& s : steps) observer.onStep(s);

  const Exposition e = parseExposition(registry.scrape());
  EXPECT_EQ(e.value("vllm:prompt_tokens_total", kModelA), 148.0);
  EXPECT_EQ(e.value("vllm:generation_tokens_total", kModelA), 6.0);
  EXPECT_EQ(e.value("vllm:prefix_cache_queries_total", kModelA), 148.0);
  EXPECT_EQ(e.value("vllm:prefix_cache_hits_total", kModelA), 48.0);
  EXPECT_EQ(e.value("vllm:num_preemptions_total", kModelA), 3.0);
  EXPECT_EQ(e.types.at("vllm:prompt_tokens_total"), "counter");
  EXPECT_EQ(e.helps.at("vllm:prompt_tokens_total"), "Number of prefill tokens processed.");
  EXPECT_EQ(e.types.at("vllm:num_preemptions_total"), "counter");
  EXPECT_FALSE(e.hasSampleNamed("vllm:prompt_tokens"));
  // Gauges hold the last step's values.
  EXPECT_EQ(e.value("vllm:num_requests_running", kModelA), 2.0);
  EXPECT_EQ(e.value("vllm:num_requests_waiting", kModelA), 1.0);
  EXPECT_EQ(e.value("vllm:kv_cache_usage_perc", kModelA), 0.375);
  EXPECT_EQ(e.types.at("vllm:kv_cache_usage_perc"), "gauge");
}

TEST(EngineMetrics, IterationTokensHistogramCountsPromptPlusGenerationTokensPerStep) {
  MetricsRegistry registry;
  EngineObserver& observer = registry.observerFor("model-a");
  // prompt + generation per step: 101, 3, 50, 8, 16
  const std::vector<std::pair<int, int>> steps = {{100, 1}, {0, 3}, {48, 2}, {0, 8}, {15, 1}};
  for (auto [prompt, generation] : steps) {
    observer.onStep({.num_prompt_tokens = prompt, .num_generation_tokens = generation});
  }
  const Exposition e = parseExposition(registry.scrape());
  const std::string name = "vllm:iteration_tokens_total";
  EXPECT_EQ(e.types.at(name), "histogram");
  EXPECT_EQ(e.value(name + "_count", kModelA), 5.0);
  EXPECT_EQ(e.value(name + "_sum", kModelA), 178.0);
  EXPECT_EQ(e.value(name + "_bucket", with(kModelA, "le", "1")), 0.0);
  EXPECT_EQ(e.value(name + "_bucket", with(kModelA, "le", "8")), 2.0);    // 3, 8
  EXPECT_EQ(e.value(name + "_bucket", with(kModelA, "le", "16")), 3.0);   // + 16
  EXPECT_EQ(e.value(name + "_bucket", with(kModelA, "le", "64")), 4.0);   // + 50
  EXPECT_EQ(e.value(name + "_bucket", with(kModelA, "le", "128")), 5.0);  // + 101
  EXPECT_EQ(e.value(name + "_bucket", with(kModelA, "le", "16384")), 5.0);
  EXPECT_EQ(e.value(name + "_bucket", with(kModelA, "le", "+Inf")), 5.0);
}

TEST(EngineMetrics, FinishedRequestsFillTimingHistogramsWithVllmIntervals) {
  MetricsRegistry registry;
  EngineMetricsOptions options;
  options.max_model_len = 1000;
  EngineObserver& observer = registry.observerFor("model-a", options);
  // queue, prefill, decode seconds; prompt and generation tokens.
  observer.onRequestFinished(finishedRequest(0.2, 0.03, 1.2, 30, 5, FinishReason::kStop));
  observer.onRequestFinished(finishedRequest(0.0, 0.3, 4.0, 700, 9, FinishReason::kLength));
  observer.onRequestFinished(finishedRequest(1.0, 0.05, 0.0, 3, 1, FinishReason::kStop));

  const Exposition e = parseExposition(registry.scrape());
  EXPECT_EQ(e.value("vllm:request_success_total", with(kModelA, "finished_reason", "stop")), 2.0);
  EXPECT_EQ(e.value("vllm:request_success_total", with(kModelA, "finished_reason", "length")), 1.0);
  EXPECT_EQ(e.value("vllm:request_success_total", with(kModelA, "finished_reason", "abort")), 0.0);

  // TTFT = queue + prefill: 0.23, 0.3, 1.05.
  const std::string ttft = "vllm:time_to_first_token_seconds";
  EXPECT_EQ(e.value(ttft + "_count", kModelA), 3.0);
  EXPECT_NEAR(*e.value(ttft + "_sum", kModelA), 0.23 + 0.3 + 1.05, 1e-6);
  EXPECT_EQ(e.value(ttft + "_bucket", with(kModelA, "le", "0.1")), 0.0);
  EXPECT_EQ(e.value(ttft + "_bucket", with(kModelA, "le", "0.25")), 1.0);
  EXPECT_EQ(e.value(ttft + "_bucket", with(kModelA, "le", "0.5")), 2.0);
  EXPECT_EQ(e.value(ttft + "_bucket", with(kModelA, "le", "1")), 2.0);
  EXPECT_EQ(e.value(ttft + "_bucket", with(kModelA, "le", "2.5")), 3.0);

  // E2E = queue + prefill + decode: 1.43, 4.3, 1.05.
  const std::string e2e = "vllm:e2e_request_latency_seconds";
  EXPECT_NEAR(*e.value(e2e + "_sum", kModelA), 1.43 + 4.3 + 1.05, 1e-6);
  EXPECT_EQ(e.value(e2e + "_bucket", with(kModelA, "le", "1")), 0.0);
  EXPECT_EQ(e.value(e2e + "_bucket", with(kModelA, "le", "1.5")), 2.0);
  EXPECT_EQ(e.value(e2e + "_bucket", with(kModelA, "le", "5")), 3.0);

  EXPECT_NEAR(*e.value("vllm:request_queue_time_seconds_sum", kModelA), 1.2, 1e-6);
  EXPECT_NEAR(*e.value("vllm:request_prefill_time_seconds_sum", kModelA), 0.38, 1e-6);
  EXPECT_NEAR(*e.value("vllm:request_decode_time_seconds_sum", kModelA), 5.2, 1e-6);
  EXPECT_NEAR(*e.value("vllm:request_inference_time_seconds_sum", kModelA), 5.58, 1e-6);

  // Inter-token latencies: 4 x 0.3 and 8 x 0.5; the 1-token request has none.
  const std::string tpot = "vllm:time_per_output_token_seconds";
  EXPECT_EQ(e.value(tpot + "_count", kModelA), 12.0);
  EXPECT_NEAR(*e.value(tpot + "_sum", kModelA), 4 * 0.3 + 8 * 0.5, 1e-6);
  EXPECT_EQ(e.value(tpot + "_bucket", with(kModelA, "le", "0.3")), 4.0);
  EXPECT_EQ(e.value(tpot + "_bucket", with(kModelA, "le", "0.4")), 4.0);
  EXPECT_EQ(e.value(tpot + "_bucket", with(kModelA, "le", "0.5")), 12.0);

  // Token-count histograms use 1-2-5 buckets up to max_model_len (1000).
  const std::string prompt = "vllm:request_prompt_tokens";
  EXPECT_EQ(e.value(prompt + "_sum", kModelA), 733.0);
  EXPECT_EQ(e.value(prompt + "_bucket", with(kModelA, "le", "5")), 1.0);
  EXPECT_EQ(e.value(prompt + "_bucket", with(kModelA, "le", "50")), 2.0);
  EXPECT_EQ(e.value(prompt + "_bucket", with(kModelA, "le", "500")), 2.0);
  EXPECT_EQ(e.value(prompt + "_bucket", with(kModelA, "le", "1000")), 3.0);
  EXPECT_FALSE(e.value(prompt + "_bucket", with(kModelA, "le", "2000")).has_value());
  EXPECT_EQ(e.value("vllm:request_generation_tokens_sum", kModelA), 15.0);
}

TEST(EngineMetrics, AbortedRequestWithoutTokensSkipsIntervalsItCannotCompute) {
  MetricsRegistry registry;
  EngineObserver& observer = registry.observerFor("model-a");
  FinishedRequestStats aborted;
  aborted.num_prompt_tokens = 12;
  aborted.finish_reason = FinishReason::kAbort;
  aborted.timing.arrival = Clock::now();
  aborted.timing.finished = aborted.timing.arrival + std::chrono::milliseconds(2000);
  observer.onRequestFinished(aborted);

  const Exposition e = parseExposition(registry.scrape());
  EXPECT_EQ(e.value("vllm:request_success_total", with(kModelA, "finished_reason", "abort")), 1.0);
  EXPECT_EQ(e.value("vllm:time_to_first_token_seconds_count", kModelA), 0.0);
  EXPECT_EQ(e.value("vllm:request_queue_time_seconds_count", kModelA), 0.0);
  EXPECT_EQ(e.value("vllm:e2e_request_latency_seconds_count", kModelA), 1.0);
  EXPECT_NEAR(*e.value("vllm:e2e_request_latency_seconds_sum", kModelA), 2.0, 1e-9);
}

TEST(EngineMetrics, EachModelHasItsOwnSeries) {
  MetricsRegistry registry;
  registry.observerFor("model-a").onStep({.num_prompt_tokens = 7, .num_running = 1});
  registry.observerFor("model-b").onStep({.num_prompt_tokens = 11, .num_running = 4});
  registry.observerFor("model-a").onStep({.num_prompt_tokens = 1, .num_running = 2});

  const Exposition e = parseExposition(registry.scrape());
  const Labels model_b = {{"model_name", "model-b"}, {"engine", "0"}};
  EXPECT_EQ(e.value("vllm:prompt_tokens_total", kModelA), 8.0);
  EXPECT_EQ(e.value("vllm:prompt_tokens_total", model_b), 11.0);
  EXPECT_EQ(e.value("vllm:num_requests_running", kModelA), 2.0);
  EXPECT_EQ(e.value("vllm:num_requests_running", model_b), 4.0);
  EXPECT_EQ(&registry.observerFor("model-a"), &registry.observerFor("model-a"));
}

TEST(EngineMetrics, ReplicasOfOneModelAreSeparateEngineSeries) {
  MetricsRegistry registry;
  EngineMetricsOptions replica1;
  replica1.engine = "1";
  registry.observerFor("model-a").onStep({.num_running = 3});
  registry.observerFor("model-a", replica1).onStep({.num_running = 5});
  EXPECT_NE(&registry.observerFor("model-a"), &registry.observerFor("model-a", replica1));

  const Exposition e = parseExposition(registry.scrape());
  EXPECT_EQ(e.value("vllm:num_requests_running", kModelA), 3.0);
  EXPECT_EQ(e.value("vllm:num_requests_running", with(kModelA, "engine", "1")), 5.0);
}

TEST(EngineMetrics, CacheConfigInfoIsAGaugeSetToOneWithConfigLabels) {
  MetricsRegistry registry;
  (void)registry.observerFor(
      "model-a", {.cache_config = {{"block_size", "16"}, {"enable_prefix_caching", "True"}}});
  const Exposition e = parseExposition(registry.scrape());
  EXPECT_EQ(e.types.at("vllm:cache_config_info"), "gauge");
  EXPECT_EQ(e.value("vllm:cache_config_info", {{"model_name", "model-a"},
                                               {"engine", "0"},
                                               {"block_size", "16"},
                                               {"enable_prefix_caching", "True"}}),
            1.0);
}

TEST(EngineMetrics, LogSnapshotReportsIntervalThroughputAndWindowedPrefixHitRate) {
  MetricsRegistry registry;
  auto& engine = static_cast<EngineMetrics&>(registry.observerFor("model-a"));
  const auto start = std::chrono::steady_clock::now();
  (void)engine.takeLogSnapshot(start);
  engine.onStep({.num_prompt_tokens = 300,
                 .num_generation_tokens = 4,
                 .num_running = 4,
                 .num_waiting = 3,
                 .kv_cache_usage = 0.125,
                 .prefix_cache_queries_delta = 300,
                 .prefix_cache_hits_delta = 75});
  engine.onStep({.num_prompt_tokens = 100,
                 .num_generation_tokens = 16,
                 .num_running = 5,
                 .num_waiting = 2,
                 .kv_cache_usage = 0.25,
                 .prefix_cache_queries_delta = 100,
                 .prefix_cache_hits_delta = 25});
  const EngineLogSnapshot s = engine.takeLogSnapshot(start + std::chrono::seconds(4));
  EXPECT_EQ(s.model_name, "model-a");
  EXPECT_DOUBLE_EQ(s.interval_s, 4.0);
  EXPECT_DOUBLE_EQ(s.prompt_throughput, 100.0);    // 400 tokens / 4 s
  EXPECT_DOUBLE_EQ(s.generation_throughput, 5.0);  // 20 tokens / 4 s
  EXPECT_EQ(s.num_running, 5);
  EXPECT_EQ(s.num_waiting, 2);
  EXPECT_DOUBLE_EQ(s.kv_cache_usage, 0.25);
  EXPECT_DOUBLE_EQ(s.prefix_cache_hit_rate, 0.25);  // 100 / 400

  // The next interval starts empty; the hit rate window does not reset.
  const EngineLogSnapshot next = engine.takeLogSnapshot(start + std::chrono::seconds(6));
  EXPECT_DOUBLE_EQ(next.prompt_throughput, 0.0);
  EXPECT_DOUBLE_EQ(next.prefix_cache_hit_rate, 0.25);
}

// onState (aborts without a step) moves the gauges and the log line's state, nothing else.
TEST(EngineMetrics, StateReportsSetTheGaugesOnly) {
  MetricsRegistry registry;
  auto& engine = static_cast<EngineMetrics&>(registry.observerFor("model-a"));
  const auto start = std::chrono::steady_clock::now();
  (void)engine.takeLogSnapshot(start);
  engine.onStep({.num_scheduled_tokens = 12,
                 .num_prefill_tokens = 10,
                 .num_prompt_tokens = 10,
                 .num_generation_tokens = 2,
                 .num_running = 2,
                 .num_waiting = 1,
                 .kv_cache_usage = 0.5});
  engine.onState({.num_running = 0, .num_waiting = 0, .kv_cache_usage = 0.0});
  const Exposition e = parseExposition(registry.scrape());
  EXPECT_EQ(e.value("vllm:num_requests_running", kModelA), 0.0);
  EXPECT_EQ(e.value("vllm:num_requests_waiting", kModelA), 0.0);
  EXPECT_EQ(e.value("vllm:kv_cache_usage_perc", kModelA), 0.0);
  EXPECT_EQ(e.value("vllm:prompt_tokens_total", kModelA), 10.0);
  EXPECT_EQ(e.value("vllm:generation_tokens_total", kModelA), 2.0);
  EXPECT_EQ(e.value("vllm:iteration_tokens_total_count", kModelA), 1.0);
  const EngineLogSnapshot s = engine.takeLogSnapshot(start + std::chrono::seconds(1));
  EXPECT_EQ(s.num_running, 0);
  EXPECT_EQ(s.num_waiting, 0);
  EXPECT_DOUBLE_EQ(s.kv_cache_usage, 0.0);
  EXPECT_DOUBLE_EQ(s.prompt_throughput, 10.0);
}

TEST(EngineMetrics, PrefixHitRateWindowForgetsTheOldestSteps) {
  MetricsRegistry registry;
  auto& engine = static_cast<EngineMetrics&>(registry.observerFor("model-a"));
  // One step with all hits, then a full window of misses pushes it out.
  engine.onStep({.prefix_cache_queries_delta = 10, .prefix_cache_hits_delta = 10});
  for (size_t i = 0; i < EngineMetrics::kPrefixHitRateWindow; ++i) {
    engine.onStep({.prefix_cache_queries_delta = 10, .prefix_cache_hits_delta = 0});
  }
  EXPECT_DOUBLE_EQ(engine.takeLogSnapshot(std::chrono::steady_clock::now()).prefix_cache_hit_rate,
                   0.0);
}

}  // namespace
}  // namespace manifold::metrics
