// Tool calls in chat answers, read as vLLM's `--tool-call-parser` reads them. Three formats:
// - hermes (Hermes, Qwen2.5): each call is <tool_call>{"name": ..., "arguments":
// {...}}</tool_call>;
//   the text before the first call is the message content.
// - llama3_json (Llama 3.1-3.3 JSON tool calling): the whole answer is one or more
//   {"name": ..., "parameters": {...}} objects ("arguments" also accepted), joined by "; ",
//   optionally after <|python_tag|>. There is no content beside them.
// - mistral (Mistral v0.3 tokenizers): [TOOL_CALLS] then a JSON array of
//   {"name": ..., "arguments": {...}}; the text before the tag is the content. [TOOL_CALLS] is a
//   special token, so answers read for it are decoded with special tokens kept, and the calls get
//   the 9-character alphanumeric ids Mistral's chat templates require.
// A call that does not parse makes the whole answer plain content, as in vLLM.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace manifold::gateway {

enum class ToolCallFormat { kHermes, kLlama3Json, kMistral };

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
  std::vector<ParsedToolCall> calls;   // empty: `content` is the whole text
};

// Splits a finished answer.
[[nodiscard]] ParsedToolCalls parseToolCalls(ToolCallFormat format, std::string_view text);

// Streaming. `unsent` is the answer after the bytes already sent as content (all plain);
// `at_answer_start` says that nothing was sent yet. Returns how many leading bytes of `unsent`
// are plain content for certain, and whether the rest certainly begins a tool call (then nothing
// more is content until the answer ends and is parsed whole). Bytes neither plain nor a call yet
// (a prefix of a call's tag) are held back until more text decides them.
struct StreamSplit {
  size_t plain = 0;
  bool call_started = false;
};
[[nodiscard]] StreamSplit splitStreamedContent(ToolCallFormat format, std::string_view unsent,
                                               bool at_answer_start);

// A new call id: "chatcmpl-tool-" and 32 hex digits, or 9 alphanumerics for mistral.
[[nodiscard]] std::string newToolCallId(ToolCallFormat format);

}  // namespace manifold::gateway
