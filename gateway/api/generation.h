// Runs one /v1/completions or /v1/chat/completions request on a local model: submits one engine
// request per prompt, follows their streams on the connection's strand, and answers with one JSON
// response or an SSE stream. A client that goes away aborts the engine requests (their KV blocks
// are freed).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/api/access_log.h"
#include "gateway/api/openai_request.h"
#include "gateway/api/openai_response.h"
#include "gateway/api/tool_calls.h"
#include "gateway/http/http_message.h"
#include "routing/admission.h"
#include "routing/served_model.h"

namespace manifold::gateway {

struct PreparedPrompt {
  std::vector<int32_t> token_ids;
  std::string text;  // the prompt's text, for echo
};

struct GenerationPlan {
  ResponseHeader header;
  GenerationOptions options;  // params.max_tokens is set (checked against the context length)
  std::vector<PreparedPrompt> prompts;
  bool echo = false;           // completions: prefix each choice with its prompt
  bool echo_only = false;      // completions' echo with max_tokens 0: the prompt alone
  bool chat_logprobs = false;  // chat: logprobs were asked for
  // Chat: read the answers for tool calls in this format; nullopt: they are plain text.
  std::optional<ToolCallFormat> tool_call_format;
  // Chat with a named tool_choice: the answer is this function's arguments (the engine keeps it
  // to the parameters schema) and goes out as one call to it, with ids in tool_call_ids' style.
  std::optional<std::string> forced_tool;
  // Chat with tool_choice "required": the answer is a JSON array of calls (the engine keeps it to
  // their schema), sent as tool_calls once whole; streamed, held back until then.
  bool tool_required = false;
  ToolCallFormat tool_call_ids = ToolCallFormat::kHermes;
  // Told which replica ("replica-N") each engine request went to (metrics); may be empty.
  std::function<void(const std::string& engine)> on_routed;
};

// Starts the request; it then lives until its answer is complete or the client is gone.
// REQUIRES: on the exchange's strand; model is local and ready and outlives the request.
void startGeneration(GenerationPlan plan, ServedModel& model, AdmissionTicket ticket,
                     std::shared_ptr<Exchange> exchange, std::shared_ptr<AccessRecord> record);

}  // namespace manifold::gateway
