#include "engine/core/local_engine.h"

#include <algorithm>
#include <cstdio>
#include <exception>

#include "engine/core/model_runner_executor.h"
#include "engine/loader/generation_config.h"
#include "engine/model/model_runner.h"

namespace manifold {

Result<std::unique_ptr<LocalEngine>> LocalEngine::create(const EngineConfig& config) {
  RETURN_IF_ERROR(config.validate());
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer,
                   Tokenizer::fromDirectory(config.model_dir));
  ASSIGN_OR_RETURN(GenerationConfig generation, loadGenerationConfig(config.model_dir));

  ModelRunnerOptions options;
  options.num_threads = config.num_threads;
  options.kv_cache.block_size = config.cache.block_size;
  options.kv_cache.num_blocks = config.cache.num_blocks;
  options.kv_cache.space_gib = config.cache.kv_cache_space_gib;
  options.kv_cache.dtype = config.kv_cache_dtype;
  options.max_num_tokens = config.scheduler.max_num_batched_tokens;
  options.max_num_seqs = config.scheduler.max_num_seqs;
  options.max_logits_rows = config.scheduler.max_num_batched_tokens;
  options.max_model_len = config.max_model_len;
  options.weight_dtype = config.weight_dtype;
  options.quantization = config.quantization;
  options.on_load_progress = config.on_load_progress;
  ASSIGN_OR_RETURN(std::unique_ptr<ModelRunner> runner,
                   ModelRunner::create(config.model_dir, options));
  const int max_model_len = runner->maxModelLen();

  EngineCoreConfig core;
  core.scheduler = config.scheduler;
  core.scheduler.max_model_len = max_model_len;
  core.enable_prefix_caching = config.cache.enable_prefix_caching;
  // Every stop id the model names, as `manifold generate` stops.
  RETURN_IF_ERROR(generation.checkTokenIds(runner->vocabSize()));
  core.eos_token_ids = mergeEosIds(generation, runner->config().eos_token_ids, tokenizer->eosIds());
  core.observer = config.observer;
  RETURN_IF_ERROR(core.scheduler.validate().withContext("scheduler"));

  EngineInfo info;
  info.model_dir = config.model_dir;
  info.max_model_len = max_model_len;
  info.vocab_size = runner->vocabSize();
  info.block_size = runner->blockSize();
  info.summary = runner->summary();
  return create(core, std::make_unique<ModelRunnerExecutor>(std::move(runner)),
                std::move(tokenizer), std::move(info));
}

Result<std::unique_ptr<LocalEngine>> LocalEngine::create(const EngineCoreConfig& core_config,
                                                         std::unique_ptr<ModelExecutor> executor,
                                                         std::unique_ptr<Tokenizer> tokenizer,
                                                         EngineInfo info) {
  RETURN_IF_ERROR(EngineCore::checkConfig(core_config, *executor));
  info.max_num_seqs = core_config.scheduler.max_num_seqs;
  return std::unique_ptr<LocalEngine>(
      new LocalEngine(core_config, std::move(executor), std::move(tokenizer), std::move(info)));
}

LocalEngine::LocalEngine(const EngineCoreConfig& core_config,
                         std::unique_ptr<ModelExecutor> executor,
                         std::unique_ptr<Tokenizer> tokenizer, EngineInfo info)
    : info_(std::move(info)),
      tokenizer_(std::move(tokenizer)),
      executor_(std::move(executor)),
      core_(std::make_unique<EngineCore>(core_config, *executor_, tokenizer_.get())) {
  stats_ = core_->stats();
  loop_thread_ = std::thread([this] { loop(); });
}

LocalEngine::~LocalEngine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  loop_thread_.join();
  // The loop has stopped: finish whatever is left so that no consumer waits forever.
  for (Submission& submission : inbox_) {
    (void)core_->addRequest(std::move(submission.request), submission.stream);
  }
  inbox_.clear();
  core_->abortAll();
}

Result<std::shared_ptr<RequestStream>> LocalEngine::submit(EngineRequest request) {
  RETURN_IF_ERROR(core_->validate(request));  // reads only immutable configuration
  auto stream = std::make_shared<RequestStream>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return unavailable("engine is shutting down");
    if (!live_ids_.insert(request.request_id).second) {
      return invalidArgument("duplicate request id " + request.request_id);
    }
    inbox_.push_back(Submission{std::move(request), stream});
  }
  wake_.notify_one();
  return stream;
}

void LocalEngine::abort(const std::string& request_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (live_ids_.count(request_id) == 0) return;
    aborts_.push_back(request_id);
  }
  wake_.notify_one();
}

void LocalEngine::abortAll() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    aborts_.insert(aborts_.end(), live_ids_.begin(), live_ids_.end());
  }
  wake_.notify_one();
}

EngineStats LocalEngine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void LocalEngine::failSubmission(RequestStream& stream, const std::string& request_id,
                                 const Status& error) {
  RequestOutput failed;
  failed.finished = true;
  failed.error = error;
  stream.push(std::move(failed));
  std::lock_guard<std::mutex> lock(mu_);
  live_ids_.erase(request_id);
}

void LocalEngine::recoverFromException(std::vector<Submission>& submissions, size_t first_unadded,
                                       const char* what) {
  // One line per failed step, not per request: the cause is the same for all of them.
  std::fprintf(stderr, "%s:%d: engine step threw (%s); failing every in-flight request\n", __FILE__,
               __LINE__, what);
  const Status error = internalError(std::string("engine step failed: ") + what);
  core_->failAll(error);
  // Submissions from first_unadded on never reached the core: addRequest() did not complete.
  for (size_t i = first_unadded; i < submissions.size(); ++i) {
    failSubmission(*submissions[i].stream, submissions[i].request.request_id, error);
  }
}

void LocalEngine::loop() {
  std::vector<Submission> submissions;
  std::vector<std::string> aborts;
  // A step that scheduled nothing while requests remain cannot happen by the scheduler's
  // invariants (a lone sequence always fits); should it, wait for new input instead of spinning.
  bool stalled = false;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      // The core is this thread's: reading it inside the predicate is safe.
      wake_.wait(lock, [&] {
        return stopping_ || !inbox_.empty() || !aborts_.empty() ||
               (core_->hasUnfinishedRequests() && !stalled);
      });
      if (stopping_) return;
      submissions.swap(inbox_);
      aborts.swap(aborts_);
    }
    // Submissions before `next_submission` were handed to the core (or answered).
    size_t next_submission = 0;
    try {
      for (; next_submission < submissions.size(); ++next_submission) {
        Submission& submission = submissions[next_submission];
        // addRequest() takes the request; the id stays here for the answer.
        EngineRequest request = submission.request;
        const Status added = core_->addRequest(std::move(request), submission.stream);
        if (!added.isOk()) failSubmission(*submission.stream, submission.request.request_id, added);
      }
      for (const std::string& id : aborts) core_->abort(id);
      stalled = !core_->step() && core_->hasUnfinishedRequests();
    } catch (const std::exception& e) {
      recoverFromException(submissions, next_submission, e.what());
      stalled = false;
    } catch (...) {
      recoverFromException(submissions, next_submission, "unknown exception");
      stalled = false;
    }
    submissions.clear();
    aborts.clear();
    const std::vector<std::string> finished = core_->takeFinishedRequestIds();
    const EngineStats snapshot = core_->stats();
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& id : finished) live_ids_.erase(id);
    stats_ = snapshot;
  }
}

}  // namespace manifold
