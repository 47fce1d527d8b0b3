// What an engine loop reports to whoever watches it (metrics, periodic log lines), in vLLM's
// terms: one StepStats per scheduler step and one FinishedRequestStats per finished request.
//
// The engine loop calls these from its own thread; an implementation must be cheap (no I/O, no
// blocking) and thread-safe if it is shared between engines. The engine holds the observer by
// reference or raw non-owning pointer; the observer outlives the engine.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/request_output.h"

namespace manifold {

// One scheduler step (schedule -> execute -> sample -> emit). Deltas are counts since the
// previous step, so an observer never has to diff cumulative counters.
struct StepStats {
  int num_scheduled_tokens = 0;  // prompt (prefill) + decode tokens run in this step's batch
  int num_prefill_tokens = 0;    // of which prompt positions (recomputation included)
  // Prompt lengths of the requests whose first token came out in this step, as vLLM counts
  // prompt tokens (vllm:prompt_tokens_total, the log line's prompt throughput): each request's
  // whole prompt once, prefix-cache hits included, preemptions and n > 1 not counted again.
  int num_prompt_tokens = 0;
  int num_generation_tokens = 0;  // tokens sampled and emitted in this step
  int num_running = 0;            // requests in the running set after the step
  int num_waiting = 0;            // requests queued, not yet scheduled (or preempted)
  double kv_cache_usage = 0.0;    // fraction of KV blocks in use after the step, 0..1
  int64_t prefix_cache_queries_delta = 0;  // prompt tokens looked up in the prefix cache
  int64_t prefix_cache_hits_delta = 0;     // of which found in the cache
  int64_t num_preemptions_delta = 0;       // requests preempted in this step
};

// A request's life, reported once when its last sequence finishes (or it is aborted).
struct FinishedRequestStats {
  int num_prompt_tokens = 0;
  int num_generation_tokens = 0;  // summed over the request's sequences
  // Prompt tokens served from the prefix cache (not recomputed); informational.
  int num_cached_prompt_tokens = 0;
  FinishReason finish_reason = FinishReason::kStop;
  // arrival, first_scheduled, first_token and finished; an aborted request may lack the
  // optional ones, and the observer then skips the intervals it cannot compute.
  RequestTiming timing;
  // Seconds between consecutive emitted tokens of the request after the first one (vLLM's
  // time_per_output_token / inter-token latency); empty for requests with <= 1 output token.
  std::vector<double> inter_token_latencies_s;
};

// Implemented by gateway/metrics (MetricsRegistry::observerFor) and by test doubles.
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;

  // Called by the engine loop after every step that scheduled at least one token.
  virtual void onStep(const StepStats& stats) = 0;
  // Called by the engine loop when the gauges of StepStats (num_running, num_waiting,
  // kv_cache_usage) changed without a step: aborts, rejected or failed requests. The other
  // fields are zero.
  virtual void onState(const StepStats& stats) = 0;
  // Called by the engine loop once per request, after its final RequestOutput was pushed.
  virtual void onRequestFinished(const FinishedRequestStats& stats) = 0;
};

}  // namespace manifold
