#include "engine/sampler/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace manifold {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

std::vector<float> randomLogits(int vocab, float stddev, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> logits(vocab);
  for (float& logit : logits) logit = normal(rng);
  return logits;
}

SamplingRow makeRow(const std::vector<float>& logits, const SamplingParams& params, uint64_t seed,
                    std::span<const int32_t> output = {}, int sequence_index = 0) {
  SamplingRow row;
  row.logits = logits;
  row.params = &params;
  row.seed = seed;
  row.sequence_index = sequence_index;
  row.output_token_ids = output;
  return row;
}

// Empirical frequencies of `draws` samples (one per seed) against probabilities computed here in
// double; each count within 5 standard deviations of its binomial expectation.
void expectFrequenciesMatch(const std::vector<float>& logits, const SamplingParams& params,
                            const std::vector<double>& expected_probs, int draws) {
  Sampler sampler(static_cast<int>(logits.size()), {});
  std::vector<int> counts(logits.size(), 0);
  for (int seed = 0; seed < draws; ++seed) {
    ++counts[sampler.sampleRow(makeRow(logits, params, 1000 + seed)).token_id];
  }
  for (size_t i = 0; i < logits.size(); ++i) {
    const double mean = draws * expected_probs[i];
    const double sigma = std::sqrt(draws * expected_probs[i] * (1.0 - expected_probs[i]));
    if (expected_probs[i] == 0.0) {
      EXPECT_EQ(counts[i], 0) << "token " << i;
    } else {
      EXPECT_NEAR(counts[i], mean, 5.0 * sigma + 1.0) << "token " << i;
    }
  }
}

std::vector<double> softmax(const std::vector<double>& logits) {
  const double max_logit = *std::max_element(logits.begin(), logits.end());
  std::vector<double> probs;
  double sum = 0.0;
  for (double logit : logits) sum += std::exp(logit - max_logit);
  for (double logit : logits) probs.push_back(std::exp(logit - max_logit) / sum);
  return probs;
}

TEST(Sampler, GreedyPicksTheArgmax) {
  Sampler sampler(1000, {});
  SamplingParams params;
  params.temperature = 0.0f;
  for (uint32_t seed = 0; seed < 20; ++seed) {
    const std::vector<float> logits = randomLogits(1000, 3.0f, seed);
    const auto expected = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(sampler.sampleRow(makeRow(logits, params, seed)).token_id, expected);
  }
}

TEST(Sampler, GreedyBreaksTiesTowardTheLowestId) {
  Sampler sampler(5, {});
  SamplingParams params;
  params.temperature = 0.0f;
  const std::vector<float> logits = {1.0f, 4.0f, 2.0f, 4.0f, 4.0f};
  EXPECT_EQ(sampler.sampleRow(makeRow(logits, params, 0)).token_id, 1);
}

TEST(Sampler, GreedySkipsNanLogits) {
  Sampler sampler(5, {});
  SamplingParams params;
  params.temperature = 0.0f;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> logits = {nan, 1.0f, 3.0f, nan, 2.0f};
  EXPECT_EQ(sampler.sampleRow(makeRow(logits, params, 0)).token_id, 2);
  const std::vector<float> all_nan(5, nan);
  EXPECT_EQ(sampler.sampleRow(makeRow(all_nan, params, 0)).token_id, 0);
}

TEST(Sampler, GreedyIgnoresTopKTopPAndMinP) {
  Sampler sampler(4, {});
  SamplingParams params;
  params.temperature = 0.0f;
  params.top_k = 1;
  params.top_p = 0.01f;
  params.min_p = 1.0f;
  const std::vector<float> logits = {0.0f, 1.0f, 3.0f, 2.0f};
  EXPECT_EQ(sampler.sampleRow(makeRow(logits, params, 0)).token_id, 2);
}

TEST(Sampler, GreedyUsesPenalisedAndBiasedLogits) {
  Sampler sampler(4, {});
  SamplingParams params;
  params.temperature = 0.0f;
  params.logit_bias = {{0, 2.5f}};
  params.frequency_penalty = 2.0f;
  const std::vector<float> logits = {1.0f, 1.5f, 3.0f, 2.0f};
  const std::vector<int32_t> output = {2};
  // Token 2: 3 - 2 = 1; token 0: 1 + 2.5 = 3.5 wins.
  EXPECT_EQ(sampler.sampleRow(makeRow(logits, params, 0, output)).token_id, 0);
}

TEST(Sampler, SamplesFromTheTemperatureScaledSoftmax) {
  const std::vector<double> raw = {1.0, 2.0, 0.5, -1.0, 3.0, 2.2};
  SamplingParams params;
  params.temperature = 0.7f;
  std::vector<double> scaled;
  for (double logit : raw) scaled.push_back(logit / 0.7);
  const std::vector<float> logits(raw.begin(), raw.end());
  expectFrequenciesMatch(logits, params, softmax(scaled), 20000);
}

TEST(Sampler, SamplesOnlyFromTheRenormalisedTopKAndTopPSet) {
  // Ranked: 4 (3.0), 5 (2.2), 1 (2.0), 0 (1.0), ... top_k 3 keeps {4, 5, 1}; renormalised masses
  // are about {0.55, 0.25, 0.20}, so top_p 0.7 keeps {4, 5}.
  const std::vector<double> raw = {1.0, 2.0, 0.5, -1.0, 3.0, 2.2};
  SamplingParams params;
  params.top_k = 3;
  params.top_p = 0.7f;
  const std::vector<double> kept = softmax({3.0, 2.2});
  const std::vector<double> expected = {0.0, 0.0, 0.0, 0.0, kept[0], kept[1]};
  const std::vector<float> logits(raw.begin(), raw.end());
  expectFrequenciesMatch(logits, params, expected, 20000);
}

TEST(Sampler, SamplesOnlyTokensAboveMinP) {
  const std::vector<double> raw = {1.0, 2.0, 0.5, -1.0, 3.0, 2.2};
  SamplingParams params;
  params.min_p = 0.3f;  // keeps p >= 0.3 p_max: logit >= 3 + ln 0.3 = 1.80
  const std::vector<double> kept = softmax({2.0, 3.0, 2.2});
  const std::vector<double> expected = {0.0, kept[0], 0.0, 0.0, kept[1], kept[2]};
  const std::vector<float> logits(raw.begin(), raw.end());
  expectFrequenciesMatch(logits, params, expected, 20000);
}

TEST(Sampler, SamplesALargeVocabularyInProportionToItsProbabilities) {
  // 5000 tokens: every 5th has logit 2, the rest 0, and the last block only -inf except one token.
  // Group frequencies exercise the blocked cumulative sum of a dense row.
  const int vocab = 5000;
  std::vector<float> logits(vocab, 0.0f);
  for (int id = 0; id < vocab; id += 5) logits[id] = 2.0f;
  for (int id = 4096; id < vocab; ++id) logits[id] = kNegInf;
  logits[4999] = 1.0f;
  double high = 0.0, low = 0.0, last = std::exp(1.0);
  for (int id = 0; id < 4096; ++id) (id % 5 == 0 ? high : low) += std::exp(logits[id]);
  const double total = high + low + last;
  Sampler sampler(vocab, {});
  SamplingParams params;
  const int draws = 20000;
  int num_high = 0, num_last = 0, num_first_half = 0;
  for (int seed = 0; seed < draws; ++seed) {
    const int32_t token = sampler.sampleRow(makeRow(logits, params, seed)).token_id;
    ASSERT_TRUE(token < 4096 || token == 4999) << token;
    num_high += token % 5 == 0 && token < 4096;
    num_last += token == 4999;
    num_first_half += token < 2048;
  }
  auto expectBinomial = [&](int count, double p) {
    EXPECT_NEAR(count, draws * p, 5.0 * std::sqrt(draws * p * (1.0 - p)));
  };
  expectBinomial(num_high, high / total);
  expectBinomial(num_last, last / total);
  double first_half = 0.0;
  for (int id = 0; id < 2048; ++id) first_half += std::exp(logits[id]);
  expectBinomial(num_first_half, first_half / total);
}

TEST(Sampler, SamplesOnlyFromAWideNucleusInProportion) {
  // A flat 20000-token row: top_p 0.5 keeps thousands of tokens (the dense kept-set path). The
  // kept set is computed here by a full sort in double.
  const int vocab = 20000;
  const std::vector<float> logits = randomLogits(vocab, 0.3f, 21);
  std::vector<int32_t> order(vocab);
  for (int i = 0; i < vocab; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  double total = 0.0;
  for (float logit : logits) total += std::exp(static_cast<double>(logit));
  std::vector<char> kept(vocab, 0);
  double above = 0.0;
  double kept_mass = 0.0;
  for (int32_t id : order) {
    if (above >= 0.5 * total) break;
    kept[id] = 1;
    above += std::exp(static_cast<double>(logits[id]));
  }
  kept_mass = above;
  double low_id_mass = 0.0;
  for (int id = 0; id < vocab / 2; ++id) {
    if (kept[id]) low_id_mass += std::exp(static_cast<double>(logits[id]));
  }
  ASSERT_GT(std::count(kept.begin(), kept.end(), 1), 5000);

  Sampler sampler(vocab, {});
  SamplingParams params;
  params.top_p = 0.5f;
  const int draws = 4000;
  int low_ids = 0;
  for (int seed = 0; seed < draws; ++seed) {
    const int32_t token = sampler.sampleRow(makeRow(logits, params, seed)).token_id;
    ASSERT_TRUE(kept[token]) << token;
    low_ids += token < vocab / 2;
  }
  const double p = low_id_mass / kept_mass;
  EXPECT_NEAR(low_ids, draws * p, 5.0 * std::sqrt(draws * p * (1.0 - p)));
}

TEST(Sampler, SameSeedGivesSameTokensWhateverTheBatch) {
  const int vocab = 500;
  Sampler sampler(vocab, {});
  SamplingParams target;
  target.temperature = 1.3f;
  target.top_p = 0.95f;
  SamplingParams other;
  other.temperature = 0.8f;
  other.top_k = 10;
  const std::vector<float> noise = randomLogits(vocab, 1.0f, 99);

  std::vector<int32_t> alone_output;
  std::vector<int32_t> batched_output;
  for (int step = 0; step < 64; ++step) {
    const std::vector<float> logits = randomLogits(vocab, 1.0f, step);
    const int32_t alone = sampler.sampleRow(makeRow(logits, target, 777, alone_output)).token_id;
    // Same row at a different position, among rows with other seeds and params.
    const std::vector<SamplingRow> batch = {
        makeRow(noise, other, 1, {}), makeRow(noise, target, 2, {}),
        makeRow(logits, target, 777, batched_output), makeRow(noise, other, 777, {}, 1)};
    const int32_t batched = sampler.sample(batch)[2].token_id;
    ASSERT_EQ(alone, batched) << "step " << step;
    alone_output.push_back(alone);
    batched_output.push_back(batched);
  }
}

TEST(Sampler, DifferentSeedsAndSequenceIndicesGiveDifferentStreams) {
  const int vocab = 100;
  Sampler sampler(vocab, {});
  SamplingParams params;
  const std::vector<float> flat(vocab, 0.0f);
  auto stream = [&](uint64_t seed, int sequence_index) {
    std::vector<int32_t> output;
    for (int step = 0; step < 32; ++step) {
      output.push_back(
          sampler.sampleRow(makeRow(flat, params, seed, output, sequence_index)).token_id);
    }
    return output;
  };
  EXPECT_EQ(stream(5, 0), stream(5, 0));
  EXPECT_NE(stream(5, 0), stream(6, 0));
  EXPECT_NE(stream(5, 0), stream(5, 1));
}

TEST(Sampler, MinTokensKeepsEosFromBeingSampled) {
  Sampler sampler(3, {2});
  SamplingParams params;
  params.temperature = 0.0f;
  params.min_tokens = 2;
  const std::vector<float> logits = {0.0f, 1.0f, 5.0f};
  const std::vector<int32_t> one = {1};
  const std::vector<int32_t> two = {1, 1};
  EXPECT_EQ(sampler.sampleRow(makeRow(logits, params, 0, one)).token_id, 1);
  EXPECT_EQ(sampler.sampleRow(makeRow(logits, params, 0, two)).token_id, 2);
}

TEST(Sampler, SamplesTheOnlyUnmaskedTokenWithoutNan) {
  const int vocab = 50;
  Sampler sampler(vocab, {});
  std::vector<float> logits(vocab, kNegInf);
  logits[17] = -3.0f;
  logits[3] = std::numeric_limits<float>::quiet_NaN();
  SamplingParams params;
  params.temperature = 0.5f;
  params.top_p = 0.5f;
  params.top_k = 5;
  params.min_p = 0.5f;
  params.logprobs = 3;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const SampledToken token = sampler.sampleRow(makeRow(logits, params, seed));
    ASSERT_EQ(token.token_id, 17);
    ASSERT_TRUE(token.logprobs.has_value());
    EXPECT_EQ(token.logprobs->chosen.logprob, 0.0f);
    EXPECT_EQ(token.logprobs->top[0].token_id, 17);
    for (const TokenLogprob& top : token.logprobs->top) EXPECT_FALSE(std::isnan(top.logprob));
  }
}

TEST(Sampler, FallsBackToRawArgmaxWhenEverythingIsMasked) {
  // The only finite logit is EOS and min_tokens masks it: the row still yields a valid token.
  Sampler sampler(4, {1});
  std::vector<float> logits(4, kNegInf);
  logits[1] = 2.0f;
  SamplingParams params;
  params.min_tokens = 5;
  EXPECT_EQ(sampler.sampleRow(makeRow(logits, params, 3)).token_id, 1);
}

// allowed_token_ids = {EOS} under min_tokens masks every token: the fallback keeps to the allowed
// ids (their raw argmax), not the free text of the whole vocabulary's.
TEST(Sampler, FallbackKeepsToAllowedTokenIds) {
  Sampler sampler(4, {1});
  const std::vector<float> logits = {3.0f, 1.0f, 0.5f, 2.0f};
  SamplingParams params;
  params.min_tokens = 5;
  params.allowed_token_ids = {1};
  EXPECT_EQ(sampler.sampleRow(makeRow(logits, params, 3)).token_id, 1);
  params.temperature = 0.0f;
  EXPECT_EQ(sampler.sampleRow(makeRow(logits, params, 3)).token_id, 1);
}

TEST(Sampler, ReturnsRawLogprobsOfTheChosenTokenAndTopAlternatives) {
  const int vocab = 300;
  Sampler sampler(vocab, {});
  const std::vector<float> logits = randomLogits(vocab, 2.0f, 5);
  SamplingParams params;
  params.temperature = 0.6f;  // logprobs ignore temperature and penalties (raw_logprobs)
  params.repetition_penalty = 1.7f;
  params.logprobs = 5;
  const std::vector<int32_t> output = {1, 2, 3};
  const SampledToken token = sampler.sampleRow(makeRow(logits, params, 8, output));
  ASSERT_TRUE(token.logprobs.has_value());

  double max_logit = -1e300;
  for (float logit : logits) max_logit = std::max(max_logit, static_cast<double>(logit));
  double sum = 0.0;
  for (float logit : logits) sum += std::exp(logit - max_logit);
  const double log_z = max_logit + std::log(sum);
  EXPECT_EQ(token.logprobs->chosen.token_id, token.token_id);
  EXPECT_NEAR(token.logprobs->chosen.logprob, logits[token.token_id] - log_z, 1e-5);

  std::vector<int32_t> order(vocab);
  for (int i = 0; i < vocab; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  ASSERT_EQ(token.logprobs->top.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(token.logprobs->top[i].token_id, order[i]);
    EXPECT_NEAR(token.logprobs->top[i].logprob, logits[order[i]] - log_z, 1e-5);
  }
}

TEST(Sampler, OmitsLogprobsUnlessAsked) {
  Sampler sampler(4, {});
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, 3.0f};
  SamplingParams params;
  EXPECT_FALSE(sampler.sampleRow(makeRow(logits, params, 0)).logprobs.has_value());
  params.logprobs = 0;
  const SampledToken token = sampler.sampleRow(makeRow(logits, params, 0));
  ASSERT_TRUE(token.logprobs.has_value());
  EXPECT_TRUE(token.logprobs->top.empty());
}

TEST(Sampler, PositiveInfinityLogitsAreAOneHotChoiceOfTheLowestSuchId) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> logits = randomLogits(32, 1.0f, 7);
  logits[9] = inf;
  logits[5] = inf;
  Sampler sampler(32, {});
  for (float temperature : {0.0f, 0.7f, 1.0f}) {
    SamplingParams params;
    params.temperature = temperature;
    params.top_p = temperature == 0.7f ? 0.9f : 1.0f;
    params.top_k = temperature == 0.7f ? 4 : 0;
    params.logprobs = 3;
    for (uint64_t seed = 0; seed < 20; ++seed) {
      const SampledToken token = sampler.sampleRow(makeRow(logits, params, seed));
      EXPECT_EQ(token.token_id, 5) << temperature;
      ASSERT_TRUE(token.logprobs.has_value());
      EXPECT_EQ(token.logprobs->chosen.logprob, 0.0f);
      for (const TokenLogprob& entry : token.logprobs->top) {
        EXPECT_FALSE(std::isnan(entry.logprob));
        EXPECT_EQ(entry.logprob, entry.token_id == 5 ? 0.0f : -inf) << entry.token_id;
      }
    }
  }
}

}  // namespace
}  // namespace manifold
