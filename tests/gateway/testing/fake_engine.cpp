#include "tests/gateway/testing/fake_engine.h"

#include <algorithm>
#include <cassert>
#include <cstdlib>

namespace manifold::testing {

const Tokenizer& FakeEngine::sharedTokenizer() {
  static const Tokenizer* tokenizer = [] {
    auto loaded = Tokenizer::fromDirectory(MANIFOLD_SOURCE_DIR "/models/stories260K");
    if (!loaded.isOk()) std::abort();
    return std::move(loaded).value().release();
  }();
  return *tokenizer;
}

FakeEngine::FakeEngine(FakeEngineOptions options)
    : options_(options), tokenizer_(&sharedTokenizer()) {
  info_.model_dir = MANIFOLD_SOURCE_DIR "/models/stories260K";
  info_.max_model_len = options.max_model_len;
  info_.vocab_size = tokenizer_->vocabSize();
  info_.block_size = 16;
  info_.max_num_seqs = options.max_num_seqs;
  held_ = options.start_held;
  thread_ = std::thread([this] { loop(); });
}

FakeEngine::~FakeEngine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [id, active] : active_) {
      RequestOutput out;
      for (size_t s = 0; s < active.seqs.size(); ++s) {
        if (active.seqs[s].finished) continue;
        SequenceDelta d;
        d.index = static_cast<int>(s);
        d.finish_reason = FinishReason::kAbort;
        out.deltas.push_back(d);
      }
      out.finished = true;
      active.stream->push(std::move(out));
    }
    active_.clear();
  }
  wake_.notify_all();
  thread_.join();
}

int32_t FakeEngine::tokenFor(uint64_t seed, int step, int seq, bool random) {
  uint64_t letter = (seed + static_cast<uint64_t>(step) + (random ? 7u * seq : 0u)) % 26u;
  return static_cast<int32_t>(3 + 'a' + letter);
}

Result<std::shared_ptr<RequestStream>> FakeEngine::submit(EngineRequest request) {
  RETURN_IF_ERROR(request.params.validate(info_.vocab_size));
  if (request.prompt_token_ids.empty()) return invalidArgument("empty prompt");
  if (info_.max_num_seqs > 0 && request.params.n > info_.max_num_seqs) {
    return invalidArgument("n exceeds max_num_seqs");
  }
  int max_tokens = request.params.max_tokens.value_or(
      info_.max_model_len - static_cast<int>(request.prompt_token_ids.size()));
  if (static_cast<int>(request.prompt_token_ids.size()) + max_tokens > info_.max_model_len) {
    return invalidArgument("prompt plus max_tokens exceed max_model_len");
  }
  request.params.max_tokens = max_tokens;
  auto stream = std::make_shared<RequestStream>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (active_.count(request.request_id) != 0) {
      return invalidArgument("duplicate request id " + request.request_id);
    }
    if (options_.refuse_submits_from >= 0 &&
        static_cast<int>(submitted_.size()) >= options_.refuse_submits_from) {
      return unavailable("the fake engine refuses this submit");
    }
    submitted_.push_back(request);
    Active active;
    active.seqs.resize(static_cast<size_t>(request.params.n));
    active.request = std::move(request);
    active.stream = stream;
    active_.emplace(active.request.request_id, std::move(active));
  }
  wake_.notify_all();
  return stream;
}

void FakeEngine::abort(const std::string& request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = active_.find(request_id);
  if (it == active_.end()) return;
  aborted_.push_back(request_id);
  Active& active = it->second;
  RequestOutput out;
  out.num_prompt_tokens = static_cast<int>(active.request.prompt_token_ids.size());
  for (size_t s = 0; s < active.seqs.size(); ++s) {
    if (active.seqs[s].finished) continue;
    SequenceDelta d;
    d.index = static_cast<int>(s);
    d.finish_reason = FinishReason::kAbort;
    out.deltas.push_back(d);
  }
  out.finished = true;
  active.stream->push(std::move(out));
  active_.erase(it);
}

void FakeEngine::abortAll() {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry : active_) ids.push_back(entry.first);
  }
  for (const std::string& id : ids) abort(id);
}

EngineStats FakeEngine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats stats;
  int64_t tokens_in_use = 0;
  for (const auto& [id, active] : active_) {
    stats.num_running += 1;
    int64_t prompt = static_cast<int64_t>(active.request.prompt_token_ids.size());
    int64_t max_tokens = *active.request.params.max_tokens;
    for (const Sequence& s : active.seqs) {
      stats.outstanding_tokens += max_tokens - s.generated;
      tokens_in_use += s.generated;
    }
    stats.outstanding_tokens += prompt;
    tokens_in_use += prompt;
  }
  stats.num_kv_blocks = 256;
  stats.kv_cache_usage = std::min(1.0, static_cast<double>(tokens_in_use) / (256.0 * 16.0));
  return stats;
}

void FakeEngine::hold() {
  std::lock_guard<std::mutex> lock(mu_);
  held_ = true;
}

void FakeEngine::release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
  }
  wake_.notify_all();
}

std::vector<std::string> FakeEngine::abortedIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return aborted_;
}

std::vector<EngineRequest> FakeEngine::submitted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return submitted_;
}

int FakeEngine::numActive() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(active_.size());
}

void FakeEngine::step(Active& active) {
  const EngineRequest& request = active.request;
  const SamplingParams& params = request.params;
  const int max_tokens = *params.max_tokens;
  const uint64_t seed = params.seed.value_or(0);
  size_t hold_back = 0;
  for (const std::string& stop : params.stop) hold_back = std::max(hold_back, stop.size() - 1);

  RequestOutput out;
  out.num_prompt_tokens = static_cast<int>(request.prompt_token_ids.size());
  if (active.first_output && params.prompt_logprobs) {
    for (size_t i = 1; i < request.prompt_token_ids.size(); ++i) {
      PositionLogprobs lp;
      lp.chosen = {request.prompt_token_ids[i], -1.0f};
      lp.chosen_rank = 3;
      for (int k = 0; k < *params.prompt_logprobs; ++k) {
        lp.top.push_back({static_cast<int32_t>(3 + 'a' + k), -1.0f - 0.5f * static_cast<float>(k)});
      }
      out.prompt_logprobs.push_back(std::move(lp));
    }
  }
  active.first_output = false;
  bool all_done = true;
  for (size_t s = 0; s < active.seqs.size(); ++s) {
    Sequence& seq = active.seqs[s];
    if (seq.finished) continue;
    int32_t token =
        options_.script.empty()
            ? tokenFor(seed, seq.generated, active.request.first_sample_index + static_cast<int>(s),
                       !params.greedy())
            : 3 + static_cast<unsigned char>(
                      options_.script[static_cast<size_t>(seq.generated) % options_.script.size()]);
    ++seq.generated;
    const int32_t ids[] = {token};
    seq.text += tokenizer_->decode(ids, params.skip_special_tokens);
    SequenceDelta delta;
    delta.index = static_cast<int>(s);
    delta.token_ids.push_back(token);
    if (params.logprobs) {
      PositionLogprobs lp;
      lp.chosen = {token, -0.25f};
      for (int k = 0; k < *params.logprobs; ++k) {
        lp.top.push_back(
            {k == 0 ? token : static_cast<int32_t>(3 + 'A' + k), -0.25f - static_cast<float>(k)});
      }
      delta.logprobs.push_back(std::move(lp));
    }
    size_t cut = std::string::npos;
    for (const std::string& stop : params.stop) {
      size_t at = seq.text.find(stop);
      if (at != std::string::npos && at < cut) {
        cut = at;
        delta.stop_string = stop;
        if (params.include_stop_str_in_output) cut = at + stop.size();
      }
    }
    size_t end = seq.text.size() > hold_back ? seq.text.size() - hold_back : 0;
    if (cut != std::string::npos) {
      seq.finished = true;
      delta.finish_reason = FinishReason::kStop;
      end = cut;
    } else if (seq.generated >= max_tokens) {
      seq.finished = true;
      delta.finish_reason = FinishReason::kLength;
      end = seq.text.size();
    }
    if (end > seq.emitted) {
      delta.text = seq.text.substr(seq.emitted, end - seq.emitted);
      seq.emitted = end;
    }
    all_done &= seq.finished;
    out.deltas.push_back(std::move(delta));
  }
  out.finished = all_done;
  active.stream->push(std::move(out));
}

void FakeEngine::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || (!held_ && !active_.empty()); });
    if (stopping_) return;
    for (auto it = active_.begin(); it != active_.end();) {
      step(it->second);
      bool done = std::all_of(it->second.seqs.begin(), it->second.seqs.end(),
                              [](const Sequence& s) { return s.finished; });
      it = done ? active_.erase(it) : std::next(it);
    }
    if (options_.token_delay.count() > 0) {
      lock.unlock();
      std::this_thread::sleep_for(options_.token_delay);
      lock.lock();
    }
  }
}

}  // namespace manifold::testing
