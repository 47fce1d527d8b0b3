// Configuration of an engine's continuous-batching scheduler.
#pragma once

#include <string_view>

#include "common/status.h"

namespace manifold {

enum class SchedulingPolicy {
  kFcfs,      // first come, first served
  kPriority,  // lower EngineRequest::priority first, ties by arrival
};

// "fcfs" or "priority".
[[nodiscard]] Result<SchedulingPolicy> parseSchedulingPolicy(std::string_view name);
const char* schedulingPolicyName(SchedulingPolicy policy);

struct SchedulerConfig {
  // Sequences in one step's batch (a request with n samples counts n).
  int max_num_seqs = 256;
  // Tokens (prefill + decode) in one step's batch.
  int max_num_batched_tokens = 2048;
  // Longest sequence, prompt plus output; longer prompts are rejected, generation stops there.
  int max_model_len = 2048;
  SchedulingPolicy policy = SchedulingPolicy::kFcfs;
  // Split long prompts across steps so that decodes keep running; off: a prompt is prefilled in
  // one step, and max_num_batched_tokens must cover max_model_len.
  bool enable_chunked_prefill = true;
  // With chunked prefill, > 0: a sequence gets at most this many prompt tokens per step (vLLM's
  // --long-prefill-token-threshold), so several long prompts share a step's budget and none
  // takes it whole. 0: up to the whole budget.
  int long_prefill_token_threshold = 0;
  // The runner performs SchedulerOutput::blocks_to_copy, so the n samples of a request share
  // the prompt's partial last block copy-on-write. Off: each extra sample recomputes that
  // block's tokens (at most block_size - 1) instead.
  bool enable_block_copy = true;

  // Ranges; the message names the field.
  [[nodiscard]] Status validate() const;
};

}  // namespace manifold
