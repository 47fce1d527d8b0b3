#include "kernels/cpu/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <utility>
#include <set>
#include <thread>
#include <vector>

namespace manifold::kernels::cpu {
namespace {

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  ThreadPool pool(3);
  for (int64_t n : {1, 2, 7, 100, 12345}) {
    std::vector<std::atomic<int>> hits(n);
    pool.parallelFor(n, 3, [&](int64_t begin, int64_t end) {
      ASSERT_LT(begin, end);
      for (int64_t i = begin; i < end; ++i) hits[i].fetch_add(1);
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
  }
}

// Guided claims: each takes 1 / (2 * threads) of what is left, at least min_chunk, so no chunk is
// larger than the first claim could be and the job ends on a chunk of at most min_chunk, whatever
// the timing.
TEST(ThreadPool, ChunksShrinkTowardTheEndOfAJob) {
  ThreadPool pool(2);
  constexpr int64_t kN = 1000, kMinChunk = 3;
  for (int job = 0; job < 50; ++job) {
    std::mutex mu;
    std::vector<std::pair<int64_t, int64_t>> chunks;
    pool.parallelFor(kN, kMinChunk, [&](int64_t begin, int64_t end) {
      std::lock_guard<std::mutex> lock(mu);
      chunks.emplace_back(begin, end);
    });
    int64_t covered = 0;
    for (const auto& [begin, end] : chunks) {
      covered += end - begin;
      EXPECT_LE(end - begin, (kN + 3) / 4);
      if (end == kN) {
        EXPECT_LE(end - begin, kMinChunk);
      } else {
        EXPECT_GE(end - begin, kMinChunk);
      }
    }
    EXPECT_EQ(covered, kN);
    EXPECT_GE(chunks.size(), 10u);  // 4 fixed chunks per thread would be 8
  }
}

// The claim word holds 32-bit item indices; a longer job runs in slices and still covers every
// index once.
TEST(ThreadPool, CoversJobsLongerThanOneClaimWord) {
  ThreadPool pool(2);
  const int64_t n = (int64_t{5} << 31) + 7;
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  pool.parallelFor(n, int64_t{1} << 29, [&](int64_t begin, int64_t end) {
    std::lock_guard<std::mutex> lock(mu);
    chunks.emplace_back(begin, end);
  });
  std::sort(chunks.begin(), chunks.end());
  int64_t next = 0;
  for (const auto& [begin, end] : chunks) {
    ASSERT_EQ(begin, next);
    ASSERT_LT(begin, end);
    next = end;
  }
  EXPECT_EQ(next, n);
}

TEST(ThreadPool, RunsSmallWorkInlineOnTheCaller) {
  ThreadPool pool(2);
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id ran_on;
  pool.parallelFor(10, 10, [&](int64_t, int64_t) { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, caller);
}

TEST(ThreadPool, SpreadsLargeWorkOverWorkers) {
  ThreadPool pool(2, /*spin_us=*/100000);
  std::set<std::thread::id> threads;
  std::mutex mu;
  // Repeat: a worker that is descheduled may miss one job on a busy machine.
  for (int attempt = 0; attempt < 200 && threads.size() < 2; ++attempt) {
    pool.parallelFor(64, 1, [&](int64_t, int64_t) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
    });
  }
  EXPECT_EQ(threads.size(), 2u);
}

TEST(ThreadPool, SurvivesManyBackToBackJobsAndSleepingWorkers) {
  ThreadPool pool(2, /*spin_us=*/0);  // workers sleep between jobs: exercises the futex path
  std::atomic<int64_t> total{0};
  for (int job = 0; job < 2000; ++job) {
    pool.parallelFor(8, 1, [&](int64_t begin, int64_t end) { total.fetch_add(end - begin); });
  }
  EXPECT_EQ(total.load(), 2000 * 8);
}

}  // namespace
}  // namespace manifold::kernels::cpu
