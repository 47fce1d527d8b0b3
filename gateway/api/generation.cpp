#include "gateway/api/generation.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <utility>

#include "common/utf8.h"
#include "gateway/api/api_error.h"
#include "gateway/api/tool_calls.h"

namespace manifold::gateway {
namespace {

using json = nlohmann::ordered_json;

// What one choice (one sequence of one prompt) has produced so far.
struct ChoiceState {
  std::string text;
  std::vector<int32_t> token_ids;
  std::vector<PositionLogprobs> logprobs;
  std::optional<FinishReason> finish_reason;
  json stop_reason = nullptr;  // vLLM extra: the stop string or token id that ended it
  bool echoed = false;         // streaming: the prompt was sent already
  bool prompt_ids_sent = false;  // streaming with return_token_ids: prompt_token_ids went out
  size_t text_offset = 0;      // streaming logprobs: the next token's text_offset
  std::optional<ToolCallStream> tool_calls;  // streaming with a tool-call format
  bool forced_call_started = false;          // streaming a named tool_choice: id and name sent
};

// OpenAI's tool_calls list for parsed calls; `with_index` for stream deltas.
json toolCallsJson(ToolCallFormat format, const std::vector<ParsedToolCall>& calls,
                   bool with_index) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json call = {{"id", newToolCallId(format)},
                 {"type", "function"},
                 {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}};
    if (with_index) call["index"] = i;
    out.push_back(std::move(call));
  }
  return out;
}

// A choice object with its keys in OpenAI's order (index, the text, delta or message, logprobs,
// finish_reason), the values to be filled in.
json choiceEntry(size_t index, ApiKind kind, bool chunk) {
  const char* body = kind == ApiKind::kCompletion ? "text" : chunk ? "delta" : "message";
  return {{"index", index}, {body, nullptr}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
}

class GenerationJob : public std::enable_shared_from_this<GenerationJob> {
 public:
  GenerationJob(GenerationPlan plan, ServedModel& model, AdmissionTicket ticket,
                std::shared_ptr<Exchange> exchange, std::shared_ptr<AccessRecord> record)
      : plan_(std::move(plan)),
        model_(model),
        codec_(model.codec()),
        ticket_(std::move(ticket)),
        exchange_(std::move(exchange)),
        record_(std::move(record)) {
    size_t num_prompts = plan_.prompts.size();
    const int n = plan_.options.params.n;
    choices_.resize(num_prompts * static_cast<size_t>(n));
    prompt_tokens_.assign(num_prompts, 0);
    prompt_logprobs_.resize(num_prompts);
  }

  void start() {
    self_ = shared_from_this();
    const SamplingParams& params = plan_.options.params;
    // A prompt's n samples run in one engine request when they fit one batch (they share the
    // prompt's KV blocks); more are split into requests of at most max_num_seqs samples, as
    // vLLM fans n out into separate requests. Each part draws the RNG streams of its own sample
    // indices (first_sample_index), so a split answer is the one an unsplit request would give.
    const int limit = model_.maxSamplesPerEngineRequest();
    const int part_size = limit > 0 ? std::min(params.n, limit) : params.n;
    for (size_t i = 0; i < plan_.prompts.size(); ++i) {
      const PreparedPrompt& prompt = plan_.prompts[i];
      for (int first = 0; first < params.n; first += part_size) {
        Part part;
        part.prompt_index = i;
        part.first_choice = static_cast<size_t>(first);
        part.count = std::min(part_size, params.n - first);
        part.lease = model_.lease(prompt.token_ids, *params.max_tokens * part.count);
        part.engine = &part.lease.engine();
        part.request_id = plan_.header.id + "-" + std::to_string(i);
        if (first > 0) part.request_id += "-" + std::to_string(first);
        EngineRequest request;
        request.request_id = part.request_id;
        request.prompt_token_ids = prompt.token_ids;
        request.params = params;
        request.params.n = part.count;
        request.first_sample_index = first;
        request.priority = plan_.options.priority;
        auto stream = part.engine->submit(std::move(request));
        if (!stream.isOk()) {
          abortAll();  // the parts already submitted
          fail(stream.status());
          return;
        }
        if (plan_.on_routed) {
          plan_.on_routed("replica-" + std::to_string(part.lease.replicaIndex()));
        }
        part.stream = std::move(stream).value();
        parts_.push_back(std::move(part));
      }
    }
    std::weak_ptr<GenerationJob> weak = weak_from_this();
    exchange_->onCancel([weak] {
      if (auto job = weak.lock()) job->onClientGone();
    });
    if (plan_.options.stream) {
      exchange_->beginStream(200, "text/event-stream", {});
      if (plan_.header.kind == ApiKind::kChat) sendRoleChunks();
    }
    for (Part& part : parts_) {
      part.stream->setNotifier([weak] {
        if (auto job = weak.lock()) job->scheduleDrain();
      });
    }
  }

 private:
  // Engine thread: coalesces notifications into one drain on the strand.
  void scheduleDrain() {
    if (drain_scheduled_.exchange(true)) return;
    exchange_->post([job = shared_from_this()] {
      job->drain_scheduled_.store(false);
      job->drain();
    });
  }

  void drain() {
    if (done_) return;
    std::vector<RequestOutput> outputs;
    for (size_t i = 0; i < parts_.size(); ++i) {
      if (parts_[i].done) continue;
      outputs.clear();
      bool more = parts_[i].stream->tryPopAll(outputs);
      for (RequestOutput& output : outputs) consume(i, output);
      if (!more) {
        parts_[i].done = true;
        parts_[i].lease.release();
      }
    }
    for (const Part& part : parts_) {
      if (!part.done) return;
    }
    finish();
  }

  void consume(size_t part, RequestOutput& output) {
    const size_t prompt_index = parts_[part].prompt_index;
    const int part_n = parts_[part].count;
    if (!output.error.isOk() && error_.isOk()) error_ = output.error;
    if (output.num_prompt_tokens > 0) prompt_tokens_[prompt_index] = output.num_prompt_tokens;
    if (!output.prompt_logprobs.empty()) {
      prompt_logprobs_[prompt_index] = std::move(output.prompt_logprobs);
    }
    const int n = plan_.options.params.n;
    for (SequenceDelta& delta : output.deltas) {
      if (delta.index < 0 || delta.index >= part_n) continue;
      if (plan_.echo_only) {
        // The drawn token was only the price of the prompt's logprobs.
        delta.token_ids.clear();
        delta.text.clear();
        delta.logprobs.clear();
        if (delta.finish_reason) {
          delta.finish_reason = FinishReason::kLength;
          delta.stop_string.reset();
          delta.stop_token_id.reset();
        }
      }
      size_t choice_index = prompt_index * static_cast<size_t>(n) + parts_[part].first_choice +
                            static_cast<size_t>(delta.index);
      ChoiceState& choice = choices_[choice_index];
      if (plan_.options.stream && !cancelled_) streamDelta(choice_index, prompt_index, delta);
      choice.text += delta.text;
      choice.token_ids.insert(choice.token_ids.end(), delta.token_ids.begin(),
                              delta.token_ids.end());
      for (auto& lp : delta.logprobs) choice.logprobs.push_back(std::move(lp));
      if (delta.finish_reason) {
        choice.finish_reason = delta.finish_reason;
        if (delta.stop_string) choice.stop_reason = *delta.stop_string;
        if (delta.stop_token_id) choice.stop_reason = *delta.stop_token_id;
        if (plan_.options.stream && !cancelled_) streamFinish(choice_index);
      }
    }
  }

  void sendRoleChunks() {
    for (size_t i = 0; i < choices_.size(); ++i) {
      json chunk = envelope(plan_.header, true);
      json entry = choiceEntry(i, ApiKind::kChat, true);
      entry["delta"] = {{"role", "assistant"}, {"content", ""}};
      chunk["choices"].push_back(std::move(entry));
      if (plan_.options.return_token_ids) chunk["prompt_token_ids"] = plan_.prompts[0].token_ids;
      send(std::move(chunk), i);
    }
  }

  void streamDelta(size_t choice_index, size_t prompt_index, const SequenceDelta& delta) {
    ChoiceState& choice = choices_[choice_index];
    std::string text = delta.text;
    const bool echo_now = plan_.echo && !choice.echoed;
    if (echo_now) {
      text = echoedText(plan_.prompts[prompt_index]) + text;
      choice.echoed = true;
    }
    // Tokens whose text is held back as (possibly) a tool call send nothing (vLLM: their
    // logprobs are not sent), except with return_token_ids, whose ids must all arrive (vLLM: in
    // an empty delta). A token with no text of its own still gets its content chunk.
    bool held = false;
    if (plan_.tool_call_format) {
      // Only text that cannot be part of a tool call goes out now; the rest waits for the end.
      ToolCallStream& calls = toolCallStream(choice);
      text = calls.append(delta.text);
      held = text.empty() && calls.holding();
    } else if (plan_.tool_required) {
      text.clear();  // the calls go out whole at the end
      held = true;
    }
    if (held && !plan_.options.return_token_ids) return;
    // As vLLM: a chunk per step that produced tokens, even when they add no text yet (a partial
    // UTF-8 character, a held-back stop-string prefix, ids past the tokenizer's vocabulary), so
    // clients see every token arrive; the echoing chunk always goes out (it carries the prompt's
    // ids and logprobs).
    if (!echo_now && text.empty() && delta.logprobs.empty() && delta.token_ids.empty()) return;
    json entry = choiceEntry(choice_index, plan_.header.kind, true);
    std::vector<int32_t> context = contextOf(choice_index);
    if (plan_.forced_tool) {
      // The arguments as they come, in one call: its id and name with the first piece (vLLM).
      json call = {{"index", 0}, {"function", {{"arguments", text}}}};
      if (!choice.forced_call_started) {
        call["id"] = newToolCallId(idFormat());
        call["type"] = "function";
        call["function"]["name"] = *plan_.forced_tool;
        choice.forced_call_started = true;
      }
      entry["delta"] = {{"tool_calls", json::array({std::move(call)})}};
    } else if (plan_.header.kind == ApiKind::kChat) {
      entry["delta"] = held ? json::object() : json{{"content", text}};
    }
    if (plan_.header.kind == ApiKind::kChat) {
      if (plan_.chat_logprobs) {
        entry["logprobs"] =
            chatLogprobs(codec_, context, delta.logprobs, plan_.options.tokens_as_ids);
      }
    } else {
      entry["text"] = text;
      if (plan_.options.params.logprobs) {
        // The echoing chunk carries the prompt's tokens, and text offsets continue from the
        // previous chunk's, so that the pieces join into the whole response's logprobs.
        std::vector<int32_t> ids;
        std::vector<PositionLogprobs> logprobs;
        std::vector<bool> has;
        if (echo_now) {
          appendEchoedPrompt(prompt_index, ids, logprobs, has);
          context.clear();
        }
        ids.insert(ids.end(), delta.token_ids.begin(), delta.token_ids.end());
        logprobs.insert(logprobs.end(), delta.logprobs.begin(), delta.logprobs.end());
        has.resize(ids.size(), true);
        json lp = completionLogprobs(codec_, context, ids, logprobs, has, choice.text_offset,
                                     plan_.options.tokens_as_ids);
        for (const json& token : lp["tokens"]) {
          choice.text_offset += utf8::codePointCount(token.get_ref<const std::string&>());
        }
        entry["logprobs"] = std::move(lp);
      }
    }
    if (plan_.options.return_token_ids) {
      entry["token_ids"] = delta.token_ids;
      if (plan_.header.kind == ApiKind::kCompletion && !choice.prompt_ids_sent) {
        entry["prompt_token_ids"] = plan_.prompts[prompt_index].token_ids;
      }
      choice.prompt_ids_sent = true;
    }
    json chunk = envelope(plan_.header, true);
    chunk["choices"].push_back(std::move(entry));
    // The delta's tokens are not in choices_ yet: the usage so far counts them.
    send(std::move(chunk), choice_index, static_cast<int>(delta.token_ids.size()));
  }

  // The prompt text a completion starts with: none without echo, and none with return_token_ids,
  // whose prompt_token_ids carry the prompt (vLLM's answer: the logprobs still cover it).
  std::string echoedText(const PreparedPrompt& prompt) const {
    return plan_.echo && !plan_.options.return_token_ids ? prompt.text : std::string();
  }

  // The style of tool call ids: the engine's parser's, else plan_.tool_call_ids.
  ToolCallFormat idFormat() const { return plan_.tool_call_format.value_or(plan_.tool_call_ids); }

  // tool_choice "required": the calls of a whole answer, or the answer as content when it is not
  // one (cut by max_tokens).
  static ParsedToolCalls requiredCalls(const std::string& text) {
    ParsedToolCalls parsed;
    if (std::optional<std::vector<ParsedToolCall>> calls = parseRequiredToolCalls(text)) {
      parsed.calls = std::move(*calls);
    } else {
      parsed.content = text;
    }
    return parsed;
  }

  ToolCallStream& toolCallStream(ChoiceState& choice) const {
    if (!choice.tool_calls) choice.tool_calls.emplace(*plan_.tool_call_format);
    return *choice.tool_calls;
  }

  // Appends the echoed prompt's tokens and their logprobs (none for the first token). The
  // engine reports prompt positions from the second token on, or one per token with the first
  // left empty; either is aligned to the prompt's end.
  void appendEchoedPrompt(size_t prompt_index, std::vector<int32_t>& ids,
                          std::vector<PositionLogprobs>& logprobs, std::vector<bool>& has) const {
    const std::vector<int32_t>& prompt_ids = plan_.prompts[prompt_index].token_ids;
    const auto& prompt_lp = prompt_logprobs_[prompt_index];
    const size_t missing =
        prompt_ids.size() > prompt_lp.size() ? prompt_ids.size() - prompt_lp.size() : 0;
    for (size_t i = 0; i < prompt_ids.size(); ++i) {
      const bool present = i >= missing && i > 0;
      ids.push_back(prompt_ids[i]);
      logprobs.push_back(present ? prompt_lp[i - missing] : PositionLogprobs{});
      has.push_back(present);
    }
  }

  // The ids before the choice's next token: its prompt and what it generated so far.
  std::vector<int32_t> contextOf(size_t choice_index) const {
    size_t prompt_index = choice_index / static_cast<size_t>(plan_.options.params.n);
    std::vector<int32_t> ids = plan_.prompts[prompt_index].token_ids;
    const auto& generated = choices_[choice_index].token_ids;
    ids.insert(ids.end(), generated.begin(), generated.end());
    return ids;
  }

  void streamFinish(size_t choice_index) {
    ChoiceState& choice = choices_[choice_index];
    const char* finish = finishReasonText(*choice.finish_reason);
    if (plan_.tool_call_format || plan_.tool_required) {
      // The held-back end of the answer: its tool calls, or the rest of its content.
      ParsedToolCalls parsed =
          plan_.tool_required ? requiredCalls(choice.text) : toolCallStream(choice).finish();
      json delta;
      if (!parsed.calls.empty()) {
        delta = {{"tool_calls", toolCallsJson(idFormat(), parsed.calls, true)}};
        finish = "tool_calls";
      } else if (parsed.content && !parsed.content->empty()) {
        delta = {{"content", std::move(*parsed.content)}};
      }
      if (!delta.is_null()) {
        json entry = choiceEntry(choice_index, ApiKind::kChat, true);
        entry["delta"] = std::move(delta);
        json chunk = envelope(plan_.header, true);
        chunk["choices"].push_back(std::move(entry));
        send(std::move(chunk), choice_index);
      }
    }
    json entry = choiceEntry(choice_index, plan_.header.kind, true);
    entry["finish_reason"] = finish;
    entry["stop_reason"] = choice.stop_reason;
    if (plan_.header.kind == ApiKind::kChat) {
      entry["delta"] = json::object();
    } else {
      entry["text"] = "";
    }
    json chunk = envelope(plan_.header, true);
    chunk["choices"].push_back(std::move(entry));
    send(std::move(chunk), choice_index);
  }

  // A chunk about one choice. With continuous usage it carries, as vLLM's do, that choice's
  // prompt tokens and its completion tokens so far: those in choices_ and `pending` more.
  void send(json chunk, size_t choice_index, int pending = 0) {
    if (plan_.options.continuous_usage) {
      const size_t prompt_index = choice_index / static_cast<size_t>(plan_.options.params.n);
      const int completion = static_cast<int>(choices_[choice_index].token_ids.size()) + pending;
      chunk["usage"] = usageJson(promptTokensOf(prompt_index), completion);
    } else if (plan_.options.include_usage) {
      chunk["usage"] = nullptr;
    }
    exchange_->write(sseEvent(chunk));
  }

  // A prompt's tokens as the engine counted them, else as submitted.
  int promptTokensOf(size_t prompt_index) const {
    return prompt_tokens_[prompt_index] > 0
               ? prompt_tokens_[prompt_index]
               : static_cast<int>(plan_.prompts[prompt_index].token_ids.size());
  }

  int promptTokens() const {
    int total = 0;
    for (size_t i = 0; i < prompt_tokens_.size(); ++i) total += promptTokensOf(i);
    return total;
  }
  int completionTokens() const {
    int total = 0;
    for (const ChoiceState& c : choices_) total += static_cast<int>(c.token_ids.size());
    return total;
  }

  json choiceJson(size_t choice_index) const {
    const ChoiceState& choice = choices_[choice_index];
    const char* finish = choice.finish_reason ? finishReasonText(*choice.finish_reason) : "abort";
    json entry = choiceEntry(choice_index, plan_.header.kind, false);
    entry["finish_reason"] = finish;
    entry["stop_reason"] = choice.stop_reason;
    if (plan_.header.kind == ApiKind::kChat) {
      entry["message"] = {
          {"role", "assistant"}, {"content", choice.text}, {"tool_calls", json::array()}};
      if (plan_.forced_tool) {
        entry["message"]["content"] = nullptr;
        entry["message"]["tool_calls"] =
            toolCallsJson(idFormat(), {ParsedToolCall{*plan_.forced_tool, choice.text}}, false);
      } else if (plan_.tool_call_format || plan_.tool_required) {
        // Without calls the content is the answer (for mistral without its tags).
        ParsedToolCalls parsed = plan_.tool_required
                                     ? requiredCalls(choice.text)
                                     : parseToolCalls(*plan_.tool_call_format, choice.text);
        entry["message"]["content"] = parsed.content ? json(*parsed.content) : json(nullptr);
        if (!parsed.calls.empty()) {
          entry["message"]["tool_calls"] = toolCallsJson(idFormat(), parsed.calls, false);
          entry["finish_reason"] = "tool_calls";
        }
      }
      if (plan_.chat_logprobs) {
        entry["logprobs"] = chatLogprobs(codec_, plan_.prompts[0].token_ids, choice.logprobs,
                                         plan_.options.tokens_as_ids);
      }
      if (plan_.options.return_token_ids) entry["token_ids"] = choice.token_ids;
      return entry;
    }
    size_t prompt_index = choice_index / static_cast<size_t>(plan_.options.params.n);
    const PreparedPrompt& prompt = plan_.prompts[prompt_index];
    entry["text"] = echoedText(prompt) + choice.text;
    if (plan_.options.params.logprobs) {
      std::vector<int32_t> ids;
      std::vector<PositionLogprobs> logprobs;
      std::vector<bool> has;
      if (plan_.echo) appendEchoedPrompt(prompt_index, ids, logprobs, has);
      ids.insert(ids.end(), choice.token_ids.begin(), choice.token_ids.end());
      logprobs.insert(logprobs.end(), choice.logprobs.begin(), choice.logprobs.end());
      has.resize(ids.size(), true);
      std::span<const int32_t> context;
      if (!plan_.echo) context = prompt.token_ids;
      entry["logprobs"] =
          completionLogprobs(codec_, context, ids, logprobs, has, 0, plan_.options.tokens_as_ids);
    }
    if (plan_.options.return_prompt_logprobs) {
      entry["prompt_logprobs"] =
          promptLogprobsJson(codec_, prompt.token_ids, prompt_logprobs_[prompt_index]);
    }
    if (plan_.options.return_token_ids) {
      entry["prompt_token_ids"] = prompt.token_ids;
      entry["token_ids"] = choice.token_ids;
    }
    return entry;
  }

  void finish() {
    if (done_) return;
    done_ = true;
    record_->prompt_tokens.store(promptTokens());
    record_->completion_tokens.store(completionTokens());
    if (cancelled_) return release();
    if (!plan_.options.stream) {
      if (!error_.isOk()) {
        record_->status.store(httpStatusFor(error_.code()));
        freeSlot();
        exchange_->respond(errorResponse(error_));
        return release();
      }
      json body = envelope(plan_.header, false);
      for (size_t i = 0; i < choices_.size(); ++i) body["choices"].push_back(choiceJson(i));
      if (plan_.header.kind == ApiKind::kChat && plan_.options.return_prompt_logprobs) {
        // vLLM's place for them in a chat answer: beside the choices.
        body["prompt_logprobs"] =
            promptLogprobsJson(codec_, plan_.prompts[0].token_ids, prompt_logprobs_[0]);
      }
      if (plan_.header.kind == ApiKind::kChat && plan_.options.return_token_ids) {
        body["prompt_token_ids"] = plan_.prompts[0].token_ids;
      }
      body["usage"] = usageJson(promptTokens(), completionTokens());
      HttpResponse response;
      response.body = dumpJson(body);
      record_->status.store(200);
      freeSlot();
      exchange_->respond(std::move(response));
      return release();
    }
    if (!error_.isOk()) {
      exchange_->write(sseEvent(errorJson(httpStatusFor(error_.code()), error_.message())));
    }
    if (plan_.options.include_usage) {
      json chunk = envelope(plan_.header, true);
      chunk["usage"] = usageJson(promptTokens(), completionTokens());
      exchange_->write(sseEvent(chunk));
    }
    freeSlot();
    exchange_->write(kSseDone);
    exchange_->endStream();
    record_->status.store(200);
    release();
  }

  void fail(const Status& status) {
    done_ = true;
    record_->status.store(httpStatusFor(status.code()));
    freeSlot();
    exchange_->respond(errorResponse(status));
    release();
  }

  void onClientGone() {
    cancelled_ = true;
    record_->cancelled.store(true);
    abortAll();
    // The aborted streams still finish; drain() then completes the job.
    scheduleDrain();
  }

  void abortAll() {
    for (const Part& part : parts_) {
      if (!part.done) part.engine->abort(part.request_id);
    }
  }

  // Gives back the replica leases and the admission slot. Done before the last bytes go out: a
  // client that has its answer may send the next request at once and must find the slot free.
  void freeSlot() {
    for (Part& part : parts_) part.lease.release();
    ticket_.release();
  }

  void release() {
    freeSlot();
    auto keep = std::move(self_);  // may destroy this job when the scope ends
  }

  GenerationPlan plan_;
  ServedModel& model_;
  const PromptCodec& codec_;
  AdmissionTicket ticket_;
  std::shared_ptr<Exchange> exchange_;
  std::shared_ptr<AccessRecord> record_;
  std::shared_ptr<GenerationJob> self_;  // keeps the job alive until finish()

  // Strand-only state.
  // One engine request: count samples of one prompt, its choices from
  // prompt_index * n + first_choice on.
  struct Part {
    size_t prompt_index = 0;
    size_t first_choice = 0;
    int count = 0;  // its n
    std::string request_id;
    ReplicaLease lease;              // released when its stream ends (or the answer is out)
    EngineClient* engine = nullptr;  // the lease's, kept for aborts after the release
    std::shared_ptr<RequestStream> stream;
    bool done = false;  // its stream has ended
  };
  std::vector<Part> parts_;
  std::vector<ChoiceState> choices_;
  std::vector<int> prompt_tokens_;
  std::vector<std::vector<PositionLogprobs>> prompt_logprobs_;
  Status error_;
  bool cancelled_ = false;
  bool done_ = false;

  std::atomic<bool> drain_scheduled_{false};
};

}  // namespace

void startGeneration(GenerationPlan plan, ServedModel& model, AdmissionTicket ticket,
                     std::shared_ptr<Exchange> exchange, std::shared_ptr<AccessRecord> record) {
  auto job = std::make_shared<GenerationJob>(std::move(plan), model, std::move(ticket),
                                             std::move(exchange), std::move(record));
  job->start();
}

}  // namespace manifold::gateway
