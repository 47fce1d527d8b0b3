#include "engine/sampler/logprobs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace manifold {
namespace {

TEST(ComputePositionLogprobs, EqualsLogSoftmaxComputedInDouble) {
  const std::vector<float> logits = {2.0f, -1.0f, 0.5f, 3.25f, 3.0f, -7.0f};
  double sum = 0.0;
  for (float logit : logits) sum += std::exp(static_cast<double>(logit));
  const double log_z = std::log(sum);
  for (int32_t token = 0; token < 6; ++token) {
    const PositionLogprobs result = computePositionLogprobs(logits, token, 0);
    EXPECT_EQ(result.chosen.token_id, token);
    EXPECT_NEAR(result.chosen.logprob, logits[token] - log_z, 1e-6);
    EXPECT_TRUE(result.top.empty());
  }
}

TEST(ComputePositionLogprobs, ListsTopTokensDescendingWithTiesByLowerId) {
  const std::vector<float> logits = {1.0f, 5.0f, 3.0f, 5.0f, 3.0f, 0.0f};
  const PositionLogprobs result = computePositionLogprobs(logits, 5, 4);
  ASSERT_EQ(result.top.size(), 4u);
  const int32_t expected_ids[] = {1, 3, 2, 4};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(result.top[i].token_id, expected_ids[i]);
  EXPECT_EQ(result.top[0].logprob, result.top[1].logprob);
  EXPECT_GT(result.top[1].logprob, result.top[2].logprob);
}

// vLLM's rank: how many tokens have a logprob at least the chosen one's (a tie ranks it last).
TEST(ComputePositionLogprobs, RanksTheChosenTokenAsVllmCountsIt) {
  const float kNaN = std::numeric_limits<float>::quiet_NaN();
  const float kInf = std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {1.0f, 5.0f, 3.0f, 5.0f, kNaN, -kInf, 0.0f};
  const int32_t expected[] = {4, 2, 3, 2, 7, 7, 5};
  for (int32_t token = 0; token < 7; ++token) {
    EXPECT_EQ(computePositionLogprobs(logits, token, 0).chosen_rank, expected[token]) << token;
  }
  const std::vector<float> one_hot = {kInf, 1.0f, kInf};
  EXPECT_EQ(computePositionLogprobs(one_hot, 0, 0).chosen_rank, 1);
  EXPECT_EQ(computePositionLogprobs(one_hot, 2, 0).chosen_rank, 3);
}

TEST(ComputePositionLogprobs, PositiveInfinityLogitsGiveZeroToTheLowestSuchIdAndMinusInfinityElse) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {2.0f, inf, -inf, inf, 5.0f};
  const PositionLogprobs hot = computePositionLogprobs(logits, 1, 4);
  EXPECT_EQ(hot.chosen.logprob, 0.0f);
  const std::vector<TokenLogprob> expected = {{1, 0.0f}, {3, -inf}, {4, -inf}, {0, -inf}};
  ASSERT_EQ(hot.top.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(hot.top[i].token_id, expected[i].token_id) << i;
    EXPECT_EQ(hot.top[i].logprob, expected[i].logprob) << i;
  }
  for (int32_t token : {0, 2, 3, 4}) {
    EXPECT_EQ(computePositionLogprobs(logits, token, 0).chosen.logprob, -inf) << token;
  }
}

TEST(ComputePositionLogprobs, StaysFiniteForLargeLogitsAndKeepsMinusInfinityForMaskedOnes) {
  const float kNegInf = -std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {1000.0f, 999.0f, kNegInf};
  const PositionLogprobs result = computePositionLogprobs(logits, 1, 3);
  const double log_z = 1000.0 + std::log(1.0 + std::exp(-1.0));
  EXPECT_NEAR(result.chosen.logprob, 999.0 - log_z, 1e-4);
  ASSERT_EQ(result.top.size(), 3u);
  EXPECT_NEAR(result.top[0].logprob, 1000.0 - log_z, 1e-4);
  EXPECT_EQ(result.top[2].token_id, 2);
  EXPECT_EQ(result.top[2].logprob, kNegInf);
}

}  // namespace
}  // namespace manifold
