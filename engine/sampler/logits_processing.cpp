#include "engine/sampler/logits_processing.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <utility>

namespace manifold {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace

LogitsProcessor::LogitsProcessor(int vocab_size, std::vector<int32_t> eos_token_ids)
    : vocab_size_(vocab_size),
      eos_token_ids_(std::move(eos_token_ids)),
      output_counts_(vocab_size, 0),
      seen_(vocab_size, 0) {
  assert(vocab_size > 0);
}

bool LogitsProcessor::changesLogits(const SamplingRow& row) const {
  const SamplingParams& params = *row.params;
  const bool min_tokens_active =
      static_cast<int>(row.output_token_ids.size()) < params.min_tokens &&
      (!params.stop_token_ids.empty() || !eos_token_ids_.empty());
  return !params.logit_bias.empty() || min_tokens_active || !params.allowed_token_ids.empty() ||
         !params.bad_words_token_ids.empty() || params.repetition_penalty != 1.0f ||
         params.frequency_penalty != 0.0f || params.presence_penalty != 0.0f;
}

void LogitsProcessor::process(const SamplingRow& row, std::span<float> out) {
  assert(row.params != nullptr);
  assert(static_cast<int>(row.logits.size()) == vocab_size_);
  assert(out.size() == row.logits.size());
  const SamplingParams& params = *row.params;

  const float* __restrict in = row.logits.data();
  float* __restrict cleaned = out.data();
  for (int i = 0; i < vocab_size_; ++i) {
    const float value = in[i];
    cleaned[i] = value != value ? kNegInf : value;  // NaN; a select, so the copy vectorises
  }

  if (!params.allowed_token_ids.empty()) {
    // Everything else is -inf: the allowed values are kept aside while the row is filled.
    allowed_values_.clear();
    for (int32_t id : params.allowed_token_ids) allowed_values_.push_back(out[id]);
    std::fill(out.begin(), out.end(), kNegInf);
    for (size_t i = 0; i < params.allowed_token_ids.size(); ++i) {
      out[params.allowed_token_ids[i]] = allowed_values_[i];
    }
  }
  banBadWords(row, out);

  for (const auto& [token_id, bias] : params.logit_bias) {
    assert(token_id >= 0 && token_id < vocab_size_);
    out[token_id] += bias;
  }

  // EOS is masked with ignore_eos too, as vLLM adds it to the stop ids min_tokens masks either
  // way: min_tokens asks for that many tokens before an end, ignore_eos for no stop at EOS.
  if (static_cast<int>(row.output_token_ids.size()) < params.min_tokens) {
    for (int32_t id : eos_token_ids_) {
      if (id >= 0 && id < vocab_size_) out[id] = kNegInf;
    }
    for (int32_t id : params.stop_token_ids) {
      assert(id >= 0 && id < vocab_size_);
      out[id] = kNegInf;
    }
  }

  if (params.repetition_penalty != 1.0f || params.frequency_penalty != 0.0f ||
      params.presence_penalty != 0.0f) {
    applyPenalties(row, out);
  }
}

void LogitsProcessor::banBadWords(const SamplingRow& row, std::span<float> logits) const {
  const std::span<const int32_t> output = row.output_token_ids;
  for (const std::vector<int32_t>& word : row.params->bad_words_token_ids) {
    if (word.empty() || word.size() > output.size() + 1) continue;
    const size_t prefix = word.size() - 1;
    if (std::equal(word.begin(), word.begin() + static_cast<std::ptrdiff_t>(prefix),
                   output.end() - static_cast<std::ptrdiff_t>(prefix))) {
      logits[word.back()] = kNegInf;
    }
  }
}

void LogitsProcessor::applyPenalties(const SamplingRow& row, std::span<float> logits) {
  const SamplingParams& params = *row.params;
  distinct_.clear();
  // seen_ bit 1: in the prompt; bit 2: in the output.
  for (int32_t id : row.prompt_token_ids) {
    assert(id >= 0 && id < vocab_size_);
    if (seen_[id] == 0) distinct_.push_back(id);
    seen_[id] |= 1;
  }
  for (int32_t id : row.output_token_ids) {
    assert(id >= 0 && id < vocab_size_);
    if (seen_[id] == 0) distinct_.push_back(id);
    seen_[id] |= 2;
    ++output_counts_[id];
  }

  const float repetition = params.repetition_penalty;
  for (int32_t id : distinct_) {
    float& logit = logits[id];
    if (repetition != 1.0f) logit = logit > 0.0f ? logit / repetition : logit * repetition;
    const int32_t count = output_counts_[id];
    if (count > 0) {
      logit -= params.frequency_penalty * static_cast<float>(count) + params.presence_penalty;
    }
    seen_[id] = 0;
    output_counts_[id] = 0;
  }
}

}  // namespace manifold
