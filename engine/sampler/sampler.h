// The sampler: turns one batch of F32 logits rows into tokens, on the host. The CUDA backend will
// do the same math on the device; every step below is defined exactly so both agree.
//
// Per row, in this order (vLLM v1 `Sampler.forward`, with its default logprobs_mode
// "raw_logprobs"):
//   0. logprobs, when asked: log-softmax of the RAW model logits (before any step below), as vLLM
//      returns them by default. The chosen token's logprob plus the top `logprobs` alternatives.
//   1. NaN logits count as -inf. Structured output: tokens the row's grammar does not take are
//      -inf too (vLLM applies its grammar bitmask to the logits before the sampler).
//   2. logit_bias: logit[t] += bias.
//   3. min_tokens: while fewer than min_tokens tokens have been generated, the EOS ids (unless
//      ignore_eos) and stop_token_ids are set to -inf.
//   4. repetition penalty (HF/vLLM): for each distinct token in prompt + output,
//      logit > 0 ? logit / r : logit * r.
//   5. frequency and presence penalties (OpenAI, output tokens only):
//      logit[t] -= frequency * count(t) + presence * (count(t) > 0).
//   6. params.greedy(), a temperature below 1e-5 (vLLM's _SAMPLING_EPS): greedy, the argmax of the
//      logits after step 5 (ties: the lowest id). Top-k/top-p/min-p do not apply. Done.
//   7. logit /= temperature (float); weights w = exp(logit - max logit), so p = w / sum w.
//   8. min_p: keep tokens with logit - max >= ln(min_p), i.e. p >= min_p * max(p).
//   9. top_k (k > 0): of those, keep tokens whose logit >= the k-th largest kept logit (ties at
//      the boundary are all kept, as vLLM's mask `logits < kth_value`).
//  10. top_p < 1: rank the kept tokens by (logit descending, id ascending), renormalise over them,
//      and keep a token iff the mass ranked strictly above it is < top_p (vLLM's ascending-cumsum
//      mask `cumsum <= 1 - top_p`, written for the descending order); the first token is always
//      kept.
//  11. sample: u = samplingUniform(seed, sequence_index, step) in [0, 1) (philox.h); with the kept
//      weights in ascending token id order, the token is the smallest id t with
//      sum_{kept i <= t} w_i > u * sum_{kept} w_i (the last kept token if rounding leaves none).
// If every token is -inf after steps 1-5, the row falls back to the argmax of the raw logits (of a
// constrained row: among the tokens its grammar takes, if any): the sampler always returns a valid
// id and never produces NaN.
//
// A greedy constrained row first tests only the argmax against its grammar and computes the whole
// mask only when the grammar refuses it: the result is the same, the argmax of the masked logits.
// A sampled constrained row without min_p, top_k or top_p does the same with its draw: when the
// grammar refuses it, the row is masked and drawn again with an independent uniform (stream 1 of
// samplingUniform). That is exact: a token t the grammar takes comes out with probability
// p(t) + (1 - V) p(t) / V = p(t) / V, V the mass of the taken tokens. With those filters the mask
// must come first (they act on the masked distribution, as in vLLM), so it does.
//
// Numerics: exp is fastExpNonPositive (fast_exp.h, relative error < 2e-7, exactly 0 below -87);
// sums are in double over fixed blocks (row_ops.h). A CUDA implementation agrees up to that
// rounding: only a draw landing within ~1e-7 of a cumulative boundary can differ.
//
// Step 8-10 order follows vLLM v1 (min_p is an argmax-invariant logits processor applied before
// apply_top_k_top_p). min_p and top_k commute; top_p sees the distribution renormalised over what
// min_p and top_k kept. No step sorts the vocabulary (token_filter.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/sampler/logits_processing.h"
#include "engine/sampler/logprobs.h"
#include "engine/sampler/sampling_row.h"
#include "engine/sampler/token_filter.h"

namespace manifold {

// Not thread-safe: holds scratch buffers; one per engine loop.
class Sampler {
 public:
  // eos_token_ids: the model's EOS ids (generation_config / tokenizer), masked by min_tokens.
  Sampler(int vocab_size, std::vector<int32_t> eos_token_ids);

  // REQUIRES: every row's logits.size() == vocab_size().
  [[nodiscard]] std::vector<SampledToken> sample(std::span<const SamplingRow> rows);
  [[nodiscard]] SampledToken sampleRow(const SamplingRow& row);

  [[nodiscard]] int vocab_size() const { return vocab_size_; }

 private:
  int vocab_size_;
  LogitsProcessor logits_processor_;
  TokenFilter token_filter_;
  // allowed_ = the row's grammar mask.
  void computeGrammarMask(const SamplingRow& row);
  // Sets the logits of tokens the row's grammar refuses to -inf; allowed_ holds the mask after.
  void maskByGrammar(const SamplingRow& row, std::span<float> logits);
  // The token of a row whose processed logits are all -inf.
  [[nodiscard]] int32_t fallbackToken(const SamplingRow& row);

  std::vector<float> processed_;  // [vocab_size] logits after steps 1-5, then / temperature
  std::vector<uint8_t> allowed_;  // [vocab_size] grammar mask of the current row
};

}  // namespace manifold
