// An engine in this process (EngineClient): one thread, the engine loop, owns the EngineCore
// (scheduler, KV cache, model runner, sampler, output processors). submit() and abort() are
// thread-safe and reach the loop only through a queue; outputs leave through each request's
// RequestStream. The loop sleeps on a condition variable while there is nothing to do.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/core/engine_config.h"
#include "engine/core/engine_core.h"
#include "engine/core/model_executor.h"
#include "engine/engine_client.h"
#include "engine/tokenizer/tokenizer.h"

namespace manifold {

// Thread safety: every public method may be called from any thread. State shared with the loop
// thread is guarded by mu_; the core is touched by the loop thread only (and by the constructor
// and destructor, when the loop is not running), except EngineCore::validate(), which reads only
// configuration fixed at construction.
class LocalEngine final : public EngineClient {
 public:
  // Loads the model and tokenizer of config.model_dir onto the CPU backend and starts the loop.
  [[nodiscard]] static Result<std::unique_ptr<LocalEngine>> create(const EngineConfig& config);
  // Starts a loop over a given executor (tests, other backends). Errors: EngineCore::checkConfig()
  // (max_model_len beyond the executor's, or a KV cache too small for one such sequence).
  [[nodiscard]] static Result<std::unique_ptr<LocalEngine>> create(
      const EngineCoreConfig& core_config, std::unique_ptr<ModelExecutor> executor,
      std::unique_ptr<Tokenizer> tokenizer, EngineInfo info);
  // Stops the loop; unfinished requests end with FinishReason::kAbort.
  ~LocalEngine() override;

  [[nodiscard]] Result<std::shared_ptr<RequestStream>> submit(EngineRequest request) override;
  void abort(const std::string& request_id) override;
  void abortAll() override;
  [[nodiscard]] EngineStats stats() const override;
  [[nodiscard]] const EngineInfo& info() const override { return info_; }
  // REQUIRES: the engine was created with a tokenizer.
  [[nodiscard]] const Tokenizer& tokenizer() const override { return *tokenizer_; }

 private:
  LocalEngine(const EngineCoreConfig& core_config, std::unique_ptr<ModelExecutor> executor,
              std::unique_ptr<Tokenizer> tokenizer, EngineInfo info);
  struct Submission {
    EngineRequest request;
    std::shared_ptr<RequestStream> stream;
  };

  void loop();
  // Ends a request the core never took: a final output carrying `error`.
  void failSubmission(RequestStream& stream, const std::string& request_id, const Status& error);
  // After an exception in an iteration: fails every request in the core and every submission
  // from `first_unadded` on with an internal error, logs once, and leaves the loop running.
  void recoverFromException(std::vector<Submission>& submissions, size_t first_unadded,
                            const char* what);

  EngineInfo info_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ModelExecutor> executor_;
  std::unique_ptr<EngineCore> core_;  // loop thread only

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Submission> inbox_;             // GUARDED_BY(mu_)
  std::vector<std::string> aborts_;           // GUARDED_BY(mu_)
  std::unordered_set<std::string> live_ids_;  // GUARDED_BY(mu_): submitted, not yet finished
  EngineStats stats_;                         // GUARDED_BY(mu_): snapshot after each step
  bool stopping_ = false;                     // GUARDED_BY(mu_)

  std::thread loop_thread_;  // last: starts after everything above is built
};

}  // namespace manifold
