#include "tests/gateway/testing/request_fuzzer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/gateway/testing/http_client.h"

namespace manifold::testing {
namespace {

using json = nlohmann::json;

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  int below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  // A value of a random type, often an extreme or an edge.
  json randomValue(int depth = 0) {
    switch (below(depth > 2 ? 9 : 11)) {
      case 0:
        return nullptr;
      case 1:
        return below(2) == 0;
      case 2: {
        static const int64_t kInts[] = {
            0, -1, 1, 2, 63, 64, 65, 255, 256, 1 << 20, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
        return kInts[below(static_cast<int>(std::size(kInts)))];
      }
      case 3:
        return json(UINT64_MAX);
      case 4: {
        static const double kDoubles[] = {0.0, -0.0, 0.5, -1.5, 1e-300, 1e300, -1e300, 2.5, 1e9};
        return kDoubles[below(static_cast<int>(std::size(kDoubles)))];
      }
      case 5:
        return "";
      case 6: {
        static const std::string kStrings[] = {"none",
                                               "auto",
                                               "required",
                                               "text",
                                               "json_object",
                                               "\xc3\xa9t\xc3\xa9",
                                               "\xff\xfe",  // invalid UTF-8
                                               std::string("a\0b", 3),
                                               "<tool_call>",
                                               "[TOOL_CALLS]",
                                               "-1",
                                               "1e3"};
        return kStrings[below(static_cast<int>(std::size(kStrings)))];
      }
      case 7:
        return std::string(static_cast<size_t>(1 + below(3000)), 'x');
      case 8:
        return json::array();
      case 9: {
        json a = json::array();
        for (int i = below(4); i > 0; --i) a.push_back(randomValue(depth + 1));
        return a;
      }
      default: {
        json o = json::object();
        for (int i = below(3); i > 0; --i) o[pickKey()] = randomValue(depth + 1);
        return o;
      }
    }
  }

  // Structural changes to `body`, then, one time in five, byte-level ones to its text.
  std::string mutate(json& body) {
    for (int m = 1 + below(3); m > 0; --m) mutateStructure(body);
    std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
    if (below(5) == 0) mutateBytes(text);
    return text;
  }

 private:
  void mutateStructure(json& body) {
    std::vector<json*> nodes;
    collect(body, nodes);
    json& node = *nodes[static_cast<size_t>(below(static_cast<int>(nodes.size())))];
    switch (below(4)) {
      case 0:
        node = randomValue();
        break;
      case 1:
        if (node.is_object() && !node.empty()) {
          auto it = node.begin();
          std::advance(it, below(static_cast<int>(node.size())));
          node.erase(it);
        } else if (node.is_array() && !node.empty()) {
          node.erase(node.begin() + below(static_cast<int>(node.size())));
        } else {
          node = randomValue();
        }
        break;
      case 2:
        if (node.is_object()) {
          node[pickKey()] = randomValue();
        } else if (node.is_array()) {
          node.push_back(below(2) == 0 && !node.empty() ? node[0] : randomValue());
        } else {
          node = randomValue();
        }
        break;
      default:  // a container where a scalar was, or the reverse
        node = node.is_structured() ? randomValue(3) : json::array({node});
        break;
    }
  }

  std::string pickKey() {
    static const char* kKeys[] = {"model",
                                  "prompt",
                                  "messages",
                                  "max_tokens",
                                  "max_completion_tokens",
                                  "temperature",
                                  "top_p",
                                  "top_k",
                                  "min_p",
                                  "n",
                                  "stop",
                                  "stop_token_ids",
                                  "stream",
                                  "stream_options",
                                  "logprobs",
                                  "top_logprobs",
                                  "echo",
                                  "seed",
                                  "logit_bias",
                                  "tools",
                                  "tool_choice",
                                  "response_format",
                                  "role",
                                  "content",
                                  "name",
                                  "tool_calls",
                                  "tool_call_id",
                                  "type",
                                  "text",
                                  "function",
                                  "arguments",
                                  "include_usage",
                                  "best_of",
                                  "suffix",
                                  "priority",
                                  "min_tokens",
                                  "ignore_eos",
                                  "skip_special_tokens",
                                  "add_generation_prompt",
                                  "continue_final_message",
                                  "chat_template_kwargs",
                                  "add_special_tokens",
                                  "tokens",
                                  "prompt_logprobs",
                                  "unknown_field"};
    return kKeys[below(static_cast<int>(std::size(kKeys)))];
  }

  static void collect(json& node, std::vector<json*>& out) {
    out.push_back(&node);
    if (node.is_structured()) {
      for (auto& child : node) collect(child, out);
    }
  }

  void mutateBytes(std::string& text) {
    for (int i = 1 + below(3); i > 0 && !text.empty(); --i) {
      const size_t at = static_cast<size_t>(below(static_cast<int>(text.size())));
      switch (below(3)) {
        case 0:
          text[at] = static_cast<char>(below(256));
          break;
        case 1:
          static constexpr std::string_view kBytes = "{}[]\",:\\0x-e\x80";
          text.insert(at, 1, kBytes[static_cast<size_t>(below(static_cast<int>(kBytes.size())))]);
          break;
        default:
          text.resize(at);
          break;
      }
    }
  }

  std::mt19937_64 rng_;
};

}  // namespace

// Valid requests touching most fields each endpoint reads, so that mutations reach them.
std::vector<FuzzSeed> fuzzSeedRequests(const std::string& model, const std::string& chat_model) {
  const json tools =
      json::array({{{"type", "function"},
                    {"function",
                     {{"name", "get_weather"},
                      {"description", "Weather of a city"},
                      {"parameters",
                       {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}}}});
  json completion = {{"model", model},
                     {"prompt", "Once upon a time"},
                     {"max_tokens", 5},
                     {"temperature", 0.7},
                     {"top_p", 0.9},
                     {"top_k", 20},
                     {"min_p", 0.05},
                     {"n", 2},
                     {"seed", 7},
                     {"stop", json::array({"x", "yz"})},
                     {"logprobs", 2},
                     {"echo", true},
                     {"presence_penalty", 0.5},
                     {"frequency_penalty", 0.5},
                     {"repetition_penalty", 1.1},
                     {"logit_bias", {{"5", 1.5}}},
                     {"min_tokens", 1},
                     {"ignore_eos", false},
                     {"user", "fuzz"}};
  json streamed = completion;
  streamed["stream"] = true;
  streamed["stream_options"] = {{"include_usage", true}};
  json batch = {{"model", model},
                {"prompt", json::array({json::array({5, 6, 7}), "two"})},
                {"max_tokens", 3}};
  json chat = {
      {"model", chat_model},
      {"messages",
       json::array(
           {{{"role", "system"}, {"content", "Be brief."}},
            {{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", "Hi"}}})}},
            {{"role", "assistant"},
             {"content", nullptr},
             {"tool_calls", json::array({{{"id", "call_1"},
                                          {"type", "function"},
                                          {"function",
                                           {{"name", "get_weather"},
                                            {"arguments", "{\"city\": \"Paris\"}"}}}}})}},
            {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "sunny"}},
            {{"role", "user"}, {"content", "And tomorrow?"}}})},
      {"max_tokens", 6},
      {"temperature", 0},
      {"tools", tools},
      {"tool_choice", "auto"},
      {"logprobs", true},
      {"top_logprobs", 2},
      {"response_format", {{"type", "text"}}}};
  json chat_stream = chat;
  chat_stream["stream"] = true;
  chat_stream["response_format"] = {{"type", "json_object"}};
  // A schema and a named tool: mutations reach the schema compiler and the forced-call path.
  json chat_schema = chat;
  chat_schema.erase("tool_choice");
  chat_schema["response_format"] = {
      {"type", "json_schema"},
      {"json_schema",
       {{"name", "answer"},
        {"schema",
         {{"type", "object"},
          {"properties",
           {{"city", {{"type", "string"}, {"maxLength", 8}}},
            {"code", {{"type", "string"}, {"pattern", "^[A-Z]{2}-\\d+$"}, {"maxLength", 6}}},
            {"day", {{"type", "string"}, {"format", "date"}}},
            {"days", {{"type", "array"}, {"items", {{"enum", {1, 2, "x"}}}}, {"maxItems", 2}}},
            {"note", {{"anyOf", {{{"type", "string"}}, {{"type", "null"}}}}}}}},
          {"required", {"city"}}}}}}};
  json chat_forced = chat;
  chat_forced["tool_choice"] = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  json chat_required = chat;
  chat_required["tool_choice"] = "required";
  json choice = completion;
  choice["guided_choice"] = {"yes", "no", " maybe"};
  choice["structured_outputs"] = {{"json", nullptr}};
  // A regex: mutations reach the pattern parser.
  json regex = completion;
  regex["guided_regex"] = "(yes|no|[A-Z][a-z]{0,4}) ?\\d{1,2}[.!]?";
  // A GBNF grammar: mutations reach the grammar parser and its checks.
  json grammar = completion;
  grammar["guided_grammar"] =
      "root ::= item (\", \" item){0,3}\nitem ::= [a-z]+ | \"(\" item \")\"";
  return {{"/v1/completions", completion},
          {"/v1/completions", streamed},
          {"/v1/completions", batch},
          {"/v1/chat/completions", chat},
          {"/v1/chat/completions", chat_stream},
          {"/v1/chat/completions", chat_schema},
          {"/v1/chat/completions", chat_forced},
          {"/v1/chat/completions", chat_required},
          {"/v1/completions", choice},
          {"/v1/completions", regex},
          {"/v1/completions", grammar},
          {"/tokenize", {{"model", model}, {"prompt", "Hello"}, {"add_special_tokens", true}}},
          {"/detokenize", {{"model", model}, {"tokens", json::array({5, 6, 7})}}}};
}

FuzzTally sendMutatedRequests(uint16_t port, const std::vector<FuzzSeed>& seeds, int rounds,
                              uint64_t seed_base) {
  FuzzTally tally;
  for (size_t s = 0; s < seeds.size(); ++s) {
    Mutator mutator(seed_base + s);
    for (int round = 0; round < rounds; ++round) {
      json body = seeds[s].second;
      const std::string text = mutator.mutate(body);
      const std::string what = "seed request " + std::to_string(s) + ", round " +
                               std::to_string(round) + ": POST " + seeds[s].first + " " +
                               text.substr(0, 600);
      const HttpResult result = HttpClient(port).request("POST", seeds[s].first, text,
                                                         {{"Content-Type", "application/json"}});
      if (result.status == 0 || result.status >= 500) {
        ADD_FAILURE() << "status " << result.status << " " << result.body << "; " << what;
        return tally;
      }
      if (result.status == 200) {
        ++tally.successes;
        const auto type = result.headers.find("content-type");
        if (type != result.headers.end() && type->second.starts_with("text/event-stream")) {
          const auto data = result.sseData();
          EXPECT_TRUE(!data.empty() && data.back() == "[DONE]") << result.body << "; " << what;
        } else {
          EXPECT_TRUE(result.json().is_object()) << result.body << "; " << what;
        }
        continue;
      }
      ++tally.errors;
      EXPECT_GE(result.status, 400) << what;
      const json error = result.json().value("error", json());
      EXPECT_TRUE(error.is_object() && error["message"].is_string() && error["type"].is_string() &&
                  error.contains("code"))
          << result.body << "; " << what;
    }
  }
  return tally;
}

}  // namespace manifold::testing
