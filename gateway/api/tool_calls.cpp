#include "gateway/api/tool_calls.h"

#include <algorithm>
#include <random>
#include <utility>

#include <nlohmann/json.hpp>

#include "gateway/api/openai_request.h"
#include "gateway/api/openai_response.h"

namespace manifold::gateway {
namespace {

using json = nlohmann::json;

constexpr std::string_view kHermesStart = "<tool_call>";
constexpr std::string_view kHermesEnd = "</tool_call>";
constexpr std::string_view kPythonTag = "<|python_tag|>";
constexpr std::string_view kMistralTag = "[TOOL_CALLS]";

// Model output is not depth-checked elsewhere: parse it only when shallow enough.
json parseModelJson(std::string_view text) {
  if (nestedTooDeep(text)) return json(json::value_t::discarded);
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

// One call, or nullopt when `call` is not {"name": string, ...}. The arguments are read from
// "arguments", or from "parameters" where `parameters_key` (Llama 3's name for them).
std::optional<ParsedToolCall> callFrom(const json& call, bool parameters_key) {
  if (!call.is_object()) return std::nullopt;
  const auto name = call.find("name");
  if (name == call.end() || !name->is_string()) return std::nullopt;
  ParsedToolCall out;
  out.name = name->get<std::string>();
  auto arguments = call.find("arguments");
  if (arguments == call.end() && parameters_key) arguments = call.find("parameters");
  if (arguments == call.end() || arguments->is_null()) {
    out.arguments = "{}";
  } else if (arguments->is_string()) {
    out.arguments = arguments->get<std::string>();
  } else {
    out.arguments = arguments->dump();
  }
  return out;
}

size_t skipSpace(std::string_view text, size_t at) {
  while (at < text.size() &&
         (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r')) {
    ++at;
  }
  return at;
}

// The end (one past the closing bracket) of the JSON object or array that opens at `at`, or npos
// when it does not close. The value is not validated.
size_t bracketedValueEnd(std::string_view text, size_t at) {
  return scanJsonBrackets(text, at, /*stop_when_closed=*/true).end;
}

ParsedToolCalls plainText(std::string_view text) { return {std::string(text), {}}; }

// A mistral answer without calls that parse, as content: its [TOOL_CALLS] tags taken out.
ParsedToolCalls mistralPlainText(std::string_view text) {
  std::string out;
  for (size_t at = 0; at <= text.size();) {
    const size_t tag = text.find(kMistralTag, at);
    out += text.substr(at, tag == std::string_view::npos ? std::string_view::npos : tag - at);
    if (tag == std::string_view::npos) break;
    at = tag + kMistralTag.size();
  }
  return {std::move(out), {}};
}

ParsedToolCalls parseHermes(std::string_view text) {
  const size_t first = text.find(kHermesStart);
  if (first == std::string_view::npos) return plainText(text);
  ParsedToolCalls out;
  size_t at = first;
  while (at != std::string_view::npos) {
    const size_t body = at + kHermesStart.size();
    const size_t end = text.find(kHermesEnd, body);
    // An unclosed last block counts if its JSON is complete (the answer hit max_tokens or a
    // stop string right after it).
    const std::string_view block =
        text.substr(body, end == std::string_view::npos ? std::string_view::npos : end - body);
    std::optional<ParsedToolCall> call = callFrom(parseModelJson(block), false);
    if (!call) return plainText(text);
    out.calls.push_back(std::move(*call));
    if (end == std::string_view::npos) break;
    at = text.find(kHermesStart, end + kHermesEnd.size());
  }
  if (first > 0) out.content = std::string(text.substr(0, first));
  return out;
}

// Objects joined by ";" (Llama 3.2 writes "; " between parallel calls), nothing else around.
ParsedToolCalls parseLlama3Json(std::string_view text) {
  size_t at = skipSpace(text, 0);
  if (text.substr(at).starts_with(kPythonTag)) at = skipSpace(text, at + kPythonTag.size());
  if (at == text.size() || text[at] != '{') return plainText(text);
  ParsedToolCalls out;
  while (at < text.size()) {
    if (text[at] != '{') return plainText(text);
    const size_t end = bracketedValueEnd(text, at);
    if (end == std::string_view::npos) return plainText(text);
    std::optional<ParsedToolCall> call = callFrom(parseModelJson(text.substr(at, end - at)), true);
    if (!call) return plainText(text);
    out.calls.push_back(std::move(*call));
    at = skipSpace(text, end);
    if (at < text.size() && text[at] == ';') at = skipSpace(text, at + 1);
  }
  return out;
}

// [TOOL_CALLS] and a JSON array of calls (or one call), repeated if the model repeats the tag.
ParsedToolCalls parseMistral(std::string_view text) {
  const size_t first = text.find(kMistralTag);
  if (first == std::string_view::npos) return mistralPlainText(text);
  ParsedToolCalls out;
  size_t at = first;
  while (at < text.size()) {
    if (!text.substr(at).starts_with(kMistralTag)) return mistralPlainText(text);
    at = skipSpace(text, at + kMistralTag.size());
    const size_t end = at < text.size() ? bracketedValueEnd(text, at) : std::string_view::npos;
    if (end == std::string_view::npos) return mistralPlainText(text);
    const json value = parseModelJson(text.substr(at, end - at));
    if (!value.is_array() && !value.is_object()) return mistralPlainText(text);
    for (const json& item : value.is_array() ? value : json::array({value})) {
      std::optional<ParsedToolCall> call = callFrom(item, false);
      if (!call) return mistralPlainText(text);
      out.calls.push_back(std::move(*call));
    }
    at = skipSpace(text, end);
  }
  if (out.calls.empty()) return mistralPlainText(text);
  if (first > 0) out.content = std::string(text.substr(0, first));
  return out;
}

// Of an answer's unsent text: how many leading bytes are plain content for certain, and whether
// the rest certainly begins a call.
struct StreamSplit {
  size_t plain = 0;
  bool call_started = false;
};

// Formats whose calls open with a tag anywhere in the answer: text before the tag is content, and
// a tail that could still grow into the tag is held back.
StreamSplit splitAtTag(std::string_view text, std::string_view tag) {
  const size_t start = text.find(tag);
  if (start != std::string_view::npos) return {start, true};
  for (size_t keep = std::min(text.size(), tag.size() - 1); keep > 0; --keep) {
    if (text.substr(text.size() - keep) == tag.substr(0, keep)) return {text.size() - keep, false};
  }
  return {text.size(), false};
}

// Llama 3 JSON: a call is the whole answer, so the answer's first non-space text decides.
StreamSplit splitLlama3Json(std::string_view text, bool at_answer_start) {
  if (!at_answer_start) return {text.size(), false};  // decided plain when the first byte went
  const std::string_view rest = text.substr(skipSpace(text, 0));
  if (rest.starts_with('{') || rest.starts_with(kPythonTag)) return {0, true};
  if (rest.empty() || kPythonTag.starts_with(rest)) return {0, false};
  return {text.size(), false};
}

}  // namespace

ParsedToolCalls parseToolCalls(ToolCallFormat format, std::string_view text) {
  switch (format) {
    case ToolCallFormat::kHermes:
      return parseHermes(text);
    case ToolCallFormat::kLlama3Json:
      return parseLlama3Json(text);
    case ToolCallFormat::kMistral:
      return parseMistral(text);
  }
  return plainText(text);
}

std::string ToolCallStream::append(std::string_view delta) {
  unsent_ += delta;
  if (call_started_) return {};
  StreamSplit split{unsent_.size(), false};
  switch (format_) {
    case ToolCallFormat::kHermes:
      split = splitAtTag(unsent_, kHermesStart);
      break;
    case ToolCallFormat::kLlama3Json:
      split = splitLlama3Json(unsent_, !sent_any_);
      break;
    case ToolCallFormat::kMistral:
      split = splitAtTag(unsent_, kMistralTag);
      break;
  }
  call_started_ = split.call_started;
  std::string content = unsent_.substr(0, split.plain);
  unsent_.erase(0, split.plain);
  sent_any_ = sent_any_ || split.plain > 0;
  return content;
}

ParsedToolCalls ToolCallStream::finish() const {
  // What was sent is plain text before any call, so the held-back rest decides alone: it starts
  // at the first call's tag (or, for llama3_json, is the whole answer) when there are calls.
  ParsedToolCalls parsed = parseToolCalls(format_, unsent_);
  if (!parsed.calls.empty()) return {std::nullopt, std::move(parsed.calls)};
  return format_ == ToolCallFormat::kMistral ? mistralPlainText(unsent_) : plainText(unsent_);
}

std::string newToolCallId(ToolCallFormat format) {
  if (format != ToolCallFormat::kMistral) return newId("chatcmpl-tool-");
  // vLLM's MistralToolCall.generate_random_id: 9 characters from [a-zA-Z0-9].
  static constexpr std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  std::string id(9, ' ');
  for (char& c : id) c = kAlphabet[pick(rng)];
  return id;
}

std::optional<std::vector<ParsedToolCall>> parseRequiredToolCalls(std::string_view text) {
  // Ordered: the arguments keep the model's key order.
  const nlohmann::ordered_json calls =
      nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!calls.is_array() || calls.empty()) return std::nullopt;
  std::vector<ParsedToolCall> out;
  for (const nlohmann::ordered_json& call : calls) {
    if (!call.is_object() || !call.contains("name") || !call["name"].is_string() ||
        !call.contains("parameters")) {
      return std::nullopt;
    }
    out.push_back({call["name"].get<std::string>(), call["parameters"].dump()});
  }
  return out;
}

namespace {

bool refersToRoot(const nlohmann::ordered_json& schema) {
  if (schema.is_object()) {
    for (const auto& [key, value] : schema.items()) {
      if ((key == "$ref" && value == "#") || refersToRoot(value)) return true;
    }
  } else if (schema.is_array()) {
    for (const auto& value : schema) {
      if (refersToRoot(value)) return true;
    }
  }
  return false;
}

}  // namespace

Result<nlohmann::ordered_json> requiredToolCallsSchema(const nlohmann::ordered_json& tools) {
  using json = nlohmann::ordered_json;
  json branches = json::array();
  json defs = json::object();  // "$defs" and "definitions" gathered from every function
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& tool = tools[i];
    const std::string where = "`tools[" + std::to_string(i) + "]`";
    if (!tool.is_object() || !tool.contains("function") || !tool["function"].is_object() ||
        !tool["function"].contains("name") || !tool["function"]["name"].is_string()) {
      return invalidArgument(where +
                             " must be {\"type\": \"function\", \"function\": {\"name\", ...}}");
    }
    const json& function = tool["function"];
    if (tool.value("type", json("function")) != "function") {
      return invalidArgument(where + " is not a function");
    }
    for (size_t j = 0; j < i; ++j) {
      if (tools[j]["function"]["name"] == function["name"]) {
        return invalidArgument(where + " has the name of `tools[" + std::to_string(j) +
                               "]`: " + function["name"].dump());
      }
    }
    json parameters = function.value("parameters", json()).is_object() ? function["parameters"]
                                                                       : json{{"type", "object"}};
    if (refersToRoot(parameters)) {
      return invalidArgument(where +
                             ": parameters with \"$ref\": \"#\" cannot be combined into "
                             "tool_choice \"required\"'s schema");
    }
    if (parameters.is_object()) {
      for (const char* section : {"$defs", "definitions"}) {
        if (!parameters.contains(section)) continue;
        for (const auto& [name, def] : parameters[section].items()) {
          json& slot = defs[section][name];
          if (!slot.is_null() && slot != def) {
            return invalidArgument(where + ": two functions define " + section + "/" + name +
                                   " differently");
          }
          slot = def;
        }
        parameters.erase(section);
      }
    }
    branches.push_back(
        {{"type", "object"},
         {"properties",
          {{"name", {{"const", function["name"]}}}, {"parameters", std::move(parameters)}}},
         {"required", {"name", "parameters"}}});
  }
  json schema = {{"type", "array"}, {"minItems", 1}, {"items", {{"anyOf", std::move(branches)}}}};
  for (const auto& [section, entries] : defs.items()) schema[section] = entries;
  return schema;
}

}  // namespace manifold::gateway
