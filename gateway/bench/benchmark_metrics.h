// The numbers `manifold bench serve` reports, with vLLM's definitions
// (vllm/benchmarks/serve.py calculate_metrics):
//   TTFT  = first token chunk - request sent
//   TPOT  = (E2EL - TTFT) / (output tokens - 1), for requests with more than one output token
//   ITL   = every gap between consecutive token chunks, pooled over requests
//   E2EL  = last token chunk - request sent
//   goodput = requests meeting every given SLO (ttft, tpot, e2el in ms) per second; a request
//             with one output token has TPOT 0 for this check, as in vLLM.
// Percentiles interpolate linearly between closest ranks (numpy.percentile's default); the
// standard deviation is the population one (numpy.std).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "gateway/bench/bench_types.h"

namespace manifold::bench {

// Service level objectives for goodput, in milliseconds; unset ones are not checked.
struct GoodputSlo {
  std::optional<double> ttft_ms;
  std::optional<double> tpot_ms;
  std::optional<double> e2el_ms;
  [[nodiscard]] bool empty() const { return !ttft_ms && !tpot_ms && !e2el_ms; }
};

// Parses `--goodput ttft:500 tpot:50 e2el:10000` (values in ms, > 0).
[[nodiscard]] Result<GoodputSlo> parseGoodput(const std::vector<std::string>& args);
// Parses `--metric-percentiles 50,90,99` (each in (0, 100]).
[[nodiscard]] Result<std::vector<double>> parsePercentiles(const std::string& text);

// numpy.percentile(values, p) with linear interpolation; 0 for no values. REQUIRES: 0<=p<=100.
[[nodiscard]] double percentile(std::vector<double> values, double p);

// Summary of one latency, in milliseconds.
struct LatencySummary {
  double mean_ms = 0.0;
  double median_ms = 0.0;
  double std_ms = 0.0;
  std::vector<std::pair<double, double>> percentiles_ms;  // (p, value) in the requested order
};

// REQUIRES: values in seconds.
[[nodiscard]] LatencySummary summarize(const std::vector<double>& values_s,
                                       const std::vector<double>& percentiles);

struct BenchmarkMetrics {
  int completed = 0;
  int failed = 0;
  int64_t total_input_tokens = 0;   // over successful requests
  int64_t total_output_tokens = 0;  // over successful requests
  double duration_s = 0.0;
  double request_throughput = 0.0;  // completed / duration
  double request_goodput = 0.0;     // good / duration; 0 without SLOs
  double output_throughput = 0.0;   // output tokens / duration
  double total_token_throughput = 0.0;
  double max_output_tokens_per_s = 0.0;  // peak over 1 s windows of token chunk arrivals
  int max_concurrent_requests = 0;       // peak number of requests in flight
  LatencySummary ttft;
  LatencySummary tpot;
  LatencySummary itl;
  LatencySummary e2el;
  // Per request, aligned with the outputs (0 for failed requests).
  std::vector<int> output_lens;
  std::vector<double> tpots_s;  // per successful request with > 1 output token
};

// REQUIRES: duration_s > 0.
[[nodiscard]] BenchmarkMetrics calculateMetrics(const std::vector<RequestResult>& outputs,
                                                double duration_s, const GoodputSlo& slo,
                                                const std::vector<double>& percentiles);

// Output tokens per 1 s window, as vLLM's max_output_tokens_per_s counts them: each token chunk of
// a successful request is one token, in windows from the earliest successful request's start.
[[nodiscard]] std::vector<double> outputTokensPerSecond(const std::vector<RequestResult>& outputs,
                                                        double duration_s);

}  // namespace manifold::bench
