// Continuous batching, one step at a time, in the manner of vLLM v1's Scheduler: every sequence
// has num_computed_tokens, and a step gives each scheduled sequence a number of tokens to run,
// so prefills, chunked prefills and decodes mix in one batch.
//
// A step (schedule()):
//  1. Running sequences first, in policy order (decodes, and prefills that were chunked): each
//     gets what it still needs, up to the token budget. When the KV cache cannot hold them, the
//     lowest-ranked running sequence (highest priority value, then latest arrival) is preempted
//     by recompute: its blocks are freed and it goes back to the front of the waiting queue.
//  2. If nothing was preempted, waiting sequences in policy order, while the token budget,
//     max_num_seqs and the free blocks allow: each reuses its longest cached prefix and is
//     prefilled in chunks of what is left of the budget.
// After the forward and sampling, update() appends the sampled tokens, forks requests with
// n > 1 at the end of their prompt, applies the stop checker and frees finished sequences.
//
// Thread safety: none; owned by the engine loop.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/scheduler/scheduler_config.h"
#include "engine/scheduler/scheduler_output.h"
#include "engine/scheduler/sequence.h"
#include "engine/scheduler/stop_checker.h"

namespace manifold {

struct NewRequest {
  std::string request_id;
  std::vector<int32_t> prompt_token_ids;
  SamplingParams params;
  int priority = 0;
  uint64_t cache_key = 0;  // prefix-cache extra key (e.g. LoRA id); 0: none
};

class Scheduler {
 public:
  // REQUIRES: config.validate() is OK; kv_cache and stop_checker outlive the scheduler. The
  // cache should hold one max_model_len sequence (the engine checks it at creation); a sequence
  // that outgrows the whole cache is rejected (SchedulerOutput::rejected_request_ids), never
  // left to preempt itself forever.
  Scheduler(const SchedulerConfig& config, KVCacheManager& kv_cache, StopChecker& stop_checker);

  // Validates lengths and queues the request. Errors: empty prompt, prompt longer than
  // max_model_len, n out of range, duplicate id (kInvalidArgument).
  [[nodiscard]] Status addRequest(NewRequest request);

  // Plans the next step. Empty when nothing can run.
  [[nodiscard]] SchedulerOutput schedule();

  // Applies a step's results. `sampled[i]` holds the tokens drawn for output.sequences[i]:
  // num_samples tokens when it sampled, none otherwise. Returns one update per new token.
  [[nodiscard]] std::vector<SequenceUpdate> update(const SchedulerOutput& output,
                                                   std::span<const std::vector<int32_t>> sampled);

  // Ends one sequence from outside (a stop string found by the output processor) and frees its
  // blocks. Returns true when that finished the whole request. Unknown ids are ignored.
  bool finishSequence(const std::string& request_id, int seq_index, FinishReason reason);
  // Ends every sequence of the request and frees its blocks. Returns false for unknown ids.
  bool abortRequest(const std::string& request_id);

  [[nodiscard]] bool hasUnfinishedRequests() const { return !requests_.empty(); }
  [[nodiscard]] int numUnfinishedRequests() const { return static_cast<int>(requests_.size()); }
  [[nodiscard]] int numRunningSequences() const { return static_cast<int>(running_.size()); }
  [[nodiscard]] int numWaitingSequences() const { return static_cast<int>(waiting_.size()); }
  [[nodiscard]] int64_t numPreemptions() const { return num_preemptions_; }
  // The request's record, or nullptr once it finished.
  [[nodiscard]] const RequestState* findRequest(const std::string& request_id) const;
  [[nodiscard]] const SequenceState* findSequence(SeqId seq_id) const;
  [[nodiscard]] const SchedulerConfig& config() const { return config_; }
  [[nodiscard]] const KVCacheManager& kvCache() const { return kv_cache_; }

 private:
  // True when `a` runs before `b` under the policy.
  [[nodiscard]] bool ranksBefore(const SequenceState& a, const SequenceState& b) const;
  // Sequence slots the request occupies in a batch: n before its fork, 1 per sequence after.
  [[nodiscard]] static int slotsOf(const SequenceState& seq);
  void insertRunning(SequenceState* seq);
  void enqueueWaiting(SequenceState* seq, bool at_front);
  void preempt(SequenceState* seq, SchedulerOutput& output);
  // Ends the request of a sequence that cannot fit in the whole cache (see rejected_request_ids).
  void reject(SequenceState* seq, SchedulerOutput& output);
  // num_new cut to long_prefill_token_threshold (with chunked prefill).
  [[nodiscard]] int cappedNewTokens(int num_new) const;
  void scheduleRunning(SchedulerOutput& output, int& budget);
  void scheduleWaiting(SchedulerOutput& output, int& budget);
  ScheduledSequence& addScheduled(SchedulerOutput& output, SequenceState& seq, int num_new);
  void fork(SequenceState& parent);
  // Frees the sequence's blocks and takes it out of the queues; retires the request when it was
  // the last. Returns true when the request finished.
  bool finish(SequenceState& seq, FinishReason reason);
  void retireRequest(RequestState& request);

  SchedulerConfig config_;
  KVCacheManager& kv_cache_;
  StopChecker& stop_checker_;
  std::unordered_map<std::string, std::unique_ptr<RequestState>> requests_;
  std::unordered_map<SeqId, SequenceState*> sequences_;
  std::vector<SequenceState*> running_;  // sorted by ranksBefore
  std::deque<SequenceState*> waiting_;   // fcfs: arrival order, preempted in front; else sorted
  std::vector<std::string> finished_since_last_step_;
  uint64_t next_arrival_index_ = 0;
  SeqId next_seq_id_ = 0;
  int64_t num_preemptions_ = 0;
};

}  // namespace manifold
