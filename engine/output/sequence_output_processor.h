// Per-sequence output processing in the engine loop, after sampling: appends the sampled token,
// decides whether the sequence is finished, and produces the SequenceDelta to publish.
//
// Stop rules, checked for each new token (num = output tokens including this one):
// - min_tokens (as vLLM v1): EOS and stop_token_ids stop the sequence once num >= min_tokens
//   (check_stop: the min_tokens-th token may be the stop); stop strings only once num >
//   min_tokens, and only when they end in text after the min_tokens-th token (its detokenizer).
//   The length limits always apply.
// - EOS (one of the model's eos ids, unless ignore_eos) or a stop_token_id: finish kStop, with
//   stop_token_id recorded for a stop_token_id but not for EOS (vLLM's stop_reason). The token's
//   id is output; its text is not, unless include_stop_str_in_output (vLLM v1 detokenizer: a
//   stop-terminated token is not detokenized).
// - a stop string completes in the token's text: finish kStop with stop_string; text is cut
//   (StopStringMatcher).
// - num == max_tokens, or prompt + num == max_model_len: finish kLength, unless the same token
//   also stopped the sequence (stop wins: the model chose to end there).
// Text emitted over all deltas equals text() at the end, exactly.
// Not thread-safe; owned by the engine loop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/output/stop_string_matcher.h"
#include "engine/output/token_text_decoder.h"
#include "engine/request_output.h"
#include "engine/sampling_params.h"

namespace manifold {

class SequenceOutputProcessor {
 public:
  // sequence_index: 0..n-1. eos_token_ids: the model's EOS ids. decoder may be null: no text (and
  // no stop strings can match). REQUIRES: params validated; num_prompt_tokens < max_model_len.
  SequenceOutputProcessor(int sequence_index, const SamplingParams& params,
                          std::span<const int32_t> eos_token_ids, int num_prompt_tokens,
                          int max_model_len, std::unique_ptr<TokenTextDecoder> decoder);

  // Appends one sampled token; the delta has this token, its new text and logprobs, and the finish
  // reason when it ended the sequence. `ends_output`: structured output's grammar says this
  // token (an EOS after a whole value) ends the output, which then stops as at EOS even under
  // ignore_eos or min_tokens. REQUIRES: !finished().
  [[nodiscard]] SequenceDelta append(int32_t token_id,
                                     std::optional<PositionLogprobs> logprobs = std::nullopt,
                                     bool ends_output = false);
  // Ends the sequence with kAbort, releasing any held-back text. REQUIRES: !finished().
  [[nodiscard]] SequenceDelta abort();

  [[nodiscard]] bool finished() const { return finish_reason_.has_value(); }
  [[nodiscard]] std::optional<FinishReason> finishReason() const { return finish_reason_; }
  [[nodiscard]] std::span<const int32_t> outputTokenIds() const { return output_token_ids_; }
  [[nodiscard]] int numOutputTokens() const { return static_cast<int>(output_token_ids_.size()); }
  // All text released so far (the concatenation of the deltas' text).
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  [[nodiscard]] bool isEos(int32_t token_id) const;  // false when ignore_eos
  [[nodiscard]] bool isStopToken(int32_t token_id) const;
  void finish(SequenceDelta& delta, FinishReason reason);

  int sequence_index_;
  std::vector<int32_t> eos_token_ids_;  // empty when ignore_eos
  std::vector<int32_t> stop_token_ids_;
  int min_tokens_;
  int max_output_tokens_;  // min(max_tokens, max_model_len - num_prompt_tokens)
  bool include_stop_str_in_output_;
  std::unique_ptr<TokenTextDecoder> decoder_;
  StopStringMatcher stop_matcher_;
  std::vector<int32_t> output_token_ids_;
  std::string text_;
  std::optional<FinishReason> finish_reason_;
};

}  // namespace manifold
