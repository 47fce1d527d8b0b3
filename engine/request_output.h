// What an engine publishes for a request, step by step, and the thread-safe stream that carries
// it from the engine loop to whoever consumes it (the gateway, the offline API, tests).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace manifold {

using Clock = std::chrono::steady_clock;

enum class FinishReason { kStop, kLength, kAbort };
const char* finishReasonName(FinishReason reason);  // "stop", "length", "abort"

struct TokenLogprob {
  int32_t token_id = 0;
  float logprob = 0.0f;
};

// Logprob of one sampled (or prompt) token, plus the top alternatives when asked for.
struct PositionLogprobs {
  TokenLogprob chosen;
  // 1-based rank of `chosen` in the vocabulary, as vLLM counts it: the tokens whose logprob is
  // at least as high (ties rank it last among them). top[i] has rank i + 1.
  int32_t chosen_rank = 1;
  std::vector<TokenLogprob> top;  // descending logprob, at most SamplingParams::kMaxLogprobs
};

// New output of one of the request's n sequences since the previous RequestOutput.
struct SequenceDelta {
  int index = 0;                    // 0..n-1
  std::vector<int32_t> token_ids;   // new token ids
  std::string text;                 // new text, incrementally detokenized, stop strings applied
  std::vector<PositionLogprobs> logprobs;  // one per new token, when logprobs were requested
  std::optional<FinishReason> finish_reason;  // set once, in the sequence's last delta
  // What stopped it, when finish_reason is kStop: the stop string or the stop token id.
  std::optional<std::string> stop_string;
  std::optional<int32_t> stop_token_id;
};

// Timestamps for metrics (vLLM's queue / prefill / decode / e2e intervals).
struct RequestTiming {
  Clock::time_point arrival;
  std::optional<Clock::time_point> first_scheduled;
  std::optional<Clock::time_point> first_token;
  std::optional<Clock::time_point> finished;
};

struct RequestOutput {
  std::vector<SequenceDelta> deltas;  // only sequences with something new
  bool finished = false;              // every sequence has finished; the last output
  int num_prompt_tokens = 0;
  int num_cached_prompt_tokens = 0;   // prompt tokens served from the prefix cache
  // Prompt logprobs (first position has none), sent once in the first output when requested.
  std::vector<PositionLogprobs> prompt_logprobs;
  RequestTiming timing;
  Status error;  // not OK when the engine failed the request; finished is then true
};

// Single producer (the engine loop), single consumer. The consumer either blocks in next() or
// registers a notifier and drains with tryPopAll() (the gateway posts the notifier onto the
// connection's strand). Thread-safe.
class RequestStream {
 public:
  // Producer side.
  void push(RequestOutput output);

  // Consumer side. Blocks until an output is available; returns nullopt after the final output
  // has been consumed.
  std::optional<RequestOutput> next();
  // Non-blocking: moves every pending output into `out`; returns false once the stream is
  // finished and drained.
  bool tryPopAll(std::vector<RequestOutput>& out);
  // Called from the producer's thread after each push; must be cheap and must not call back into
  // the stream's producer. Replaces any previous notifier; fires at once if output is pending.
  void setNotifier(std::function<void()> notifier);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RequestOutput> pending_;        // GUARDED_BY(mu_)
  bool producer_done_ = false;               // GUARDED_BY(mu_)
  bool consumer_done_ = false;               // GUARDED_BY(mu_)
  std::function<void()> notifier_;           // GUARDED_BY(mu_)
};

}  // namespace manifold
