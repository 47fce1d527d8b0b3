// Tool calls in chat answers, as vLLM's `--tool-call-parser hermes` reads them: the model writes
// each call as <tool_call>{"name": ..., "arguments": {...}}</tool_call> (Hermes, Qwen2.5 and
// their chat templates). The text before the first call is the message content.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace manifold::gateway {

inline constexpr std::string_view kHermesCallStart = "<tool_call>";

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // a JSON text, as OpenAI sends `function.arguments`
};

struct ParsedToolCalls {
  std::optional<std::string> content;  // nullopt: no text besides the calls
  std::vector<ParsedToolCall> calls;   // empty: `content` is the whole text
};

// Splits a finished answer. A call block that is not JSON with a string "name" makes the whole
// text plain content (as vLLM does). An unclosed last block counts if its JSON is complete.
[[nodiscard]] ParsedToolCalls parseHermesToolCalls(std::string_view text);

// Streaming: how much of `text` (an answer so far) is plain content for certain; the rest may
// be, or may begin, a tool call and is held back until the answer ends.
[[nodiscard]] size_t hermesContentPrefix(std::string_view text);

}  // namespace manifold::gateway
