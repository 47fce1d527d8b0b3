// Tool calls in chat answers, in the formats of vLLM's `--tool-call-parser`:
// - hermes (Hermes, Qwen2.5): each call is a JSON object with "name" and "arguments" inside
//   <tool_call></tool_call> tags; the text before the first call is the message content.
// - llama3_json (Llama 3.1-3.3 JSON tool calling): the whole answer is one or more JSON objects
//   with "name" and "parameters" ("arguments" also read), joined by ";" (Llama 3.2 writes "; "),
//   optionally after <|python_tag|>. There is no content beside them. As vLLM's parser that tests
//   the answer's start (startswith + raw_decode), not the later one that searches it anywhere.
// - mistral (Mistral v0.3 tokenizers): [TOOL_CALLS] and a JSON array of objects with "name" and
//   "arguments"; the text before the tag is the content. [TOOL_CALLS] is a special token, so
//   answers read for it are decoded with special tokens kept (as vLLM's adjust_request does),
//   and the calls get the 9-character alphanumeric ids Mistral's chat templates require.
//
// An answer whose calls do not parse is plain content, as in vLLM; for mistral the tags are taken
// out of it (vLLM's tool_content), since the user never asked for special tokens. Where vLLM's
// parsers raise and fall back to plain content, these are more lenient in three ways, each
// tested: a call without arguments (or with null) gets "{}"; string arguments are passed on as
// written, not JSON-encoded again; and mistral also takes a single object instead of an array.
// They are stricter in one: text after a mistral array makes the answer plain content, where
// vLLM's regex keeps the calls and drops that text.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace manifold::gateway {

enum class ToolCallFormat { kHermes, kLlama3Json, kMistral };

// Header-only, so that the config library checks names without linking the API library.
inline constexpr std::array<std::string_view, 3> kToolCallFormatNames = {"hermes", "llama3_json",
                                                                         "mistral"};

// The format of a --tool-call-parser name, or nullopt for one this server does not know.
[[nodiscard]] constexpr std::optional<ToolCallFormat> toolCallFormatNamed(std::string_view name) {
  for (size_t i = 0; i < kToolCallFormatNames.size(); ++i) {
    if (kToolCallFormatNames[i] == name) return static_cast<ToolCallFormat>(i);
  }
  return std::nullopt;
}

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // a JSON text, as OpenAI sends `function.arguments`
};

struct ParsedToolCalls {
  std::optional<std::string> content;  // nullopt: no text besides the calls
  std::vector<ParsedToolCall> calls;   // empty: `content` is the whole answer
};

// Splits a finished answer.
[[nodiscard]] ParsedToolCalls parseToolCalls(ToolCallFormat format, std::string_view text);

// tool_choice "required" (as vLLM): the answer is a JSON array of {"name", "parameters"} objects,
// which the grammar keeps to (requiredToolCallsSchema). The calls, or nullopt when the answer is
// not such an array (cut short by max_tokens).
[[nodiscard]] std::optional<std::vector<ParsedToolCall>> parseRequiredToolCalls(
    std::string_view text);
// The JSON Schema of that array for these tools (OpenAI's `tools` list): at least one call, each
// naming one of the functions with its parameters. Each function's $defs move to the top level
// (the grammar resolves "#/$defs/..." from there). Errors: a function without a name, two
// functions' $defs of one name that differ, a "$ref": "#" (it would mean the array).
[[nodiscard]] Result<nlohmann::ordered_json> requiredToolCallsSchema(
    const nlohmann::ordered_json& tools);

// A streamed answer read for tool calls. Text that cannot be part of a call goes out as it
// arrives; from where a call may begin (a prefix of a tag, or for llama3_json an answer not yet
// begun) it is held back until more text decides it, and from where a call certainly begins until
// the answer ends and is parsed whole. The content sent over the stream plus finish()'s content
// equals parseToolCalls' content; nothing of a call is ever sent as content.
class ToolCallStream {
 public:
  explicit ToolCallStream(ToolCallFormat format) : format_(format) {}

  // Appends generated text; returns the content that may be sent now (possibly empty).
  [[nodiscard]] std::string append(std::string_view delta);

  // The answer ended: its calls (content: nullopt) or, when it has none, the content held back.
  [[nodiscard]] ParsedToolCalls finish() const;

  // Some text is held back as (possibly) part of a call.
  [[nodiscard]] bool holding() const { return !unsent_.empty(); }

 private:
  ToolCallFormat format_;
  std::string unsent_;     // the answer after what append() returned as content
  bool sent_any_ = false;  // some content was returned (llama3_json: the answer is plain)
  bool call_started_ = false;
};

// A new call id: "chatcmpl-tool-" and 32 hex digits, or 9 alphanumerics for mistral.
[[nodiscard]] std::string newToolCallId(ToolCallFormat format);

}  // namespace manifold::gateway
