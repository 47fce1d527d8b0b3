// Logprobs of one position from raw model logits (vLLM's default "raw_logprobs").
#pragma once

#include <cstdint>
#include <span>

#include "engine/request_output.h"
#include "engine/sampling_params.h"

namespace manifold {

// The logprobs of one position from raw logits: log_softmax(logits)[token_id], its rank, and the
// top num_top tokens (descending, ties by ascending id). Used for sampled tokens and prompt logprobs.
// A row with +inf logits is one-hot on the lowest id holding +inf (as the sampler draws it): that
// token's logprob is 0 and every other's -inf.
// REQUIRES: 0 <= token_id < logits.size(), 0 <= num_top <= SamplingParams::kMaxLogprobs.
[[nodiscard]] PositionLogprobs computePositionLogprobs(std::span<const float> logits,
                                                       int32_t token_id, int num_top);

}  // namespace manifold
