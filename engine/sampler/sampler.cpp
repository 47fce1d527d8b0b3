#include "engine/sampler/sampler.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <utility>

#include "engine/sampler/philox.h"
#include "engine/sampler/row_ops.h"

namespace manifold {
namespace {

// The lowest id among the largest values, skipping NaN; 0 when every value is NaN or -inf. Only
// for the rare all-masked fallback, on raw logits that may hold NaN.
int32_t argmax(std::span<const float> values) {
  int32_t best = 0;
  float best_value = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] > best_value) {
      best_value = values[i];
      best = static_cast<int32_t>(i);
    }
  }
  return best;
}

// The lowest id holding the largest value, NaN skipped; -1 when every value is NaN or -inf.
MANIFOLD_ROW_KERNEL int32_t greedyToken(std::span<const float> logits) {
  const float max_logit = rowMax(logits);
  if (!(max_logit > -std::numeric_limits<float>::infinity())) return -1;
  return rowFirstIndexOf(logits, max_logit);
}

}  // namespace

Sampler::Sampler(int vocab_size, std::vector<int32_t> eos_token_ids)
    : vocab_size_(vocab_size),
      logits_processor_(vocab_size, std::move(eos_token_ids)),
      token_filter_(vocab_size),
      processed_(vocab_size) {
  assert(vocab_size > 0);
}

std::vector<SampledToken> Sampler::sample(std::span<const SamplingRow> rows) {
  std::vector<SampledToken> tokens;
  tokens.reserve(rows.size());
  for (const SamplingRow& row : rows) tokens.push_back(sampleRow(row));
  return tokens;
}

SampledToken Sampler::sampleRow(const SamplingRow& row) {
  assert(row.params != nullptr);
  assert(static_cast<int>(row.logits.size()) == vocab_size_);
  assert(!row.constrained() || row.token_index->vocabSize() == vocab_size_);
  const SamplingParams& params = *row.params;
  const bool greedy = params.greedy();
  const bool constrained = row.constrained();
  auto takes = [&](int32_t token) {
    return token >= 0 && row.token_index->accepts(*row.grammar, token);
  };

  SampledToken result;
  const int32_t raw_greedy = greedy && !logits_processor_.changesLogits(row)
                                 ? greedyToken(row.logits)
                                 : -2;  // -2: not computed
  if (raw_greedy != -2 && (!constrained || takes(raw_greedy))) {
    // Nothing to process: the argmax of the raw row, without a copy.
    result.token_id = raw_greedy >= 0 ? raw_greedy : 0;
  } else {
    logits_processor_.process(row, processed_);
    // Sampling without min_p / top_k / top_p draws first and masks only when the grammar refuses
    // the draw (exact: see sampler.h); greedy tests its argmax first; filtered sampling masks.
    const bool filtered = params.min_p > 0.0f || params.top_k > 0 || params.top_p < 1.0f;
    const bool draw_first = constrained && !greedy && !filtered;
    if (constrained && !draw_first && (!greedy || !takes(greedyToken(processed_)))) {
      maskByGrammar(row, processed_);
    }
    const float max_processed = rowMax(processed_);
    if (!(max_processed > -std::numeric_limits<float>::infinity())) {
      result.token_id = fallbackToken(row);
    } else if (greedy) {
      result.token_id = rowFirstIndexOf(processed_, max_processed);
    } else {
      const float temperature = params.temperature;
      if (temperature != 1.0f) {
        for (float& logit : processed_) logit /= temperature;  // vectorised: no per-token branch
      }
      token_filter_.apply(processed_, params.min_p, params.top_k, params.top_p);
      const uint32_t sequence = static_cast<uint32_t>(row.first_sample_index + row.sequence_index);
      const uint64_t step = row.output_token_ids.size();
      result.token_id = token_filter_.draw(samplingUniform(row.seed, sequence, step));
      if (draw_first && !takes(result.token_id)) {
        maskByGrammar(row, processed_);
        if (!(rowMax(processed_) > -std::numeric_limits<float>::infinity())) {
          result.token_id = fallbackToken(row);
        } else {
          token_filter_.apply(processed_, 0.0f, 0, 1.0f);
          result.token_id = token_filter_.draw(samplingUniform(row.seed, sequence, step, 1));
        }
      }
    }
  }

  if (params.logprobs) {
    result.logprobs = computePositionLogprobs(row.logits, result.token_id, *params.logprobs);
  }
  return result;
}

int32_t Sampler::fallbackToken(const SamplingRow& row) {
  // Everything masked (e.g. min_tokens over the only finite logit): the raw argmax rather than a
  // draw from an empty distribution, among allowed_token_ids when the request names them; a
  // constrained row keeps to what its grammar takes when it takes anything.
  const std::vector<int32_t>& listed = row.params->allowed_token_ids;
  auto best = [&](auto&& eligible) {
    int32_t found = -1;
    auto consider = [&](int32_t id) {
      if (eligible(id) && (found < 0 || row.logits[id] > row.logits[found])) found = id;
    };
    if (listed.empty()) {
      for (int32_t id = 0; id < vocab_size_; ++id) consider(id);
    } else {
      for (int32_t id : listed) consider(id);
    }
    return found;
  };
  int32_t token = listed.empty() ? argmax(row.logits) : best([](int32_t) { return true; });
  if (row.constrained() && !row.token_index->accepts(*row.grammar, token)) {
    computeGrammarMask(row);
    const int32_t taken = best([&](int32_t id) { return allowed_[id] != 0; });
    if (taken >= 0) token = taken;
  }
  return token;
}

void Sampler::computeGrammarMask(const SamplingRow& row) {
  allowed_.resize(static_cast<size_t>(vocab_size_));
  row.token_index->allowedTokens(*row.grammar, allowed_);
}

void Sampler::maskByGrammar(const SamplingRow& row, std::span<float> logits) {
  computeGrammarMask(row);
  for (int32_t id = 0; id < vocab_size_; ++id) {
    if (allowed_[id] == 0) logits[id] = -std::numeric_limits<float>::infinity();
  }
}

}  // namespace manifold
