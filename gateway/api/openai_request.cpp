#include "gateway/api/openai_request.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "engine/structured_output/json_schema.h"
#include "gateway/api/tool_calls.h"

namespace manifold::gateway {
namespace {

using json = nlohmann::ordered_json;

// Prompts per /v1/completions request; each becomes n sequences.
constexpr size_t kMaxPrompts = 64;
// Distinct bad_words per request.
constexpr size_t kMaxBadWords = 1024;

// `name` in backquotes, as error messages show field names. (Built by appending: GCC 12 warns
// falsely, -Wrestrict, on "literal" + std::string.)
std::string quoted(std::string_view name) {
  std::string out = "`";
  out.append(name).append("`");
  return out;
}

Status typeError(std::string_view field, std::string_view expected) {
  return invalidArgument(quoted(field) + " must be " + std::string(expected));
}

// Typed, optional access to the fields of a JSON object; absent and null read as "not given".
class Fields {
 public:
  explicit Fields(const json& object) : object_(object) {}

  [[nodiscard]] const json* get(std::string_view name) const {
    auto it = object_.find(name);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  [[nodiscard]] Result<std::optional<std::string>> string(std::string_view name) const {
    const json* v = get(name);
    if (v == nullptr) return std::optional<std::string>();
    if (!v->is_string()) return typeError(name, "a string");
    return std::optional<std::string>(v->get<std::string>());
  }

  [[nodiscard]] Result<std::optional<bool>> boolean(std::string_view name) const {
    const json* v = get(name);
    if (v == nullptr) return std::optional<bool>();
    if (!v->is_boolean()) return typeError(name, "a boolean");
    return std::optional<bool>(v->get<bool>());
  }

  // Integers as pydantic accepts them: JSON integers, or floats with no fractional part.
  [[nodiscard]] Result<std::optional<int64_t>> integer(std::string_view name) const {
    const json* v = get(name);
    if (v == nullptr) return std::optional<int64_t>();
    return toInteger(*v, name);
  }

  [[nodiscard]] Result<std::optional<int>> int32(std::string_view name) const {
    ASSIGN_OR_RETURN(std::optional<int64_t> value, integer(name));
    if (!value) return std::optional<int>();
    if (*value < std::numeric_limits<int>::min() || *value > std::numeric_limits<int>::max()) {
      return invalidArgument(quoted(name) + " is out of range");
    }
    return std::optional<int>(static_cast<int>(*value));
  }

  [[nodiscard]] Result<std::optional<double>> number(std::string_view name) const {
    const json* v = get(name);
    if (v == nullptr) return std::optional<double>();
    if (!v->is_number()) return typeError(name, "a number");
    double d = v->get<double>();
    if (!std::isfinite(d)) return typeError(name, "a finite number");
    return std::optional<double>(d);
  }

  static Result<std::optional<int64_t>> toInteger(const json& v, std::string_view name) {
    if (v.is_number_integer()) {
      if (v.is_number_unsigned() &&
          v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return invalidArgument(quoted(name) + " is out of range");
      }
      return std::optional<int64_t>(v.get<int64_t>());
    }
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (!std::isfinite(d) || std::floor(d) != d) return typeError(name, "an integer");
      if (std::fabs(d) > 9.0e18) return invalidArgument(quoted(name) + " is out of range");
      return std::optional<int64_t>(static_cast<int64_t>(d));
    }
    return typeError(name, "an integer");
  }

 private:
  const json& object_;
};

Result<std::vector<int32_t>> tokenIds(const json& array, std::string_view name) {
  std::vector<int32_t> ids;
  ids.reserve(array.size());
  for (const json& item : array) {
    if (!item.is_number_integer()) return typeError(name, "a list of integer token ids");
    const bool in_range = item.is_number_unsigned()
                              ? item.get<uint64_t>() <= std::numeric_limits<int32_t>::max()
                              : item.get<int64_t>() >= 0 &&
                                    item.get<int64_t>() <= std::numeric_limits<int32_t>::max();
    if (!in_range) {
      return invalidArgument(quoted(name) + " holds the invalid token id " + item.dump());
    }
    ids.push_back(static_cast<int32_t>(item.get<int64_t>()));
  }
  return ids;
}

Status requireObject(const json& body) {
  if (!body.is_object()) return invalidArgument("The request body must be a JSON object");
  return Status::ok();
}

Result<std::string> requireModel(const Fields& f) {
  ASSIGN_OR_RETURN(std::optional<std::string> model, f.string("model"));
  if (!model || model->empty()) return invalidArgument("`model` is required");
  return *model;
}

// One structured output format per request: `field` would be the second.
Status requireFirstFormat(std::string_view field, const SamplingParams& p) {
  if (!p.structuredOutput()) return Status::ok();
  return invalidArgument(quoted(field) + ": only one structured output format may be given");
}

// The format `field` set, compiled here so that one outside the supported subset is a 400 naming
// `field` (and the engine finds it compiled: JsonSchema::forParams keeps it).
Status requireCompiles(std::string_view field, const SamplingParams& p) {
  if (Result<std::shared_ptr<const JsonSchema>> compiled = JsonSchema::forParams(p);
      !compiled.isOk()) {
    return invalidArgument(quoted(field) + ": " + compiled.status().message());
  }
  return Status::ok();
}

// A JSON Schema for structured output. It may be given as JSON text (vLLM's guided_json allows
// it).
Status setJsonSchema(const json& schema, std::string_view field, SamplingParams& p) {
  RETURN_IF_ERROR(requireFirstFormat(field, p));
  p.json_schema = schema.is_string() ? schema.get<std::string>() : schema.dump();
  return requireCompiles(field, p);
}

// vLLM's guided_choice: a list of texts, the output exactly one of them.
Status setChoice(const json& choices, std::string_view field, SamplingParams& p) {
  RETURN_IF_ERROR(requireFirstFormat(field, p));
  if (!choices.is_array() || choices.empty()) {
    return typeError(field, "a non-empty list of strings");
  }
  for (const json& choice : choices) {
    if (!choice.is_string()) return typeError(field, "a non-empty list of strings");
    p.choice.push_back(choice.get<std::string>());
  }
  return requireCompiles(field, p);
}

// A format given as one non-empty text into p.*target: vLLM's guided_regex (the whole output
// matches the pattern) and guided_grammar / llama.cpp's grammar (a GBNF or Lark grammar,
// gbnf.h). `what` names the text in a type error.
Status setText(const json& text, std::string_view field, std::string_view what,
               std::string SamplingParams::*target, SamplingParams& p) {
  RETURN_IF_ERROR(requireFirstFormat(field, p));
  if (!text.is_string() || text.get<std::string>().empty()) return typeError(field, what);
  p.*target = text.get<std::string>();
  return requireCompiles(field, p);
}

Status setRegex(const json& pattern, std::string_view field, SamplingParams& p) {
  return setText(pattern, field, "a non-empty regular expression", &SamplingParams::regex, p);
}

Status setGrammar(const json& grammar, std::string_view field, SamplingParams& p) {
  return setText(grammar, field, "a non-empty GBNF grammar", &SamplingParams::grammar, p);
}

// vLLM's own ways to ask for structured output: `guided_json`, `guided_choice`, `guided_regex`
// and `guided_grammar` (older) and `structured_outputs` (`json`, `json_object`, `choice`,
// `regex`, `grammar`); llama.cpp's `grammar` and `json_schema`. A field sent as null is unset.
// The kinds manifold has no grammar for are refused, not ignored.
Status parseStructuredOutputExtras(const Fields& f, SamplingParams& p) {
  for (const char* field : {"guided_grammar", "grammar"}) {
    if (const json* grammar = f.get(field); grammar != nullptr && !grammar->is_null()) {
      RETURN_IF_ERROR(setGrammar(*grammar, field, p));
    }
  }
  if (const json* pattern = f.get("guided_regex"); pattern != nullptr && !pattern->is_null()) {
    RETURN_IF_ERROR(setRegex(*pattern, "guided_regex", p));
  }
  // llama.cpp's `json_schema` is vLLM's `guided_json`.
  for (const char* field : {"guided_json", "json_schema"}) {
    if (const json* schema = f.get(field); schema != nullptr && !schema->is_null()) {
      RETURN_IF_ERROR(setJsonSchema(*schema, field, p));
    }
  }
  if (const json* choices = f.get("guided_choice"); choices != nullptr && !choices->is_null()) {
    RETURN_IF_ERROR(setChoice(*choices, "guided_choice", p));
  }
  if (const json* outputs = f.get("structured_outputs")) {
    if (!outputs->is_object()) return typeError("structured_outputs", "an object");
    for (const auto& [key, value] : outputs->items()) {
      if (value.is_null()) continue;  // clients that serialise every field send the unset as null
      const std::string field = "structured_outputs." + key;
      if (key == "json") {
        RETURN_IF_ERROR(setJsonSchema(value, field, p));
      } else if (key == "choice") {
        RETURN_IF_ERROR(setChoice(value, field, p));
      } else if (key == "regex") {
        RETURN_IF_ERROR(setRegex(value, field, p));
      } else if (key == "grammar") {
        RETURN_IF_ERROR(setGrammar(value, field, p));
      } else if (key == "json_object") {
        if (!value.is_boolean()) return typeError(field, "a boolean");
        if (!value.get<bool>()) continue;
        RETURN_IF_ERROR(requireFirstFormat(field, p));
        p.json_object = true;
      } else if (key != "disable_any_whitespace" && key != "disable_fallback" &&
                 key != "disable_additional_properties") {
        return unimplemented(quoted(std::string_view(field)) +
                             " is not supported; only `json`, `json_object`, `choice`, "
                             "`regex` and `grammar`");
      }
    }
  }
  return Status::ok();
}

// Fields common to both generation endpoints: sampling, stream, vLLM extras.
Result<GenerationOptions> parseGenerationOptions(const Fields& f) {
  GenerationOptions o;
  ASSIGN_OR_RETURN(o.model, requireModel(f));
  SamplingParams& p = o.params;
#define MANIFOLD_READ(type, name, target)                        \
  {                                                              \
    ASSIGN_OR_RETURN(auto value_, f.type(name));                 \
    if (value_) target = static_cast<decltype(target)>(*value_); \
  }
  MANIFOLD_READ(int32, "n", p.n);
  MANIFOLD_READ(number, "temperature", p.temperature);
  MANIFOLD_READ(number, "top_p", p.top_p);
  MANIFOLD_READ(int32, "top_k", p.top_k);
  MANIFOLD_READ(number, "min_p", p.min_p);
  MANIFOLD_READ(number, "presence_penalty", p.presence_penalty);
  MANIFOLD_READ(number, "frequency_penalty", p.frequency_penalty);
  MANIFOLD_READ(number, "repetition_penalty", p.repetition_penalty);
  MANIFOLD_READ(int32, "min_tokens", p.min_tokens);
  MANIFOLD_READ(boolean, "ignore_eos", p.ignore_eos);
  MANIFOLD_READ(boolean, "include_stop_str_in_output", p.include_stop_str_in_output);
  MANIFOLD_READ(boolean, "skip_special_tokens", p.skip_special_tokens);
  MANIFOLD_READ(int32, "priority", o.priority);
  MANIFOLD_READ(boolean, "stream", o.stream);
  MANIFOLD_READ(boolean, "return_tokens_as_token_ids", o.tokens_as_ids);
  MANIFOLD_READ(boolean, "return_token_ids", o.return_token_ids);
#undef MANIFOLD_READ
  ASSIGN_OR_RETURN(std::optional<int> max_tokens, f.int32("max_tokens"));
  if (max_tokens) p.max_tokens = *max_tokens;
  ASSIGN_OR_RETURN(std::optional<int64_t> seed, f.integer("seed"));
  if (seed) p.seed = static_cast<uint64_t>(*seed);
  ASSIGN_OR_RETURN(std::optional<int> prompt_logprobs, f.int32("prompt_logprobs"));
  if (prompt_logprobs) {
    p.prompt_logprobs = *prompt_logprobs;
    o.return_prompt_logprobs = true;
    // As vLLM: they come whole with the answer, never in a stream (0 asks for nothing to list).
    if (o.stream && *prompt_logprobs > 0) {
      return invalidArgument("`prompt_logprobs` are not available when `stream` is true");
    }
  }

  if (const json* beam = f.get("use_beam_search")) {
    if (!beam->is_boolean()) return typeError("use_beam_search", "a boolean");
    if (beam->get<bool>()) return unimplemented("`use_beam_search` is not supported");
  }
  if (const json* ids = f.get("allowed_token_ids")) {
    if (!ids->is_array()) return typeError("allowed_token_ids", "a list of integer token ids");
    if (ids->empty()) return invalidArgument("`allowed_token_ids` must not be empty");
    ASSIGN_OR_RETURN(p.allowed_token_ids, tokenIds(*ids, "allowed_token_ids"));
    // A set: repeats would only cost every step of every sample.
    std::sort(p.allowed_token_ids.begin(), p.allowed_token_ids.end());
    p.allowed_token_ids.erase(std::unique(p.allowed_token_ids.begin(), p.allowed_token_ids.end()),
                              p.allowed_token_ids.end());
  }
  if (const json* words = f.get("bad_words")) {
    if (!words->is_array()) return typeError("bad_words", "a list of strings");
    for (const json& word : *words) {
      if (!word.is_string()) return typeError("bad_words", "a list of strings");
      o.bad_words.push_back(word.get<std::string>());
    }
    std::sort(o.bad_words.begin(), o.bad_words.end());
    o.bad_words.erase(std::unique(o.bad_words.begin(), o.bad_words.end()), o.bad_words.end());
    // Each word is checked at every step of every sample (vLLM has no limit; a million words
    // stalled the engine for seconds a step).
    if (o.bad_words.size() > kMaxBadWords) {
      return invalidArgument("`bad_words` holds more than " + std::to_string(kMaxBadWords) +
                             " distinct words");
    }
  }
  ASSIGN_OR_RETURN(o.truncate_prompt_tokens, f.int32("truncate_prompt_tokens"));
  if (o.truncate_prompt_tokens && *o.truncate_prompt_tokens < 1 &&
      *o.truncate_prompt_tokens != -1) {
    return invalidArgument("`truncate_prompt_tokens` must be -1 (max_model_len) or at least 1");
  }
  if (const json* best_of = f.get("best_of")) {
    if (!best_of->is_number_integer() || best_of->get<int64_t>() != p.n) {
      return unimplemented("`best_of` is not supported; use `n`");
    }
  }
  if (const json* stop = f.get("stop")) {
    if (stop->is_string()) {
      p.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (const json& s : *stop) {
        if (!s.is_string()) return typeError("stop", "a string or a list of strings");
        p.stop.push_back(s.get<std::string>());
      }
    } else {
      return typeError("stop", "a string or a list of strings");
    }
  }
  if (const json* ids = f.get("stop_token_ids")) {
    if (!ids->is_array()) return typeError("stop_token_ids", "a list of integer token ids");
    ASSIGN_OR_RETURN(p.stop_token_ids, tokenIds(*ids, "stop_token_ids"));
  }
  if (const json* bias = f.get("logit_bias")) {
    if (!bias->is_object()) return typeError("logit_bias", "an object of token id to bias");
    for (const auto& [key, value] : bias->items()) {
      char* end = nullptr;
      long id = std::strtol(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || id < 0 || id > std::numeric_limits<int32_t>::max()) {
        return invalidArgument("`logit_bias` keys must be token ids, got \"" + key + "\"");
      }
      if (!value.is_number()) return typeError("logit_bias", "an object of token id to bias");
      // Clamped to [-100, 100], as OpenAI specifies and vLLM does.
      const double bias = value.get<double>();
      if (!std::isfinite(bias)) return invalidArgument("`logit_bias` values must be finite");
      p.logit_bias.emplace_back(static_cast<int32_t>(id),
                                static_cast<float>(std::clamp(bias, -100.0, 100.0)));
    }
  }
  if (const json* stream_options = f.get("stream_options")) {
    if (!stream_options->is_object()) return typeError("stream_options", "an object");
    if (!o.stream) {
      return invalidArgument("`stream_options` can only be given when `stream` is true");
    }
    const Fields options(*stream_options);
    ASSIGN_OR_RETURN(std::optional<bool> usage, options.boolean("include_usage"));
    o.include_usage = usage.value_or(false);
    ASSIGN_OR_RETURN(std::optional<bool> continuous, options.boolean("continuous_usage_stats"));
    o.continuous_usage = o.include_usage && continuous.value_or(false);
  }
  if (const json* format = f.get("response_format")) {
    if (!format->is_object() || !format->contains("type") || !(*format)["type"].is_string()) {
      return typeError("response_format", "an object with a `type`");
    }
    const std::string type = (*format)["type"].get<std::string>();
    if (type == "json_object") {
      p.json_object = true;
    } else if (type == "json_schema") {
      const auto spec = format->find("json_schema");
      if (spec == format->end() || !spec->is_object() || !spec->contains("schema")) {
        return invalidArgument(
            "`response_format` of type \"json_schema\" needs `json_schema.schema`");
      }
      RETURN_IF_ERROR(setJsonSchema((*spec)["schema"], "response_format.json_schema.schema", p));
    } else if (type != "text") {
      return unimplemented("`response_format` of type " + (*format)["type"].dump() +
                           " is not supported; only \"text\", \"json_object\" and "
                           "\"json_schema\"");
    }
  }
  RETURN_IF_ERROR(parseStructuredOutputExtras(f, p));
  return o;
}

// Chat content as the template sees it: a string (text parts joined by newlines).
Result<json> flattenContent(const json& content, size_t index) {
  std::string where = "messages[" + std::to_string(index) + "].content";
  if (content.is_string()) return content;
  if (!content.is_array()) return typeError(where, "a string or a list of content parts");
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
      return typeError(where, "a list of objects with a `type`");
    }
    const std::string type = part["type"].get<std::string>();
    if (type != "text" && type != "input_text") {
      return unimplemented("`" + where + "` has a part of type \"" + type +
                           "\"; only text parts are supported");
    }
    if (!part.contains("text") || !part["text"].is_string()) {
      return typeError(where + "[" + std::to_string(i) + "].text", "a string");
    }
    if (!text.empty()) text += "\n";
    text += part["text"].get<std::string>();
  }
  return json(text);
}

Result<json> parseMessages(const json* messages) {
  if (messages == nullptr) return invalidArgument("`messages` is required");
  if (!messages->is_array()) return typeError("messages", "a list of messages");
  if (messages->empty()) return invalidArgument("`messages` must not be empty");
  json out = json::array();
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return typeError(where, "an object");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return typeError(where + ".role", "a string");
    const std::string r = role->get<std::string>();
    if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer") {
      return invalidArgument("`" + where + ".role` must be one of system, developer, user, " +
                             "assistant, tool; got \"" + r + "\"");
    }
    json message = m;
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
      if (r != "assistant") return invalidArgument("`" + where + ".content` is required");
      message["content"] = "";
    } else {
      ASSIGN_OR_RETURN(message["content"], flattenContent(*content, i));
    }
    if (m.contains("name") && !m["name"].is_string()) return typeError(where + ".name", "a string");
    if (const auto calls = m.find("tool_calls"); calls != m.end() && !calls->is_null()) {
      // What chat templates read: a list of {"function": {"name", "arguments"}} objects.
      if (!calls->is_array()) return typeError(where + ".tool_calls", "a list of tool calls");
      for (size_t j = 0; j < calls->size(); ++j) {
        const json& call = (*calls)[j];
        const std::string at = where + ".tool_calls[" + std::to_string(j) + "]";
        if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) {
          return typeError(at, "an object with a `function` object");
        }
        if (!call["function"].contains("name") || !call["function"]["name"].is_string()) {
          return typeError(at + ".function.name", "a string");
        }
        // Chat templates read the arguments as an object (`tool_call.arguments | tojson`), so
        // the JSON text OpenAI clients send is parsed, as vLLM does (absent or empty: {}).
        json& arguments = message["tool_calls"][j]["function"]["arguments"];
        if (arguments.is_null() ||
            (arguments.is_string() && arguments.get<std::string>().empty())) {
          arguments = json::object();
        } else if (arguments.is_string()) {
          const std::string& text = arguments.get_ref<const std::string&>();
          json parsed = nestedTooDeep(text)
                            ? json(json::value_t::discarded)
                            : json::parse(text, nullptr, /*allow_exceptions=*/false);
          if (parsed.is_discarded()) {
            return typeError(at + ".function.arguments", "JSON text (or an object)");
          }
          arguments = std::move(parsed);
        }
      }
    }
    out.push_back(std::move(message));
  }
  return out;
}

Result<json> parseTemplateOptions(const Fields& request) {
  const json* kwargs = request.get("chat_template_kwargs");
  if (kwargs != nullptr && !kwargs->is_object()) {
    return typeError("chat_template_kwargs", "an object");
  }
  // vLLM applies chat_template_kwargs over the request's own add_generation_prompt,
  // continue_final_message and tools (serving_engine: _chat_template_kwargs.update(...)).
  json lifted = json::object();
  for (const char* key : {"add_generation_prompt", "continue_final_message", "tools"}) {
    if (const json* value = request.get(key)) lifted[key] = *value;
    if (kwargs != nullptr) {
      const auto it = kwargs->find(key);
      if (it != kwargs->end() && !it->is_null()) lifted[key] = *it;
    }
  }
  const Fields f(lifted);
  json options = json::object();
  ASSIGN_OR_RETURN(std::optional<bool> add_generation_prompt, f.boolean("add_generation_prompt"));
  ASSIGN_OR_RETURN(std::optional<bool> continue_final, f.boolean("continue_final_message"));
  options["add_generation_prompt"] = add_generation_prompt.value_or(true);
  options["continue_final_message"] = continue_final.value_or(false);
  if (continue_final.value_or(false) && add_generation_prompt.value_or(true) &&
      add_generation_prompt.has_value()) {
    return invalidArgument(
        "`continue_final_message` and `add_generation_prompt` cannot both be true");
  }
  if (continue_final.value_or(false)) options["add_generation_prompt"] = false;
  if (const json* tools = f.get("tools")) {
    if (!tools->is_array()) return typeError("tools", "a list of tools");
    // As vLLM's ChatCompletionToolsParam: {"type": "function" (the default), "function":
    // {"name", "description"?, "parameters"?}}.
    for (size_t i = 0; i < tools->size(); ++i) {
      const json& tool = (*tools)[i];
      const std::string at = "tools[" + std::to_string(i) + "]";
      if (!tool.is_object()) return typeError(at, "an object");
      if (tool.contains("type") && tool["type"] != "function") {
        return invalidArgument("`" + at + ".type` must be \"function\"");
      }
      if (!tool.contains("function") || !tool["function"].is_object()) {
        return typeError(at + ".function", "an object");
      }
      const json& function = tool["function"];
      if (!function.contains("name") || !function["name"].is_string()) {
        return typeError(at + ".function.name", "a string");
      }
      if (function.contains("description") && !function["description"].is_string() &&
          !function["description"].is_null()) {
        return typeError(at + ".function.description", "a string");
      }
      if (function.contains("parameters") && !function["parameters"].is_object() &&
          !function["parameters"].is_null()) {
        return typeError(at + ".function.parameters", "a JSON Schema object");
      }
    }
    options["tools"] = *tools;
  }
  if (const json* choice = request.get("tool_choice")) {
    if (choice->is_object()) {
      // A named function: {"type": "function", "function": {"name": ...}}; parseChatRequest
      // finds it among the tools.
      const auto function = choice->find("function");
      if (choice->value("type", json()) != "function" || function == choice->end() ||
          !function->is_object() || !function->contains("name") ||
          !(*function)["name"].is_string()) {
        return typeError(
            "tool_choice",
            "\"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": "
            "{\"name\": ...}}");
      }
    } else if (!(choice->is_string() &&
                 (*choice == "none" || *choice == "auto" || *choice == "required"))) {
      return typeError("tool_choice",
                       "\"none\", \"auto\", \"required\" or {\"type\": \"function\", ...}");
    }
  }
  if (kwargs != nullptr) options["chat_template_kwargs"] = *kwargs;
  return options;
}

}  // namespace

Result<json> parseJsonBody(std::string_view body) {
  if (body.empty()) return invalidArgument("The request body is empty; expected a JSON object");
  if (nestedTooDeep(body)) {
    return invalidArgument("The request body is not valid JSON: it nests deeper than " +
                           std::to_string(kMaxJsonDepth) + " levels");
  }
  try {
    json value = json::parse(body);
    RETURN_IF_ERROR(requireObject(value));
    return value;
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for numbers beyond a double (1e400).
    return invalidArgument(std::string("The request body is not valid JSON: ") + e.what());
  }
}

Result<CompletionsRequest> parseCompletionsRequest(const json& body) {
  RETURN_IF_ERROR(requireObject(body));
  Fields f(body);
  CompletionsRequest r;
  ASSIGN_OR_RETURN(r.options, parseGenerationOptions(f));
  // OpenAI's default for completions is 16 tokens; an explicit null is vLLM's "no limit" (the
  // rest of the context), as for chat.
  if (!body.contains("max_tokens")) r.options.params.max_tokens = 16;
  if (const json* suffix = f.get("suffix")) {
    if (!(suffix->is_string() && suffix->get<std::string>().empty())) {
      return unimplemented("`suffix` is not supported");
    }
  }
  ASSIGN_OR_RETURN(std::optional<int> logprobs, f.int32("logprobs"));
  if (logprobs) r.options.params.logprobs = *logprobs;
  ASSIGN_OR_RETURN(std::optional<bool> echo, f.boolean("echo"));
  r.echo = echo.value_or(false);
  if (r.echo && r.options.params.max_tokens == 0) {
    r.echo_only = true;
    r.options.params.max_tokens = 1;
    r.options.params.min_tokens = 0;
  }
  if (r.echo && logprobs && !r.options.params.prompt_logprobs) {
    r.options.params.prompt_logprobs = *logprobs;  // echoed tokens carry logprobs too
  }
  ASSIGN_OR_RETURN(std::optional<bool> add_special, f.boolean("add_special_tokens"));
  r.add_special_tokens = add_special.value_or(true);

  const json* prompt = f.get("prompt");
  if (prompt == nullptr) return invalidArgument("`prompt` is required");
  const char* kPromptTypes =
      "a string, a list of strings, a list of token ids or a list of lists of token ids";
  if (prompt->is_string()) {
    r.prompts.emplace_back(prompt->get<std::string>());
  } else if (prompt->is_array()) {
    if (prompt->empty()) return invalidArgument("`prompt` must not be empty");
    if ((*prompt)[0].is_number()) {
      ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenIds(*prompt, "prompt"));
      r.prompts.emplace_back(std::move(ids));
    } else {
      for (const json& item : *prompt) {
        if (item.is_string()) {
          r.prompts.emplace_back(item.get<std::string>());
        } else if (item.is_array()) {
          ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenIds(item, "prompt"));
          r.prompts.emplace_back(std::move(ids));
        } else {
          return typeError("prompt", kPromptTypes);
        }
      }
    }
  } else {
    return typeError("prompt", kPromptTypes);
  }
  if (r.prompts.size() > kMaxPrompts) {
    return invalidArgument("`prompt` holds more than " + std::to_string(kMaxPrompts) + " prompts");
  }
  // An empty string is a prompt, as in vLLM: it is whatever the tokenizer adds (BOS), and the
  // handler refuses it only when that is nothing. An empty list of ids is no prompt at all.
  for (const PromptInput& p : r.prompts) {
    const auto* ids = std::get_if<std::vector<int32_t>>(&p);
    if (ids != nullptr && ids->empty()) return invalidArgument("`prompt` must not be empty");
  }
  return r;
}

namespace {

// A named tool_choice, as vLLM serves it: the answer is the function's arguments, constrained by
// its `parameters` schema (an object when it has none).
Result<std::string> forceTool(const json& tools, const json& name, ChatRequest& r) {
  const SamplingParams& p = r.options.params;
  if (p.structuredOutput()) {
    return invalidArgument(
        "`tool_choice` naming a function cannot be combined with another structured output "
        "format (`response_format`, `guided_json`, `guided_choice`, `guided_regex`, "
        "`guided_grammar`, `grammar`, `structured_outputs`)");
  }
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& tool = tools[i];
    if (!tool.is_object() || tool.value("type", json()) != "function" ||
        !tool.contains("function") || !tool["function"].is_object() ||
        tool["function"].value("name", json()) != name) {
      continue;
    }
    const json& function = tool["function"];
    const json parameters = function.value("parameters", json()).is_object()
                                ? function["parameters"]
                                : json{{"type", "object"}};
    RETURN_IF_ERROR(setJsonSchema(
        parameters, "tools[" + std::to_string(i) + "].function.parameters", r.options.params));
    return name.get<std::string>();
  }
  return invalidArgument("`tool_choice` names the function " + name.dump() +
                         ", which is not among `tools`");
}

// tool_choice "required", as vLLM serves it: the answer is a JSON array of calls, each one of
// the tools' functions with its parameters (requiredToolCallsSchema).
Status requireToolCalls(const json& tools, ChatRequest& r) {
  const SamplingParams& p = r.options.params;
  if (p.structuredOutput()) {
    return invalidArgument(
        "`tool_choice` \"required\" cannot be combined with another structured output format "
        "(`response_format`, `guided_json`, `guided_choice`, `guided_regex`, `guided_grammar`, "
        "`grammar`, `structured_outputs`)");
  }
  ASSIGN_OR_RETURN(json schema, requiredToolCallsSchema(tools));
  return setJsonSchema(schema, "tools", r.options.params);
}

}  // namespace

Result<ChatRequest> parseChatRequest(const json& body) {
  RETURN_IF_ERROR(requireObject(body));
  Fields f(body);
  ChatRequest r;
  ASSIGN_OR_RETURN(r.options, parseGenerationOptions(f));
  ASSIGN_OR_RETURN(std::optional<int> max_completion_tokens, f.int32("max_completion_tokens"));
  if (max_completion_tokens) {
    if (*max_completion_tokens < 1) {
      return invalidArgument("`max_completion_tokens` must be at least 1, got " +
                             std::to_string(*max_completion_tokens));
    }
    r.options.params.max_tokens = *max_completion_tokens;
  }
  ASSIGN_OR_RETURN(r.messages, parseMessages(f.get("messages")));
  ASSIGN_OR_RETURN(r.template_options, parseTemplateOptions(f));
  if (const auto tools = r.template_options.find("tools");
      tools != r.template_options.end() && !tools->empty()) {
    const json* choice = f.get("tool_choice");
    r.wants_tool_calls = choice == nullptr || *choice != "none";
    if (choice != nullptr && choice->is_object()) {
      ASSIGN_OR_RETURN(std::string name, forceTool(*tools, (*choice)["function"]["name"], r));
      r.forced_tool = std::move(name);
      r.wants_tool_calls = false;
    } else if (choice != nullptr && *choice == "required") {
      RETURN_IF_ERROR(requireToolCalls(*tools, r));
      r.tool_required = true;
      r.wants_tool_calls = false;
    }
  } else if (const json* choice = f.get("tool_choice");
             choice != nullptr && (choice->is_object() || *choice == "required")) {
    return invalidArgument("`tool_choice` " + choice->dump() + " needs `tools`");
  }
  ASSIGN_OR_RETURN(std::optional<bool> logprobs, f.boolean("logprobs"));
  ASSIGN_OR_RETURN(std::optional<int> top_logprobs, f.int32("top_logprobs"));
  r.logprobs = logprobs.value_or(false);
  if (top_logprobs && !r.logprobs) {
    return invalidArgument("`top_logprobs` requires `logprobs` to be true");
  }
  if (top_logprobs && (*top_logprobs < 0 || *top_logprobs > SamplingParams::kMaxLogprobs)) {
    return invalidArgument("`top_logprobs` must be between 0 and " +
                           std::to_string(SamplingParams::kMaxLogprobs));
  }
  if (r.logprobs) r.options.params.logprobs = top_logprobs.value_or(0);
  ASSIGN_OR_RETURN(std::optional<bool> add_special, f.boolean("add_special_tokens"));
  r.add_special_tokens = add_special.value_or(false);
  return r;
}

Result<TokenizeRequest> parseTokenizeRequest(const json& body) {
  RETURN_IF_ERROR(requireObject(body));
  Fields f(body);
  TokenizeRequest r;
  ASSIGN_OR_RETURN(r.model, requireModel(f));
  ASSIGN_OR_RETURN(r.prompt, f.string("prompt"));
  if (f.get("messages") != nullptr) {
    if (r.prompt) return invalidArgument("give either `prompt` or `messages`, not both");
    ASSIGN_OR_RETURN(r.messages, parseMessages(f.get("messages")));
    ASSIGN_OR_RETURN(r.template_options, parseTemplateOptions(f));
  } else if (!r.prompt) {
    return invalidArgument("`prompt` or `messages` is required");
  }
  ASSIGN_OR_RETURN(std::optional<bool> add_special, f.boolean("add_special_tokens"));
  r.add_special_tokens = add_special.value_or(r.prompt.has_value());
  ASSIGN_OR_RETURN(std::optional<bool> strs, f.boolean("return_token_strs"));
  r.return_token_strs = strs.value_or(false);
  return r;
}

Result<DetokenizeRequest> parseDetokenizeRequest(const json& body) {
  RETURN_IF_ERROR(requireObject(body));
  Fields f(body);
  DetokenizeRequest r;
  ASSIGN_OR_RETURN(r.model, requireModel(f));
  const json* tokens = f.get("tokens");
  if (tokens == nullptr) return invalidArgument("`tokens` is required");
  if (!tokens->is_array()) return typeError("tokens", "a list of integer token ids");
  ASSIGN_OR_RETURN(r.tokens, tokenIds(*tokens, "tokens"));
  return r;
}

}  // namespace manifold::gateway
