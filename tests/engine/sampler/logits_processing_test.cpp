#include "engine/sampler/logits_processing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace manifold {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

std::vector<float> processed(const std::vector<float>& logits, const SamplingParams& params,
                             const std::vector<int32_t>& prompt, const std::vector<int32_t>& output,
                             const std::vector<int32_t>& eos = {}) {
  LogitsProcessor processor(static_cast<int>(logits.size()), eos);
  SamplingRow row;
  row.logits = logits;
  row.params = &params;
  row.prompt_token_ids = prompt;
  row.output_token_ids = output;
  std::vector<float> out(logits.size());
  processor.process(row, out);
  return out;
}

TEST(LogitsProcessor, LeavesLogitsUnchangedByDefault) {
  const std::vector<float> logits = {1.0f, -2.0f, 0.5f};
  EXPECT_EQ(processed(logits, SamplingParams{}, {0, 1}, {2, 2}), logits);
}

TEST(LogitsProcessor, AddsLogitBias) {
  SamplingParams params;
  params.logit_bias = {{1, 5.0f}, {3, -100.0f}};
  const std::vector<float> out = processed({1.0f, -2.0f, 0.5f, 4.0f}, params, {}, {});
  EXPECT_EQ(out, (std::vector<float>{1.0f, 3.0f, 0.5f, -96.0f}));
}

// vLLM's allowed_token_ids: every other token is -inf; logit_bias still applies to the allowed.
TEST(LogitsProcessor, AllowedTokenIdsMaskEveryOtherToken) {
  SamplingParams params;
  params.allowed_token_ids = {3, 1};
  params.logit_bias = {{1, 2.0f}};
  EXPECT_EQ(processed({1.0f, -2.0f, 0.5f, 4.0f}, params, {}, {}),
            (std::vector<float>{kNegInf, 0.0f, kNegInf, 4.0f}));
}

// vLLM's bad words: a one-token word is banned everywhere; a longer one's last token only where the
// output ends with the rest of it (not the prompt).
TEST(LogitsProcessor, BadWordsBanTheirLastTokenAfterTheirPrefix) {
  SamplingParams params;
  params.bad_words_token_ids = {{2}, {0, 1, 3}};
  const std::vector<float> logits = {1.0f, 1.0f, 1.0f, 1.0f};
  EXPECT_EQ(processed(logits, params, {0, 1}, {}), (std::vector<float>{1.0f, 1.0f, kNegInf, 1.0f}));
  EXPECT_EQ(processed(logits, params, {}, {3, 0, 1}),
            (std::vector<float>{1.0f, 1.0f, kNegInf, kNegInf}));
  EXPECT_EQ(processed(logits, params, {}, {0, 3, 1}),
            (std::vector<float>{1.0f, 1.0f, kNegInf, 1.0f}));
}

TEST(LogitsProcessor, MasksEosAndStopTokensUntilMinTokens) {
  SamplingParams params;
  params.min_tokens = 2;
  params.stop_token_ids = {3};
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
  const std::vector<int32_t> eos = {4};
  EXPECT_EQ(processed(logits, params, {}, {0}, eos),
            (std::vector<float>{1.0f, 2.0f, 3.0f, kNegInf, kNegInf}));
  // Two tokens generated: min_tokens is met, nothing is masked.
  EXPECT_EQ(processed(logits, params, {}, {0, 1}, eos), logits);
}

// As vLLM (SamplingParams.update_from_generation_config puts EOS among the ids min_tokens masks
// whatever ignore_eos says).
TEST(LogitsProcessor, MinTokensMasksEosEvenWhenEosIsIgnored) {
  SamplingParams params;
  params.min_tokens = 3;
  params.ignore_eos = true;
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  EXPECT_EQ(processed(logits, params, {}, {}, {2}), (std::vector<float>{1.0f, 2.0f, kNegInf}));
  EXPECT_EQ(processed(logits, params, {}, {0, 1, 0}, {2}), logits);
}

TEST(LogitsProcessor, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOncePerToken) {
  SamplingParams params;
  params.repetition_penalty = 2.0f;
  // Token 0 (positive) in the prompt twice, token 1 (negative) in the output, token 2 unseen,
  // token 3 in both.
  const std::vector<float> out = processed({4.0f, -3.0f, 1.0f, 6.0f}, params, {0, 0, 3}, {1, 3, 3});
  EXPECT_EQ(out, (std::vector<float>{2.0f, -6.0f, 1.0f, 3.0f}));
}

TEST(LogitsProcessor, FrequencyAndPresencePenaltiesCountOnlyOutputTokens) {
  SamplingParams params;
  params.frequency_penalty = 0.5f;
  params.presence_penalty = 0.25f;
  // Token 0 only in the prompt: untouched. Token 1 three times in the output, token 2 once.
  const std::vector<float> out =
      processed({1.0f, 2.0f, 3.0f, 4.0f}, params, {0, 0, 1}, {1, 2, 1, 1});
  const std::vector<double> expected = {1.0, 2.0 - 0.5 * 3 - 0.25, 3.0 - 0.5 * 1 - 0.25, 4.0};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(out[i], expected[i], 1e-6) << i;
}

TEST(LogitsProcessor, AppliesRepetitionBeforeAdditivePenalties) {
  SamplingParams params;
  params.repetition_penalty = 1.5f;
  params.frequency_penalty = 1.0f;
  params.presence_penalty = -0.5f;
  const std::vector<float> out = processed({3.0f, -1.5f}, params, {}, {0, 0, 1});
  // (3 / 1.5) - 2 * 1 + 0.5 = 0.5; (-1.5 * 1.5) - 1 + 0.5 = -2.75.
  EXPECT_NEAR(out[0], 0.5, 1e-6);
  EXPECT_NEAR(out[1], -2.75, 1e-6);
}

TEST(LogitsProcessor, PenaltyScratchDoesNotLeakIntoTheNextRow) {
  SamplingParams params;
  params.frequency_penalty = 1.0f;
  params.repetition_penalty = 2.0f;
  LogitsProcessor processor(3, {});
  const std::vector<float> logits = {2.0f, 2.0f, 2.0f};
  const std::vector<int32_t> first_output = {0, 0, 1};
  std::vector<float> out(3);
  SamplingRow row;
  row.logits = logits;
  row.params = &params;
  row.output_token_ids = first_output;
  processor.process(row, out);
  row.output_token_ids = {};
  processor.process(row, out);
  EXPECT_EQ(out, logits);
}

TEST(LogitsProcessor, TreatsNanLogitsAsMinusInfinity) {
  const std::vector<float> out =
      processed({1.0f, std::numeric_limits<float>::quiet_NaN(), 0.0f}, SamplingParams{}, {}, {});
  EXPECT_EQ(out, (std::vector<float>{1.0f, kNegInf, 0.0f}));
}

}  // namespace
}  // namespace manifold
