// OpenAI (and vLLM-extra) request bodies parsed into internal types. Only shapes and ranges that
// need no model are checked here; prompt lengths and token ids are checked once the model's
// codec and limits are known. Unknown fields are ignored, as vLLM does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/json_depth.h"
#include "common/status.h"
#include "engine/sampling_params.h"

namespace manifold::gateway {

// A prompt as given: text, or token ids.
using PromptInput = std::variant<std::string, std::vector<int32_t>>;

// Fields shared by /v1/completions and /v1/chat/completions.
struct GenerationOptions {
  std::string model;
  SamplingParams params;  // max_tokens unset when the client gave none
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // vLLM's stream_options.continuous_usage_stats (with include_usage): every chunk carries the
  // usage so far.
  bool continuous_usage = false;
  int priority = 0;            // vLLM extra; lower runs first
  // vLLM's prompt_logprobs was given: the answer lists them (params.prompt_logprobs may also be
  // set without it, for completions' echo with logprobs).
  bool return_prompt_logprobs = false;
  // vLLM's return_tokens_as_token_ids: logprobs name tokens "token_id:N" (for tokens that are
  // not whole UTF-8 text).
  bool tokens_as_ids = false;
  // vLLM's return_token_ids: answers carry prompt_token_ids and each choice's token_ids.
  bool return_token_ids = false;
  // vLLM's bad_words, tokenized into params.bad_words_token_ids once the model is known.
  std::vector<std::string> bad_words;
  // vLLM's truncate_prompt_tokens: keep the prompt's last N tokens; -1: max_model_len of them.
  std::optional<int> truncate_prompt_tokens;
};

struct CompletionsRequest {
  GenerationOptions options;
  std::vector<PromptInput> prompts;  // one choice group (n sequences) per prompt
  bool echo = false;
  // echo with max_tokens 0 (OpenAI's and vLLM's way to score a prompt): the answer is the prompt
  // and, with logprobs, its logprobs. The engine runs it with max_tokens 1 (the prompt's logprobs
  // come with its prefill) and the token it draws is dropped.
  bool echo_only = false;
  bool add_special_tokens = true;
};

struct ChatRequest {
  GenerationOptions options;
  // Both keep the request's key order (see PromptCodec::renderChat).
  nlohmann::ordered_json messages;  // validated; content flattened to strings for the template
  nlohmann::ordered_json template_options;  // add_generation_prompt, tools, ...
  bool logprobs = false;                    // params.logprobs holds top_logprobs when set
  bool add_special_tokens = false;
  bool wants_tool_calls = false;  // tools given and tool_choice not "none" or a named function
  // tool_choice naming a function: its name; options.params.json_schema holds its parameters.
  std::optional<std::string> forced_tool;
  // tool_choice "required": options.params.json_schema holds the array-of-calls schema.
  bool tool_required = false;
};

struct TokenizeRequest {
  std::string model;
  std::optional<std::string> prompt;
  nlohmann::ordered_json messages;  // null unless the chat form was used
  nlohmann::ordered_json template_options;
  bool add_special_tokens = true;
  bool return_token_strs = false;
};

struct DetokenizeRequest {
  std::string model;
  std::vector<int32_t> tokens;
};

// kMaxJsonDepth, scanJsonBrackets and nestedTooDeep (common/json_depth.h): copying and dumping
// a json value recurse once per level; deeper text could overflow the stack.
using manifold::kMaxJsonDepth;
using manifold::nestedTooDeep;
using manifold::scanJsonBrackets;

// Parses a request body; errors say what is wrong with the JSON. Objects keep the body's key
// order, which chat templates can show (`tools | tojson`).
[[nodiscard]] Result<nlohmann::ordered_json> parseJsonBody(std::string_view body);

[[nodiscard]] Result<CompletionsRequest> parseCompletionsRequest(
    const nlohmann::ordered_json& body);
[[nodiscard]] Result<ChatRequest> parseChatRequest(const nlohmann::ordered_json& body);
[[nodiscard]] Result<TokenizeRequest> parseTokenizeRequest(const nlohmann::ordered_json& body);
[[nodiscard]] Result<DetokenizeRequest> parseDetokenizeRequest(const nlohmann::ordered_json& body);

}  // namespace manifold::gateway
