// One model as clients name it: a set of local engine replicas (with the model's prompt codec), or
// a remote OpenAI-compatible upstream. Local models start in kLoading and become kReady once their
// engines are built (the server answers 503 meanwhile).
//
// Thread safety: every method may be called from any thread. The replicas and codec are published
// once by setReady() and never change afterwards.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/engine_client.h"
#include "routing/admission.h"
#include "routing/prompt_codec.h"
#include "routing/replica_policy.h"

namespace manifold {

// Where a remote model is served. The gateway proxies requests there unchanged except for `model`.
struct UpstreamTarget {
  std::string base_url;  // http://host:port or https://host:port, optionally with a path prefix
  std::string api_key;   // sent as `Authorization: Bearer`; empty: none
  std::string model;     // the model name the upstream knows it by
  std::chrono::milliseconds connect_timeout{10'000};  // resolve and connect (and TLS) within this
  // The longest wait for the upstream's next bytes: the answer's headers after the request (a
  // long prompt's prefill) and each piece of its body after the last (a stream's next token).
  std::chrono::milliseconds read_timeout{600'000};
};

struct ServedModelOptions {
  std::string id;                    // the primary name, listed first in /v1/models
  std::vector<std::string> aliases;  // other names that route to the same engines
  int64_t created = 0;               // unix seconds, for /v1/models
  std::string owned_by = "manifold";
  // Requests admitted at once (running + waiting); <= 0: unlimited.
  int admission_capacity = 0;
  RoutingPolicy policy = RoutingPolicy::kLeastOutstanding;
  // Chat answers to requests with tools are read for tool calls in this format (a name of
  // gateway/api/tool_calls.h: "hermes", "llama3_json", "mistral");
  // empty: answers are plain text (vLLM's --enable-auto-tool-choice --tool-call-parser).
  std::string tool_call_parser;
};

class ServedModel;

// A request's hold on one replica: its tokens count towards that replica's load until destroyed.
class ReplicaLease {
 public:
  ReplicaLease() = default;
  ReplicaLease(ReplicaLease&& other) noexcept { *this = std::move(other); }
  ReplicaLease& operator=(ReplicaLease&& other) noexcept;
  ReplicaLease(const ReplicaLease&) = delete;
  ReplicaLease& operator=(const ReplicaLease&) = delete;
  ~ReplicaLease() { release(); }

  [[nodiscard]] EngineClient& engine() const { return *engine_; }
  [[nodiscard]] size_t replicaIndex() const { return index_; }
  void release();

 private:
  friend class ServedModel;
  struct Counters {
    std::atomic<int64_t> tokens{0};
    std::atomic<int> requests{0};
  };
  EngineClient* engine_ = nullptr;
  std::shared_ptr<Counters> counters_;
  int64_t tokens_ = 0;
  size_t index_ = 0;
};

class ServedModel {
 public:
  enum class State { kLoading, kReady, kFailed };

  static std::unique_ptr<ServedModel> local(ServedModelOptions options);
  static std::unique_ptr<ServedModel> remote(ServedModelOptions options, UpstreamTarget upstream);

  // Publishes the loaded engines. REQUIRES: local, state() == kLoading, !replicas.empty().
  void setReady(std::vector<std::unique_ptr<EngineClient>> replicas,
                std::unique_ptr<PromptCodec> codec);
  void setFailed(Status error);

  [[nodiscard]] State state() const { return state_.load(std::memory_order_acquire); }
  // OK when requests can be served; Unavailable while loading or after a failed load.
  [[nodiscard]] Status availability() const;

  [[nodiscard]] const ServedModelOptions& options() const { return options_; }
  [[nodiscard]] const std::string& id() const { return options_.id; }
  [[nodiscard]] bool isRemote() const { return remote_; }
  [[nodiscard]] const UpstreamTarget& upstream() const { return upstream_; }
  [[nodiscard]] AdmissionController& admission() { return admission_; }

  // REQUIRES: state() == kReady.
  [[nodiscard]] const PromptCodec& codec() const { return *codec_; }
  [[nodiscard]] const EngineInfo& info() const { return replicas_.front()->info(); }
  [[nodiscard]] size_t numReplicas() const { return replicas_.size(); }
  // The most samples (n) one engine request may run on any replica; 0: no limit. A request
  // asking for more is split across several engine requests.
  [[nodiscard]] int maxSamplesPerEngineRequest() const;
  [[nodiscard]] EngineClient& replica(size_t i) const { return *replicas_[i]; }
  // Picks a replica for `prompt` by the model's policy and charges it `prompt + max_new_tokens`.
  [[nodiscard]] ReplicaLease lease(std::span<const int32_t> prompt, int64_t max_new_tokens);

  // Aborts every request in flight on the local engines (they keep running).
  void abortAll();
  // Stops the engines (destroys them; unfinished requests end as aborted) at shutdown.
  // REQUIRES: nothing uses a lease's engine() afterwards.
  void shutdown();

 private:
  ServedModel(ServedModelOptions options, bool remote, UpstreamTarget upstream);

  const ServedModelOptions options_;
  const bool remote_;
  const UpstreamTarget upstream_;
  AdmissionController admission_;
  std::atomic<State> state_{State::kLoading};
  mutable std::mutex mu_;
  Status load_error_;  // GUARDED_BY(mu_)
  // Written once before state_ becomes kReady (release), read after (acquire).
  std::vector<std::unique_ptr<EngineClient>> replicas_;
  std::vector<std::shared_ptr<ReplicaLease::Counters>> counters_;
  std::unique_ptr<PromptCodec> codec_;
};

}  // namespace manifold
