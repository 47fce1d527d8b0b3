#include "engine/core/local_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "engine/core/offline_generate.h"
#include "tests/engine/core/fake_executor.h"

namespace manifold {
namespace {

using testing::FakeExecutor;
using testing::fakeReference;
using testing::kFakeVocab;

std::unique_ptr<LocalEngine> fakeEngine(int num_blocks, int max_num_seqs,
                                        EngineObserver* observer = nullptr,
                                        SchedulingPolicy policy = SchedulingPolicy::kFcfs) {
  EngineCoreConfig config;
  config.scheduler.max_num_seqs = max_num_seqs;
  config.scheduler.policy = policy;
  config.observer = observer;
  config.scheduler.max_num_batched_tokens = 64;
  config.scheduler.max_model_len = 128;
  EngineInfo info;
  info.max_model_len = 128;
  info.vocab_size = kFakeVocab;
  info.block_size = 4;
  Result<std::unique_ptr<LocalEngine>> engine = LocalEngine::create(
      config, std::make_unique<FakeExecutor>(num_blocks, 4, 128, true), nullptr, info);
  EXPECT_TRUE(engine.isOk()) << engine.status().message();
  return engine.isOk() ? std::move(engine).value() : nullptr;
}

// The stats snapshot is taken after the step that published the last output, so it may lag the
// streams by one step: wait for it (bounded) before checking it.
EngineStats statsWhenIdle(const EngineClient& engine) {
  EngineStats stats = engine.stats();
  for (int i = 0; i < 500 && stats.num_running + stats.num_waiting > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stats = engine.stats();
  }
  return stats;
}

EngineRequest greedy(std::string id, std::vector<int32_t> prompt, int max_tokens) {
  EngineRequest r;
  r.request_id = std::move(id);
  r.prompt_token_ids = std::move(prompt);
  r.params.temperature = 0.0f;
  r.params.max_tokens = max_tokens;
  r.params.ignore_eos = true;
  return r;
}

TEST(LocalEngine, ServesConcurrentSubmittersFromManyThreads) {
  std::unique_ptr<LocalEngine> engine = fakeEngine(48, 8);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::atomic<int> mismatches{0};
  std::atomic<int> completed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::vector<EngineRequest> requests;
      for (int i = 0; i < kPerThread; ++i) {
        std::vector<int32_t> prompt(std::uniform_int_distribution<int>(1, 40)(rng));
        for (int32_t& x : prompt)
          x = std::uniform_int_distribution<int32_t>(0, kFakeVocab - 1)(rng);
        requests.push_back(greedy("t" + std::to_string(t) + "-" + std::to_string(i), prompt,
                                  std::uniform_int_distribution<int>(1, 20)(rng)));
      }
      const std::vector<GenerationResult> results = generate(*engine, requests);
      for (size_t i = 0; i < results.size(); ++i) {
        const auto expected =
            fakeReference(requests[i].prompt_token_ids, *requests[i].params.max_tokens);
        if (!results[i].error.isOk() || results[i].sequences[0].token_ids != expected) {
          ++mismatches;
        }
        ++completed;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(completed.load(), kThreads * kPerThread);
  const EngineStats stats = statsWhenIdle(*engine);
  EXPECT_EQ(stats.kv_cache_usage, 0.0);
  EXPECT_EQ(stats.num_running + stats.num_waiting, 0);
}

// As vLLM: a request priority is an error unless the engine schedules by priority.
TEST(LocalEngine, PriorityNeedsThePriorityPolicy) {
  std::unique_ptr<LocalEngine> fcfs = fakeEngine(48, 8);
  EngineRequest urgent = greedy("urgent", {1, 2, 3}, 2);
  urgent.priority = -1;
  auto refused = fcfs->submit(urgent);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("--scheduling-policy priority"), std::string::npos);
  EXPECT_TRUE(fcfs->submit(greedy("plain", {1, 2, 3}, 2)).isOk());

  std::unique_ptr<LocalEngine> by_priority =
      fakeEngine(48, 8, nullptr, SchedulingPolicy::kPriority);
  auto accepted = by_priority->submit(urgent);
  ASSERT_TRUE(accepted.isOk()) << accepted.status().toString();
  EXPECT_EQ(collectStream(**accepted, "urgent", 1).sequences[0].token_ids,
            fakeReference({1, 2, 3}, 2));
}

// Holds the engine loop inside its first step until opened, so that a test decides how far the
// requests get.
class StepGate final : public EngineObserver {
 public:
  void onStep(const StepStats&) override {
    std::unique_lock<std::mutex> lock(mu_);
    in_step_ = true;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
  }
  void onState(const StepStats&) override {}
  void onRequestFinished(const FinishedRequestStats&) override {}
  void waitUntilInStep() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return in_step_; });
  }
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool in_step_ = false;  // GUARDED_BY(mu_)
  bool open_ = false;     // GUARDED_BY(mu_)
};

// The loop is held inside the first request's first step, so the request is certainly live
// when its id comes again (a 100-token fake request can otherwise finish before the second
// submit on a fast machine).
TEST(LocalEngine, RejectsDuplicateIdsWhileTheFirstIsLive) {
  StepGate gate;  // outlives the engine
  std::unique_ptr<LocalEngine> engine = fakeEngine(48, 8, &gate);
  auto first = engine->submit(greedy("same", {1, 2, 3}, 100));
  ASSERT_TRUE(first.isOk());
  gate.waitUntilInStep();
  EXPECT_EQ(engine->submit(greedy("same", {1, 2, 3}, 100)).status().code(),
            StatusCode::kInvalidArgument);
  engine->abort("same");
  gate.open();
  const GenerationResult result = collectStream(**first, "same", 1);
  EXPECT_EQ(result.sequences[0].finish_reason, FinishReason::kAbort);
  const EngineStats stats = statsWhenIdle(*engine);
  EXPECT_EQ(stats.num_running + stats.num_waiting, 0);
  EXPECT_EQ(stats.kv_cache_usage, 0.0);
}

TEST(LocalEngine, ShutdownAbortsEveryUnfinishedStream) {
  StepGate gate;  // outlives the engine
  std::unique_ptr<LocalEngine> engine = fakeEngine(48, 2, &gate);
  ASSERT_NE(engine, nullptr);
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 6; ++i) {
    auto stream = engine->submit(greedy("r" + std::to_string(i), {1, 2, 3}, 120));
    ASSERT_TRUE(stream.isOk());
    streams.push_back(*stream);
  }
  gate.waitUntilInStep();
  // The loop is held in its first step: once the destructor has marked the engine as stopping
  // (submit() answers kUnavailable), let that step end; no request can have finished.
  LocalEngine* stopping = engine.get();
  std::thread opener([&gate, stopping] {
    while (stopping->submit(greedy("probe", {1}, 1)).status().code() != StatusCode::kUnavailable) {
      std::this_thread::yield();
    }
    gate.open();
  });
  engine.reset();
  opener.join();
  const std::vector<int32_t> reference = fakeReference({1, 2, 3}, 120);
  for (size_t i = 0; i < streams.size(); ++i) {
    const GenerationResult result = collectStream(*streams[i], "r", 1);
    EXPECT_EQ(result.sequences[0].finish_reason, FinishReason::kAbort) << i;
    const std::vector<int32_t>& tokens = result.sequences[0].token_ids;
    ASSERT_LT(tokens.size(), reference.size()) << i;
    EXPECT_TRUE(std::equal(tokens.begin(), tokens.end(), reference.begin())) << i;
  }
}

TEST(LocalEngine, FailsInFlightRequestsAndKeepsServingWhenAStepThrows) {
  EngineCoreConfig config;
  config.scheduler.max_num_seqs = 4;
  config.scheduler.max_num_batched_tokens = 64;
  config.scheduler.max_model_len = 128;
  EngineInfo info;
  info.max_model_len = 128;
  info.vocab_size = kFakeVocab;
  info.block_size = 4;
  auto executor = std::make_unique<FakeExecutor>(48, 4, 128, true);
  executor->throwOnForward(0);
  Result<std::unique_ptr<LocalEngine>> created =
      LocalEngine::create(config, std::move(executor), nullptr, info);
  ASSERT_TRUE(created.isOk()) << created.status().message();
  std::unique_ptr<LocalEngine> engine = std::move(created).value();

  auto failed = engine->submit(greedy("doomed", {1, 2, 3}, 5));
  ASSERT_TRUE(failed.isOk());
  const GenerationResult failed_result = collectStream(**failed, "doomed", 1);
  EXPECT_EQ(failed_result.error.code(), StatusCode::kInternal);

  // The loop survived: the next request is served in full, and nothing is left allocated.
  const std::vector<int32_t> prompt = {4, 5, 6, 7, 8};
  auto next = engine->submit(greedy("next", prompt, 6));
  ASSERT_TRUE(next.isOk());
  const GenerationResult next_result = collectStream(**next, "next", 1);
  ASSERT_TRUE(next_result.error.isOk()) << next_result.error.message();
  EXPECT_EQ(next_result.sequences[0].token_ids, fakeReference(prompt, 6));
  const EngineStats stats = statsWhenIdle(*engine);
  EXPECT_EQ(stats.kv_cache_usage, 0.0);
  EXPECT_EQ(stats.num_running + stats.num_waiting, 0);
}

TEST(LocalEngine, CreationFailsWhenTheKvCacheCannotHoldOneMaxModelLenSequence) {
  EngineCoreConfig config;
  config.scheduler.max_model_len = 128;
  EngineInfo info;
  info.max_model_len = 128;
  // 8 blocks of 4 tokens hold 32 tokens; 128 need 32 blocks.
  const Result<std::unique_ptr<LocalEngine>> engine =
      LocalEngine::create(config, std::make_unique<FakeExecutor>(8, 4, 128, true), nullptr, info);
  ASSERT_FALSE(engine.isOk());
  EXPECT_EQ(engine.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine.status().message(),
            "KV cache has 8 blocks (32 tokens) but max_model_len 128 needs 32 blocks; raise "
            "--kv-cache-space or lower --max-model-len");
}

}  // namespace
}  // namespace manifold
