// One row of a sampling batch and what the sampler returns for it (see sampler.h for the math).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "engine/request_output.h"
#include "engine/sampling_params.h"
#include "engine/structured_output/output_grammar.h"
#include "engine/structured_output/token_bytes_index.h"

namespace manifold {

// One row of a sampling batch: one sequence's next-token logits and what is needed to process them.
// The spans must stay valid for the duration of the sample() call.
struct SamplingRow {
  std::span<const float> logits;           // [vocab_size] raw model logits
  const SamplingParams* params = nullptr;  // REQUIRES: non-null, validated against the vocab
  // The request's seed: params->seed, or drawRandomSeed() drawn once at submission when unset.
  uint64_t seed = 0;
  int sequence_index = 0;                     // 0..n-1: which of the request's n sequences
  // The index of the request's first sequence among the client's samples, when the request runs
  // a slice of them (the gateway splits an n larger than a batch). Its RNG stream is that of
  // sample first_sample_index + sequence_index, so a split draws what one request would.
  int first_sample_index = 0;
  std::span<const int32_t> prompt_token_ids;  // for the repetition penalty
  // This sequence's generated tokens so far. Its size is the step, the RNG position: the k-th
  // token of a sequence depends only on (seed, first_sample_index + sequence_index, k) and the
  // logits.
  std::span<const int32_t> output_token_ids;
  // Structured output: when both are set, only tokens `grammar` takes (index->accepts) may be
  // drawn. The caller advances its grammar by the drawn token.
  const TokenBytesIndex* token_index = nullptr;
  const OutputGrammar* grammar = nullptr;

  [[nodiscard]] bool constrained() const { return token_index != nullptr && grammar != nullptr; }
};

struct SampledToken {
  int32_t token_id = 0;
  // Set when params->logprobs is set: the raw logprob of token_id and the top params->logprobs
  // tokens (descending logprob, ties by ascending id).
  std::optional<PositionLogprobs> logprobs;
};

}  // namespace manifold
