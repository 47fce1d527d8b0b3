#include "engine/scheduler/scheduler.h"

#include <algorithm>
#include <cassert>
#include <tuple>

namespace manifold {

Scheduler::Scheduler(const SchedulerConfig& config, KVCacheManager& kv_cache,
                     StopChecker& stop_checker)
    : config_(config), kv_cache_(kv_cache), stop_checker_(stop_checker) {
  assert(config_.validate().isOk());
}

Status Scheduler::addRequest(NewRequest request) {
  const int prompt_len = static_cast<int>(request.prompt_token_ids.size());
  if (prompt_len == 0) return invalidArgument("request " + request.request_id + ": empty prompt");
  if (prompt_len > config_.max_model_len) {
    return invalidArgument("request " + request.request_id + ": prompt has " +
                           std::to_string(prompt_len) + " tokens, more than max_model_len " +
                           std::to_string(config_.max_model_len));
  }
  const int n = request.params.n;
  if (n < 1 || n > SamplingParams::kMaxN || n > config_.max_num_seqs) {
    return invalidArgument("request " + request.request_id + ": n must be in [1, " +
                           std::to_string(std::min(SamplingParams::kMaxN, config_.max_num_seqs)) +
                           "], got " + std::to_string(n));
  }
  if (requests_.count(request.request_id) != 0) {
    return invalidArgument("duplicate request id " + request.request_id);
  }
  auto state = std::make_unique<RequestState>();
  state->request_id = request.request_id;
  state->params = std::move(request.params);
  state->priority = request.priority;
  state->arrival_index = next_arrival_index_++;
  state->cache_key = request.cache_key;
  auto seq = std::make_unique<SequenceState>();
  seq->seq_id = next_seq_id_++;
  seq->request = state.get();
  seq->token_ids = std::move(request.prompt_token_ids);
  seq->num_prompt_tokens = prompt_len;
  SequenceState* seq_ptr = seq.get();
  state->sequences.push_back(std::move(seq));
  sequences_.emplace(seq_ptr->seq_id, seq_ptr);
  requests_.emplace(state->request_id, std::move(state));
  enqueueWaiting(seq_ptr, /*at_front=*/false);
  return Status::ok();
}

bool Scheduler::ranksBefore(const SequenceState& a, const SequenceState& b) const {
  const RequestState& ra = *a.request;
  const RequestState& rb = *b.request;
  const int pa = config_.policy == SchedulingPolicy::kPriority ? ra.priority : 0;
  const int pb = config_.policy == SchedulingPolicy::kPriority ? rb.priority : 0;
  return std::tie(pa, ra.arrival_index, a.index) < std::tie(pb, rb.arrival_index, b.index);
}

int Scheduler::slotsOf(const SequenceState& seq) {
  return seq.request->forked ? 1 : seq.request->params.n;
}

void Scheduler::insertRunning(SequenceState* seq) {
  const auto pos = std::upper_bound(
      running_.begin(), running_.end(), seq,
      [this](const SequenceState* a, const SequenceState* b) { return ranksBefore(*a, *b); });
  running_.insert(pos, seq);
}

void Scheduler::enqueueWaiting(SequenceState* seq, bool at_front) {
  seq->status = SequenceStatus::kWaiting;
  if (config_.policy == SchedulingPolicy::kPriority) {
    const auto pos = std::upper_bound(
        waiting_.begin(), waiting_.end(), seq,
        [this](const SequenceState* a, const SequenceState* b) { return ranksBefore(*a, *b); });
    waiting_.insert(pos, seq);
  } else if (at_front) {
    waiting_.push_front(seq);
  } else {
    waiting_.push_back(seq);
  }
}

void Scheduler::preempt(SequenceState* seq, SchedulerOutput& output) {
  kv_cache_.free(seq->seq_id);
  seq->num_computed_tokens = 0;
  ++seq->num_preemptions;
  ++num_preemptions_;
  output.preempted_seq_ids.push_back(seq->seq_id);
  enqueueWaiting(seq, /*at_front=*/true);
}

void Scheduler::reject(SequenceState* seq, SchedulerOutput& output) {
  const std::string request_id = seq->request->request_id;
  output.rejected_request_ids.push_back(request_id);
  (void)abortRequest(request_id);
}

SchedulerOutput Scheduler::schedule() {
  SchedulerOutput output;
  output.finished_request_ids = std::move(finished_since_last_step_);
  finished_since_last_step_.clear();
  int budget = config_.max_num_batched_tokens;
  scheduleRunning(output, budget);
  // Admitting new work right after running out of blocks would only preempt it again.
  if (output.preempted_seq_ids.empty()) scheduleWaiting(output, budget);
  return output;
}

int Scheduler::cappedNewTokens(int num_new) const {
  const int threshold = config_.long_prefill_token_threshold;
  if (config_.enable_chunked_prefill && threshold > 0 && num_new > threshold) return threshold;
  return num_new;
}

void Scheduler::scheduleRunning(SchedulerOutput& output, int& budget) {
  size_t i = 0;
  while (i < running_.size() && budget > 0) {
    SequenceState* seq = running_[i];
    const int num_new = std::min(cappedNewTokens(seq->numTokens() - seq->num_computed_tokens), budget);
    assert(num_new > 0);
    bool allocated = false;
    bool rejected = false;
    while (true) {
      allocated = kv_cache_.allocateSlots(seq->seq_id, seq->num_computed_tokens, num_new, nullptr,
                                          output.blocks_to_copy);
      if (allocated) break;
      // running_ is in rank order and only [0, i) is scheduled, so the victim is never a
      // sequence already in this step's batch.
      SequenceState* victim = running_.back();
      if (victim == seq && i == 0) {
        // Alone, with every other block free or evictable, and still short: preempting it
        // would only bring it back to the same point.
        rejected = true;
        break;
      }
      running_.pop_back();
      preempt(victim, output);
      if (victim == seq) break;
    }
    if (rejected) {
      reject(seq, output);  // takes it out of running_; running_[i] is the next one
      continue;
    }
    if (!allocated) break;
    addScheduled(output, *seq, num_new);
    budget -= num_new;
    ++i;
  }
}

void Scheduler::scheduleWaiting(SchedulerOutput& output, int& budget) {
  int num_slots = 0;
  for (const SequenceState* seq : running_) num_slots += slotsOf(*seq);
  while (!waiting_.empty() && budget > 0) {
    SequenceState* seq = waiting_.front();
    if (num_slots + slotsOf(*seq) > config_.max_num_seqs) break;
    const RequestState& request = *seq->request;
    // Cached positions have no logits, so a request that wants prompt logprobs computes all.
    PrefixHit hit;
    if (!request.params.prompt_logprobs) {
      hit = kv_cache_.findCachedPrefix(seq->token_ids, request.cache_key);
      hit.counted = seq->num_preemptions == 0;
    }
    const int num_computed = hit.num_tokens;
    int num_new = seq->numTokens() - num_computed;
    if (!config_.enable_chunked_prefill && num_new > budget) break;
    num_new = std::min(cappedNewTokens(num_new), budget);
    if (!kv_cache_.allocateSlots(seq->seq_id, num_computed, num_new, &hit, output.blocks_to_copy)) {
      // With nothing running, every block is free or evictable: it can never be admitted.
      if (running_.empty()) {
        reject(seq, output);
        continue;
      }
      break;
    }
    waiting_.pop_front();
    seq->num_computed_tokens = num_computed;
    seq->status = SequenceStatus::kRunning;
    if (!seq->was_scheduled && seq->index == 0) {
      seq->request->num_cached_prompt_tokens = std::min(num_computed, seq->num_prompt_tokens);
    }
    insertRunning(seq);
    num_slots += slotsOf(*seq);
    addScheduled(output, *seq, num_new).num_cached_tokens = num_computed;
    budget -= num_new;
  }
}

ScheduledSequence& Scheduler::addScheduled(SchedulerOutput& output, SequenceState& seq,
                                           int num_new) {
  const RequestState& request = *seq.request;
  ScheduledSequence& s = output.sequences.emplace_back();
  s.request_id = request.request_id;
  s.seq_id = seq.seq_id;
  s.seq_index = seq.index;
  s.num_computed_tokens = seq.num_computed_tokens;
  s.num_scheduled_tokens = num_new;
  const auto first = seq.token_ids.begin() + seq.num_computed_tokens;
  s.token_ids.assign(first, first + num_new);
  const std::span<const BlockId> table = kv_cache_.blockTable(seq.seq_id);
  s.block_table.assign(table.begin(), table.end());
  s.num_prompt_tokens = seq.num_prompt_tokens;
  s.sample = seq.num_computed_tokens + num_new == seq.numTokens();
  s.num_samples = s.sample && !request.forked ? request.params.n : 1;
  s.prompt_logprobs = request.params.prompt_logprobs.has_value() && seq.inPrefill();
  s.first_scheduled = !seq.was_scheduled;
  seq.was_scheduled = true;
  output.num_scheduled_tokens += num_new;
  output.num_prompt_tokens +=
      std::max(0, std::min(seq.num_computed_tokens + num_new, seq.num_prompt_tokens) -
                      seq.num_computed_tokens);
  return s;
}

std::vector<SequenceUpdate> Scheduler::update(const SchedulerOutput& output,
                                              std::span<const std::vector<int32_t>> sampled) {
  assert(sampled.size() == output.sequences.size());
  std::vector<SequenceUpdate> updates;
  for (size_t i = 0; i < output.sequences.size(); ++i) {
    const ScheduledSequence& scheduled = output.sequences[i];
    const auto found = sequences_.find(scheduled.seq_id);
    // Finished earlier in this update (its request was retired) or aborted since schedule().
    if (found == sequences_.end()) continue;
    SequenceState& seq = *found->second;
    if (seq.status != SequenceStatus::kRunning) continue;
    assert(seq.num_computed_tokens == scheduled.num_computed_tokens);
    seq.num_computed_tokens += scheduled.num_scheduled_tokens;
    RequestState& request = *seq.request;
    kv_cache_.cacheFullBlocks(seq.seq_id, seq.token_ids, seq.num_computed_tokens,
                              request.cache_key);
    if (!scheduled.sample) {
      assert(sampled[i].empty());
      continue;
    }
    assert(static_cast<int>(sampled[i].size()) == scheduled.num_samples);
    std::vector<SequenceState*> targets = {&seq};
    if (scheduled.num_samples > 1) {
      fork(seq);
      targets.clear();
      for (const auto& sibling : request.sequences) targets.push_back(sibling.get());
    }
    request.forked = true;
    for (size_t k = 0; k < targets.size(); ++k) {
      SequenceState& target = *targets[k];
      target.token_ids.push_back(sampled[i][k]);
      SequenceUpdate& entry = updates.emplace_back();
      entry.request_id = scheduled.request_id;
      entry.seq_id = target.seq_id;
      entry.seq_index = target.index;
      entry.token_id = sampled[i][k];
      entry.finish = stop_checker_.check(target, request.params, config_.max_model_len);
      // finish() retires the request with its last sequence, which is then the last target.
      if (entry.finish) entry.request_finished = finish(target, entry.finish->reason);
    }
  }
  return updates;
}

void Scheduler::fork(SequenceState& parent) {
  RequestState& request = *parent.request;
  assert(!request.forked && request.sequences.size() == 1);
  for (int k = 1; k < request.params.n; ++k) {
    auto child = std::make_unique<SequenceState>();
    child->seq_id = next_seq_id_++;
    child->request = &request;
    child->index = k;
    child->token_ids = parent.token_ids;
    child->num_prompt_tokens = parent.num_prompt_tokens;
    child->status = SequenceStatus::kRunning;
    child->was_scheduled = true;
    child->num_computed_tokens = kv_cache_.fork(
        parent.seq_id, child->seq_id, parent.num_computed_tokens, config_.enable_block_copy);
    sequences_.emplace(child->seq_id, child.get());
    insertRunning(child.get());
    request.sequences.push_back(std::move(child));
  }
  request.num_unfinished = request.params.n;
}

bool Scheduler::finish(SequenceState& seq, FinishReason reason) {
  assert(seq.status != SequenceStatus::kFinished);
  kv_cache_.free(seq.seq_id);
  if (seq.status == SequenceStatus::kRunning) {
    running_.erase(std::find(running_.begin(), running_.end(), &seq));
  } else {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &seq));
  }
  seq.status = SequenceStatus::kFinished;
  seq.finish_reason = reason;
  sequences_.erase(seq.seq_id);
  RequestState& request = *seq.request;
  if (--request.num_unfinished > 0) return false;
  retireRequest(request);
  return true;
}

void Scheduler::retireRequest(RequestState& request) {
  finished_since_last_step_.push_back(request.request_id);
  requests_.erase(request.request_id);  // destroys `request` and its sequences
}

bool Scheduler::finishSequence(const std::string& request_id, int seq_index, FinishReason reason) {
  const auto it = requests_.find(request_id);
  if (it == requests_.end()) return false;
  RequestState& request = *it->second;
  if (seq_index < 0 || seq_index >= static_cast<int>(request.sequences.size())) return false;
  SequenceState& seq = *request.sequences[seq_index];
  if (seq.status == SequenceStatus::kFinished) return false;
  return finish(seq, reason);
}

bool Scheduler::abortRequest(const std::string& request_id) {
  const auto it = requests_.find(request_id);
  if (it == requests_.end()) return false;
  std::vector<SequenceState*> unfinished;
  for (const auto& seq : it->second->sequences) {
    if (seq->status != SequenceStatus::kFinished) unfinished.push_back(seq.get());
  }
  // The last finish() destroys the request; nothing is touched after it.
  for (SequenceState* seq : unfinished) {
    if (finish(*seq, FinishReason::kAbort)) break;
  }
  return true;
}

const RequestState* Scheduler::findRequest(const std::string& request_id) const {
  const auto it = requests_.find(request_id);
  return it == requests_.end() ? nullptr : it->second.get();
}

const SequenceState* Scheduler::findSequence(SeqId seq_id) const {
  const auto it = sequences_.find(seq_id);
  return it == sequences_.end() ? nullptr : it->second;
}

}  // namespace manifold
