// The OpenAI side of one benchmark request, after vLLM's benchmarks/lib/endpoint_request_func.py:
// the streaming request body for /v1/completions or /v1/chat/completions, and the accumulation
// of its SSE events into a RequestResult with TTFT, inter-token gaps and latency.
//
// Difference from vLLM: a chunk counts as a token chunk only if it carries text (or reasoning
// text). vLLM also times chunks with empty text, such as the chat role-only first chunk and the
// final finish_reason chunk, which makes TTFT of chat requests look shorter than it is.
//
// Not thread-safe: one accumulator per request.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "gateway/bench/bench_types.h"

namespace manifold::bench {

enum class Endpoint { kCompletions, kChatCompletions };

// "/v1/completions" or "/v1/chat/completions" (the path may carry a prefix, e.g.
// "/api/v1/completions": the suffix decides).
[[nodiscard]] Result<Endpoint> endpointFromPath(std::string_view path);

// vllm bench serve's sampling options: each one given is sent as the request field of its name;
// temperature is 0 (greedy) unless given.
struct RequestSampling {
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int> top_k;
  std::optional<double> min_p;
  std::optional<double> frequency_penalty;
  std::optional<double> presence_penalty;
  std::optional<double> repetition_penalty;
};

// JSON body of a streaming request with usage in the final chunk, `sampling` and max tokens =
// sample.expected_output_len (vLLM: stream_options.include_usage).
[[nodiscard]] std::string buildRequestBody(Endpoint endpoint, const std::string& model,
                                           const SampleRequest& sample, bool ignore_eos,
                                           const RequestSampling& sampling = {});

class StreamAccumulator {
 public:
  StreamAccumulator(Endpoint endpoint, double start_s, int prompt_len);

  // One SSE event's data, received at `timestamp_s`. "[DONE]" and keep-alive events are fine.
  void onEvent(std::string_view data, double timestamp_s);

  // The result once the stream ended. `transport_error` is non-empty when the connection or the
  // HTTP status failed; the request then fails whatever was received.
  [[nodiscard]] RequestResult finish(const std::string& transport_error);

 private:
  Endpoint endpoint_;
  RequestResult result_;
  double last_token_time_s_ = 0.0;
  int token_chunks_ = 0;
  bool have_usage_ = false;
  std::string stream_error_;
};

}  // namespace manifold::bench
