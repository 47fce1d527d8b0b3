#include "gateway/bench/request_func.h"

#include <nlohmann/json.hpp>

namespace manifold::bench {
namespace {

bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string stringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The text of choices[0] of a chunk: `text` for completions, `delta.content` (or
// `delta.reasoning_content`) for chat. Empty when the chunk carries none.
std::string chunkText(Endpoint endpoint, const nlohmann::json& choice) {
  if (!choice.is_object()) return "";
  if (endpoint == Endpoint::kCompletions) return stringField(choice, "text");
  auto delta = choice.find("delta");
  if (delta == choice.end() || !delta->is_object()) return "";
  return stringField(*delta, "reasoning_content") + stringField(*delta, "content");
}

}  // namespace

Result<Endpoint> endpointFromPath(std::string_view path) {
  if (endsWith(path, "/chat/completions")) return Endpoint::kChatCompletions;
  if (endsWith(path, "/completions")) return Endpoint::kCompletions;
  return invalidArgument("endpoint must end in /completions or /chat/completions: " +
                         std::string(path));
}

std::string buildRequestBody(Endpoint endpoint, const std::string& model,
                             const SampleRequest& sample, bool ignore_eos,
                             const RequestSampling& sampling) {
  nlohmann::json body = {{"model", model},
                         {"temperature", sampling.temperature.value_or(0.0)},
                         {"stream", true},
                         {"stream_options", {{"include_usage", true}}}};
  if (sampling.top_p) body["top_p"] = *sampling.top_p;
  if (sampling.top_k) body["top_k"] = *sampling.top_k;
  if (sampling.min_p) body["min_p"] = *sampling.min_p;
  if (sampling.frequency_penalty) body["frequency_penalty"] = *sampling.frequency_penalty;
  if (sampling.presence_penalty) body["presence_penalty"] = *sampling.presence_penalty;
  if (sampling.repetition_penalty) body["repetition_penalty"] = *sampling.repetition_penalty;
  if (endpoint == Endpoint::kCompletions) {
    body["prompt"] = sample.prompt;
    body["max_tokens"] = sample.expected_output_len;
  } else {
    body["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", sample.prompt}}});
    body["max_completion_tokens"] = sample.expected_output_len;
  }
  if (ignore_eos) body["ignore_eos"] = true;
  return body.dump();
}

StreamAccumulator::StreamAccumulator(Endpoint endpoint, double start_s, int prompt_len)
    : endpoint_(endpoint) {
  result_.start_s = start_s;
  result_.prompt_len = prompt_len;
}

void StreamAccumulator::onEvent(std::string_view data, double timestamp_s) {
  if (data == "[DONE]" || data.empty()) return;
  const auto chunk = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (chunk.is_discarded() || !chunk.is_object()) {
    if (stream_error_.empty()) stream_error_ = "malformed SSE data: " + std::string(data);
    return;
  }
  if (auto error = chunk.find("error"); error != chunk.end()) {
    if (stream_error_.empty()) {
      stream_error_ = error->is_object() && error->contains("message") ? error->at("message").dump()
                                                                       : error->dump();
    }
    return;
  }
  if (auto choices = chunk.find("choices");
      choices != chunk.end() && choices->is_array() && !choices->empty()) {
    const nlohmann::json& choice = choices->front();
    const std::string text = chunkText(endpoint_, choice);
    // A chunk counts as a token when it carries text, or when it is a token chunk whose text is
    // empty (vLLM's server streams those for tokens that add no text yet, and vLLM's client times
    // them). A chat role chunk counts only if it carries text; a finish chunk without text only
    // when nothing came before it (a stream whose tokens all decoded to no text still succeeded).
    const auto finish = choice.find("finish_reason");
    const bool finishes = finish != choice.end() && !finish->is_null();
    bool empty_token_chunk = false;
    if (!finishes && choice.is_object()) {
      if (endpoint_ == Endpoint::kCompletions) {
        empty_token_chunk = choice.contains("text") && choice["text"].is_string();
      } else if (auto delta = choice.find("delta"); delta != choice.end() && delta->is_object()) {
        empty_token_chunk = !delta->contains("role") && delta->contains("content") &&
                            (*delta)["content"].is_string();
      }
    }
    if (!text.empty() || empty_token_chunk || (finishes && token_chunks_ == 0)) {
      if (token_chunks_ == 0) {
        result_.ttft_s = timestamp_s - result_.start_s;
      } else {
        result_.itl_s.push_back(timestamp_s - last_token_time_s_);
      }
      ++token_chunks_;
      last_token_time_s_ = timestamp_s;
      result_.chunk_times_s.push_back(timestamp_s);
      result_.generated_text += text;
    }
  }
  if (auto usage = chunk.find("usage"); usage != chunk.end() && usage->is_object()) {
    auto completion = usage->find("completion_tokens");
    if (completion != usage->end() && completion->is_number_integer()) {
      result_.output_tokens = completion->get<int>();
      have_usage_ = true;
    }
  }
}

RequestResult StreamAccumulator::finish(const std::string& transport_error) {
  if (!have_usage_) result_.output_tokens = token_chunks_;
  if (!transport_error.empty()) {
    result_.error = transport_error;
  } else if (!stream_error_.empty()) {
    result_.error = stream_error_;
  } else if (token_chunks_ == 0) {
    result_.error = "never received a token chunk to calculate TTFT";
  } else {
    result_.success = true;
    result_.latency_s = last_token_time_s_ - result_.start_s;
  }
  return std::move(result_);
}

}  // namespace manifold::bench
