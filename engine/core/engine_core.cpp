#include "engine/core/engine_core.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

#include "engine/output/detokenizer_text_decoder.h"
#include "engine/sampler/logprobs.h"
#include "engine/sampler/philox.h"
#include "engine/tokenizer/tokenizer.h"

namespace manifold {

struct EngineCore::ActiveRequest {
  std::string id;
  std::shared_ptr<RequestStream> stream;
  SamplingParams params;
  uint64_t seed = 0;
  int first_sample_index = 0;
  std::vector<int32_t> prompt;
  std::vector<std::unique_ptr<SequenceOutputProcessor>> processors;  // [n]
  std::vector<std::optional<PositionLogprobs>> step_logprobs;        // [n], this step's samples
  // Structured output: the request's schema (JsonSchema::forParams), and [n] each
  // sequence's grammar, advanced by its tokens. nullopt once a token the grammar refused was
  // drawn (the sampler's all-masked fallback): unconstrained from then on.
  std::shared_ptr<const JsonSchema> schema;
  std::vector<std::optional<OutputGrammar>> grammars;
  RequestOutput output;  // deltas gathered in the current step
  RequestTiming timing;
  std::vector<PositionLogprobs> prompt_logprobs;  // of prompt tokens 1..P-1
  bool prompt_logprobs_complete = false;
  bool prompt_logprobs_sent = false;
  int num_cached_prompt_tokens = 0;
  int num_generation_tokens = 0;
  int max_output_tokens = 0;  // per sequence
  bool touched = false;       // has output in the current step
  std::optional<Clock::time_point> last_token_time;
  std::vector<double> inter_token_latencies_s;
};

// Hands every new token to the request's output processor, which owns the stop rules (EOS, stop
// ids, stop strings, min_tokens, max_tokens, max_model_len) so that they live in one place.
class EngineCore::OutputStopChecker final : public StopChecker {
 public:
  explicit OutputStopChecker(EngineCore& core) : core_(core) {}
  [[nodiscard]] std::optional<StopDecision> check(const SequenceState& seq, const SamplingParams&,
                                                  int) override {
    return core_.onNewToken(seq);
  }

 private:
  EngineCore& core_;
};

Status EngineCore::checkConfig(const EngineCoreConfig& config, const ModelExecutor& executor) {
  const int max_model_len = config.scheduler.max_model_len;
  if (max_model_len > executor.maxModelLen()) {
    return invalidArgument("max_model_len " + std::to_string(max_model_len) +
                           " exceeds the model runner's " + std::to_string(executor.maxModelLen()));
  }
  const int block_size = executor.blockSize();
  const int num_blocks = executor.numBlocks();
  const int needed = (max_model_len + block_size - 1) / block_size;
  if (num_blocks < needed) {
    return invalidArgument("KV cache has " + std::to_string(num_blocks) + " blocks (" +
                           std::to_string(static_cast<int64_t>(num_blocks) * block_size) +
                           " tokens) but max_model_len " + std::to_string(max_model_len) +
                           " needs " + std::to_string(needed) +
                           " blocks; raise --kv-cache-space or lower --max-model-len");
  }
  return Status::ok();
}

Result<std::unique_ptr<EngineCore>> EngineCore::create(const EngineCoreConfig& config,
                                                       ModelExecutor& executor,
                                                       const Tokenizer* tokenizer) {
  RETURN_IF_ERROR(checkConfig(config, executor));
  return std::make_unique<EngineCore>(config, executor, tokenizer);
}

EngineCore::EngineCore(const EngineCoreConfig& config, ModelExecutor& executor,
                       const Tokenizer* tokenizer)
    : config_(config),
      executor_(executor),
      tokenizer_(tokenizer),
      kv_cache_(std::make_unique<KVCacheManager>(executor.numBlocks(), executor.blockSize(),
                                                 config.enable_prefix_caching)),
      stop_checker_(std::make_unique<OutputStopChecker>(*this)),
      sampler_(executor.vocabSize(), config.eos_token_ids),
      batch_builder_(executor.blockSize()) {
  config_.scheduler.enable_block_copy =
      config_.scheduler.enable_block_copy && executor_.supportsBlockCopy();
  assert(config_.scheduler.max_model_len <= executor_.maxModelLen());
  scheduler_ = std::make_unique<Scheduler>(config_.scheduler, *kv_cache_, *stop_checker_);
}

EngineCore::~EngineCore() = default;

Status EngineCore::validate(const EngineRequest& request) const {
  RETURN_IF_ERROR(validateAllButSchema(request));
  if (request.params.structuredOutput()) {
    RETURN_IF_ERROR(JsonSchema::forParams(request.params).status());
  }
  return Status::ok();
}

Status EngineCore::validateAllButSchema(const EngineRequest& request) const {
  const int prompt_len = static_cast<int>(request.prompt_token_ids.size());
  if (prompt_len == 0) return invalidArgument("prompt must not be empty");
  if (prompt_len >= config_.scheduler.max_model_len) {
    return invalidArgument("prompt has " + std::to_string(prompt_len) +
                           " tokens; this model's maximum context length is " +
                           std::to_string(config_.scheduler.max_model_len) +
                           " tokens, which leaves no room for output");
  }
  const int vocab = executor_.vocabSize();
  for (int32_t id : request.prompt_token_ids) {
    if (id < 0 || id >= vocab) {
      return invalidArgument("prompt token id " + std::to_string(id) + " is out of range [0, " +
                             std::to_string(vocab) + ")");
    }
  }
  RETURN_IF_ERROR(request.params.validate(vocab));
  if (request.params.structuredOutput() && tokenizer_ == nullptr) {
    return invalidArgument("structured output needs the model's tokenizer");
  }
  // As vLLM: a priority the scheduler would ignore is an error, not a silent no-op.
  if (request.priority != 0 && config_.scheduler.policy != SchedulingPolicy::kPriority) {
    return invalidArgument("priority " + std::to_string(request.priority) +
                           " needs the priority scheduling policy (--scheduling-policy priority)");
  }
  // A prompt's n samples run together (they share its KV blocks from the first step on), so they
  // must fit in one batch.
  if (request.first_sample_index < 0 || request.first_sample_index > SamplingParams::kMaxN) {
    return invalidArgument("first_sample_index must be in [0, " +
                           std::to_string(SamplingParams::kMaxN) + "]");
  }
  if (request.params.n > config_.scheduler.max_num_seqs) {
    return invalidArgument("`n` must be at most the engine's max_num_seqs (" +
                           std::to_string(config_.scheduler.max_num_seqs) + "), got " +
                           std::to_string(request.params.n));
  }
  return Status::ok();
}

Status EngineCore::addRequest(EngineRequest request, std::shared_ptr<RequestStream> stream) {
  // The schema is compiled once, below, and kept: validate() would compile it a second time on
  // the engine thread.
  RETURN_IF_ERROR(validateAllButSchema(request));
  std::shared_ptr<const JsonSchema> schema;
  if (request.params.structuredOutput()) {
    ASSIGN_OR_RETURN(schema, JsonSchema::forParams(request.params));
  }
  if (requests_.count(request.request_id) != 0) {
    return invalidArgument("duplicate request id " + request.request_id);
  }
  auto active = std::make_unique<ActiveRequest>();
  ActiveRequest& r = *active;
  r.id = request.request_id;
  r.stream = std::move(stream);
  r.params = request.params;
  r.seed = request.params.seed.value_or(drawRandomSeed());
  r.first_sample_index = request.first_sample_index;
  r.prompt = request.prompt_token_ids;
  r.timing.arrival = request.arrival;
  const int prompt_len = static_cast<int>(r.prompt.size());
  r.max_output_tokens = std::min(r.params.max_tokens.value_or(std::numeric_limits<int>::max()),
                                 config_.scheduler.max_model_len - prompt_len);
  for (int k = 0; k < r.params.n; ++k) {
    std::unique_ptr<TokenTextDecoder> decoder;
    if (tokenizer_ != nullptr) {
      decoder = std::make_unique<DetokenizerTextDecoder>(*tokenizer_, r.params.skip_special_tokens,
                                                         r.prompt);
    }
    r.processors.push_back(std::make_unique<SequenceOutputProcessor>(
        k, r.params, config_.eos_token_ids, prompt_len, config_.scheduler.max_model_len,
        std::move(decoder)));
  }
  r.step_logprobs.resize(r.params.n);
  if (schema) {
    if (!token_index_) {
      token_index_ =
          TokenBytesIndex::fromTokenizer(*tokenizer_, executor_.vocabSize(), config_.eos_token_ids);
    }
    r.grammars.assign(r.params.n, OutputGrammar(*schema));
    r.schema = std::move(schema);
  }

  NewRequest scheduled;
  scheduled.request_id = r.id;
  scheduled.prompt_token_ids = std::move(request.prompt_token_ids);
  scheduled.params = std::move(request.params);
  scheduled.priority = request.priority;
  RETURN_IF_ERROR(scheduler_->addRequest(std::move(scheduled)));
  requests_.emplace(r.id, std::move(active));
  return Status::ok();
}

bool EngineCore::step() {
  const bool ran = runStep();
  // Gauges that moved without a step report (aborts, rejections, a failed step): a no-op after
  // one that did.
  reportStateIfChanged();
  return ran;
}

bool EngineCore::runStep() {
  const SchedulerOutput out = scheduler_->schedule();
  failRejected(out);
  if (out.empty()) return !out.rejected_request_ids.empty();
  const Clock::time_point scheduled_at = Clock::now();

  if (!out.blocks_to_copy.empty()) {
    const Status copied = executor_.copyBlocks(out.blocks_to_copy);
    if (!copied.isOk()) {
      failStep(out, copied);
      return true;
    }
  }

  // One batch: every scheduled sequence's new tokens; logits of its last row, or of every row
  // when it computes prompt positions whose logprobs were asked for.
  batch_builder_.clear();
  std::vector<int> first_row(out.sequences.size());
  int num_rows = 0;
  for (size_t i = 0; i < out.sequences.size(); ++i) {
    const ScheduledSequence& s = out.sequences[i];
    first_row[i] = num_rows;
    batch_builder_.addSequence(s.token_ids, s.num_computed_tokens, s.block_table,
                               s.prompt_logprobs);
    num_rows += s.prompt_logprobs ? s.num_scheduled_tokens : 1;
    ActiveRequest& r = *requests_.at(s.request_id);
    if (!r.timing.first_scheduled) r.timing.first_scheduled = scheduled_at;
    if (s.first_scheduled && s.seq_index == 0) r.num_cached_prompt_tokens = s.num_cached_tokens;
  }
  assert(num_rows == batch_builder_.numLogitsRows());
  const size_t vocab = static_cast<size_t>(executor_.vocabSize());
  logits_.resize(static_cast<size_t>(num_rows) * vocab);
  const Status forwarded = executor_.forward(batch_builder_.view(), logits_.data());
  if (!forwarded.isOk()) {
    failStep(out, forwarded);
    return true;
  }

  const std::vector<std::vector<int32_t>> tokens = sampleStep(out, first_row);

  // The output processors see each token through the stop checker, inside update().
  touched_.clear();
  const std::vector<SequenceUpdate> updates = scheduler_->update(out, tokens);
  for (ActiveRequest* r : touched_) {
    if (scheduler_->findRequest(r->id) != nullptr) publish(*r, /*finished=*/false);
  }
  for (const SequenceUpdate& update : updates) {
    if (update.request_finished) retire(update.request_id, update.finish->reason);
  }

  reportStep(out, static_cast<int>(updates.size()));
  return true;
}

std::vector<std::vector<int32_t>> EngineCore::sampleStep(const SchedulerOutput& out,
                                                         const std::vector<int>& first_row) {
  const size_t vocab = static_cast<size_t>(executor_.vocabSize());
  std::vector<SamplingRow> rows;
  std::vector<size_t> row_owner;  // scheduled index of each row
  for (size_t i = 0; i < out.sequences.size(); ++i) {
    const ScheduledSequence& s = out.sequences[i];
    ActiveRequest& r = *requests_.at(s.request_id);
    const float* seq_logits = logits_.data() + static_cast<size_t>(first_row[i]) * vocab;
    if (s.prompt_logprobs) addPromptLogprobs(r, s, seq_logits);
    if (!s.sample) continue;
    const float* last = seq_logits + (s.prompt_logprobs ? s.num_scheduled_tokens - 1 : 0) * vocab;
    const SequenceState* seq = scheduler_->findSequence(s.seq_id);
    assert(seq != nullptr);
    const std::span<const int32_t> outputs(seq->token_ids.data() + seq->num_prompt_tokens,
                                           static_cast<size_t>(seq->numOutputTokens()));
    // n > 1 at the end of the prompt: n draws from the same logits, one per sample index.
    for (int k = 0; k < s.num_samples; ++k) {
      SamplingRow row;
      row.logits = std::span<const float>(last, vocab);
      row.params = &r.params;
      row.seed = r.seed;
      row.sequence_index = s.num_samples > 1 ? k : s.seq_index;
      row.first_sample_index = r.first_sample_index;
      row.prompt_token_ids = r.prompt;
      row.output_token_ids = outputs;
      if (!r.grammars.empty() && r.grammars[row.sequence_index]) {
        row.token_index = token_index_.get();
        row.grammar = &*r.grammars[row.sequence_index];
      }
      rows.push_back(row);
      row_owner.push_back(i);
    }
  }
  std::vector<SampledToken> sampled = sampler_.sample(rows);
  std::vector<std::vector<int32_t>> tokens(out.sequences.size());
  for (size_t j = 0; j < sampled.size(); ++j) {
    const ScheduledSequence& s = out.sequences[row_owner[j]];
    tokens[row_owner[j]].push_back(sampled[j].token_id);
    ActiveRequest& r = *requests_.at(s.request_id);
    r.step_logprobs[rows[j].sequence_index] = std::move(sampled[j].logprobs);
    if (rows[j].constrained()) {
      std::optional<OutputGrammar>& grammar = r.grammars[rows[j].sequence_index];
      if (!token_index_->advance(*grammar, sampled[j].token_id)) grammar.reset();
    }
  }
  return tokens;
}

void EngineCore::reportStep(const SchedulerOutput& out, int num_generation_tokens) {
  const PrefixCacheStats prefix = kv_cache_->prefixCacheStats();
  const int64_t preemptions = scheduler_->numPreemptions();
  if (config_.observer != nullptr) {
    StepStats stats;
    stats.num_scheduled_tokens = out.num_scheduled_tokens;
    stats.num_prefill_tokens = out.num_prompt_tokens;
    stats.num_prompt_tokens = step_prompt_tokens_;
    stats.num_generation_tokens = num_generation_tokens;
    stats.num_running = scheduler_->numRunningSequences();
    stats.num_waiting = scheduler_->numWaitingSequences();
    stats.kv_cache_usage = kv_cache_->usage();
    stats.prefix_cache_queries_delta = prefix.queries - reported_prefix_stats_.queries;
    stats.prefix_cache_hits_delta = prefix.hits - reported_prefix_stats_.hits;
    stats.num_preemptions_delta = preemptions - reported_preemptions_;
    config_.observer->onStep(stats);
    reported_state_ = {stats.num_running, stats.num_waiting, stats.kv_cache_usage};
  }
  step_prompt_tokens_ = 0;
  reported_prefix_stats_ = prefix;
  reported_preemptions_ = preemptions;
}

void EngineCore::reportStateIfChanged() {
  if (config_.observer == nullptr) return;
  StepStats stats;
  stats.num_running = scheduler_->numRunningSequences();
  stats.num_waiting = scheduler_->numWaitingSequences();
  stats.kv_cache_usage = kv_cache_->usage();
  const std::tuple<int, int, double> state{stats.num_running, stats.num_waiting,
                                           stats.kv_cache_usage};
  if (state == reported_state_) return;
  reported_state_ = state;
  config_.observer->onState(stats);
}

void EngineCore::addPromptLogprobs(ActiveRequest& r, const ScheduledSequence& s,
                                   const float* logits_rows) {
  // Only the first sample's first pass counts: forked samples and recomputation after a
  // preemption see the same prompt again.
  if (s.seq_index != 0 || r.prompt_logprobs_complete) return;
  if (s.num_computed_tokens == 0) r.prompt_logprobs.clear();
  assert(static_cast<int>(r.prompt_logprobs.size()) == s.num_computed_tokens);
  const int num_prompt = static_cast<int>(r.prompt.size());
  const size_t vocab = static_cast<size_t>(executor_.vocabSize());
  const int num_top = r.params.prompt_logprobs.value_or(0);
  // The row at position p predicts the token at p + 1.
  for (int j = 0; j < s.num_scheduled_tokens; ++j) {
    const int next = s.num_computed_tokens + j + 1;
    if (next >= num_prompt) break;
    r.prompt_logprobs.push_back(computePositionLogprobs(
        std::span<const float>(logits_rows + static_cast<size_t>(j) * vocab, vocab), r.prompt[next],
        num_top));
  }
  r.prompt_logprobs_complete = static_cast<int>(r.prompt_logprobs.size()) == num_prompt - 1;
}

std::optional<StopDecision> EngineCore::onNewToken(const SequenceState& seq) {
  ActiveRequest& r = *requests_.at(seq.request->request_id);
  const int k = seq.index;
  std::optional<PositionLogprobs> logprobs = std::move(r.step_logprobs[k]);
  r.step_logprobs[k].reset();
  // Structured output: an EOS after a whole value ends the output, whatever ignore_eos or
  // min_tokens say (the grammar allows nothing else).
  const int32_t token = seq.token_ids.back();
  const bool ends_output = !r.grammars.empty() && r.grammars[k] && token_index_->isEos(token);
  SequenceDelta delta = r.processors[k]->append(token, std::move(logprobs), ends_output);
  ++r.num_generation_tokens;
  ++generation_tokens_total_;
  if (!r.touched) {
    // One timestamp per request per step: its samples arrive together.
    const Clock::time_point now = Clock::now();
    if (!r.timing.first_token) {
      r.timing.first_token = now;
      // vLLM counts a request's prompt once, when its first token comes out.
      step_prompt_tokens_ += static_cast<int>(r.prompt.size());
      prompt_tokens_total_ += static_cast<int64_t>(r.prompt.size());
    }
    if (r.last_token_time) {
      r.inter_token_latencies_s.push_back(
          std::chrono::duration<double>(now - *r.last_token_time).count());
    }
    r.last_token_time = now;
    r.touched = true;
    touched_.push_back(&r);
  }
  const std::optional<int32_t> stop_token_id = delta.stop_token_id;
  r.output.deltas.push_back(std::move(delta));
  const SequenceOutputProcessor& processor = *r.processors[k];
  if (!processor.finished()) return std::nullopt;
  return StopDecision{*processor.finishReason(), stop_token_id};
}

void EngineCore::publish(ActiveRequest& r, bool finished) {
  RequestOutput out = std::move(r.output);
  r.output = RequestOutput{};
  r.touched = false;
  out.finished = finished;
  out.num_prompt_tokens = static_cast<int>(r.prompt.size());
  out.num_cached_prompt_tokens = r.num_cached_prompt_tokens;
  if (r.params.prompt_logprobs && !r.prompt_logprobs_sent &&
      (r.prompt_logprobs_complete || finished)) {
    out.prompt_logprobs = std::move(r.prompt_logprobs);
    r.prompt_logprobs_sent = true;
  }
  out.timing = r.timing;
  r.stream->push(std::move(out));
}

void EngineCore::retire(const std::string& request_id, FinishReason reason) {
  const auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  ActiveRequest& r = *it->second;
  r.timing.finished = Clock::now();
  publish(r, /*finished=*/true);
  if (config_.observer != nullptr) {
    FinishedRequestStats stats;
    stats.num_prompt_tokens = static_cast<int>(r.prompt.size());
    stats.num_generation_tokens = r.num_generation_tokens;
    stats.num_cached_prompt_tokens = r.num_cached_prompt_tokens;
    stats.finish_reason = reason;
    stats.timing = r.timing;
    stats.inter_token_latencies_s = std::move(r.inter_token_latencies_s);
    config_.observer->onRequestFinished(stats);
  }
  touched_.erase(std::remove(touched_.begin(), touched_.end(), &r), touched_.end());
  finished_ids_.push_back(request_id);
  requests_.erase(it);
}

void EngineCore::abort(const std::string& request_id) {
  const auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  ActiveRequest& r = *it->second;
  (void)scheduler_->abortRequest(request_id);
  for (const auto& processor : r.processors) {
    if (!processor->finished()) r.output.deltas.push_back(processor->abort());
  }
  retire(request_id, FinishReason::kAbort);
}

void EngineCore::abortAll() {
  std::vector<std::string> ids;
  ids.reserve(requests_.size());
  for (const auto& entry : requests_) ids.push_back(entry.first);
  for (const std::string& id : ids) abort(id);
}

void EngineCore::failAll(const Status& status) {
  std::vector<std::string> ids;
  ids.reserve(requests_.size());
  for (const auto& entry : requests_) ids.push_back(entry.first);
  for (const std::string& id : ids) {
    requests_.at(id)->output.error = status;
    abort(id);
  }
  touched_.clear();
  step_prompt_tokens_ = 0;
  reportStateIfChanged();
}

void EngineCore::failRejected(const SchedulerOutput& out) {
  for (const std::string& id : out.rejected_request_ids) {
    const auto it = requests_.find(id);
    if (it == requests_.end()) continue;
    it->second->output.error = resourceExhausted(
        "request " + id + " needs more KV cache than the engine has (" +
        std::to_string(kv_cache_->numBlocks()) + " blocks of " +
        std::to_string(kv_cache_->blockSize()) + " tokens); lower max_tokens or the prompt");
    abort(id);  // the scheduler already ended it; this publishes the final output
  }
}

void EngineCore::failStep(const SchedulerOutput& out, const Status& status) {
  for (const ScheduledSequence& s : out.sequences) {
    const auto it = requests_.find(s.request_id);
    if (it == requests_.end()) continue;
    it->second->output.error = status;
    abort(s.request_id);
  }
}

std::vector<std::string> EngineCore::takeFinishedRequestIds() {
  std::vector<std::string> ids = std::move(finished_ids_);
  finished_ids_.clear();
  return ids;
}

EngineStats EngineCore::stats() const {
  EngineStats stats;
  stats.num_running = scheduler_->numRunningSequences();
  stats.num_waiting = scheduler_->numWaitingSequences();
  for (const auto& entry : requests_) {
    const ActiveRequest& r = *entry.second;
    stats.outstanding_tokens += static_cast<int64_t>(r.prompt.size()) +
                                static_cast<int64_t>(r.max_output_tokens) * r.params.n -
                                r.num_generation_tokens;
  }
  stats.kv_cache_usage = kv_cache_->usage();
  stats.num_kv_blocks = kv_cache_->numBlocks();
  stats.prefix_cache_queries = kv_cache_->prefixCacheStats().queries;
  stats.prefix_cache_hits = kv_cache_->prefixCacheStats().hits;
  stats.num_preemptions = scheduler_->numPreemptions();
  stats.prompt_tokens = prompt_tokens_total_;
  stats.generation_tokens = generation_tokens_total_;
  return stats;
}

}  // namespace manifold
