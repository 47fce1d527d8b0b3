// JSON shapes of OpenAI responses built from engine output: logprobs objects, usage, and the
// envelope of completion / chat responses and stream chunks.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/request_output.h"
#include "routing/prompt_codec.h"

namespace manifold::gateway {

enum class ApiKind { kCompletion, kChat };

// Common envelope fields of one response.
struct ResponseHeader {
  ApiKind kind = ApiKind::kCompletion;
  std::string id;     // "cmpl-..." or "chatcmpl-..."
  std::string model;  // as the client named it
  int64_t created = 0;
};

// "cmpl-" / "chatcmpl-" followed by 32 random hex digits.
[[nodiscard]] std::string newResponseId(ApiKind kind);
// `prefix` followed by 32 random hex digits (response and tool-call ids).
[[nodiscard]] std::string newId(std::string_view prefix);
[[nodiscard]] int64_t unixNow();

// {"id", "object", "created", "model", "choices": []}; object is text_completion,
// chat.completion or chat.completion.chunk.
[[nodiscard]] nlohmann::ordered_json envelope(const ResponseHeader& header, bool chunk);
[[nodiscard]] nlohmann::ordered_json usageJson(int prompt_tokens, int completion_tokens);

// The text `id` adds after `previous` (the few ids before it), so that sentencepiece's leading
// space and multi-token characters come out as they do in the full text.
[[nodiscard]] std::string tokenTextInContext(const PromptCodec& codec,
                                             std::span<const int32_t> previous, int32_t id);

// Logprobs in the completions shape {tokens, token_logprobs, top_logprobs, text_offset}.
// tokens_as_ids: tokens are named "token_id:N" (vLLM's return_tokens_as_token_ids), here and in
// chatLogprobs.
// `context` holds the ids before token_ids[0] (the prompt, earlier output).
// `prompt_positions` leading entries (echoed prompt) may lack a logprob (the first one does).
// `text_offset_start` is where the first token's text begins in the choice's text, in code
// points.
[[nodiscard]] nlohmann::ordered_json completionLogprobs(
    const PromptCodec& codec, std::span<const int32_t> context,
    const std::vector<int32_t>& token_ids, const std::vector<PositionLogprobs>& logprobs,
    const std::vector<bool>& has_logprob, size_t text_offset_start, bool tokens_as_ids = false);
// Logprobs in the chat shape {"content": [{token, logprob, bytes, top_logprobs}], "refusal"}.
[[nodiscard]] nlohmann::ordered_json chatLogprobs(const PromptCodec& codec,
                                                  std::span<const int32_t> context,
                                                  const std::vector<PositionLogprobs>& logprobs,
                                                  bool tokens_as_ids = false);

// vLLM's prompt_logprobs of one prompt: null for its first token, then per token an object of
// token id (as text) -> {"logprob", "rank", "decoded_token"} holding the prompt's own token and
// the top alternatives. `logprobs` covers the prompt's last logprobs.size()
// tokens (the engine reports from the second on).
[[nodiscard]] nlohmann::ordered_json promptLogprobsJson(
    const PromptCodec& codec, std::span<const int32_t> prompt_ids,
    const std::vector<PositionLogprobs>& logprobs);

// The OpenAI finish_reason for an engine's.
[[nodiscard]] const char* finishReasonText(FinishReason reason);

// "data: <json>\n\n" and the terminator.
[[nodiscard]] std::string sseEvent(const nlohmann::ordered_json& value);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

}  // namespace manifold::gateway
