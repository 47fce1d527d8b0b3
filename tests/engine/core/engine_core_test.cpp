#include "engine/core/engine_core.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "engine/core/offline_generate.h"
#include "engine/sampler/sampler.h"
#include "tests/engine/core/fake_executor.h"

namespace manifold {
namespace {

using testing::FakeExecutor;
using testing::fakeReference;
using testing::kFakeVocab;

EngineCoreConfig coreConfig(int max_num_seqs, int max_num_batched_tokens, int max_model_len) {
  EngineCoreConfig config;
  config.scheduler.max_num_seqs = max_num_seqs;
  config.scheduler.max_num_batched_tokens = max_num_batched_tokens;
  config.scheduler.max_model_len = max_model_len;
  config.enable_prefix_caching = true;
  return config;
}

EngineRequest greedyRequest(std::string id, std::vector<int32_t> prompt, int max_tokens,
                            int n = 1) {
  EngineRequest r;
  r.request_id = std::move(id);
  r.prompt_token_ids = std::move(prompt);
  r.params.temperature = 0.0f;
  r.params.max_tokens = max_tokens;
  r.params.ignore_eos = true;
  r.params.n = n;
  return r;
}

// Tokens of sample `index` of a seeded request run alone: the fake's logits for that sample's own
// context, drawn by a Sampler with the request's seed (the draw depends only on the seed, the
// sample index and the position, never on the batch).
std::vector<int32_t> sampledReference(const EngineRequest& request, int index) {
  Sampler sampler(kFakeVocab, {});
  std::vector<int32_t> context = request.prompt_token_ids;
  std::vector<int32_t> out;
  std::vector<float> logits(kFakeVocab);
  while (static_cast<int>(out.size()) < *request.params.max_tokens) {
    testing::fakeLogits(context, logits);
    SamplingRow row;
    row.logits = logits;
    row.params = &request.params;
    row.seed = *request.params.seed;
    row.sequence_index = index;
    row.prompt_token_ids = request.prompt_token_ids;
    row.output_token_ids = out;
    out.push_back(sampler.sampleRow(row).token_id);
    context.push_back(out.back());
  }
  return out;
}

std::vector<int32_t> randomPrompt(std::mt19937& rng, int length) {
  std::vector<int32_t> prompt(length);
  for (int32_t& t : prompt) t = std::uniform_int_distribution<int32_t>(0, kFakeVocab - 1)(rng);
  return prompt;
}

struct Collected {
  std::shared_ptr<RequestStream> stream;
  int n = 1;
};

class RecordingObserver final : public EngineObserver {
 public:
  void onStep(const StepStats& stats) override {
    ++steps;
    prompt_tokens += stats.num_prompt_tokens;
    prefill_tokens += stats.num_prefill_tokens;
    generation_tokens += stats.num_generation_tokens;
    prefix_hits += stats.prefix_cache_hits_delta;
    preemptions += stats.num_preemptions_delta;
    state = stats;
  }
  void onState(const StepStats& stats) override {
    ++state_reports;
    state = stats;
  }
  void onRequestFinished(const FinishedRequestStats& stats) override {
    ++finished;
    finished_generation_tokens += stats.num_generation_tokens;
    if (stats.finish_reason == FinishReason::kAbort) ++aborted;
  }
  int steps = 0;
  int state_reports = 0;
  StepStats state;  // the last gauges reported, by a step or on their own
  int64_t prompt_tokens = 0;
  int64_t prefill_tokens = 0;
  int64_t generation_tokens = 0;
  int64_t prefix_hits = 0;
  int64_t preemptions = 0;
  int finished = 0;
  int aborted = 0;
  int64_t finished_generation_tokens = 0;
};

class EngineCoreBlockCopy : public ::testing::TestWithParam<bool> {};

// Many requests (some with n = 3, some sharing prefixes) through a pool small enough to preempt:
// every sample's tokens equal its solo run, which the fake executor only reproduces when the
// engine wrote every token to the right slot and performed (or avoided) the block copies. The
// n = 3 requests are seeded samples at a high temperature, so their samples diverge and a fork
// that shares a block it should have copied corrupts a sibling's context.
TEST_P(EngineCoreBlockCopy, BatchedRequestsUnderPreemptionGetTheirSoloTokens) {
  const bool block_copy = GetParam();
  FakeExecutor executor(/*num_blocks=*/40, /*block_size=*/4, /*max_model_len=*/128, block_copy);
  RecordingObserver observer;
  EngineCoreConfig config = coreConfig(16, 48, 128);
  config.observer = &observer;
  EngineCore core(config, executor, nullptr);
  std::mt19937 rng(block_copy ? 1 : 2);
  const std::vector<int32_t> stem = randomPrompt(rng, 30);
  std::map<std::string, std::pair<EngineRequest, Collected>> requests;
  int64_t prompt_tokens = 0;
  for (int i = 0; i < 40; ++i) {
    std::vector<int32_t> prompt = i % 3 == 0 ? stem : std::vector<int32_t>{};
    for (int32_t t : randomPrompt(rng, std::uniform_int_distribution<int>(1, 30)(rng))) {
      prompt.push_back(t);
    }
    EngineRequest r =
        greedyRequest("r" + std::to_string(i), prompt,
                      std::uniform_int_distribution<int>(1, 30)(rng), i % 4 == 1 ? 3 : 1);
    if (r.params.n > 1) {
      r.params.temperature = 3.0f;
      r.params.seed = 100 + i;
    }
    auto stream = std::make_shared<RequestStream>();
    ASSERT_TRUE(core.addRequest(r, stream).isOk());
    prompt_tokens += static_cast<int64_t>(r.prompt_token_ids.size());
    requests[r.request_id] = {r, Collected{stream, r.params.n}};
  }
  int steps = 0;
  while (core.hasUnfinishedRequests() && steps < 10000) {
    core.step();
    ++steps;
  }
  ASSERT_FALSE(core.hasUnfinishedRequests());
  int64_t total_tokens = 0;
  int num_diverged = 0;  // sampled requests whose samples differ
  for (auto& [id, entry] : requests) {
    const EngineRequest& request = entry.first;
    const GenerationResult result = collectStream(*entry.second.stream, id, entry.second.n);
    ASSERT_TRUE(result.error.isOk());
    for (const GeneratedSequence& seq : result.sequences) {
      const std::vector<int32_t> expected =
          request.params.seed ? sampledReference(request, seq.index)
                              : fakeReference(request.prompt_token_ids, *request.params.max_tokens);
      EXPECT_EQ(seq.token_ids, expected) << id << " sample " << seq.index;
      EXPECT_EQ(seq.finish_reason, FinishReason::kLength);
      total_tokens += static_cast<int64_t>(seq.token_ids.size());
    }
    if (result.sequences.size() > 1 &&
        result.sequences[0].token_ids != result.sequences[1].token_ids) {
      ++num_diverged;
    }
  }
  EXPECT_GE(num_diverged, 5);  // of 10 sampled requests; else the test could not see a bad copy
  EXPECT_GT(core.stats().num_preemptions, 0);
  EXPECT_EQ(core.kvCache().numFreeBlocks(), 40);
  EXPECT_EQ(executor.numCopies() > 0, block_copy);
  EXPECT_EQ(observer.finished, 40);
  EXPECT_EQ(observer.generation_tokens, total_tokens);
  EXPECT_EQ(observer.finished_generation_tokens, total_tokens);
  EXPECT_EQ(observer.prefix_hits, core.stats().prefix_cache_hits);
  EXPECT_EQ(observer.preemptions, core.stats().num_preemptions);
  EXPECT_EQ(core.stats().generation_tokens, total_tokens);
  // Prompt tokens as vLLM counts them: each request's prompt once, although preemptions,
  // n = 3 forks (without block copies) and prefix hits change what was computed.
  EXPECT_EQ(observer.prompt_tokens, prompt_tokens);
  EXPECT_EQ(core.stats().prompt_tokens, prompt_tokens);
  EXPECT_NE(observer.prefill_tokens, prompt_tokens);
  EXPECT_EQ(observer.state.num_running, 0);
  EXPECT_EQ(observer.state.num_waiting, 0);
  EXPECT_EQ(observer.state.kv_cache_usage, 0.0);
}

INSTANTIATE_TEST_SUITE_P(WithAndWithoutCopies, EngineCoreBlockCopy, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Copy" : "Recompute"; });

// A request that runs a slice of a client's samples (the gateway splits a large n) draws their
// RNG streams: sample 2 of an n = 3 request equals the lone sample of the same request given
// first_sample_index 2.
TEST(EngineCore, FirstSampleIndexSelectsTheSamplesRngStreams) {
  FakeExecutor executor(32, 4, 64, true);
  EngineCore core(coreConfig(8, 64, 64), executor, nullptr);
  EngineRequest whole = greedyRequest("whole", {1, 2, 3}, 12, /*n=*/3);
  whole.params.temperature = 3.0f;
  whole.params.seed = 77;
  EngineRequest slice = whole;
  slice.request_id = "slice";
  slice.params.n = 1;
  slice.first_sample_index = 2;
  auto whole_stream = std::make_shared<RequestStream>();
  auto slice_stream = std::make_shared<RequestStream>();
  ASSERT_TRUE(core.addRequest(whole, whole_stream).isOk());
  ASSERT_TRUE(core.addRequest(slice, slice_stream).isOk());
  for (int i = 0; i < 1000 && core.hasUnfinishedRequests(); ++i) core.step();
  const GenerationResult a = collectStream(*whole_stream, "whole", 3);
  const GenerationResult b = collectStream(*slice_stream, "slice", 1);
  ASSERT_EQ(a.sequences.size(), 3u);
  ASSERT_EQ(b.sequences.size(), 1u);
  EXPECT_EQ(b.sequences[0].token_ids, a.sequences[2].token_ids);
  EXPECT_NE(b.sequences[0].token_ids, a.sequences[0].token_ids);
}

TEST(EngineCore, AbortPublishesAFinalOutputAndFreesEveryBlock) {
  FakeExecutor executor(32, 4, 128, true);
  RecordingObserver observer;
  EngineCoreConfig config = coreConfig(8, 64, 128);
  config.observer = &observer;
  EngineCore core(config, executor, nullptr);
  std::mt19937 rng(3);
  auto stream = std::make_shared<RequestStream>();
  ASSERT_TRUE(core.addRequest(greedyRequest("a", randomPrompt(rng, 10), 50, 2), stream).isOk());
  for (int i = 0; i < 5; ++i) core.step();
  ASSERT_LT(core.kvCache().numFreeBlocks(), 32);
  core.abort("a");
  core.abort("a");  // unknown now: ignored
  EXPECT_FALSE(core.hasUnfinishedRequests());
  EXPECT_EQ(core.kvCache().numFreeBlocks(), 32);
  EXPECT_EQ(core.takeFinishedRequestIds(), std::vector<std::string>{"a"});
  const GenerationResult result = collectStream(*stream, "a", 2);
  for (const GeneratedSequence& seq : result.sequences) {
    EXPECT_EQ(seq.finish_reason, FinishReason::kAbort);
    EXPECT_EQ(seq.token_ids.size(), 5u);
  }
  EXPECT_TRUE(result.timing.finished.has_value());
  EXPECT_EQ(observer.aborted, 1);
}

// The gauges follow aborts at once, though no step runs after them: an idle engine whose last
// requests were aborted (clients gone) reports nothing running and an empty KV cache.
TEST(EngineCore, GaugesReturnToZeroWhenTheLastRequestsAreAborted) {
  FakeExecutor executor(32, 4, 128, true);
  RecordingObserver observer;
  EngineCoreConfig config = coreConfig(1, 64, 128);
  config.observer = &observer;
  EngineCore core(config, executor, nullptr);
  std::mt19937 rng(6);
  for (const char* id : {"a", "b"}) {
    ASSERT_TRUE(core.addRequest(greedyRequest(id, randomPrompt(rng, 10), 50),
                                std::make_shared<RequestStream>())
                    .isOk());
  }
  for (int i = 0; i < 3; ++i) core.step();
  EXPECT_EQ(observer.state.num_running, 1);  // max_num_seqs 1
  EXPECT_EQ(observer.state.num_waiting, 1);
  EXPECT_GT(observer.state.kv_cache_usage, 0.0);
  EXPECT_EQ(observer.state_reports, 0);
  const int steps = observer.steps;

  core.abort("b");
  EXPECT_TRUE(core.step());  // "a" still runs: the step reports the gauges
  EXPECT_EQ(observer.state.num_waiting, 0);
  core.abort("a");
  EXPECT_FALSE(core.step());
  EXPECT_EQ(observer.steps, steps + 1);
  EXPECT_EQ(observer.state_reports, 1);
  EXPECT_EQ(observer.state.num_running, 0);
  EXPECT_EQ(observer.state.num_waiting, 0);
  EXPECT_EQ(observer.state.kv_cache_usage, 0.0);
  EXPECT_EQ(observer.state.num_scheduled_tokens, 0);
  EXPECT_FALSE(core.step());  // nothing changed: no second report
  EXPECT_EQ(observer.state_reports, 1);
}

TEST(EngineCore, AForwardFailureFailsTheScheduledRequestsOnly) {
  FakeExecutor executor(32, 4, 128, true);
  EngineCore core(coreConfig(1, 64, 128), executor, nullptr);
  executor.failOnForward(2);
  std::mt19937 rng(4);
  auto first = std::make_shared<RequestStream>();
  auto second = std::make_shared<RequestStream>();
  const std::vector<int32_t> second_prompt = randomPrompt(rng, 6);
  ASSERT_TRUE(core.addRequest(greedyRequest("first", randomPrompt(rng, 6), 10), first).isOk());
  ASSERT_TRUE(core.addRequest(greedyRequest("second", second_prompt, 3), second).isOk());
  while (core.hasUnfinishedRequests()) core.step();
  const GenerationResult failed = collectStream(*first, "first", 1);
  EXPECT_EQ(failed.error.code(), StatusCode::kInternal);
  EXPECT_EQ(failed.sequences[0].finish_reason, FinishReason::kAbort);
  const GenerationResult ok = collectStream(*second, "second", 1);
  EXPECT_TRUE(ok.error.isOk());
  EXPECT_EQ(ok.sequences[0].token_ids, fakeReference(second_prompt, 3));
  EXPECT_EQ(core.kvCache().numFreeBlocks(), 32);
}

TEST(EngineCore, ValidatesRequestsBeforeQueueing) {
  FakeExecutor executor(32, 4, 64, true);
  EngineCore core(coreConfig(4, 64, 64), executor, nullptr);
  auto stream = std::make_shared<RequestStream>();
  EXPECT_FALSE(core.addRequest(greedyRequest("empty", {}, 3), stream).isOk());
  EXPECT_FALSE(
      core.addRequest(greedyRequest("long", std::vector<int32_t>(64, 1), 3), stream).isOk());
  EXPECT_FALSE(core.addRequest(greedyRequest("vocab", {kFakeVocab}, 3), stream).isOk());
  EXPECT_EQ(core.addRequest(greedyRequest("n", {1}, 3, /*n=*/5), stream).message(),
            "`n` must be at most the engine's max_num_seqs (4), got 5");
  ASSERT_TRUE(core.addRequest(greedyRequest("ok", {1, 2}, 3), stream).isOk());
  EXPECT_FALSE(core.addRequest(greedyRequest("ok", {1, 2}, 3), stream).isOk());
}

TEST(EngineCore, StopsAtMaxModelLen) {
  FakeExecutor executor(32, 4, 32, true);
  EngineCore core(coreConfig(4, 64, 32), executor, nullptr);
  auto stream = std::make_shared<RequestStream>();
  EngineRequest r = greedyRequest("r", std::vector<int32_t>(30, 7), 100);
  ASSERT_TRUE(core.addRequest(r, stream).isOk());
  while (core.hasUnfinishedRequests()) core.step();
  const GenerationResult result = collectStream(*stream, "r", 1);
  EXPECT_EQ(result.sequences[0].token_ids.size(), 2u);
  EXPECT_EQ(result.sequences[0].finish_reason, FinishReason::kLength);
}

TEST(EngineCore, CreationChecksThatTheKvCacheHoldsOneMaxModelLenSequence) {
  FakeExecutor small(31, 4, 128, true);  // 124 tokens; 128 need 32 blocks
  const Result<std::unique_ptr<EngineCore>> rejected =
      EngineCore::create(coreConfig(4, 64, 128), small, nullptr);
  ASSERT_FALSE(rejected.isOk());
  EXPECT_EQ(rejected.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(rejected.status().message().find("31 blocks (124 tokens)"), std::string::npos);
  FakeExecutor exact(32, 4, 128, true);
  EXPECT_TRUE(EngineCore::create(coreConfig(4, 64, 128), exact, nullptr).isOk());
}

// A core built around the check (a pool of 16 tokens, max_model_len 128): requests that outgrow
// the whole pool end with an error instead of preempting themselves forever, and the rest run.
TEST(EngineCore, RequestsThatCannotFitTheWholeKvCacheFinishWithAnErrorInsteadOfHanging) {
  FakeExecutor executor(4, 4, 128, true);
  EngineCore core(coreConfig(4, 64, 128), executor, nullptr);
  std::mt19937 rng(5);
  const std::vector<int32_t> long_prompt = randomPrompt(rng, 10);
  const std::vector<int32_t> short_prompt = randomPrompt(rng, 3);
  auto huge = std::make_shared<RequestStream>();   // its prompt alone needs 5 blocks
  auto grows = std::make_shared<RequestStream>();  // needs 5 blocks at its 17th token
  auto fits = std::make_shared<RequestStream>();
  ASSERT_TRUE(core.addRequest(greedyRequest("huge", randomPrompt(rng, 20), 2), huge).isOk());
  ASSERT_TRUE(core.addRequest(greedyRequest("grows", long_prompt, 20), grows).isOk());
  ASSERT_TRUE(core.addRequest(greedyRequest("fits", short_prompt, 3), fits).isOk());
  for (int i = 0; i < 200 && core.hasUnfinishedRequests(); ++i) core.step();
  ASSERT_FALSE(core.hasUnfinishedRequests());

  const GenerationResult huge_result = collectStream(*huge, "huge", 1);
  EXPECT_EQ(huge_result.error.code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(huge_result.sequences[0].token_ids.empty());
  const GenerationResult grows_result = collectStream(*grows, "grows", 1);
  EXPECT_EQ(grows_result.error.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(grows_result.sequences[0].finish_reason, FinishReason::kAbort);
  // 16 slots hold positions 0..15 (prompt 10 + outputs 1..6), whose logits give outputs 1..7;
  // computing the 7th output's KV would take a fifth block.
  const std::vector<int32_t> expected = fakeReference(long_prompt, 20);
  EXPECT_EQ(grows_result.sequences[0].token_ids,
            std::vector<int32_t>(expected.begin(), expected.begin() + 7));
  const GenerationResult fits_result = collectStream(*fits, "fits", 1);
  EXPECT_TRUE(fits_result.error.isOk());
  EXPECT_EQ(fits_result.sequences[0].token_ids, fakeReference(short_prompt, 3));
  EXPECT_EQ(core.kvCache().numFreeBlocks(), 4);
}

}  // namespace
}  // namespace manifold
