// computePositionLogprobs: log-softmax of raw logits. The exponentials are fastExpNonPositive
// (relative error < 2e-7), summed in double.
#include "engine/sampler/logprobs.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "engine/sampler/row_ops.h"

namespace manifold {
namespace {

// NaN logits count as -inf here as in the sampler.
float cleaned(float value) {
  return std::isnan(value) ? -std::numeric_limits<float>::infinity() : value;
}

// Higher logit first, then lower id.
bool ranksBefore(const TokenLogprob& a, const TokenLogprob& b) {
  return a.logprob > b.logprob || (a.logprob == b.logprob && a.token_id < b.token_id);
}

// log sum_i exp(l_i), NaN counting as -inf; -inf when every logit is.
MANIFOLD_ROW_KERNEL double logNormalizer(std::span<const float> logits) {
  const float max_logit = rowMax(logits);  // skips NaN
  if (!std::isfinite(max_logit)) return max_logit;
  return static_cast<double>(max_logit) + std::log(rowSumExp(logits, max_logit));
}

// The num_top best (logit, id) of the row, best first. Blocks whose maximum cannot enter the list
// are skipped after one vectorised max.
MANIFOLD_ROW_KERNEL void collectTop(std::span<const float> logits, size_t num_top,
                                    std::vector<TokenLogprob>& top) {
  constexpr size_t kBlock = 16;
  top.reserve(num_top + 1);
  auto visit = [&](size_t i) {
    const TokenLogprob candidate{static_cast<int32_t>(i), cleaned(logits[i])};
    if (top.size() == num_top && !ranksBefore(candidate, top.back())) return;
    top.insert(std::upper_bound(top.begin(), top.end(), candidate, ranksBefore), candidate);
    if (top.size() > num_top) top.pop_back();
  };
  size_t i = 0;
  for (; i + kBlock <= logits.size(); i += kBlock) {
    // A later token can enter only with a strictly larger logit (ties go to the lower id).
    if (top.size() == num_top && !(rowMax(logits.subspan(i, kBlock)) > top.back().logprob)) {
      continue;
    }
    for (size_t j = i; j < i + kBlock; ++j) visit(j);
  }
  for (; i < logits.size(); ++i) visit(i);
}

// How many logits are at least `value` (NaN counting as -inf, so as none when value is finite).
MANIFOLD_ROW_KERNEL int32_t countAtLeast(std::span<const float> logits, float value) {
  int32_t count = 0;
  for (const float logit : logits) count += logit >= value ? 1 : 0;
  return count;
}

}  // namespace

PositionLogprobs computePositionLogprobs(std::span<const float> logits, int32_t token_id,
                                         int num_top) {
  assert(token_id >= 0 && static_cast<size_t>(token_id) < logits.size());
  assert(num_top >= 0 && num_top <= SamplingParams::kMaxLogprobs);

  constexpr float kInf = std::numeric_limits<float>::infinity();
  const float max_logit = rowMax(logits);  // skips NaN
  // With +inf logits the sampler's distribution is one-hot on the lowest id holding +inf (inf -
  // inf would be NaN): that token has logprob 0, every other -inf.
  const int32_t one_hot = max_logit == kInf ? rowFirstIndexOf(logits, kInf) : -1;
  const double log_normalizer = one_hot >= 0 ? 0.0 : logNormalizer(logits);
  auto logprobOf = [&](int32_t id, float logit) {
    if (one_hot >= 0) return id == one_hot ? 0.0f : -kInf;
    return static_cast<float>(static_cast<double>(cleaned(logit)) - log_normalizer);
  };
  PositionLogprobs result;
  result.chosen = {token_id, logprobOf(token_id, logits[token_id])};
  if (one_hot >= 0) {
    result.chosen_rank = token_id == one_hot ? 1 : static_cast<int32_t>(logits.size());
  } else {
    const float logit = cleaned(logits[token_id]);
    result.chosen_rank = logit == -kInf ? static_cast<int32_t>(logits.size())
                                        : countAtLeast(logits, logit);
  }
  if (num_top == 0) return result;

  std::vector<TokenLogprob>& top = result.top;
  collectTop(logits, static_cast<size_t>(num_top), top);
  for (TokenLogprob& entry : top) entry.logprob = logprobOf(entry.token_id, entry.logprob);
  return result;
}

}  // namespace manifold
