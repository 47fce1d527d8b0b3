#include "gateway/api/handlers.h"

#include <string>
#include <utility>

#include "common/utf8.h"
#include "gateway/api/api_error.h"
#include "gateway/api/generation.h"
#include "gateway/api/openai_request.h"
#include "gateway/api/tool_calls.h"

namespace manifold::gateway {
namespace {

using json = nlohmann::json;

int vocabSize(const ServedModel& model) {
  return model.info().vocab_size > 0 ? model.info().vocab_size : model.codec().vocabSize();
}

Status checkTokenIds(const std::vector<int32_t>& ids, int vocab_size, const char* field) {
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size) {
      return invalidArgument(std::string("`") + field + "` holds the token id " +
                             std::to_string(id) + ", which is outside the vocabulary of " +
                             std::to_string(vocab_size) + " tokens");
    }
  }
  return Status::ok();
}

// vLLM's wording, so that clients that parse it keep working. Sets max_tokens when it was not
// given.
Status fitContext(int64_t prompt_len, SamplingParams& params, int max_model_len) {
  const std::string limit = "This model's maximum context length is " +
                            std::to_string(max_model_len) + " tokens. However, you requested ";
  if (prompt_len >= max_model_len) {
    return invalidArgument(limit + std::to_string(prompt_len) +
                           " tokens in the messages, Please reduce the length of the messages.");
  }
  if (!params.max_tokens) {
    params.max_tokens = static_cast<int>(max_model_len - prompt_len);
    return Status::ok();
  }
  int64_t total = prompt_len + *params.max_tokens;
  if (total > max_model_len) {
    return invalidArgument(limit + std::to_string(total) + " tokens (" +
                           std::to_string(prompt_len) + " in the messages, " +
                           std::to_string(*params.max_tokens) +
                           " in the completion). Please reduce the length of the messages or "
                           "completion.");
  }
  return Status::ok();
}

// vLLM's bad_words as token ids (SamplingParams.update_from_tokenizer): each word without and
// with a leading space, the second kept only when it is another word of as many tokens.
Status tokenizeBadWords(const PromptCodec& codec, GenerationOptions& options) {
  constexpr size_t kMaxTokens = 16384;  // over all words, as tokenized
  size_t total = 0;
  auto& out = options.params.bad_words_token_ids;
  for (const std::string& word : options.bad_words) {
    // Python's word.lstrip(), as vLLM strips them: Unicode whitespace too.
    const std::string stripped(utf8::lstripPythonSpace(word));
    std::vector<int32_t> plain = codec.encode(stripped, false);
    if (plain.empty()) continue;
    std::vector<int32_t> spaced = codec.encode(" " + stripped, false);
    const bool keep_spaced =
        !spaced.empty() && spaced.front() != plain.front() && spaced.size() == plain.size();
    total += plain.size() * (keep_spaced ? 2 : 1);
    out.push_back(std::move(plain));
    if (keep_spaced) out.push_back(std::move(spaced));
    if (total > kMaxTokens) {
      return invalidArgument("`bad_words` encode to more than " + std::to_string(kMaxTokens) +
                             " tokens");
    }
  }
  return Status::ok();
}

// vLLM's truncate_prompt_tokens: the prompt's last N tokens (-1: max_model_len of them).
void truncatePrompt(const std::optional<int>& keep, int max_model_len, std::vector<int32_t>& ids) {
  if (!keep) return;
  const size_t limit = static_cast<size_t>(*keep == -1 ? max_model_len : *keep);
  if (ids.size() > limit) ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(limit));
}

// The request's parameters that need the model: bad words become token ids, then every sampling
// parameter is checked against its vocabulary.
Status prepareOptions(const ServedModel& model, GenerationOptions& options) {
  RETURN_IF_ERROR(tokenizeBadWords(model.codec(), options));
  const int max_model_len = model.info().max_model_len;
  if (options.truncate_prompt_tokens && *options.truncate_prompt_tokens > max_model_len) {
    // As vLLM: a truncation longer than the context is a mistake, not a no-op.
    return invalidArgument(
        "`truncate_prompt_tokens` (" + std::to_string(*options.truncate_prompt_tokens) +
        ") cannot be greater than max_model_len (" + std::to_string(max_model_len) + ")");
  }
  return options.params.validate(vocabSize(model));
}

void rejectTooLong(RequestContext& ctx, const ServedModel& model, const Status& status) {
  if (ctx.hooks != nullptr && ctx.hooks->rejected) ctx.hooks->rejected(model.id(), "too_long");
  respondError(ctx, status);
}

// Admits and starts a prepared generation; answers 429 when the model's queue is full.
void admitAndStart(RequestContext& ctx, GenerationPlan plan, ServedModel& model) {
  auto ticket = model.admission().tryAdmit(model.id());
  if (!ticket.isOk()) {
    if (ctx.hooks != nullptr && ctx.hooks->rejected) ctx.hooks->rejected(model.id(), "queue_full");
    return respondError(ctx, ticket.status());
  }
  if (ctx.hooks != nullptr && ctx.hooks->routed) {
    plan.on_routed = [hooks = ctx.hooks, id = model.id()](const std::string& engine) {
      hooks->routed(id, engine);
    };
  }
  startGeneration(std::move(plan), model, std::move(ticket).value(), ctx.exchange, ctx.record);
}

Result<std::vector<int32_t>> renderAndEncode(const ServedModel& model,
                                             const nlohmann::ordered_json& messages,
                                             const nlohmann::ordered_json& template_options,
                                             bool add_special_tokens, std::string* rendered) {
  ASSIGN_OR_RETURN(*rendered, model.codec().renderChat(messages, template_options));
  return model.codec().encode(*rendered, add_special_tokens);
}

}  // namespace

void respondError(RequestContext& ctx, const Status& status) {
  HttpResponse response = errorResponse(status);
  ctx.record->status.store(response.status);
  ctx.exchange->respond(std::move(response));
}

void handleCompletions(RequestContext& ctx, const nlohmann::ordered_json& body,
                       ServedModel& model) {
  auto parsed = parseCompletionsRequest(body);
  if (!parsed.isOk()) return respondError(ctx, parsed.status());
  CompletionsRequest& request = parsed.value();
  const int vocab = vocabSize(model);
  Status valid = prepareOptions(model, request.options);
  if (!valid.isOk()) return respondError(ctx, valid);

  GenerationPlan plan;
  plan.header = {ApiKind::kCompletion, newResponseId(ApiKind::kCompletion), request.options.model,
                 unixNow()};
  plan.echo = request.echo;
  plan.echo_only = request.echo_only;
  // The prompt is echoed as text unless return_token_ids, whose prompt_token_ids stand for it
  // (vLLM).
  const bool echo_text = request.echo && !request.options.return_token_ids;
  for (const PromptInput& input : request.prompts) {
    PreparedPrompt prompt;
    if (const auto* text = std::get_if<std::string>(&input)) {
      prompt.token_ids = model.codec().encode(*text, request.add_special_tokens);
      prompt.text = *text;
    } else {
      prompt.token_ids = std::get<std::vector<int32_t>>(input);
      Status ids_ok = checkTokenIds(prompt.token_ids, vocab, "prompt");
      if (!ids_ok.isOk()) return respondError(ctx, ids_ok);
      if (echo_text) prompt.text = model.codec().decode(prompt.token_ids, false);
    }
    if (prompt.token_ids.empty()) {
      return respondError(ctx, invalidArgument("`prompt` encodes to no tokens"));
    }
    const size_t full_length = prompt.token_ids.size();
    truncatePrompt(request.options.truncate_prompt_tokens, model.info().max_model_len,
                   prompt.token_ids);
    if (echo_text && prompt.token_ids.size() != full_length) {
      prompt.text = model.codec().decode(prompt.token_ids, false);  // what the model saw
    }
    SamplingParams params = request.options.params;
    Status fits = fitContext(static_cast<int64_t>(prompt.token_ids.size()), params,
                             model.info().max_model_len);
    if (!fits.isOk()) return rejectTooLong(ctx, model, fits);
    plan.prompts.push_back(std::move(prompt));
  }
  plan.options = std::move(request.options);
  admitAndStart(ctx, std::move(plan), model);
}

void handleChatCompletions(RequestContext& ctx, const nlohmann::ordered_json& body,
                           ServedModel& model) {
  auto parsed = parseChatRequest(body);
  if (!parsed.isOk()) return respondError(ctx, parsed.status());
  ChatRequest& request = parsed.value();
  Status valid = prepareOptions(model, request.options);
  if (!valid.isOk()) return respondError(ctx, valid);
  // As vLLM (tools with tool_choice "auto", given or by default): answers can only be read for
  // calls with a parser; agent clients take this 400 as "no tool support here".
  if (request.wants_tool_calls && model.options().tool_call_parser.empty()) {
    return respondError(ctx, invalidArgument("\"auto\" tool choice requires "
                                             "--enable-auto-tool-choice and --tool-call-parser to "
                                             "be set"));
  }

  PreparedPrompt prompt;
  auto ids = renderAndEncode(model, request.messages, request.template_options,
                             request.add_special_tokens, &prompt.text);
  if (!ids.isOk()) return respondError(ctx, ids.status());
  prompt.token_ids = std::move(ids).value();
  if (prompt.token_ids.empty()) {
    return respondError(ctx, invalidArgument("`messages` render to an empty prompt"));
  }
  truncatePrompt(request.options.truncate_prompt_tokens, model.info().max_model_len,
                 prompt.token_ids);
  Status fits = fitContext(static_cast<int64_t>(prompt.token_ids.size()), request.options.params,
                           model.info().max_model_len);
  if (!fits.isOk()) return rejectTooLong(ctx, model, fits);

  GenerationPlan plan;
  plan.header = {ApiKind::kChat, newResponseId(ApiKind::kChat), request.options.model, unixNow()};
  plan.chat_logprobs = request.logprobs;
  if (request.wants_tool_calls) {
    plan.tool_call_format = toolCallFormatNamed(model.options().tool_call_parser);
    // [TOOL_CALLS] is a special token: keep it in the text the parser reads (as vLLM's
    // MistralToolParser.adjust_request does).
    if (plan.tool_call_format == ToolCallFormat::kMistral) {
      request.options.params.skip_special_tokens = false;
    }
  }
  if (request.forced_tool || request.tool_required) {
    plan.forced_tool = request.forced_tool;
    plan.tool_required = request.tool_required;
    plan.tool_call_ids =
        toolCallFormatNamed(model.options().tool_call_parser).value_or(ToolCallFormat::kHermes);
  }
  plan.prompts.push_back(std::move(prompt));
  plan.options = std::move(request.options);
  admitAndStart(ctx, std::move(plan), model);
}

void handleTokenize(RequestContext& ctx, const nlohmann::ordered_json& body, ServedModel& model) {
  auto parsed = parseTokenizeRequest(body);
  if (!parsed.isOk()) return respondError(ctx, parsed.status());
  const TokenizeRequest& request = parsed.value();
  std::vector<int32_t> ids;
  if (request.prompt) {
    ids = model.codec().encode(*request.prompt, request.add_special_tokens);
  } else {
    std::string rendered;
    auto encoded = renderAndEncode(model, request.messages, request.template_options,
                                   request.add_special_tokens, &rendered);
    if (!encoded.isOk()) return respondError(ctx, encoded.status());
    ids = std::move(encoded).value();
  }
  json result = {{"count", ids.size()},
                 {"max_model_len", model.info().max_model_len},
                 {"tokens", ids},
                 {"token_strs", nullptr}};
  if (request.return_token_strs) {
    json strs = json::array();
    // vLLM's token_strs: convert_ids_to_tokens, the vocabulary entries (lossless, unlike the
    // decoded text of a byte token).
    for (int32_t id : ids) strs.push_back(model.codec().tokenPiece(id));
    result["token_strs"] = std::move(strs);
  }
  HttpResponse response;
  response.body = dumpJson(result);
  ctx.record->status.store(200);
  ctx.exchange->respond(std::move(response));
}

void handleDetokenize(RequestContext& ctx, const nlohmann::ordered_json& body, ServedModel& model) {
  auto parsed = parseDetokenizeRequest(body);
  if (!parsed.isOk()) return respondError(ctx, parsed.status());
  Status ids_ok = checkTokenIds(parsed->tokens, vocabSize(model), "tokens");
  if (!ids_ok.isOk()) return respondError(ctx, ids_ok);
  HttpResponse response;
  response.body = dumpJson(json{{"prompt", model.codec().decode(parsed->tokens, false)}});
  ctx.record->status.store(200);
  ctx.exchange->respond(std::move(response));
}

}  // namespace manifold::gateway
