#include "engine/output/sequence_output_processor.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

namespace manifold {

SequenceOutputProcessor::SequenceOutputProcessor(int sequence_index, const SamplingParams& params,
                                                 std::span<const int32_t> eos_token_ids,
                                                 int num_prompt_tokens, int max_model_len,
                                                 std::unique_ptr<TokenTextDecoder> decoder)
    : sequence_index_(sequence_index),
      stop_token_ids_(params.stop_token_ids),
      min_tokens_(params.min_tokens),
      max_output_tokens_(std::min(params.max_tokens.value_or(std::numeric_limits<int>::max()),
                                  max_model_len - num_prompt_tokens)),
      include_stop_str_in_output_(params.include_stop_str_in_output),
      decoder_(std::move(decoder)),
      stop_matcher_(params.stop, params.include_stop_str_in_output) {
  assert(num_prompt_tokens < max_model_len);
  assert(max_output_tokens_ >= 1);
  if (!params.ignore_eos) eos_token_ids_.assign(eos_token_ids.begin(), eos_token_ids.end());
}

bool SequenceOutputProcessor::isEos(int32_t token_id) const {
  return std::find(eos_token_ids_.begin(), eos_token_ids_.end(), token_id) != eos_token_ids_.end();
}

bool SequenceOutputProcessor::isStopToken(int32_t token_id) const {
  return isEos(token_id) || std::find(stop_token_ids_.begin(), stop_token_ids_.end(), token_id) !=
                                stop_token_ids_.end();
}

SequenceDelta SequenceOutputProcessor::append(int32_t token_id,
                                              std::optional<PositionLogprobs> logprobs,
                                              bool ends_output) {
  assert(!finished());
  SequenceDelta delta;
  delta.index = sequence_index_;
  delta.token_ids.push_back(token_id);
  if (logprobs) delta.logprobs.push_back(std::move(*logprobs));
  output_token_ids_.push_back(token_id);

  // vLLM v1 counts the current token for stop tokens (check_stop returns early only while
  // num_output_tokens < min_tokens) but matches stop strings only after min_tokens tokens.
  const bool may_stop = numOutputTokens() > min_tokens_;
  const bool stop_token =
      ends_output || (numOutputTokens() >= min_tokens_ && isStopToken(token_id));

  // A stop token's text is left out unless include_stop_str_in_output (vLLM v1 detokenizer).
  if (decoder_ != nullptr && (!stop_token || include_stop_str_in_output_)) {
    const std::string chunk = decoder_->append(token_id);
    StopStringMatcher::Step step = stop_matcher_.append(chunk, may_stop);
    delta.text = std::move(step.released);
    if (step.stop_string) {
      delta.stop_string = std::move(step.stop_string);
      finish(delta, FinishReason::kStop);
      return delta;
    }
  }
  if (stop_token) {
    // vLLM records stop_reason only for stop_token_ids; EOS (checked first) finishes without one.
    if (!ends_output && !isEos(token_id)) delta.stop_token_id = token_id;
    finish(delta, FinishReason::kStop);
  } else if (numOutputTokens() >= max_output_tokens_) {
    finish(delta, FinishReason::kLength);
  } else {
    text_ += delta.text;
  }
  return delta;
}

SequenceDelta SequenceOutputProcessor::abort() {
  assert(!finished());
  SequenceDelta delta;
  delta.index = sequence_index_;
  finish(delta, FinishReason::kAbort);
  return delta;
}

void SequenceOutputProcessor::finish(SequenceDelta& delta, FinishReason reason) {
  if (!stop_matcher_.stopped() && decoder_ != nullptr) {
    // The decoder's tail (an incomplete UTF-8 sequence) is text too, and may complete a stop
    // string.
    const bool may_stop = numOutputTokens() > min_tokens_;
    StopStringMatcher::Step step = stop_matcher_.append(decoder_->flush(), may_stop);
    delta.text += step.released;
    if (step.stop_string) {
      delta.stop_string = std::move(step.stop_string);
      if (reason != FinishReason::kAbort) reason = FinishReason::kStop;
    }
  }
  // Held-back text was only a possible start of a stop string; the sequence ends here, so it is
  // text after all.
  if (!stop_matcher_.stopped()) delta.text += stop_matcher_.flush();
  text_ += delta.text;
  finish_reason_ = reason;
  delta.finish_reason = reason;
}

}  // namespace manifold
