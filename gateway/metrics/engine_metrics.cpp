#include "gateway/metrics/engine_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>

#include "gateway/metrics/vllm_buckets.h"

namespace manifold::metrics {
namespace {

using prometheus::Labels;

prometheus::Gauge& addGauge(prometheus::Registry& registry, const std::string& name,
                            const std::string& help, const Labels& labels) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add(labels);
}

// prometheus-cpp does not append `_total` to counters while Python's prometheus_client (vLLM)
// does, so the family name carries the suffix: the exposition then matches vLLM line for line.
prometheus::Counter& addCounter(prometheus::Registry& registry, const std::string& name,
                                const std::string& help, const Labels& labels) {
  return prometheus::BuildCounter().Name(name + "_total").Help(help).Register(registry).Add(labels);
}

prometheus::Histogram& addHistogram(prometheus::Registry& registry, const std::string& name,
                                    const std::string& help, const Labels& labels,
                                    const std::vector<double>& buckets) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add(labels, buckets);
}

Labels withReason(Labels labels, const char* reason) {
  labels.emplace("finished_reason", reason);
  return labels;
}

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

constexpr char kPromptTokensHelp[] = "Number of prefill tokens processed.";
constexpr char kGenerationTokensHelp[] = "Number of generation tokens processed.";

}  // namespace

EngineMetrics::EngineMetrics(prometheus::Registry& registry, std::string model_name,
                             const EngineMetricsOptions& options)
    : model_name_(std::move(model_name)),
      engine_(options.engine),
      // vLLM labels every engine metric with the served model name and the engine index.
      labels_({{"model_name", model_name_}, {"engine", engine_}}),
      num_requests_running_(addGauge(registry, "vllm:num_requests_running",
                                     "Number of requests in model execution batches.", labels_)),
      num_requests_waiting_(addGauge(registry, "vllm:num_requests_waiting",
                                     "Number of requests waiting to be processed.", labels_)),
      kv_cache_usage_(addGauge(registry, "vllm:kv_cache_usage_perc",
                               "KV-cache usage. 1 means 100 percent usage.", labels_)),
      prefix_cache_queries_(
          addCounter(registry, "vllm:prefix_cache_queries",
                     "Prefix cache queries, in terms of number of queried tokens.", labels_)),
      prefix_cache_hits_(addCounter(registry, "vllm:prefix_cache_hits",
                                    "Prefix cache hits, in terms of number of cached tokens.",
                                    labels_)),
      num_preemptions_(addCounter(registry, "vllm:num_preemptions",
                                  "Cumulative number of preemption from the engine.", labels_)),
      prompt_tokens_(addCounter(registry, "vllm:prompt_tokens", kPromptTokensHelp, labels_)),
      generation_tokens_(
          addCounter(registry, "vllm:generation_tokens", kGenerationTokensHelp, labels_)),
      success_stop_(addCounter(registry, "vllm:request_success",
                               "Count of successfully processed requests.",
                               withReason(labels_, "stop"))),
      success_length_(addCounter(registry, "vllm:request_success",
                                 "Count of successfully processed requests.",
                                 withReason(labels_, "length"))),
      success_abort_(addCounter(registry, "vllm:request_success",
                                "Count of successfully processed requests.",
                                withReason(labels_, "abort"))),
      request_prompt_tokens_(addHistogram(registry, "vllm:request_prompt_tokens", kPromptTokensHelp,
                                          labels_,
                                          build125Buckets(std::max(1, options.max_model_len)))),
      request_generation_tokens_(addHistogram(registry, "vllm:request_generation_tokens",
                                              kGenerationTokensHelp, labels_,
                                              build125Buckets(std::max(1, options.max_model_len)))),
      iteration_tokens_(addHistogram(registry, "vllm:iteration_tokens_total",
                                     "Histogram of number of tokens per engine_step.", labels_,
                                     iterationTokenBuckets())),
      time_to_first_token_(addHistogram(registry, "vllm:time_to_first_token_seconds",
                                        "Histogram of time to first token in seconds.", labels_,
                                        timeToFirstTokenBuckets())),
      time_per_output_token_(addHistogram(registry, "vllm:time_per_output_token_seconds",
                                          "Histogram of time per output token in seconds.", labels_,
                                          timePerOutputTokenBuckets())),
      e2e_request_latency_(addHistogram(registry, "vllm:e2e_request_latency_seconds",
                                        "Histogram of e2e request latency in seconds.", labels_,
                                        requestLatencyBuckets())),
      request_queue_time_(addHistogram(registry, "vllm:request_queue_time_seconds",
                                       "Histogram of time spent in WAITING phase for request.",
                                       labels_, requestLatencyBuckets())),
      request_inference_time_(addHistogram(registry, "vllm:request_inference_time_seconds",
                                           "Histogram of time spent in RUNNING phase for request.",
                                           labels_, requestLatencyBuckets())),
      request_prefill_time_(addHistogram(registry, "vllm:request_prefill_time_seconds",
                                         "Histogram of time spent in PREFILL phase for request.",
                                         labels_, requestLatencyBuckets())),
      request_decode_time_(addHistogram(registry, "vllm:request_decode_time_seconds",
                                        "Histogram of time spent in DECODE phase for request.",
                                        labels_, requestLatencyBuckets())),
      interval_start_(std::chrono::steady_clock::now()) {
  if (!options.cache_config.empty()) {
    // vLLM emulates an Info metric with a gauge permanently set to 1.
    Labels labels(options.cache_config.begin(), options.cache_config.end());
    labels.insert(labels_.begin(), labels_.end());
    addGauge(registry, "vllm:cache_config_info", "Information of the LLMEngine CacheConfig", labels)
        .Set(1.0);
  }
}

void EngineMetrics::onStep(const StepStats& stats) {
  onState(stats);  // the gauges
  prefix_cache_queries_.Increment(static_cast<double>(stats.prefix_cache_queries_delta));
  prefix_cache_hits_.Increment(static_cast<double>(stats.prefix_cache_hits_delta));
  num_preemptions_.Increment(static_cast<double>(stats.num_preemptions_delta));
  prompt_tokens_.Increment(stats.num_prompt_tokens);
  generation_tokens_.Increment(stats.num_generation_tokens);
  // vLLM observes prompt + generation tokens of the iteration, not the scheduled count.
  iteration_tokens_.Observe(stats.num_prompt_tokens + stats.num_generation_tokens);

  std::lock_guard<std::mutex> lock(mu_);
  interval_prompt_tokens_ += stats.num_prompt_tokens;
  interval_generation_tokens_ += stats.num_generation_tokens;
  if (stats.prefix_cache_queries_delta > 0) {
    prefix_window_.emplace_back(stats.prefix_cache_queries_delta, stats.prefix_cache_hits_delta);
    prefix_window_queries_ += stats.prefix_cache_queries_delta;
    prefix_window_hits_ += stats.prefix_cache_hits_delta;
    if (prefix_window_.size() > kPrefixHitRateWindow) {
      prefix_window_queries_ -= prefix_window_.front().first;
      prefix_window_hits_ -= prefix_window_.front().second;
      prefix_window_.pop_front();
    }
  }
}

void EngineMetrics::onState(const StepStats& stats) {
  num_requests_running_.Set(stats.num_running);
  num_requests_waiting_.Set(stats.num_waiting);
  kv_cache_usage_.Set(stats.kv_cache_usage);
  std::lock_guard<std::mutex> lock(mu_);
  last_running_ = stats.num_running;
  last_waiting_ = stats.num_waiting;
  last_kv_cache_usage_ = stats.kv_cache_usage;
}

void EngineMetrics::onRequestFinished(const FinishedRequestStats& stats) {
  switch (stats.finish_reason) {
    case FinishReason::kStop:
      success_stop_.Increment();
      break;
    case FinishReason::kLength:
      success_length_.Increment();
      break;
    case FinishReason::kAbort:
      success_abort_.Increment();
      break;
  }
  request_prompt_tokens_.Observe(stats.num_prompt_tokens);
  request_generation_tokens_.Observe(stats.num_generation_tokens);
  for (double itl : stats.inter_token_latencies_s) time_per_output_token_.Observe(itl);

  // An aborted request may never have been scheduled or produced a token: observe only the
  // intervals whose two ends exist.
  const RequestTiming& t = stats.timing;
  if (t.first_token) time_to_first_token_.Observe(seconds(*t.first_token - t.arrival));
  if (t.finished) e2e_request_latency_.Observe(seconds(*t.finished - t.arrival));
  if (t.first_scheduled) request_queue_time_.Observe(seconds(*t.first_scheduled - t.arrival));
  if (t.first_scheduled && t.finished) {
    request_inference_time_.Observe(seconds(*t.finished - *t.first_scheduled));
  }
  if (t.first_scheduled && t.first_token) {
    request_prefill_time_.Observe(seconds(*t.first_token - *t.first_scheduled));
  }
  if (t.first_token && t.finished) {
    request_decode_time_.Observe(seconds(*t.finished - *t.first_token));
  }
}

EngineLogSnapshot EngineMetrics::takeLogSnapshot(std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  EngineLogSnapshot snapshot;
  snapshot.model_name = model_name_;
  snapshot.engine = engine_;
  snapshot.interval_s = seconds(now - interval_start_);
  if (snapshot.interval_s > 0.0) {
    snapshot.prompt_throughput = static_cast<double>(interval_prompt_tokens_) / snapshot.interval_s;
    snapshot.generation_throughput =
        static_cast<double>(interval_generation_tokens_) / snapshot.interval_s;
  }
  snapshot.num_running = last_running_;
  snapshot.num_waiting = last_waiting_;
  snapshot.kv_cache_usage = last_kv_cache_usage_;
  if (prefix_window_queries_ > 0) {
    snapshot.prefix_cache_hit_rate =
        static_cast<double>(prefix_window_hits_) / static_cast<double>(prefix_window_queries_);
  }
  interval_start_ = now;
  interval_prompt_tokens_ = 0;
  interval_generation_tokens_ = 0;
  return snapshot;
}

}  // namespace manifold::metrics
