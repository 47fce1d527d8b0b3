// The engine loop's body, without the thread: owns the scheduler and the KV cache manager, drives
// a ModelExecutor, a Sampler and one output processor per sequence, and publishes RequestOutputs.
// One step():
//   schedule -> KV block copies -> one batched forward -> sample (and prompt logprobs) ->
//   scheduler update (the output processors decide stops) -> publish per-request outputs.
// LocalEngine runs it on its own thread; tests call it directly.
//
// Thread safety: none. Every method is called from one thread (the engine loop).
#pragma once

#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "engine/core/model_executor.h"
#include "engine/engine_client.h"
#include "engine/engine_observer.h"
#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/model/forward_batch.h"
#include "engine/output/sequence_output_processor.h"
#include "engine/request_output.h"
#include "engine/sampler/sampler.h"
#include "engine/scheduler/scheduler.h"
#include "engine/scheduler/stop_checker.h"
#include "engine/structured_output/token_bytes_index.h"

namespace manifold {

class Tokenizer;

struct EngineCoreConfig {
  // max_model_len must not exceed the executor's; the KV pool must hold one such sequence.
  SchedulerConfig scheduler;
  bool enable_prefix_caching = true;
  // The model's EOS ids (generation_config.json, else the tokenizer's).
  std::vector<int32_t> eos_token_ids;
  // Told about every step and finished request; may be null. Must outlive the core.
  EngineObserver* observer = nullptr;
};

class EngineCore {
 public:
  // Checks what the core needs of its configuration and executor: max_model_len within the
  // executor's, and a KV cache that holds one max_model_len sequence (else a long request could
  // never run). kInvalidArgument, naming the flags to change.
  [[nodiscard]] static Status checkConfig(const EngineCoreConfig& config,
                                          const ModelExecutor& executor);
  // checkConfig(), then the core.
  [[nodiscard]] static Result<std::unique_ptr<EngineCore>> create(const EngineCoreConfig& config,
                                                                  ModelExecutor& executor,
                                                                  const Tokenizer* tokenizer);
  // REQUIRES: executor (and tokenizer, when not null) outlive the core; checkConfig() passes.
  // Without a tokenizer, outputs carry token ids only (no text, no stop strings).
  EngineCore(const EngineCoreConfig& config, ModelExecutor& executor, const Tokenizer* tokenizer);
  ~EngineCore();
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  // Checks what can be checked before queueing: sampling params against the vocabulary, prompt
  // length against max_model_len, n against max_num_seqs, token ids in range.
  [[nodiscard]] Status validate(const EngineRequest& request) const;
  // Validates and queues the request; its outputs go to `stream`. Errors: validate()'s, and a
  // duplicate request id.
  [[nodiscard]] Status addRequest(EngineRequest request, std::shared_ptr<RequestStream> stream);
  // Finishes the request with kAbort (final output pushed) and frees its blocks. Unknown ids
  // are ignored.
  void abort(const std::string& request_id);
  // Aborts everything (engine shutdown).
  void abortAll();
  // Finishes every request with kAbort and `status` as its error (final output pushed) and
  // frees its blocks: what the loop does when a step threw and its state cannot be trusted.
  void failAll(const Status& status);

  [[nodiscard]] bool hasUnfinishedRequests() const { return !requests_.empty(); }
  // Runs one step. Returns false when there was nothing to schedule.
  bool step();
  // Ids of requests finished (any reason) since the last call.
  [[nodiscard]] std::vector<std::string> takeFinishedRequestIds();

  [[nodiscard]] EngineStats stats() const;
  [[nodiscard]] const KVCacheManager& kvCache() const { return *kv_cache_; }
  [[nodiscard]] const Scheduler& scheduler() const { return *scheduler_; }
  [[nodiscard]] int maxModelLen() const { return config_.scheduler.max_model_len; }

 private:
  struct ActiveRequest;
  class OutputStopChecker;

  // The stop checker's hook: feeds the sequence's newest token to its output processor.
  std::optional<StopDecision> onNewToken(const SequenceState& seq);
  // Samples every sequence that reached its last token (and gathers prompt logprobs); returns
  // the drawn tokens per scheduled sequence, as Scheduler::update() takes them.
  std::vector<std::vector<int32_t>> sampleStep(const SchedulerOutput& out,
                                               const std::vector<int>& first_row);
  void addPromptLogprobs(ActiveRequest& request, const ScheduledSequence& scheduled,
                         const float* logits_rows);
  void publish(ActiveRequest& request, bool finished);
  void retire(const std::string& request_id, FinishReason reason);
  void failStep(const SchedulerOutput& output, const Status& status);
  // Answers the requests the scheduler rejected (too long for the whole KV cache) with an error.
  void failRejected(const SchedulerOutput& output);
  // step() before its state report.
  bool runStep();
  void reportStep(const SchedulerOutput& output, int num_generation_tokens);
  // Reports the gauges to the observer (onState) if they changed since the last report.
  void reportStateIfChanged();
  // validate() but for compiling a structured-output schema.
  [[nodiscard]] Status validateAllButSchema(const EngineRequest& request) const;

  EngineCoreConfig config_;
  ModelExecutor& executor_;
  const Tokenizer* tokenizer_;
  std::unique_ptr<KVCacheManager> kv_cache_;
  std::unique_ptr<OutputStopChecker> stop_checker_;
  std::unique_ptr<Scheduler> scheduler_;
  Sampler sampler_;
  ForwardBatchBuilder batch_builder_;
  std::vector<float> logits_;  // [rows, vocab_size] of the current step
  // Built at the first structured-output request (tens of ms for a 128k vocabulary).
  std::unique_ptr<TokenBytesIndex> token_index_;
  std::unordered_map<std::string, std::unique_ptr<ActiveRequest>> requests_;
  std::vector<ActiveRequest*> touched_;  // requests with output in the current step
  std::vector<std::string> finished_ids_;
  int64_t prompt_tokens_total_ = 0;
  int step_prompt_tokens_ = 0;  // prompt lengths of requests with a first token this step
  int64_t generation_tokens_total_ = 0;
  PrefixCacheStats reported_prefix_stats_;  // as of the last observer report
  int64_t reported_preemptions_ = 0;
  // The gauges as of the last observer report: {running, waiting, KV cache usage}.
  std::tuple<int, int, double> reported_state_{0, 0, 0.0};
};

}  // namespace manifold
