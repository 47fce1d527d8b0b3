// The OpenAI API test fixture: a gateway of fake engines (plain, replicated, slow, admission-
// limited, and tool-calling models in each parser's format) and the request helpers the API tests
// share. Expected values come from the fake engine's published rule and the stories260K
// tokenizer, not from the gateway.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/gateway/testing/http_client.h"
#include "tests/gateway/testing/test_gateway.h"

namespace manifold::testing {

using json = nlohmann::json;

inline std::string letters(uint64_t seed, int count, int seq = 0, bool random = false) {
  std::string out;
  for (int t = 0; t < count; ++t)
    out += static_cast<char>(FakeEngine::tokenFor(seed, t, seq, random) - 3);
  return out;
}

inline int promptTokens(const std::string& text, bool add_special) {
  return static_cast<int>(FakeEngine::sharedTokenizer().encode(text, add_special).size());
}

inline json chatBody(const json& extra) {
  json body = {{"model", "fake"},
               {"messages", json::array({{{"role", "user"}, {"content", "Hi"}}})},
               {"max_tokens", 4},
               {"temperature", 0}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return body;
}

inline json completionBody(const json& extra) {
  json body = {
      {"model", "fake"}, {"prompt", "Once upon a time"}, {"max_tokens", 5}, {"temperature", 0}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return body;
}

inline std::vector<json> chunks(const HttpResult& result) {
  std::vector<json> out;
  for (const std::string& data : result.sseData()) {
    if (data != "[DONE]") out.push_back(json::parse(data));
  }
  return out;
}

// What the "tools" model writes (FakeEngineOptions::script), in the Hermes tool-call format
// (no spaces: the fake's byte tokens for them decode to nothing).
inline constexpr const char* kToolAnswer =
    "Checking.<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}"
    "</tool_call>";
// The same call as the "tools-llama3" (llama3_json) and "tools-mistral" (mistral) models write it.
inline constexpr const char* kLlama3ToolAnswer =
    "{\"name\":\"get_weather\",\"parameters\":{\"city\":\"Paris\"}}";
inline constexpr const char* kMistralToolAnswer =
    "Checking.[TOOL_CALLS][{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}]";

// What a model under tool_choice "required" writes: a JSON array of calls.
inline constexpr const char* kRequiredToolAnswer =
    "[{\"name\":\"get_weather\",\"parameters\":{\"city\":\"Paris\"}},"
    "{\"name\":\"get_weather\",\"parameters\":{\"city\":\"Rome\"}}]";

inline json toolRequest(const json& extra, const std::string& model = "tools",
                 const std::string& answer = kToolAnswer) {
  json body = {
      {"model", model},
      {"messages", json::array({{{"role", "user"}, {"content", "Weather in Paris?"}}})},
      {"max_tokens", answer.size()},
      {"temperature", 0},
      {"tools",
       json::array(
           {{{"type", "function"},
             {"function", {{"name", "get_weather"}, {"parameters", {{"type", "object"}}}}}}})}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return body;
}

class OpenAiApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestModel fake{.id = "fake", .aliases = {"fake-alias"}};
    TestModel pair{.id = "pair", .replicas = 2};
    pair.engine.start_held = true;
    TestModel slow{.id = "slow"};
    slow.engine.token_delay = std::chrono::milliseconds(10);
    TestModel narrow{.id = "narrow", .admission_capacity = 1};
    TestModel tools{.id = "tools", .tool_call_parser = "hermes"};
    tools.engine.script = kToolAnswer;
    TestModel llama3_tools{.id = "tools-llama3", .tool_call_parser = "llama3_json"};
    llama3_tools.engine.script = kLlama3ToolAnswer;
    TestModel mistral_tools{.id = "tools-mistral", .tool_call_parser = "mistral"};
    mistral_tools.engine.script = kMistralToolAnswer;
    TestModel required_tools{.id = "tools-required"};  // no parser: tool_choice "required"
    required_tools.engine.script = kRequiredToolAnswer;
    narrow.engine.start_held = true;
    gateway_ = std::make_unique<TestGateway>(std::vector<TestModel>{
        fake, pair, slow, narrow, tools, llama3_tools, mistral_tools, required_tools});
  }
  HttpClient client() { return HttpClient(gateway_->port()); }

  std::unique_ptr<TestGateway> gateway_;
};

}  // namespace manifold::testing
