// Sends a list of prompts to an OpenAI-compatible server on one io_context: each request leaves
// at its arrival offset (a gamma/Poisson process, or all at once), waits for a free slot when a
// concurrency limit is set (as vLLM's semaphore does), and streams its answer through an
// SseParser into a StreamAccumulator.
//
// Not thread-safe: runs on the calling thread.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gateway/bench/bench_types.h"
#include "gateway/bench/http_client.h"
#include "gateway/bench/request_func.h"

namespace manifold::bench {

// Send offsets in seconds from the start, as vLLM's get_request: each request (the first too)
// waits a gap drawn from a gamma distribution with shape `burstiness` and scale
// 1 / (rate * burstiness) (mean 1 / rate; an infinite burstiness: exactly 1 / rate), and the sums
// are scaled so that the last request goes at count / rate (vLLM: throughput stable across
// seeds). All zero for an infinite rate. REQUIRES: rate > 0, burstiness > 0 (may be infinite).
[[nodiscard]] std::vector<double> arrivalOffsets(size_t count, double request_rate,
                                                 double burstiness, std::mt19937_64& rng);

struct SchedulerOptions {
  boost::asio::ip::tcp::endpoint endpoint;
  std::string host_header;
  bool tls = false;      // https (HttpRequestSpec::tls)
  std::string tls_host;  // the URL's host, checked against the server's certificate
  std::string target;  // request path, e.g. "/v1/completions"
  Endpoint endpoint_kind = Endpoint::kCompletions;
  std::string model;
  RequestHeaders headers;
  RequestSampling sampling;
  bool ignore_eos = false;
  int max_concurrency = 0;  // 0: no limit
  std::chrono::milliseconds request_timeout = std::chrono::hours(6);
  // Called after each finished request with (finished, total); may be null.
  std::function<void(size_t, size_t)> on_progress;
};

struct ScheduledRun {
  std::vector<RequestResult> outputs;  // aligned with the samples
  double duration_s = 0.0;             // first send to last completion
};

// Blocks until every request has finished. `offsets` aligned with `samples`.
[[nodiscard]] ScheduledRun runScheduled(const SchedulerOptions& options,
                                        const std::vector<SampleRequest>& samples,
                                        const std::vector<double>& offsets);

}  // namespace manifold::bench
