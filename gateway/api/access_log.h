// One access-log line per request (spdlog, logger "access"): request id, method, path, model,
// status, prompt/completion tokens, latency. The record is shared by whoever answers the request
// and written when the last holder lets go, i.e. when the answer is complete.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace manifold::gateway {

struct AccessRecord {
  std::string request_id;
  std::string method;
  std::string path;
  std::string remote;
  std::string route;  // the matched route template ("/v1/models/{model}"), or "unmatched"
  std::string model;  // as the client named it; empty when none
  std::atomic<int> status{0};
  std::atomic<int> prompt_tokens{0};
  std::atomic<int> completion_tokens{0};
  std::atomic<bool> cancelled{false};  // the client went away before the end
  uint64_t request_bytes = 0;
  std::atomic<uint64_t> response_bytes{0};  // body bytes (SSE: every chunk)
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  // Called from the destructor, after the log line (metrics). May be empty.
  std::function<void(const AccessRecord&)> on_finish;
  // A proxied request's upstream failed (`reason`: connect, read, too_large, ...). May be empty.
  std::function<void(const std::string& reason)> on_upstream_error;

  ~AccessRecord();
};

// Observers of every request (metrics). Each may be empty; all are called from io threads.
struct RequestHooks {
  std::function<void()> started;                      // headers parsed
  std::function<void(const AccessRecord&)> finished;  // answer complete or client gone
  std::function<void(const std::string& model, const std::string& reason)> rejected;  // 429
  std::function<void(const std::string& model, const std::string& engine)> routed;
  // A remote upstream failed a request: `upstream` is its served name.
  std::function<void(const std::string& upstream, const std::string& reason)> upstream_error;
};

}  // namespace manifold::gateway
