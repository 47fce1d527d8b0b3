// Steps 1-5 of the sampler (sampler.h): NaN cleanup; allowed_token_ids, bad_words and logit_bias;
// min_tokens masking; repetition, frequency and presence penalties. Beyond the copy of the logits,
// a row costs O(prompt + output + the request's named tokens), and a vocabulary fill when
// allowed_token_ids masks the rest.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/sampler/sampling_row.h"

namespace manifold {

// Not thread-safe: holds per-row scratch counts.
class LogitsProcessor {
 public:
  LogitsProcessor(int vocab_size, std::vector<int32_t> eos_token_ids);

  // Whether steps 2-5 change anything for this row (step 1, NaN cleanup, aside).
  [[nodiscard]] bool changesLogits(const SamplingRow& row) const;

  // Writes row.logits after steps 1-5 into out. REQUIRES: out.size() == row.logits.size() ==
  // vocab_size; every history token id in [0, vocab_size).
  void process(const SamplingRow& row, std::span<float> out);

 private:
  void applyPenalties(const SamplingRow& row, std::span<float> logits);
  // vLLM's bad words: a word's last token is banned where the output ends with the rest of it
  // (a one-token word is banned everywhere).
  void banBadWords(const SamplingRow& row, std::span<float> logits) const;

  int vocab_size_;
  std::vector<int32_t> eos_token_ids_;
  std::vector<int32_t> output_counts_;  // [vocab_size] count in output; zero between rows
  std::vector<uint8_t> seen_;           // [vocab_size] in prompt or output; zero between rows
  std::vector<int32_t> distinct_;       // distinct history ids of the current row
  std::vector<float> allowed_values_;   // allowed_token_ids' logits while the row is masked
};

}  // namespace manifold
