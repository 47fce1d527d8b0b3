// A persistent worker pool for the CPU kernels, owned by one engine (through its CpuBackend).
//
// Per-step overhead dominates on tiny models (a forward pass of stories260K is tens of
// microseconds), so waking workers must be cheap: after each job a worker spins for a short
// while (spin_us) watching for the next one, and only then blocks on a futex (std::atomic::wait).
// Chunks are claimed dynamically and the owner waits only for claimed chunks to finish, never for
// a worker to show up: on a machine with more runnable threads than cores a descheduled worker
// costs nothing, the owner simply runs the chunks itself. Chunks shrink as the job drains
// (guided scheduling: a claim takes 1 / (2 * threads) of what is left, at least min_chunk), so
// a job ends with small chunks and threads finish together, with few claims.
//
// Thread safety: parallelFor is called by one thread at a time (the owner); it blocks until the
// job is done. The calling thread works too, so num_threads counts it.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace manifold::kernels::cpu {

class ThreadPool {
 public:
  // num_threads >= 1 (1: everything runs inline). spin_us: how long an idle worker polls
  // before it sleeps.
  explicit ThreadPool(int num_threads, int spin_us = 100);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  [[nodiscard]] int numThreads() const { return num_threads_; }

  // Calls fn(begin, end) on disjoint chunks covering [0, n), each at least min_chunk long
  // (except the last), spread over the pool; runs inline when there is only one chunk.
  // Returns when every chunk is done. fn must be safe to call concurrently on disjoint chunks.
  template <typename Fn>
  void parallelFor(int64_t n, int64_t min_chunk, Fn&& fn) {
    if (n <= 0) return;
    if (min_chunk < 1) min_chunk = 1;
    if (num_threads_ == 1 || n <= min_chunk) {
      fn(int64_t{0}, n);
      return;
    }
    auto invoke = [](void* ctx, int64_t begin, int64_t end) {
      (*static_cast<std::remove_reference_t<Fn>*>(ctx))(begin, end);
    };
    // The claim word holds 32-bit item indices: a longer job runs in slices.
    for (int64_t base = 0; base < n; base += kMaxJobItems) {
      run(invoke, &fn, base, n - base < kMaxJobItems ? n - base : kMaxJobItems, min_chunk);
    }
  }

 private:
  static constexpr int64_t kMaxJobItems = int64_t{1} << 31;
  using InvokeFn = void (*)(void* ctx, int64_t begin, int64_t end);

  // Runs items [base, base + n) as one job. REQUIRES: n <= kMaxJobItems.
  void run(InvokeFn invoke, void* ctx, int64_t base, int64_t n, int64_t min_chunk);
  void workerLoop();
  // Claims and runs chunks of the current job until none are left.
  void drainChunks();

  const int num_threads_;
  const int spin_us_;
  std::vector<std::thread> workers_;

  // The current job. Written by the owner only while no chunk of any job is claimed and not
  // finished; read by a worker only after it claimed a chunk (claim_ acquire).
  InvokeFn job_invoke_ = nullptr;
  void* job_ctx_ = nullptr;
  int64_t job_base_ = 0;  // the claims' item indices are relative to it
  // Read before a claim, to size it. A stale value sizes a claim whose CAS fails, or, when the
  // next job passed through the same (n, next) state, one claim of that job with the previous
  // job's minimum: still a valid range of it, only possibly shorter than its min_chunk.
  std::atomic<int64_t> job_min_chunk_{1};
  // Packed claim state: the next unclaimed item in the low 32 bits, the job's item count in the
  // high 32 bits. A worker claims [next, next + size) by a CAS from (n, next) to (n, next + size).
  alignas(64) std::atomic<uint64_t> claim_{0};
  alignas(64) std::atomic<int64_t> done_items_{0};
  alignas(64) std::atomic<uint32_t> generation_{0};
  std::atomic<int> sleeping_workers_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace manifold::kernels::cpu
