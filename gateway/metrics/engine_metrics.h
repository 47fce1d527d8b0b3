// The Prometheus side of one engine: implements EngineObserver and turns its step and request
// reports into vLLM's metrics (same names, types, help strings, buckets and labels `model_name`
// and `engine`), so that vLLM dashboards read manifold unchanged. It also keeps the interval
// totals behind the periodic "Avg prompt throughput ..." log line (StatsLogger).
//
// Thread safety: onStep / onState / onRequestFinished are called by the engine loop;
// takeLogSnapshot by the stats logger thread; scrapes read the prometheus metrics concurrently.
// Prometheus metric objects are thread-safe; the log interval state is guarded by mu_.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "engine/engine_observer.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace manifold::metrics {

struct EngineMetricsOptions {
  // Largest 1-2-5 bucket of the token-count histograms is <= this (vLLM uses max_model_len).
  int max_model_len = 8192;
  // Labels of the info gauge vllm:cache_config_info (vLLM: every CacheConfig field as a string,
  // e.g. block_size, num_gpu_blocks, enable_prefix_caching, cache_dtype). Empty: not exported.
  std::map<std::string, std::string> cache_config;
  // vLLM's `engine` label: which replica of the model this engine is ("0", "1", ...).
  std::string engine = "0";
};

// What the periodic log line prints, over the interval since the previous snapshot.
struct EngineLogSnapshot {
  std::string model_name;
  std::string engine;
  double interval_s = 0.0;
  double prompt_throughput = 0.0;      // prefilled tokens per second
  double generation_throughput = 0.0;  // generated tokens per second
  int num_running = 0;
  int num_waiting = 0;
  double kv_cache_usage = 0.0;         // 0..1
  double prefix_cache_hit_rate = 0.0;  // 0..1, over the last kPrefixHitRateWindow steps
};

class EngineMetrics final : public EngineObserver {
 public:
  // Steps (with prefix cache lookups) that the logged prefix cache hit rate is averaged over.
  static constexpr size_t kPrefixHitRateWindow = 1000;

  // Registers (or joins) the vLLM families in `registry` and adds this engine's label set.
  // REQUIRES: `registry` outlives this object.
  EngineMetrics(prometheus::Registry& registry, std::string model_name,
                const EngineMetricsOptions& options);

  void onStep(const StepStats& stats) override;
  void onState(const StepStats& stats) override;
  void onRequestFinished(const FinishedRequestStats& stats) override;

  // Returns the interval figures since the previous call (or construction) and starts a new
  // interval at `now`.
  [[nodiscard]] EngineLogSnapshot takeLogSnapshot(std::chrono::steady_clock::time_point now);

  [[nodiscard]] const std::string& modelName() const { return model_name_; }
  [[nodiscard]] const std::string& engine() const { return engine_; }

 private:
  const std::string model_name_;
  const std::string engine_;
  const std::map<std::string, std::string> labels_;  // model_name and engine

  prometheus::Gauge& num_requests_running_;
  prometheus::Gauge& num_requests_waiting_;
  prometheus::Gauge& kv_cache_usage_;
  prometheus::Counter& prefix_cache_queries_;
  prometheus::Counter& prefix_cache_hits_;
  prometheus::Counter& num_preemptions_;
  prometheus::Counter& prompt_tokens_;
  prometheus::Counter& generation_tokens_;
  prometheus::Counter& success_stop_;
  prometheus::Counter& success_length_;
  prometheus::Counter& success_abort_;
  prometheus::Histogram& request_prompt_tokens_;
  prometheus::Histogram& request_generation_tokens_;
  prometheus::Histogram& iteration_tokens_;
  prometheus::Histogram& time_to_first_token_;
  prometheus::Histogram& time_per_output_token_;
  prometheus::Histogram& e2e_request_latency_;
  prometheus::Histogram& request_queue_time_;
  prometheus::Histogram& request_inference_time_;
  prometheus::Histogram& request_prefill_time_;
  prometheus::Histogram& request_decode_time_;

  std::mutex mu_;
  std::chrono::steady_clock::time_point interval_start_;  // GUARDED_BY(mu_)
  int64_t interval_prompt_tokens_ = 0;                    // GUARDED_BY(mu_)
  int64_t interval_generation_tokens_ = 0;                // GUARDED_BY(mu_)
  int last_running_ = 0;                                  // GUARDED_BY(mu_)
  int last_waiting_ = 0;                                  // GUARDED_BY(mu_)
  double last_kv_cache_usage_ = 0.0;                      // GUARDED_BY(mu_)
  // (queries, hits) of recent steps that looked up the prefix cache, oldest first.
  std::deque<std::pair<int64_t, int64_t>> prefix_window_;  // GUARDED_BY(mu_)
  int64_t prefix_window_queries_ = 0;                      // GUARDED_BY(mu_)
  int64_t prefix_window_hits_ = 0;                         // GUARDED_BY(mu_)
};

}  // namespace manifold::metrics
