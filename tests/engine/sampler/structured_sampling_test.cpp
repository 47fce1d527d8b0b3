// The sampler with a grammar (structured output): only tokens the row's grammar takes are drawn,
// the mask comes before top-k/top-p as in vLLM, and greedy still gives the masked argmax.
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/sampler/sampler.h"

namespace manifold {
namespace {

// ids: 0 "{", 1 "}", 2 "\"", 3 "a", 4 "x", 5 " ", 6 EOS, 7 "1", 8 nothing
constexpr int kVocab = 9;
constexpr int32_t kEos = 6;

TokenBytesIndex makeIndex() {
  return TokenBytesIndex({"{", "}", "\"", "a", "x", " ", std::nullopt, "1", std::nullopt}, {kEos});
}

JsonGrammar after(std::string_view text) {
  JsonGrammar grammar;
  EXPECT_TRUE(grammar.advance(text));
  return grammar;
}

SamplingRow constrainedRow(const std::vector<float>& logits, const SamplingParams& params,
                           const TokenBytesIndex& index, const OutputGrammar& grammar,
                           uint64_t seed = 0) {
  SamplingRow row;
  row.logits = logits;
  row.params = &params;
  row.seed = seed;
  row.token_index = &index;
  row.grammar = &grammar;
  return row;
}

TEST(StructuredSampling, GreedyTakesTheBestTokenTheGrammarTakes) {
  Sampler sampler(kVocab, {kEos});
  const TokenBytesIndex index = makeIndex();
  SamplingParams params;
  params.temperature = 0.0f;
  // "x" is best but no object starts with it; "{" is the best that does.
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f, 0.0f, 9.0f, 1.5f, 8.0f, 0.0f, 9.5f};
  EXPECT_EQ(sampler.sampleRow(constrainedRow(logits, params, index, JsonGrammar())).token_id, 0);
  // Inside an object "}" (1.0) loses to " " (1.5); the argmax itself when the grammar takes it.
  EXPECT_EQ(sampler.sampleRow(constrainedRow(logits, params, index, after("{"))).token_id, 5);
  const std::vector<float> closing = {2.0f, 3.0f, 0.0f, 0.0f, 1.0f, 1.5f, 0.0f, 0.0f, 0.0f};
  EXPECT_EQ(sampler.sampleRow(constrainedRow(closing, params, index, after("{"))).token_id, 1);
  // Through the processed path (a logit bias) as well.
  params.logit_bias = {{4, 1.0f}};
  EXPECT_EQ(sampler.sampleRow(constrainedRow(logits, params, index, JsonGrammar())).token_id, 0);
}

TEST(StructuredSampling, EndsWithEosOnceTheObjectIsCompleteEvenAgainstMinTokens) {
  Sampler sampler(kVocab, {kEos});
  const TokenBytesIndex index = makeIndex();
  SamplingParams params;
  params.temperature = 0.0f;
  const std::vector<float> logits = {5.0f, 5.0f, 5.0f, 5.0f, 5.0f, 5.0f, -3.0f, 5.0f, 5.0f};
  EXPECT_EQ(sampler.sampleRow(constrainedRow(logits, params, index, after("{}"))).token_id, kEos);
  // min_tokens masks EOS, the grammar everything else: the grammar wins.
  params.min_tokens = 10;
  EXPECT_EQ(sampler.sampleRow(constrainedRow(logits, params, index, after("{}"))).token_id, kEos);
  params.temperature = 0.7f;
  EXPECT_EQ(sampler.sampleRow(constrainedRow(logits, params, index, after("{}"))).token_id, kEos);
}

TEST(StructuredSampling, SamplesTheSoftmaxRenormalisedOverAllowedTokens) {
  Sampler sampler(kVocab, {kEos});
  const TokenBytesIndex index = makeIndex();
  SamplingParams params;
  params.temperature = 1.0f;
  const std::vector<float> logits = {0.5f, 1.0f, 0.2f, 3.0f, 4.0f, -0.5f, 2.0f, 0.0f, 6.0f};
  // After "{": "}" (1), "\"" (2), " " (5).
  const JsonGrammar grammar = after("{");
  const double w1 = std::exp(1.0), w2 = std::exp(0.2), w5 = std::exp(-0.5);
  const double total = w1 + w2 + w5;
  std::vector<int> counts(kVocab, 0);
  const int draws = 20000;
  for (int seed = 0; seed < draws; ++seed) {
    ++counts[sampler.sampleRow(constrainedRow(logits, params, index, grammar, seed)).token_id];
  }
  for (int id : {0, 3, 4, 6, 7, 8}) EXPECT_EQ(counts[id], 0) << id;
  for (auto [id, w] : {std::pair{1, w1}, std::pair{2, w2}, std::pair{5, w5}}) {
    const double p = w / total;
    EXPECT_NEAR(counts[id], draws * p, 5.0 * std::sqrt(draws * p * (1 - p)) + 1) << id;
  }
  // top_k = 1 keeps the best allowed token, not the best token.
  params.top_k = 1;
  for (int seed = 0; seed < 50; ++seed) {
    EXPECT_EQ(sampler.sampleRow(constrainedRow(logits, params, index, grammar, seed)).token_id, 1);
  }
}

// Everything -inf before the grammar is asked (min_tokens over the only finite logit, EOS):
// the fallback still keeps to the grammar, with a mask of this row, not of an earlier one.
TEST(StructuredSampling, FallbackOfAnEmptyRowKeepsToTheGrammar) {
  Sampler sampler(kVocab, {kEos});
  const TokenBytesIndex index = makeIndex();
  SamplingParams params;
  params.temperature = 1.0f;
  params.min_tokens = 5;
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> only_eos(kVocab, -inf);
  only_eos[kEos] = 1.0f;
  // An earlier row leaves a mask where only EOS is allowed.
  const std::vector<float> flat(kVocab, 0.0f);
  EXPECT_EQ(sampler.sampleRow(constrainedRow(flat, params, index, after("{}"))).token_id, kEos);
  for (uint64_t seed = 0; seed < 5; ++seed) {
    const int32_t token =
        sampler.sampleRow(constrainedRow(only_eos, params, index, JsonGrammar(), seed)).token_id;
    EXPECT_TRUE(index.accepts(JsonGrammar(), token)) << token;
  }
}

TEST(StructuredSampling, LogprobsStayThoseOfTheRawLogits) {
  Sampler sampler(kVocab, {kEos});
  const TokenBytesIndex index = makeIndex();
  SamplingParams params;
  params.temperature = 0.0f;
  params.logprobs = 1;
  const std::vector<float> logits = {1.0f, 0.0f, 0.0f, 0.0f, 3.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  const SampledToken token =
      sampler.sampleRow(constrainedRow(logits, params, index, JsonGrammar()));
  ASSERT_EQ(token.token_id, 0);
  ASSERT_TRUE(token.logprobs.has_value());
  EXPECT_EQ(token.logprobs->top[0].token_id, 4);  // the unconstrained favourite
  EXPECT_LT(token.logprobs->chosen.logprob, token.logprobs->top[0].logprob);
}

}  // namespace
}  // namespace manifold
