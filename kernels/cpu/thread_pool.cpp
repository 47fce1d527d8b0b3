#include "kernels/cpu/thread_pool.h"

#include <immintrin.h>

#include <algorithm>
#include <cassert>
#include <chrono>

namespace manifold::kernels::cpu {
namespace {

constexpr uint64_t packClaim(uint64_t count, uint64_t next) { return (count << 32) | next; }

}  // namespace

ThreadPool::ThreadPool(int num_threads, int spin_us)
    : num_threads_(std::max(1, num_threads)), spin_us_(spin_us) {
  workers_.reserve(num_threads_ - 1);
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::run(InvokeFn invoke, void* ctx, int64_t base, int64_t n, int64_t min_chunk) {
  assert(n <= kMaxJobItems);
  job_invoke_ = invoke;
  job_ctx_ = ctx;
  job_base_ = base;
  job_min_chunk_.store(min_chunk, std::memory_order_relaxed);
  done_items_.store(0, std::memory_order_relaxed);
  claim_.store(packClaim(static_cast<uint64_t>(n), 0), std::memory_order_release);
  generation_.fetch_add(1);  // seq_cst: pairs with the sleep check in workerLoop
  if (sleeping_workers_.load() > 0) generation_.notify_all();

  drainChunks();
  // Only chunks a worker has claimed can still be running: wait for those.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us_);
  int polls = 0;
  while (done_items_.load(std::memory_order_acquire) != n) {
    if (++polls % 64 == 0 && std::chrono::steady_clock::now() > deadline) {
      std::this_thread::yield();  // the claiming worker may need this core
    } else {
      _mm_pause();
    }
  }
}

void ThreadPool::drainChunks() {
  uint64_t state = claim_.load(std::memory_order_acquire);
  for (;;) {
    const uint64_t count = state >> 32;
    const uint64_t next = state & 0xffffffffu;
    if (next >= count) return;
    const uint64_t left = count - next;
    const auto min_chunk = static_cast<uint64_t>(job_min_chunk_.load(std::memory_order_relaxed));
    const uint64_t guided = (left + 2 * num_threads_ - 1) / (2 * num_threads_);
    const uint64_t size = std::min(left, std::max(min_chunk, guided));
    if (!claim_.compare_exchange_weak(state, packClaim(count, next + size),
                                      std::memory_order_acquire)) {
      continue;  // state reloaded
    }
    job_invoke_(job_ctx_, job_base_ + static_cast<int64_t>(next),
                job_base_ + static_cast<int64_t>(next + size));
    done_items_.fetch_add(static_cast<int64_t>(size), std::memory_order_release);
    state = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::workerLoop() {
  // Workers start at generation 0 even if the first job was issued before this thread ran.
  uint32_t seen = 0;
  for (;;) {
    uint32_t current = generation_.load(std::memory_order_acquire);
    if (current == seen) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us_);
      int polls = 0;
      while ((current = generation_.load(std::memory_order_acquire)) == seen) {
        _mm_pause();
        if (++polls % 64 == 0 && std::chrono::steady_clock::now() > deadline) {
          sleeping_workers_.fetch_add(1);  // seq_cst: pairs with run()
          generation_.wait(seen);          // returns at once if a job was published meanwhile
          sleeping_workers_.fetch_sub(1);
          polls = 0;
        }
      }
    }
    seen = current;
    if (stop_.load()) return;
    drainChunks();
  }
}

}  // namespace manifold::kernels::cpu
