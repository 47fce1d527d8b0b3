// Options of `manifold bench serve`, named after `vllm bench serve`'s flags (one field each).
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "gateway/bench/request_func.h"

namespace manifold::bench {

struct BenchServeConfig {
  std::string base_url = "http://127.0.0.1:8000";  // server root, without the endpoint
  std::string endpoint = "/v1/completions";        // or /v1/chat/completions
  std::string model;                               // empty: the first model of GET /v1/models
  std::string dataset_name = "random";             // random | sharegpt
  std::string dataset_path;                        // ShareGPT JSON, for --dataset-name sharegpt
  int random_input_len = 1024;                     // prompt tokens of the random dataset
  int random_output_len = 128;                     // max tokens of the random dataset
  double random_range_ratio = 0.0;         // lengths drawn from [len * (1 - r), len * (1 + r)]
  std::optional<int> sharegpt_output_len;  // overrides each conversation's reply length
  int num_prompts = 1000;
  // Requests per second; infinity sends all at once. Arrivals are a gamma process with shape
  // `burstiness` (1 = Poisson; < 1 burstier, > 1 more uniform) and mean rate `request_rate`.
  double request_rate = std::numeric_limits<double>::infinity();
  double burstiness = 1.0;
  int max_concurrency = 0;  // 0: no limit
  bool ignore_eos = false;  // sends "ignore_eos": true (vLLM and manifold extension)
  uint64_t seed = 0;
  std::vector<std::string> goodput;  // "ttft:MS", "tpot:MS", "e2el:MS"
  int num_warmups = 0;
  std::string save_result;  // JSON file with the metrics and per-request data
  std::string plot;         // PNG via gnuplot: latency CDFs and throughput over time
  std::string metric_percentiles = "99";
  std::string api_key;        // "Authorization: Bearer"; defaults to $OPENAI_API_KEY in the CLI
  // "NAME=VALUE" headers sent with every request (the setup calls too), after the API key's.
  std::vector<std::string> headers;
  RequestSampling sampling;   // --temperature (default 0), --top-p, --top-k, ...
  bool show_progress = true;  // progress bar on stderr
  std::chrono::milliseconds request_timeout = std::chrono::hours(6);
};

}  // namespace manifold::bench
