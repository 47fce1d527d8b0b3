#include "engine/sampling_params.h"

#include <cmath>
#include <string>

namespace manifold {
namespace {

Status badField(const std::string& field, const std::string& why) {
  return invalidArgument("`" + field + "` " + why);
}

}  // namespace

Status SamplingParams::validate(int vocab_size) const {
  if (n < 1 || n > kMaxN) {
    return badField("n", "must be between 1 and " + std::to_string(kMaxN) + ", got " +
                             std::to_string(n));
  }
  if (!std::isfinite(temperature) || temperature < 0.0f) {
    return badField("temperature", "must be a finite number of at least 0");
  }
  if (!std::isfinite(top_p) || top_p <= 0.0f || top_p > 1.0f) {
    return badField("top_p", "must be in (0, 1]");
  }
  if (top_k < -1) return badField("top_k", "must be -1 (off), 0 (off) or positive");
  if (!std::isfinite(min_p) || min_p < 0.0f || min_p > 1.0f) {
    return badField("min_p", "must be in [0, 1]");
  }
  if (!std::isfinite(presence_penalty) || presence_penalty < -2.0f || presence_penalty > 2.0f) {
    return badField("presence_penalty", "must be in [-2, 2]");
  }
  if (!std::isfinite(frequency_penalty) || frequency_penalty < -2.0f ||
      frequency_penalty > 2.0f) {
    return badField("frequency_penalty", "must be in [-2, 2]");
  }
  if (!std::isfinite(repetition_penalty) || repetition_penalty <= 0.0f) {
    return badField("repetition_penalty", "must be a finite number above 0");
  }
  if (max_tokens && *max_tokens < 1) {
    return badField("max_tokens", "must be at least 1, got " + std::to_string(*max_tokens));
  }
  if (min_tokens < 0) return badField("min_tokens", "must be non-negative");
  if (max_tokens && min_tokens > *max_tokens) {
    return badField("min_tokens", "must not exceed max_tokens");
  }
  for (const std::string& s : stop) {
    if (s.empty()) return badField("stop", "must not contain empty strings");
  }
  if (stop.size() > 16) return badField("stop", "allows at most 16 strings");
  for (int32_t id : stop_token_ids) {
    if (id < 0 || id >= vocab_size) {
      return badField("stop_token_ids", "contains out-of-vocabulary id " + std::to_string(id));
    }
  }
  if (logprobs && (*logprobs < 0 || *logprobs > kMaxLogprobs)) {
    return badField("logprobs", "must be between 0 and " + std::to_string(kMaxLogprobs));
  }
  if (prompt_logprobs && (*prompt_logprobs < 0 || *prompt_logprobs > kMaxLogprobs)) {
    return badField("prompt_logprobs", "must be between 0 and " + std::to_string(kMaxLogprobs));
  }
  for (int32_t id : allowed_token_ids) {
    if (id < 0 || id >= vocab_size) {
      return badField("allowed_token_ids", "contains out-of-vocabulary id " + std::to_string(id));
    }
  }
  for (const std::vector<int32_t>& word : bad_words_token_ids) {
    for (int32_t id : word) {
      if (id < 0 || id >= vocab_size) {
        return badField("bad_words", "encode to the out-of-vocabulary id " + std::to_string(id));
      }
    }
  }
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0 || id >= vocab_size) {
      return badField("logit_bias", "contains out-of-vocabulary id " + std::to_string(id));
    }
    if (!std::isfinite(bias) || bias < -100.0f || bias > 100.0f) {
      return badField("logit_bias", "values must be in [-100, 100]");
    }
  }
  return Status::ok();
}

}  // namespace manifold
