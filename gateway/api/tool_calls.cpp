#include "gateway/api/tool_calls.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "gateway/api/openai_request.h"

namespace manifold::gateway {
namespace {

constexpr std::string_view kStart = kHermesCallStart;
constexpr std::string_view kEnd = "</tool_call>";

// One call's JSON, or nullopt when it is not {"name": string, "arguments": ...}.
std::optional<ParsedToolCall> parseCall(std::string_view body) {
  if (nestedTooDeep(body)) return std::nullopt;  // model output is not depth-checked elsewhere
  const auto call = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (call.is_discarded() || !call.is_object()) return std::nullopt;
  const auto name = call.find("name");
  if (name == call.end() || !name->is_string()) return std::nullopt;
  ParsedToolCall out;
  out.name = name->get<std::string>();
  const auto arguments = call.find("arguments");
  if (arguments == call.end() || arguments->is_null()) {
    out.arguments = "{}";
  } else if (arguments->is_string()) {
    out.arguments = arguments->get<std::string>();
  } else {
    out.arguments = arguments->dump();
  }
  return out;
}

}  // namespace

ParsedToolCalls parseHermesToolCalls(std::string_view text) {
  ParsedToolCalls plain;
  plain.content = std::string(text);
  const size_t first = text.find(kStart);
  if (first == std::string_view::npos) return plain;
  ParsedToolCalls out;
  size_t at = first;
  while (at != std::string_view::npos) {
    const size_t body = at + kStart.size();
    const size_t end = text.find(kEnd, body);
    const std::string_view block =
        text.substr(body, end == std::string_view::npos ? std::string_view::npos : end - body);
    std::optional<ParsedToolCall> call = parseCall(block);
    if (!call) return plain;
    out.calls.push_back(std::move(*call));
    if (end == std::string_view::npos) break;
    at = text.find(kStart, end + kEnd.size());
  }
  if (first > 0) out.content = std::string(text.substr(0, first));
  return out;
}

size_t hermesContentPrefix(std::string_view text) {
  const size_t start = text.find(kStart);
  if (start != std::string_view::npos) return start;
  // Hold back a tail that could still grow into "<tool_call>".
  for (size_t keep = std::min(text.size(), kStart.size() - 1); keep > 0; --keep) {
    if (text.substr(text.size() - keep) == kStart.substr(0, keep)) return text.size() - keep;
  }
  return text.size();
}

}  // namespace manifold::gateway
