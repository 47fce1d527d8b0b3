// The engine as the rest of the server sees it: submit, abort, stats. routing/ holds engines
// through this interface only, so a local engine, a replica set or a test double look the same.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/request_output.h"
#include "engine/sampling_params.h"

namespace manifold {

class Tokenizer;

struct EngineRequest {
  std::string request_id;               // unique within the engine
  std::vector<int32_t> prompt_token_ids;
  SamplingParams params;
  int priority = 0;                     // lower runs first under the `priority` policy
  // The index of its first sample among the client's n, when it runs a slice of them (see
  // SamplingRow::first_sample_index): params.n samples from here on.
  int first_sample_index = 0;
  Clock::time_point arrival = Clock::now();
};

// A snapshot for routing decisions and metrics. Cheap to take; may be slightly stale.
struct EngineStats {
  int num_running = 0;
  int num_waiting = 0;
  int64_t outstanding_tokens = 0;      // prompt + remaining max tokens of unfinished requests
  double kv_cache_usage = 0.0;         // fraction of KV blocks in use, 0..1
  int64_t num_kv_blocks = 0;
  int64_t prefix_cache_queries = 0;    // tokens looked up in the prefix cache (cumulative)
  int64_t prefix_cache_hits = 0;       // tokens found (cumulative)
  int64_t num_preemptions = 0;         // cumulative
  int64_t prompt_tokens = 0;           // cumulative prefilled prompt tokens
  int64_t generation_tokens = 0;       // cumulative generated tokens
};

// Static facts about the served model, for /v1/models and request validation.
struct EngineInfo {
  std::string model_dir;
  int max_model_len = 0;
  int vocab_size = 0;
  int block_size = 0;
  // Sequences one step runs, so the most samples (n) one request may ask for; 0: no limit.
  int max_num_seqs = 0;
  // One line on what was loaded: architecture, layers, parameters, weight dtype and memory, KV
  // blocks, backend (ModelRunner::summary); empty for engines that load no model.
  std::string summary;
};

// Thread-safe: every method may be called from any thread.
class EngineClient {
 public:
  virtual ~EngineClient() = default;

  // Validates the request (sampling params, prompt length against max_model_len) and queues it.
  // The stream yields outputs until one with finished == true.
  [[nodiscard]] virtual Result<std::shared_ptr<RequestStream>> submit(EngineRequest request) = 0;
  // Finishes the request with FinishReason::kAbort and frees its KV blocks. Unknown or finished
  // ids are ignored.
  virtual void abort(const std::string& request_id) = 0;
  // abort() of every request in flight (shutdown after the drain timed out: each stream ends
  // with kAbort instead of being cut).
  virtual void abortAll() = 0;

  [[nodiscard]] virtual EngineStats stats() const = 0;
  [[nodiscard]] virtual const EngineInfo& info() const = 0;
  // The model's tokenizer (with its chat template), for prompts, /tokenize and /detokenize.
  [[nodiscard]] virtual const Tokenizer& tokenizer() const = 0;
};

}  // namespace manifold
