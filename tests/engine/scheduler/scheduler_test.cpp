#include "engine/scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "tests/engine/scheduler/scheduler_harness.h"

namespace manifold {
namespace {

using testing::makeRequest;
using testing::randomPrompt;
using testing::referenceTokens;
using testing::SchedulerHarness;

SchedulerConfig config(int max_num_seqs, int max_num_batched_tokens, int max_model_len,
                       SchedulingPolicy policy = SchedulingPolicy::kFcfs) {
  SchedulerConfig c;
  c.max_num_seqs = max_num_seqs;
  c.max_num_batched_tokens = max_num_batched_tokens;
  c.max_model_len = max_model_len;
  c.policy = policy;
  return c;
}

std::vector<int32_t> prompt(int length, int32_t salt = 1) {
  std::mt19937 rng(salt);
  return randomPrompt(rng, length);
}

const ScheduledSequence* findScheduled(const SchedulerOutput& output, const std::string& id) {
  for (const ScheduledSequence& s : output.sequences) {
    if (s.request_id == id) return &s;
  }
  return nullptr;
}

TEST(Scheduler, RejectsPromptsLongerThanMaxModelLen) {
  SchedulerHarness h(config(8, 64, 32), 16, 4, true);
  const Status too_long = h.scheduler().addRequest(makeRequest("a", prompt(33), 4));
  EXPECT_EQ(too_long.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.message().find("max_model_len"), std::string::npos);
  EXPECT_EQ(h.scheduler().addRequest(makeRequest("b", {}, 4)).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(h.scheduler().hasUnfinishedRequests());
  // Exactly max_model_len is fine: it stops after one token for length.
  h.add(makeRequest("c", prompt(32), 4));
  EXPECT_EQ(h.scheduler().addRequest(makeRequest("c", prompt(3), 4)).code(),
            StatusCode::kInvalidArgument);
  h.runToCompletion();
  EXPECT_EQ(h.tokens()["c"][0].size(), 1u);
}

TEST(Scheduler, ChunksALongPromptAcrossSteps) {
  SchedulerHarness h(config(8, 32, 256), 64, 16, false);
  h.add(makeRequest("long", prompt(100), 3));
  const int expected_chunks[] = {32, 32, 32, 4};
  for (int i = 0; i < 4; ++i) {
    const SchedulerOutput out = h.step();
    ASSERT_EQ(out.sequences.size(), 1u);
    EXPECT_EQ(out.sequences[0].num_computed_tokens, 32 * i);
    EXPECT_EQ(out.sequences[0].num_scheduled_tokens, expected_chunks[i]);
    EXPECT_EQ(out.num_prompt_tokens, expected_chunks[i]);
    EXPECT_EQ(out.sequences[0].sample, i == 3);
  }
  EXPECT_EQ(h.tokens()["long"][0].size(), 1u);
  h.runToCompletion();
  EXPECT_EQ(
      h.tokens()["long"],
      (std::map<int, std::vector<int32_t>>{{0, referenceTokens(prompt(100), 1, 3, true, 256)[0]}}));
}

// vLLM's long_prefill_token_threshold: each prompt gets at most 24 tokens a step, so two long
// prompts advance side by side within one 64-token budget, and the output is unchanged.
TEST(Scheduler, LongPrefillThresholdCapsEachPromptsChunk) {
  SchedulerConfig c = config(8, 64, 256);
  c.long_prefill_token_threshold = 24;
  SchedulerHarness h(c, 64, 16, false);
  h.add(makeRequest("a", prompt(60), 3));
  h.add(makeRequest("b", prompt(50, 2), 3));
  const int expected_a[] = {24, 24, 12};
  const int expected_b[] = {24, 24, 2};
  for (int i = 0; i < 3; ++i) {
    const SchedulerOutput out = h.step();
    const ScheduledSequence* a = findScheduled(out, "a");
    const ScheduledSequence* b = findScheduled(out, "b");
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(a->num_scheduled_tokens, expected_a[i]) << "step " << i;
    EXPECT_EQ(b->num_scheduled_tokens, expected_b[i]) << "step " << i;
  }
  h.runToCompletion();
  EXPECT_EQ(h.tokens()["a"][0], referenceTokens(prompt(60), 1, 3, true, 256)[0]);
  EXPECT_EQ(h.tokens()["b"][0], referenceTokens(prompt(50, 2), 1, 3, true, 256)[0]);
}

TEST(SchedulerConfig, RejectsANegativeLongPrefillThreshold) {
  SchedulerConfig c = config(8, 64, 256);
  c.long_prefill_token_threshold = -1;
  EXPECT_FALSE(c.validate().isOk());
}

TEST(Scheduler, RunsDecodesBeforeNewPrefills) {
  SchedulerHarness h(config(8, 40, 256), 64, 16, false);
  h.add(makeRequest("decoding", prompt(10), 10));
  ASSERT_EQ(h.step().num_scheduled_tokens, 10);
  h.add(makeRequest("new", prompt(100, 2), 1));
  for (int expected_new : {39, 39, 22}) {
    const SchedulerOutput out = h.step();
    ASSERT_EQ(out.sequences.size(), 2u);
    EXPECT_EQ(out.sequences[0].request_id, "decoding");
    EXPECT_EQ(out.sequences[0].num_scheduled_tokens, 1);
    EXPECT_EQ(out.sequences[1].request_id, "new");
    EXPECT_EQ(out.sequences[1].num_scheduled_tokens, expected_new);
  }
}

TEST(Scheduler, WithoutChunkedPrefillAPromptWaitsUntilItFitsWhole) {
  SchedulerConfig c = config(8, 64, 64);
  c.enable_chunked_prefill = false;
  SchedulerHarness h(c, 64, 16, false);
  h.add(makeRequest("a", prompt(30), 5));
  h.add(makeRequest("b", prompt(40, 2), 5));
  const SchedulerOutput first = h.step();
  ASSERT_EQ(first.sequences.size(), 1u);
  EXPECT_EQ(first.sequences[0].request_id, "a");
  const SchedulerOutput second = h.step();
  ASSERT_EQ(second.sequences.size(), 2u);
  EXPECT_EQ(second.sequences[1].num_scheduled_tokens, 40);
}

TEST(Scheduler, PreemptsTheLatestArrivedSequenceAndRequeuesItFirst) {
  // 8 blocks of 4 tokens; three 8-token prompts take 6 and each needs a third block to decode.
  SchedulerHarness h(config(8, 64, 32), 8, 4, false);
  h.add(makeRequest("a", prompt(8, 1), 12));
  h.add(makeRequest("b", prompt(8, 2), 12));
  h.add(makeRequest("c", prompt(8, 3), 12));
  const SchedulerOutput first = h.step();
  ASSERT_EQ(first.sequences.size(), 3u);
  const SeqId c_seq = first.sequences[2].seq_id;
  h.add(makeRequest("d", prompt(4, 4), 2));
  const SchedulerOutput second = h.step();
  EXPECT_EQ(second.preempted_seq_ids, std::vector<SeqId>{c_seq});
  EXPECT_EQ(h.scheduler().numPreemptions(), 1);
  EXPECT_EQ(findScheduled(second, "c"), nullptr);
  EXPECT_EQ(findScheduled(second, "d"), nullptr);  // no admissions in a step that preempted
  const SequenceState* c_state = h.scheduler().findSequence(c_seq);
  ASSERT_NE(c_state, nullptr);
  EXPECT_EQ(c_state->status, SequenceStatus::kWaiting);
  EXPECT_EQ(c_state->num_computed_tokens, 0);
  // c goes back in front of d, and is recomputed from scratch, prompt and output.
  bool c_back = false;
  for (int i = 0; i < 200 && !c_back; ++i) {
    const int c_tokens = h.scheduler().findSequence(c_seq)->numTokens();
    const SchedulerOutput out = h.step();
    const ScheduledSequence* c = findScheduled(out, "c");
    const ScheduledSequence* d = findScheduled(out, "d");
    if (c == nullptr) {
      ASSERT_EQ(d, nullptr) << "d was admitted before the preempted c";
      continue;
    }
    c_back = true;
    EXPECT_EQ(c->num_computed_tokens, 0);
    EXPECT_EQ(c->num_scheduled_tokens, c_tokens);
    EXPECT_FALSE(c->first_scheduled);
    if (d != nullptr) {
      EXPECT_LT(c, d);
    }
  }
  ASSERT_TRUE(c_back);
  h.runToCompletion();
  for (const auto& [id, seed] :
       std::vector<std::pair<std::string, int>>{{"a", 1}, {"b", 2}, {"c", 3}}) {
    EXPECT_EQ(h.tokens()[id][0], referenceTokens(prompt(8, seed), 1, 12, true, 32)[0]) << id;
  }
  EXPECT_EQ(h.kv().numFreeBlocks(), 8);
}

// Prefix-cache queries count each request's first lookup only, as vLLM's do: a preempted
// sequence looks its tokens up again on readmission, which would count them twice.
TEST(Scheduler, PrefixCacheCountersLeaveOutLookupsAfterPreemption) {
  SchedulerHarness h(config(8, 64, 32), 8, 4, /*prefix_caching=*/true);
  h.add(makeRequest("a", prompt(8, 1), 12));
  h.add(makeRequest("b", prompt(8, 2), 12));
  h.add(makeRequest("c", prompt(8, 3), 12));
  h.step();
  h.add(makeRequest("d", prompt(4, 4), 2));
  h.runToCompletion();
  ASSERT_GT(h.scheduler().numPreemptions(), 0);
  EXPECT_EQ(h.kv().prefixCacheStats().queries, 8 + 8 + 8 + 4);
}

TEST(Scheduler, PriorityPolicyAdmitsLowerValuesFirstThenByArrival) {
  SchedulerHarness h(config(1, 64, 64, SchedulingPolicy::kPriority), 16, 16, false);
  h.add(makeRequest("a", prompt(4), 2, 1, /*priority=*/5));
  h.add(makeRequest("b", prompt(4), 2, 1, /*priority=*/1));
  h.add(makeRequest("c", prompt(4), 2, 1, /*priority=*/3));
  h.add(makeRequest("d", prompt(4), 2, 1, /*priority=*/1));
  std::vector<std::string> admitted;
  for (int i = 0; i < 100 && h.scheduler().hasUnfinishedRequests(); ++i) {
    for (const ScheduledSequence& s : h.step().sequences) {
      if (s.first_scheduled) admitted.push_back(s.request_id);
    }
  }
  EXPECT_EQ(admitted, (std::vector<std::string>{"b", "d", "c", "a"}));
}

TEST(Scheduler, FcfsPolicyIgnoresPriority) {
  SchedulerHarness h(config(1, 64, 64, SchedulingPolicy::kFcfs), 16, 16, false);
  h.add(makeRequest("a", prompt(4), 2, 1, /*priority=*/5));
  h.add(makeRequest("b", prompt(4), 2, 1, /*priority=*/1));
  EXPECT_EQ(h.step().sequences[0].request_id, "a");
}

TEST(Scheduler, PriorityPolicyPreemptsTheLowestPriorityRunningSequence) {
  SchedulerHarness h(config(8, 64, 32, SchedulingPolicy::kPriority), 8, 4, false);
  h.add(makeRequest("first-but-low", prompt(8, 1), 12, 1, /*priority=*/2));
  h.add(makeRequest("high", prompt(8, 2), 12, 1, /*priority=*/0));
  h.add(makeRequest("mid", prompt(8, 3), 12, 1, /*priority=*/1));
  const SchedulerOutput first = h.step();
  ASSERT_EQ(first.sequences.size(), 3u);
  EXPECT_EQ(first.sequences[0].request_id, "high");
  EXPECT_EQ(first.sequences[2].request_id, "first-but-low");
  const SchedulerOutput second = h.step();
  EXPECT_EQ(second.preempted_seq_ids, std::vector<SeqId>{first.sequences[2].seq_id});
  h.runToCompletion();
  EXPECT_EQ(h.tokens()["first-but-low"][0], referenceTokens(prompt(8, 1), 1, 12, true, 32)[0]);
}

TEST(Scheduler, AbortFreesEveryBlockWhereverTheRequestIs) {
  SchedulerHarness h(config(4, 16, 128), 32, 4, true);
  h.add(makeRequest("decoding", prompt(6, 1), 50));
  h.add(makeRequest("prefilling", prompt(60, 2), 50, /*n=*/3));
  h.add(makeRequest("waiting", prompt(10, 3), 50));
  h.step();
  h.step();
  ASSERT_GT(h.kv().numFreeBlocks(), 0);
  ASSERT_LT(h.kv().numFreeBlocks(), 32);
  EXPECT_TRUE(h.scheduler().abortRequest("prefilling"));
  EXPECT_TRUE(h.scheduler().abortRequest("waiting"));
  EXPECT_FALSE(h.scheduler().abortRequest("waiting"));
  EXPECT_FALSE(h.scheduler().abortRequest("unknown"));
  const SchedulerOutput next = h.step();
  EXPECT_EQ(
      std::set<std::string>(next.finished_request_ids.begin(), next.finished_request_ids.end()),
      (std::set<std::string>{"prefilling", "waiting"}));
  EXPECT_TRUE(h.scheduler().abortRequest("decoding"));
  EXPECT_EQ(h.kv().numFreeBlocks(), 32);
  EXPECT_EQ(h.kv().numSequences(), 0);
  EXPECT_FALSE(h.scheduler().hasUnfinishedRequests());
}

TEST(Scheduler, AbortAfterForkFreesEverySample) {
  SchedulerHarness h(config(8, 64, 128), 32, 4, false);
  h.add(makeRequest("n4", prompt(10), 20, /*n=*/4));
  h.step();
  h.step();
  EXPECT_EQ(h.scheduler().numRunningSequences(), 4);
  EXPECT_TRUE(h.scheduler().abortRequest("n4"));
  EXPECT_EQ(h.kv().numFreeBlocks(), 32);
  EXPECT_EQ(h.scheduler().numRunningSequences(), 0);
}

TEST(Scheduler, SecondRequestSharingA200TokenPrefixComputesOnlyItsNewTokens) {
  SchedulerHarness h(config(8, 2048, 512), 64, 16, true);
  std::mt19937 rng(5);
  const std::vector<int32_t> shared = randomPrompt(rng, 200);
  std::vector<int32_t> first = shared;
  const std::vector<int32_t> first_tail = randomPrompt(rng, 10);
  first.insert(first.end(), first_tail.begin(), first_tail.end());
  std::vector<int32_t> second = shared;
  const std::vector<int32_t> second_tail = randomPrompt(rng, 20);
  second.insert(second.end(), second_tail.begin(), second_tail.end());

  h.add(makeRequest("first", first, 4));
  EXPECT_EQ(h.step().num_prompt_tokens, 210);
  h.runToCompletion();
  const PrefixCacheStats before = h.kv().prefixCacheStats();
  h.add(makeRequest("second", second, 4));
  const SchedulerOutput out = h.step();
  ASSERT_EQ(out.sequences.size(), 1u);
  // 200 shared tokens are 12 full blocks of 16 (192 tokens); the rest is computed.
  EXPECT_EQ(out.sequences[0].num_cached_tokens, 192);
  EXPECT_EQ(out.num_prompt_tokens, 220 - 192);
  EXPECT_EQ(h.kv().prefixCacheStats().hits - before.hits, 192);
  EXPECT_EQ(h.kv().prefixCacheStats().queries - before.queries, 220);
  EXPECT_EQ(h.scheduler().findRequest("second")->num_cached_prompt_tokens, 192);
  h.runToCompletion();
  // FakeRunner read the cached blocks back: the tokens are those of a cold run.
  EXPECT_EQ(h.tokens()["second"][0], referenceTokens(second, 1, 4, true, 512)[0]);
}

TEST(Scheduler, PromptLogprobRequestsSkipThePrefixCache) {
  SchedulerHarness h(config(8, 2048, 512), 64, 16, true);
  h.add(makeRequest("warm", prompt(64), 1));
  h.runToCompletion();
  NewRequest request = makeRequest("logprobs", prompt(64), 1);
  request.params.prompt_logprobs = 0;
  h.add(request);
  const SchedulerOutput out = h.step();
  EXPECT_EQ(out.sequences[0].num_scheduled_tokens, 64);
  EXPECT_TRUE(out.sequences[0].prompt_logprobs);
}

TEST(Scheduler, ParallelSamplesShareThePromptAndCopyOnlyThePartialBlock) {
  SchedulerHarness h(config(8, 64, 128), 32, 16, false);
  h.add(makeRequest("n3", prompt(20), 6, /*n=*/3));
  const SchedulerOutput prefill = h.step();
  ASSERT_EQ(prefill.sequences.size(), 1u);
  EXPECT_EQ(prefill.sequences[0].num_samples, 3);
  EXPECT_EQ(h.scheduler().numRunningSequences(), 3);
  EXPECT_EQ(h.kv().numFreeBlocks(), 30);  // the 3 samples hold the prompt's 2 blocks together
  const SchedulerOutput decode = h.step();
  ASSERT_EQ(decode.sequences.size(), 3u);
  const BlockId full = prefill.sequences[0].block_table[0];
  const BlockId partial = prefill.sequences[0].block_table[1];
  ASSERT_EQ(decode.blocks_to_copy.size(), 2u);
  std::set<BlockId> second_blocks;
  for (const ScheduledSequence& s : decode.sequences) {
    EXPECT_EQ(s.block_table[0], full);
    EXPECT_EQ(s.num_samples, 1);
    second_blocks.insert(s.block_table[1]);
  }
  EXPECT_EQ(second_blocks.size(), 3u);
  for (const BlockCopy& copy : decode.blocks_to_copy) {
    EXPECT_EQ(copy.src, partial);
    EXPECT_TRUE(second_blocks.count(copy.dst));
  }
  h.runToCompletion();
  const auto expected = referenceTokens(prompt(20), 3, 6, true, 128);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(h.tokens()["n3"][k], expected[k]) << k;
  EXPECT_EQ(h.kv().numFreeBlocks(), 32);
}

TEST(Scheduler, ParallelSamplesWithoutBlockCopyRecomputeThePartialBlock) {
  SchedulerConfig c = config(8, 64, 128);
  c.enable_block_copy = false;
  SchedulerHarness h(c, 32, 16, false);
  h.add(makeRequest("n3", prompt(20), 6, /*n=*/3));
  h.step();
  const SchedulerOutput decode = h.step();
  EXPECT_TRUE(decode.blocks_to_copy.empty());
  ASSERT_EQ(decode.sequences.size(), 3u);
  // Sample 0 decodes one token; the others recompute prompt tokens 16..19 and their first token.
  EXPECT_EQ(decode.sequences[0].num_scheduled_tokens, 1);
  EXPECT_EQ(decode.sequences[1].num_computed_tokens, 16);
  EXPECT_EQ(decode.sequences[1].num_scheduled_tokens, 5);
  EXPECT_EQ(decode.sequences[2].num_scheduled_tokens, 5);
  h.runToCompletion();
  const auto expected = referenceTokens(prompt(20), 3, 6, true, 128);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(h.tokens()["n3"][k], expected[k]) << k;
  EXPECT_EQ(h.kv().numFreeBlocks(), 32);
}

TEST(Scheduler, FinishSequenceEndsOnlyThatSample) {
  SchedulerHarness h(config(8, 64, 128), 32, 4, false);
  h.add(makeRequest("n2", prompt(5), 10, /*n=*/2));
  h.step();
  EXPECT_FALSE(h.scheduler().finishSequence("n2", 1, FinishReason::kStop));
  EXPECT_FALSE(h.scheduler().finishSequence("n2", 1, FinishReason::kStop));  // already done
  const SchedulerOutput out = h.step();
  ASSERT_EQ(out.sequences.size(), 1u);
  EXPECT_EQ(out.sequences[0].seq_index, 0);
  h.runToCompletion();
  EXPECT_EQ(h.tokens()["n2"][0].size(), 10u);
  EXPECT_EQ(h.tokens()["n2"][1].size(), 1u);
  EXPECT_EQ(h.finished(), std::vector<std::string>{"n2"});
}

TEST(Scheduler, StopsAtEosWhenNotIgnored) {
  SchedulerHarness h(config(64, 512, 128), 128, 4, false);
  // Over many prompts some sample EOS early: the reference says which and when.
  for (int i = 0; i < 40; ++i) {
    h.add(makeRequest("r" + std::to_string(i), prompt(5, i), 100, 1, 0, /*ignore_eos=*/false));
  }
  h.runToCompletion();
  int stopped_early = 0;
  for (int i = 0; i < 40; ++i) {
    const auto expected = referenceTokens(prompt(5, i), 1, 100, false, 128)[0];
    EXPECT_EQ(h.tokens()["r" + std::to_string(i)][0], expected);
    stopped_early += expected.size() < 100 ? 1 : 0;
  }
  EXPECT_GT(stopped_early, 0);
}

struct WorkloadParam {
  SchedulingPolicy policy;
  bool prefix_caching;
  bool block_copy = true;
};

class SchedulerWorkload : public ::testing::TestWithParam<WorkloadParam> {};

// Random arrivals, lengths, n, priorities and aborts through a KV cache small enough to force
// preemptions: every step stays within the budget and caps, and every request gets exactly the
// tokens it gets alone.
TEST_P(SchedulerWorkload, EveryStepRespectsLimitsAndEveryRequestMatchesItsSoloRun) {
  constexpr int kMaxSeqs = 8;
  constexpr int kBudget = 64;
  constexpr int kMaxModelLen = 128;
  constexpr int kNumBlocks = 48;
  constexpr int kNumRequests = 150;
  SchedulerConfig c = config(kMaxSeqs, kBudget, kMaxModelLen, GetParam().policy);
  c.enable_block_copy = GetParam().block_copy;
  SchedulerHarness h(c, kNumBlocks, 4, GetParam().prefix_caching);
  std::mt19937 rng(99);
  const auto rand = [&rng](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  std::vector<std::vector<int32_t>> stems = {randomPrompt(rng, 24), randomPrompt(rng, 40)};
  struct Expected {
    std::vector<int32_t> prompt;
    int n, max_tokens;
    bool ignore_eos;
  };
  std::map<std::string, Expected> requests;
  std::set<std::string> aborted;
  int next = 0;
  int steps = 0;
  while (next < kNumRequests || h.scheduler().hasUnfinishedRequests()) {
    for (int arrivals = rand(0, 2); arrivals > 0 && next < kNumRequests; --arrivals) {
      Expected e;
      e.prompt = rand(0, 2) == 0 ? stems[rand(0, 1)] : std::vector<int32_t>{};
      const std::vector<int32_t> tail = randomPrompt(rng, rand(1, 50));
      e.prompt.insert(e.prompt.end(), tail.begin(), tail.end());
      e.n = rand(0, 3) == 0 ? rand(2, 3) : 1;
      e.max_tokens = rand(1, 40);
      e.ignore_eos = rand(0, 1) == 0;
      const std::string id = "r" + std::to_string(next++);
      h.add(makeRequest(id, e.prompt, e.max_tokens, e.n, rand(0, 3), e.ignore_eos));
      requests[id] = e;
    }
    if (rand(0, 40) == 0 && next > 0) {
      const std::string id = "r" + std::to_string(rand(0, next - 1));
      if (h.scheduler().abortRequest(id)) aborted.insert(id);
    }
    const SchedulerOutput out = h.step();
    ++steps;
    ASSERT_LE(out.num_scheduled_tokens, kBudget);
    ASSERT_LE(static_cast<int>(out.sequences.size()), kMaxSeqs);
    int sum = 0;
    int slots = 0;
    std::set<SeqId> seen;
    for (const ScheduledSequence& s : out.sequences) {
      ASSERT_GT(s.num_scheduled_tokens, 0);
      ASSERT_TRUE(seen.insert(s.seq_id).second);
      ASSERT_LE(s.num_computed_tokens + s.num_scheduled_tokens, kMaxModelLen);
      sum += s.num_scheduled_tokens;
      slots += s.num_samples;
    }
    ASSERT_EQ(sum, out.num_scheduled_tokens);
    ASSERT_LE(slots, kMaxSeqs);
    ASSERT_LE(h.scheduler().numRunningSequences(), kMaxSeqs);
    ASSERT_LT(steps, 100000);
  }
  EXPECT_GT(h.scheduler().numPreemptions(), 0);
  for (const auto& [id, e] : requests) {
    const auto expected = referenceTokens(e.prompt, e.n, e.max_tokens, e.ignore_eos, kMaxModelLen);
    for (int k = 0; k < e.n; ++k) {
      const std::vector<int32_t>& got = h.tokens()[id][k];
      if (aborted.count(id)) {
        ASSERT_LE(got.size(), expected[k].size());
        EXPECT_TRUE(std::equal(got.begin(), got.end(), expected[k].begin())) << id;
      } else {
        EXPECT_EQ(got, expected[k]) << id << " sample " << k;
      }
    }
  }
  EXPECT_EQ(h.kv().numFreeBlocks(), kNumBlocks);
  EXPECT_EQ(h.kv().numSequences(), 0);
  if (GetParam().prefix_caching) {
    EXPECT_GT(h.kv().prefixCacheStats().hits, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    PoliciesAndCaching, SchedulerWorkload,
    ::testing::Values(WorkloadParam{SchedulingPolicy::kFcfs, false},
                      WorkloadParam{SchedulingPolicy::kFcfs, true},
                      WorkloadParam{SchedulingPolicy::kPriority, false},
                      WorkloadParam{SchedulingPolicy::kPriority, true},
                      WorkloadParam{SchedulingPolicy::kFcfs, true, /*block_copy=*/false},
                      WorkloadParam{SchedulingPolicy::kPriority, false, /*block_copy=*/false}),
    [](const auto& info) {
      return std::string(schedulingPolicyName(info.param.policy)) +
             (info.param.prefix_caching ? "WithPrefixCaching" : "WithoutPrefixCaching") +
             (info.param.block_copy ? "" : "NoBlockCopy");
    });

}  // namespace
}  // namespace manifold
