// The OpenAI endpoints over real HTTP against fake engines: response shapes, SSE framing, n,
// logprobs, stop, echo, routing by alias and replicas, admission (429), disconnects (abort),
// tokenize/detokenize and graceful drain. Expected values come from the fake engine's published
// rule and the stories260K tokenizer, not from the gateway.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <future>
#include <thread>

#include "tests/gateway/api/openai_api_fixture.h"

namespace manifold::testing {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

TEST_F(OpenAiApiTest, ModelsListsEveryNameWithItsContextLength) {
  auto result = client().get("/v1/models");
  ASSERT_EQ(result.status, 200);
  json body = result.json();
  EXPECT_EQ(body["object"], "list");
  std::vector<std::string> ids;
  for (const json& m : body["data"]) {
    ids.push_back(m["id"]);
    EXPECT_EQ(m["object"], "model");
    EXPECT_EQ(m["owned_by"], "manifold");
    EXPECT_EQ(m["created"], 1700000000);
    EXPECT_EQ(m["max_model_len"], 256);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"fake", "fake-alias", "pair", "slow", "narrow", "tools",
                                           "tools-llama3", "tools-mistral", "tools-required"}));
  auto one = client().get("/v1/models/fake-alias");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.json()["parent"], "fake");
  EXPECT_EQ(client().get("/v1/models/nope").status, 404);
}

TEST_F(OpenAiApiTest, CompletionReturnsTheEngineTextWithUsage) {
  auto result =
      client().post("/v1/completions", completionBody({}), {{"X-Request-Id", "trace-42"}});
  ASSERT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(result.headers["x-request-id"], "trace-42");
  json body = result.json();
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(body["model"], "fake");
  EXPECT_FALSE(body.contains("system_fingerprint") && !body["system_fingerprint"].is_null());
  ASSERT_EQ(body["choices"].size(), 1u);
  EXPECT_EQ(body["choices"][0]["text"], letters(0, 5));
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(body["choices"][0]["logprobs"].is_null());
  int prompt = promptTokens("Once upon a time", true);
  EXPECT_EQ(
      body["usage"],
      json({{"prompt_tokens", prompt}, {"completion_tokens", 5}, {"total_tokens", prompt + 5}}));
  // The engine got exactly the tokenizer's ids of the prompt.
  auto submitted = gateway_->engine("fake").submitted();
  ASSERT_EQ(submitted.size(), 1u);
  EXPECT_EQ(submitted[0].prompt_token_ids,
            FakeEngine::sharedTokenizer().encode("Once upon a time", true));
}

TEST_F(OpenAiApiTest, StopStringEndsTheTextWithReasonStop) {
  auto result = client().post("/v1/completions",
                              completionBody({{"stop", json::array({"cd"})}, {"max_tokens", 10}}));
  ASSERT_EQ(result.status, 200) << result.body;
  json choice = result.json()["choices"][0];
  EXPECT_EQ(choice["text"], "ab");
  EXPECT_EQ(choice["finish_reason"], "stop");
  EXPECT_EQ(choice["stop_reason"], "cd");
}

TEST_F(OpenAiApiTest, NSamplesAndSeveralPromptsGetOneChoiceEach) {
  auto result =
      client().post("/v1/completions", completionBody({{"prompt", json::array({"one", "two"})},
                                                       {"n", 2},
                                                       {"temperature", 1.0},
                                                       {"seed", 3},
                                                       {"max_tokens", 3}}));
  ASSERT_EQ(result.status, 200) << result.body;
  json choices = result.json()["choices"];
  ASSERT_EQ(choices.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(choices[i]["index"], i);
    EXPECT_EQ(choices[i]["text"], letters(3, 3, i % 2, true)) << i;
  }
  EXPECT_EQ(result.json()["usage"]["completion_tokens"], 12);
  EXPECT_EQ(result.json()["usage"]["prompt_tokens"],
            promptTokens("one", true) + promptTokens("two", true));
}

TEST_F(OpenAiApiTest, EchoAndLogprobsFollowTheCompletionsShape) {
  auto result = client().post(
      "/v1/completions",
      completionBody({{"echo", true}, {"logprobs", 2}, {"max_tokens", 3}, {"prompt", "Hi"}}));
  ASSERT_EQ(result.status, 200) << result.body;
  json choice = result.json()["choices"][0];
  EXPECT_EQ(choice["text"], "Hi" + letters(0, 3));
  json logprobs = choice["logprobs"];
  auto prompt_ids = FakeEngine::sharedTokenizer().encode("Hi", true);
  size_t total = prompt_ids.size() + 3;
  ASSERT_EQ(logprobs["tokens"].size(), total);
  ASSERT_EQ(logprobs["token_logprobs"].size(), total);
  ASSERT_EQ(logprobs["text_offset"].size(), total);
  EXPECT_TRUE(logprobs["token_logprobs"][0].is_null());  // the first prompt token has none
  EXPECT_EQ(logprobs["token_logprobs"][total - 1], -0.25);
  EXPECT_EQ(logprobs["tokens"][total - 1], std::string(1, letters(0, 3)[2]));
  EXPECT_EQ(logprobs["top_logprobs"][total - 1].size(), 2u);
}

// Streamed, the same logprobs arrive in pieces: the echoing chunk carries the prompt's tokens
// (the first with none), and every text_offset counts from the start of the streamed text, the
// echoed prompt included, so the pieces put together equal the whole response's.
TEST_F(OpenAiApiTest, StreamedEchoLogprobsJoinToTheWholeResponses) {
  const json body =
      completionBody({{"echo", true}, {"logprobs", 2}, {"max_tokens", 3}, {"prompt", "Hi"}});
  auto whole = client().post("/v1/completions", body);
  ASSERT_EQ(whole.status, 200) << whole.body;
  json streamed_body = body;
  streamed_body["stream"] = true;
  auto streamed = client().post("/v1/completions", streamed_body);
  ASSERT_EQ(streamed.status, 200);
  std::string text;
  json joined = {{"tokens", json::array()},
                 {"token_logprobs", json::array()},
                 {"top_logprobs", json::array()},
                 {"text_offset", json::array()}};
  for (const json& event : chunks(streamed)) {
    if (event["choices"].empty()) continue;
    const json& choice = event["choices"][0];
    text += choice["text"].get<std::string>();
    if (choice["logprobs"].is_null()) continue;
    for (const auto& [key, values] : choice["logprobs"].items()) {
      for (const json& v : values) joined[key].push_back(v);
    }
  }
  const json expected = whole.json()["choices"][0];
  EXPECT_EQ(text, expected["text"]);
  EXPECT_EQ(joined, expected["logprobs"]);
  EXPECT_TRUE(joined["token_logprobs"][0].is_null());
}

TEST_F(OpenAiApiTest, ChatCompletionRendersTheTemplateAndAnswersAsAssistant) {
  auto result = client().post("/v1/chat/completions", chatBody({}));
  ASSERT_EQ(result.status, 200) << result.body;
  json body = result.json();
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(body["choices"][0]["message"]["content"], letters(0, 4));
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  // stories260K has no template: the fallback renders "role: content" lines.
  EXPECT_EQ(body["usage"]["prompt_tokens"], promptTokens("user: Hi\nassistant: ", false));
}

TEST_F(OpenAiApiTest, ChatStreamHasRoleContentFinishUsageAndDone) {
  auto result =
      client().post("/v1/chat/completions",
                    chatBody({{"stream", true}, {"stream_options", {{"include_usage", true}}}}));
  ASSERT_EQ(result.status, 200);
  EXPECT_EQ(result.headers["content-type"], "text/event-stream");
  auto data = result.sseData();
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(data.back(), "[DONE]");
  auto events = chunks(result);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front()["choices"][0]["delta"]["role"], "assistant");
  std::string content;
  std::string finish;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_EQ(events[i]["object"], "chat.completion.chunk");
    EXPECT_TRUE(events[i]["usage"].is_null());
    const json& choice = events[i]["choices"][0];
    if (choice["delta"].contains("content"))
      content += choice["delta"]["content"].get<std::string>();
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
  }
  EXPECT_EQ(content, letters(0, 4));
  EXPECT_EQ(finish, "length");
  EXPECT_TRUE(events.back()["choices"].empty());
  EXPECT_EQ(events.back()["usage"]["completion_tokens"], 4);
}

TEST_F(OpenAiApiTest, CompletionStreamConcatenatesToTheText) {
  auto result = client().post("/v1/completions", completionBody({{"stream", true}}));
  ASSERT_EQ(result.status, 200);
  auto events = chunks(result);
  std::string text;
  for (const json& e : events) {
    EXPECT_EQ(e["object"], "text_completion");
    EXPECT_FALSE(e.contains("usage"));
    text += e["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, letters(0, 5));
  EXPECT_EQ(events.back()["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(result.sseData().back(), "[DONE]");
}

// As vLLM: a token whose text is held back (with the two-character stop string "bx" the last
// character waits for the next token) still gets its chunk, with empty text, so a client sees
// every token arrive.
TEST_F(OpenAiApiTest, CompletionStreamSendsAChunkForATokenWhoseTextIsHeldBack) {
  auto result = client().post("/v1/completions",
                              completionBody({{"stream", true}, {"stop", json::array({"bx"})}}));
  ASSERT_EQ(result.status, 200);
  std::vector<std::string> texts;
  for (const json& e : chunks(result)) {
    if (!e["choices"].empty()) texts.push_back(e["choices"][0]["text"].get<std::string>());
  }
  ASSERT_GE(texts.size(), 5u);
  EXPECT_EQ(texts[0], "");  // 'a', held back
  EXPECT_EQ(texts[1], "a");
  EXPECT_EQ(texts[2], "b");
  std::string text;
  for (const std::string& t : texts) text += t;
  EXPECT_EQ(text, letters(0, 5));
}

TEST_F(OpenAiApiTest, ChatAnswersToolCallsInOpenAisShape) {
  auto result = client().post("/v1/chat/completions", toolRequest({}));
  ASSERT_EQ(result.status, 200) << result.body;
  const json choice = result.json()["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  EXPECT_EQ(choice["message"]["content"], "Checking.");
  ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u);
  const json call = choice["message"]["tool_calls"][0];
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["id"].get<std::string>().rfind("chatcmpl-tool-", 0), 0u);
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()),
            json({{"city", "Paris"}}));

  // No tools in the request, or tool_choice "none": the text as it is.
  json plain = toolRequest({});
  plain.erase("tools");
  for (const json& body : {plain, toolRequest({{"tool_choice", "none"}})}) {
    auto answer = client().post("/v1/chat/completions", body);
    ASSERT_EQ(answer.status, 200) << answer.body;
    EXPECT_EQ(answer.json()["choices"][0]["message"]["content"], std::string(kToolAnswer));
    EXPECT_EQ(answer.json()["choices"][0]["finish_reason"], "length");
  }
}

// Streaming: content deltas stop before the call's tag (nothing of it leaks), then one delta
// carries the whole call, then finish_reason "tool_calls". As vLLM, the tokens held back send no
// chunk of their own (no empty content after the role chunk), except with return_token_ids,
// whose ids all arrive (in empty deltas).
TEST_F(OpenAiApiTest, ChatStreamSendsContentThenTheToolCall) {
  auto result = client().post("/v1/chat/completions", toolRequest({{"stream", true}}));
  ASSERT_EQ(result.status, 200) << result.body;
  std::string content;
  json calls = json::array();
  std::string finish;
  bool role_seen = false;
  for (const json& e : chunks(result)) {
    if (e["choices"].empty()) continue;
    const json& choice = e["choices"][0];
    if (choice["delta"].contains("role")) {
      role_seen = true;
    } else if (choice["delta"].contains("content")) {
      EXPECT_NE(choice["delta"]["content"], "") << e.dump();
    }
    if (choice["delta"].contains("content"))
      content += choice["delta"]["content"].get<std::string>();
    if (choice["delta"].contains("tool_calls")) {
      for (const json& c : choice["delta"]["tool_calls"]) calls.push_back(c);
    }
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
  }
  EXPECT_EQ(content, "Checking.");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["index"], 0);
  EXPECT_EQ(calls[0]["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(calls[0]["function"]["arguments"].get<std::string>()),
            json({{"city", "Paris"}}));
  EXPECT_EQ(finish, "tool_calls");
  EXPECT_TRUE(role_seen);

  auto whole = client().post("/v1/chat/completions", toolRequest({{"return_token_ids", true}}));
  ASSERT_EQ(whole.status, 200) << whole.body;
  auto with_ids = client().post("/v1/chat/completions",
                                toolRequest({{"stream", true}, {"return_token_ids", true}}));
  ASSERT_EQ(with_ids.status, 200) << with_ids.body;
  json ids = json::array();
  int empty_deltas = 0;
  for (const json& e : chunks(with_ids)) {
    if (e["choices"].empty()) continue;
    const json& choice = e["choices"][0];
    if (choice.contains("token_ids")) {
      for (const json& id : choice["token_ids"]) ids.push_back(id);
    }
    if (choice["delta"].empty() && choice["finish_reason"].is_null()) ++empty_deltas;
  }
  EXPECT_EQ(ids, whole.json()["choices"][0]["token_ids"]);
  EXPECT_GT(empty_deltas, 0);
}

// Only text held back as a possible call goes unsent: a token with no text of its own before any
// call (here a space, which the fake's byte tokens decode to nothing) still gets its content chunk
// with its logprobs, as in a stream without tools (vLLM's parsers answer it as content "").
TEST(ChatToolStream, ATokenWithoutTextBeforeACallStillGetsItsChunk) {
  TestModel tools{.id = "tools", .tool_call_parser = "hermes"};
  const std::string call = "<tool_call>{\"name\":\"f\",\"arguments\":{}}</tool_call>";
  tools.engine.script = "Hi there." + call;
  TestGateway gateway({tools});
  json body = toolRequest({{"stream", true}, {"logprobs", true}});
  body["max_tokens"] = 9 + call.size();
  auto result = HttpClient(gateway.port()).post("/v1/chat/completions", body);
  ASSERT_EQ(result.status, 200) << result.body;
  std::string content;
  size_t logprobs = 0;
  int empty_content = 0;
  for (const json& e : chunks(result)) {
    if (e["choices"].empty()) continue;
    const json& choice = e["choices"][0];
    if (choice["delta"].contains("role")) continue;
    if (choice["delta"].contains("content")) {
      content += choice["delta"]["content"].get<std::string>();
      if (choice["delta"]["content"] == "") ++empty_content;
    }
    if (choice["logprobs"].is_object()) logprobs += choice["logprobs"]["content"].size();
  }
  EXPECT_EQ(content, "Hithere.");
  EXPECT_EQ(empty_content, 1);  // the space
  EXPECT_EQ(logprobs, 9u);      // "Hi there.", one byte token each; the call's are held back
}

// tool_choice naming a function: the engine is asked for that function's arguments under its
// parameters schema (the fake writes its script regardless), and the answer comes back as one
// call to it, plain or streamed piece by piece, without reading the text for calls.
TEST_F(OpenAiApiTest, NamedToolChoiceAnswersWithOneCallOfThatFunction) {
  const json choice = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  auto result = client().post("/v1/chat/completions", toolRequest({{"tool_choice", choice}}));
  ASSERT_EQ(result.status, 200) << result.body;
  const json answer = result.json()["choices"][0];
  EXPECT_EQ(answer["finish_reason"], "length");
  EXPECT_TRUE(answer["message"]["content"].is_null());
  ASSERT_EQ(answer["message"]["tool_calls"].size(), 1u);
  const json call = answer["message"]["tool_calls"][0];
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["id"].get<std::string>().rfind("chatcmpl-tool-", 0), 0u);
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(call["function"]["arguments"], std::string(kToolAnswer));
  const auto submitted = gateway_->engine("tools").submitted();
  ASSERT_FALSE(submitted.empty());
  EXPECT_EQ(json::parse(submitted.back().params.json_schema), json({{"type", "object"}}));

  auto streamed = client().post("/v1/chat/completions",
                                toolRequest({{"tool_choice", choice}, {"stream", true}}));
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  std::string arguments;
  int with_id = 0;
  for (const json& e : chunks(streamed)) {
    if (e["choices"].empty()) continue;
    const json& delta = e["choices"][0]["delta"];
    EXPECT_FALSE(delta.contains("content") && !delta["content"].get<std::string>().empty());
    if (!delta.contains("tool_calls")) continue;
    const json& piece = delta["tool_calls"][0];
    EXPECT_EQ(piece["index"], 0);
    if (piece.contains("id")) {
      ++with_id;
      EXPECT_EQ(piece["function"]["name"], "get_weather");
    }
    arguments += piece["function"]["arguments"].get<std::string>();
  }
  EXPECT_EQ(with_id, 1);
  EXPECT_EQ(arguments, std::string(kToolAnswer));
}

// tool_choice "required": the engine is asked for an array of calls under the tools' schema; the
// answer's calls come back as tool_calls (streamed: held back, then all at the end), and an
// answer cut short is content.
TEST_F(OpenAiApiTest, RequiredToolChoiceAnswersWithTheArraysCalls) {
  auto result = client().post(
      "/v1/chat/completions",
      toolRequest({{"tool_choice", "required"}}, "tools-required", kRequiredToolAnswer));
  ASSERT_EQ(result.status, 200) << result.body;
  const json answer = result.json()["choices"][0];
  EXPECT_EQ(answer["finish_reason"], "tool_calls");
  EXPECT_TRUE(answer["message"]["content"].is_null());
  const json calls = answer["message"]["tool_calls"];
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0]["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(calls[1]["function"]["arguments"].get<std::string>()),
            json({{"city", "Rome"}}));
  EXPECT_NE(calls[0]["id"], calls[1]["id"]);
  const json schema =
      json::parse(gateway_->engine("tools-required").submitted().back().params.json_schema);
  EXPECT_EQ(schema["type"], "array");
  EXPECT_EQ(schema["items"]["anyOf"][0]["properties"]["name"]["const"], "get_weather");

  auto streamed = client().post("/v1/chat/completions",
                                toolRequest({{"tool_choice", "required"}, {"stream", true}},
                                            "tools-required", kRequiredToolAnswer));
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  json streamed_calls = json::array();
  std::string content;
  std::string finish;
  for (const json& e : chunks(streamed)) {
    if (e["choices"].empty()) continue;
    const json& choice = e["choices"][0];
    if (choice["delta"].contains("content"))
      content += choice["delta"]["content"].get<std::string>();
    if (choice["delta"].contains("tool_calls")) {
      for (const json& c : choice["delta"]["tool_calls"]) streamed_calls.push_back(c);
    }
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
  }
  EXPECT_EQ(content, "");
  ASSERT_EQ(streamed_calls.size(), 2u);
  EXPECT_EQ(streamed_calls[1]["index"], 1);
  EXPECT_EQ(finish, "tool_calls");

  json cut = toolRequest({{"tool_choice", "required"}}, "tools-required", kRequiredToolAnswer);
  cut["max_tokens"] = 10;
  auto short_answer = client().post("/v1/chat/completions", cut);
  ASSERT_EQ(short_answer.status, 200) << short_answer.body;
  EXPECT_EQ(short_answer.json()["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(short_answer.json()["choices"][0]["message"]["content"],
            std::string(kRequiredToolAnswer).substr(0, 10));
}

// The ways to ask for structured output (OpenAI's response_format, vLLM's guided_json and
// structured_outputs) reach the engine as the same sampling parameters.
TEST_F(OpenAiApiTest, StructuredOutputRequestsReachTheEngineAsOneSchema) {
  const json schema = {{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}}}};
  const std::vector<json> extras = {
      {{"response_format",
        {{"type", "json_schema"}, {"json_schema", {{"name", "s"}, {"schema", schema}}}}}},
      {{"guided_json", schema}},
      {{"guided_json", schema.dump()}},
      {{"structured_outputs", {{"json", schema}}}}};
  for (const json& extra : extras) {
    auto result = client().post("/v1/completions", completionBody(extra));
    ASSERT_EQ(result.status, 200) << extra.dump() << ": " << result.body;
    const EngineRequest sent = gateway_->engine("fake").submitted().back();
    EXPECT_EQ(json::parse(sent.params.json_schema), schema) << extra.dump();
    EXPECT_FALSE(sent.params.json_object);
  }
  for (const json& extra : {json{{"guided_choice", {"yes", "no"}}},
                            json{{"structured_outputs", {{"choice", {"yes", "no"}}}}},
                            // Clients that serialise every field send the unset ones as null.
                            json{{"structured_outputs",
                                  {{"choice", {"yes", "no"}},
                                   {"json", nullptr},
                                   {"json_object", nullptr},
                                   {"regex", nullptr}}}}}) {
    auto result = client().post("/v1/completions", completionBody(extra));
    ASSERT_EQ(result.status, 200) << result.body;
    EXPECT_EQ(gateway_->engine("fake").submitted().back().params.choice,
              (std::vector<std::string>{"yes", "no"}));
  }
  for (const json& extra :
       {json{{"guided_regex", "[a-z]+\\d?"}},
        json{{"structured_outputs", {{"regex", "[a-z]+\\d?"}, {"json", nullptr}}}},
        json{{"guided_regex", nullptr}, {"guided_choice", {"x"}}}}) {
    auto result = client().post("/v1/completions", completionBody(extra));
    ASSERT_EQ(result.status, 200) << result.body;
    // submitted() is a copy: keep the params, not a reference into it.
    const SamplingParams sent = gateway_->engine("fake").submitted().back().params;
    if (extra.contains("guided_choice")) {
      EXPECT_TRUE(sent.regex.empty());
    } else {
      EXPECT_EQ(sent.regex, "[a-z]+\\d?") << extra.dump();
    }
  }
  // llama.cpp's json_schema is guided_json; null fields are unset.
  for (const json& extra : {json{{"json_schema", {{"type", "integer"}}}},
                            json{{"guided_json", nullptr},
                                 {"guided_choice", nullptr},
                                 {"json_schema", "{\"type\": \"integer\"}"}}}) {
    auto result = client().post("/v1/completions", completionBody(extra));
    ASSERT_EQ(result.status, 200) << result.body;
    const SamplingParams sent = gateway_->engine("fake").submitted().back().params;
    EXPECT_EQ(json::parse(sent.json_schema), (json{{"type", "integer"}})) << extra.dump();
    EXPECT_TRUE(sent.choice.empty());
  }
  // A GBNF grammar under vLLM's two names and llama.cpp's.
  const std::string grammar = "root ::= [a-z]+ \"!\"";
  for (const json& extra : {json{{"guided_grammar", grammar}}, json{{"grammar", grammar}},
                            json{{"structured_outputs", {{"grammar", grammar}}}}}) {
    auto result = client().post("/v1/completions", completionBody(extra));
    ASSERT_EQ(result.status, 200) << result.body;
    EXPECT_EQ(gateway_->engine("fake").submitted().back().params.grammar, grammar) << extra.dump();
  }
  for (const json& extra : {json{{"response_format", {{"type", "json_object"}}}},
                            json{{"structured_outputs", {{"json_object", true}}}}}) {
    auto result = client().post("/v1/completions", completionBody(extra));
    ASSERT_EQ(result.status, 200) << result.body;
    EXPECT_TRUE(gateway_->engine("fake").submitted().back().params.json_object) << extra.dump();
  }
}

// --tool-call-parser llama3_json and mistral, answered and streamed: the same call in OpenAI's
// shape. Mistral's calls get 9-character ids (its chat templates reject others) and its answers
// are decoded with special tokens kept, since [TOOL_CALLS] is one.
TEST_F(OpenAiApiTest, ChatReadsLlama3JsonAndMistralToolCalls) {
  struct Case {
    std::string model, answer, content;
  };
  for (const Case& c : {Case{"tools-llama3", kLlama3ToolAnswer, ""},
                        Case{"tools-mistral", kMistralToolAnswer, "Checking."}}) {
    SCOPED_TRACE(c.model);
    auto result = client().post("/v1/chat/completions", toolRequest({}, c.model, c.answer));
    ASSERT_EQ(result.status, 200) << result.body;
    const json choice = result.json()["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "tool_calls");
    EXPECT_EQ(choice["message"]["content"], c.content.empty() ? json(nullptr) : json(c.content));
    ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u);
    const json call = choice["message"]["tool_calls"][0];
    EXPECT_EQ(call["function"]["name"], "get_weather");
    EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()),
              json({{"city", "Paris"}}));
    const std::string id = call["id"];
    if (c.model == "tools-mistral") {
      EXPECT_EQ(id.size(), 9u) << id;
    } else {
      EXPECT_TRUE(id.starts_with("chatcmpl-tool-")) << id;
    }
    auto submitted = gateway_->engine(c.model).submitted();
    ASSERT_FALSE(submitted.empty());
    EXPECT_EQ(submitted.back().params.skip_special_tokens, c.model != "tools-mistral");

    auto stream =
        client().post("/v1/chat/completions", toolRequest({{"stream", true}}, c.model, c.answer));
    ASSERT_EQ(stream.status, 200) << stream.body;
    std::string content;
    json calls = json::array();
    std::string finish;
    for (const json& e : chunks(stream)) {
      if (e["choices"].empty()) continue;
      const json& delta = e["choices"][0]["delta"];
      if (delta.contains("content")) content += delta["content"].get<std::string>();
      if (delta.contains("tool_calls")) {
        for (const json& call_delta : delta["tool_calls"]) calls.push_back(call_delta);
      }
      if (!e["choices"][0]["finish_reason"].is_null()) finish = e["choices"][0]["finish_reason"];
    }
    EXPECT_EQ(content, c.content);  // nothing of the call leaks as content
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0]["function"]["name"], "get_weather");
    EXPECT_EQ(finish, "tool_calls");
  }
}

// A mistral answer cut before its call is complete is content, without the [TOOL_CALLS] special
// token (kept in the text only for the parser), answered or streamed.
TEST_F(OpenAiApiTest, ChatMistralAnswerWithABrokenCallIsContentWithoutTheTag) {
  const std::string answer = kMistralToolAnswer;
  const std::string cut = answer.substr(0, answer.size() - 5);
  std::string expected = cut;
  expected.erase(expected.find("[TOOL_CALLS]"), std::string("[TOOL_CALLS]").size());
  json body = toolRequest({}, "tools-mistral", answer);
  body["max_tokens"] = cut.size();
  auto result = client().post("/v1/chat/completions", body);
  ASSERT_EQ(result.status, 200) << result.body;
  const json choice = result.json()["choices"][0];
  EXPECT_EQ(choice["message"]["content"], expected);
  EXPECT_TRUE(choice["message"]["tool_calls"].empty());
  EXPECT_EQ(choice["finish_reason"], "length");

  body["stream"] = true;
  auto stream = client().post("/v1/chat/completions", body);
  ASSERT_EQ(stream.status, 200) << stream.body;
  std::string content;
  for (const json& e : chunks(stream)) {
    if (e["choices"].empty()) continue;
    const json& delta = e["choices"][0]["delta"];
    EXPECT_FALSE(delta.contains("tool_calls"));
    if (delta.contains("content")) content += delta["content"].get<std::string>();
  }
  EXPECT_EQ(content, expected);
}

TEST_F(OpenAiApiTest, ChatLogprobsListEachTokenWithBytesAndAlternatives) {
  auto result =
      client().post("/v1/chat/completions", chatBody({{"logprobs", true}, {"top_logprobs", 3}}));
  ASSERT_EQ(result.status, 200) << result.body;
  json content = result.json()["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 4u);
  EXPECT_EQ(content[0]["token"], "a");
  EXPECT_EQ(content[0]["bytes"], json::array({97}));
  EXPECT_EQ(content[0]["logprob"], -0.25);
  EXPECT_EQ(content[0]["top_logprobs"].size(), 3u);
}

TEST_F(OpenAiApiTest, AliasRoutesToTheSameEngineAndIsEchoedAsTheModel) {
  auto result = client().post("/v1/chat/completions", chatBody({{"model", "fake-alias"}}));
  ASSERT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(result.json()["model"], "fake-alias");
  EXPECT_EQ(gateway_->engine("fake").submitted().size(), 1u);
}

TEST_F(OpenAiApiTest, ReplicasShareRequestsByOutstandingTokens) {
  auto first = std::async(std::launch::async, [&] {
    return client().post("/v1/completions", completionBody({{"model", "pair"}}));
  });
  // Wait until the first request is in an engine, then send the second.
  for (int i = 0;
       i < 200 &&
       gateway_->engine("pair", 0).numActive() + gateway_->engine("pair", 1).numActive() < 1;
       ++i) {
    std::this_thread::sleep_for(5ms);
  }
  auto second = std::async(std::launch::async, [&] {
    return client().post("/v1/completions", completionBody({{"model", "pair"}}));
  });
  for (int i = 0;
       i < 200 &&
       gateway_->engine("pair", 0).numActive() + gateway_->engine("pair", 1).numActive() < 2;
       ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(gateway_->engine("pair", 0).numActive(), 1);
  EXPECT_EQ(gateway_->engine("pair", 1).numActive(), 1);
  gateway_->engine("pair", 0).release();
  gateway_->engine("pair", 1).release();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
}

TEST_F(OpenAiApiTest, FullModelAnswers429WithRetryAfter) {
  auto first = std::async(std::launch::async, [&] {
    return client().post("/v1/completions", completionBody({{"model", "narrow"}}));
  });
  for (int i = 0; i < 1000 && gateway_->engine("narrow").numActive() < 1; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  auto refused = client().post("/v1/completions", completionBody({{"model", "narrow"}}));
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.headers["retry-after"], "1");
  EXPECT_EQ(refused.json()["error"]["type"], "rate_limit_error");
  gateway_->engine("narrow").release();
  EXPECT_EQ(first.get().status, 200);
  // The slot is free again.
  EXPECT_EQ(client().post("/v1/completions", completionBody({{"model", "narrow"}})).status, 200);
}

TEST_F(OpenAiApiTest, ClientThatLeavesMidStreamAbortsItsEngineRequest) {
  std::string got = client().requestAndCut(
      "/v1/chat/completions", chatBody({{"model", "slow"}, {"stream", true}, {"max_tokens", 200}}),
      600);
  EXPECT_NE(got.find("data: "), std::string::npos);
  FakeEngine& engine = gateway_->engine("slow");
  for (int i = 0; i < 1000 && engine.abortedIds().empty(); ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(engine.abortedIds().size(), 1u);
  EXPECT_EQ(engine.abortedIds()[0].rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(engine.numActive(), 0);
  auto stats = client().get("/debug/engines").json();
  for (const json& m : stats["models"]) {
    if (m["id"] == "slow") {
      EXPECT_EQ(m["replicas"][0]["kv_cache_usage"], 0.0);
    }
  }
}

TEST_F(OpenAiApiTest, TokenizeAndDetokenizeUseTheModelsTokenizer) {
  auto tokens = client().post("/tokenize", {{"model", "fake"}, {"prompt", "Once upon a time"}});
  ASSERT_EQ(tokens.status, 200) << tokens.body;
  auto expected = FakeEngine::sharedTokenizer().encode("Once upon a time", true);
  EXPECT_EQ(tokens.json()["tokens"], json(expected));
  EXPECT_EQ(tokens.json()["count"], expected.size());
  EXPECT_EQ(tokens.json()["max_model_len"], 256);
  auto text = client().post("/detokenize", {{"model", "fake"}, {"tokens", expected}});
  ASSERT_EQ(text.status, 200);
  EXPECT_EQ(text.json()["prompt"], FakeEngine::sharedTokenizer().decode(expected, false));
  auto chat = client().post(
      "/tokenize",
      {{"model", "fake"}, {"messages", json::array({{{"role", "user"}, {"content", "Hi"}}})}});
  EXPECT_EQ(chat.json()["count"], promptTokens("user: Hi\nassistant: ", false));
}

// When the drain times out, generations still running are aborted and their streams end as an
// abort says (finish_reason "abort", then [DONE]) before the server stops; they used to be cut
// after their headers, and their jobs were never released.
TEST(GatewayServer, ADrainThatTimesOutEndsRunningStreamsAsAborted) {
  TestGateway gateway({TestModel{.id = "stuck"}});
  gateway.engine("stuck").hold();
  HttpClient client(gateway.port());
  auto running = std::async(std::launch::async, [&] {
    return client.post(
        "/v1/completions",
        {{"model", "stuck"}, {"prompt", "Hi"}, {"max_tokens", 20}, {"stream", true}});
  });
  for (int i = 0; i < 1000 && gateway.engine("stuck").numActive() < 1; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_FALSE(gateway.server().shutdown(100ms));  // the drain times out
  const auto result = running.get();
  ASSERT_EQ(result.status, 200);
  const auto data = result.sseData();
  ASSERT_GE(data.size(), 2u) << result.body;
  EXPECT_EQ(data.back(), "[DONE]") << result.body;
  EXPECT_EQ(json::parse(data[data.size() - 2])["choices"][0]["finish_reason"], "abort")
      << result.body;
}

TEST_F(OpenAiApiTest, KeepAliveConnectionServesSeveralRequests) {
  auto results = client().keepAlive({"/health", "/v1/models", "/version"});
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r.status, 200);
}

TEST_F(OpenAiApiTest, ShutdownLetsInFlightRequestsFinish) {
  auto running = std::async(std::launch::async, [&] {
    return client().post("/v1/completions",
                         completionBody({{"model", "slow"}, {"max_tokens", 20}}));
  });
  for (int i = 0; i < 1000 && gateway_->engine("slow").numActive() < 1; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  uint16_t port = gateway_->port();
  EXPECT_TRUE(gateway_->server().shutdown(5000ms));
  auto result = running.get();
  ASSERT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(result.json()["choices"][0]["text"], letters(0, 20));
  EXPECT_EQ(HttpClient(port).get("/health").status, 0);  // no longer listening
}

// Hugging Face renders `tools | tojson` from Python dicts, in the request's key order; a body
// parsed into sorted maps would put "properties" before "type" and "a" before "z".
TEST(ChatTemplate, ToolsAndMessagesKeepTheRequestsKeyOrder) {
  const std::string qwen_dir = MANIFOLD_SOURCE_DIR "/tests/data/tokenizers/qwen2.5-instruct";
  std::ifstream config(qwen_dir + "/tokenizer_config.json");
  ASSERT_TRUE(config.good());
  TestModel qwen{.id = "qwen"};
  qwen.chat_template = json::parse(config)["chat_template"].get<std::string>();
  TestModel echo{.id = "echo"};
  echo.chat_template = "{% for m in messages %}{{ m | tojson }}{% endfor %}";
  TestGateway gateway({qwen, echo});
  HttpClient client(gateway.port());
  const std::string tools =
      R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather.", )"
      R"("parameters": {"type": "object", "properties": {"z": {"type": "string"}, )"
      R"("a": {"type": "integer"}}, "required": ["z", "a"]}}}])";
  auto rendered = [&](const std::string& model, const std::string& messages) {
    std::string body =
        R"({"model": ")" + model + R"(", "messages": )" + messages + R"(, "tools": )" + tools + "}";
    auto result = client.request("POST", "/tokenize", body);
    EXPECT_EQ(result.status, 200) << result.body;
    auto ids = result.json()["tokens"].get<std::vector<int32_t>>();
    return FakeEngine::sharedTokenizer().decode(ids, /*skip_special_tokens=*/false);
  };

  std::string prompt = rendered("qwen", R"([{"role": "user", "content": "Hi"}])");
  EXPECT_NE(prompt.find(tools.substr(1, tools.size() - 2)), std::string::npos) << prompt;
  std::string message = rendered("echo", R"([{"role": "user", "name": "z", "content": "Hi"}])");
  EXPECT_EQ(message, R"({"role": "user", "name": "z", "content": "Hi"})");
}

// An assistant's tool call carries its arguments as JSON text (OpenAI's shape); templates read
// them as an object (`arguments | tojson`, `arguments.city`), so they reach the template parsed,
// as vLLM does; absent or empty arguments are {}, text that is not JSON a 400.
TEST(ChatTemplate, ToolCallArgumentsReachTheTemplateAsObjects) {
  TestModel echo{.id = "echo"};
  echo.chat_template =
      "{% for m in messages %}{% for c in m.tool_calls or [] %}"
      "{{ c.function.arguments | tojson }}|{{ c.function.arguments is mapping }};"
      "{% endfor %}{% endfor %}";
  TestGateway gateway({echo});
  HttpClient client(gateway.port());
  const json body = {
      {"model", "echo"},
      {"messages",
       json::array(
           {{{"role", "user"}, {"content", "Weather?"}},
            {{"role", "assistant"},
             {"content", nullptr},
             {"tool_calls",
              json::array({{{"id", "a"},
                            {"type", "function"},
                            {"function", {{"name", "w"}, {"arguments", R"({"city": "Paris"})"}}}},
                           {{"id", "b"},
                            {"type", "function"},
                            {"function", {{"name", "w"}, {"arguments", ""}}}},
                           {{"id", "c"},
                            {"type", "function"},
                            {"function", {{"name", "w"}, {"arguments", {{"x", 1}}}}}}})}}})}};
  auto result = client.post("/tokenize", body);
  ASSERT_EQ(result.status, 200) << result.body;
  const std::string rendered = FakeEngine::sharedTokenizer().decode(
      result.json()["tokens"].get<std::vector<int32_t>>(), /*skip_special_tokens=*/false);
  EXPECT_NE(rendered.find(R"({"city": "Paris"}|True;{}|True;{"x": 1}|True;)"), std::string::npos)
      << rendered;
  json bad = body;
  bad["messages"][1]["tool_calls"][0]["function"]["arguments"] = "{city: Paris";
  auto refused = client.post("/tokenize", bad);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(refused.json()["error"]["param"], "messages[1].tool_calls[0].function.arguments");
}

// text_offset counts characters (code points), as OpenAI's and vLLM's (Python len) do, not bytes.
TEST_F(OpenAiApiTest, TextOffsetsCountCharacters) {
  auto result = client().post(
      "/v1/completions",
      completionBody(
          {{"echo", true}, {"logprobs", 0}, {"max_tokens", 2}, {"prompt", "日本 héllo wörld"}}));
  ASSERT_EQ(result.status, 200) << result.body;
  const json logprobs = result.json()["choices"][0]["logprobs"];
  const auto& tokens = logprobs["tokens"];
  const auto& offsets = logprobs["text_offset"];
  ASSERT_EQ(tokens.size(), offsets.size());
  EXPECT_EQ(offsets[0], 0);
  bool multibyte = false;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    const std::string token = tokens[i];
    size_t characters = 0;
    for (unsigned char c : token) characters += (c & 0xC0) != 0x80 ? 1 : 0;
    multibyte = multibyte || characters != token.size();
    EXPECT_EQ(offsets[i + 1].get<size_t>() - offsets[i].get<size_t>(), characters) << i;
  }
  EXPECT_TRUE(multibyte) << "no token with a multi-byte character: the test shows nothing";
}

// A port that is taken is an error naming it, not a crash (the half-built server's destructor
// drained an HTTP server that did not exist); a host name listens on its address.
TEST(GatewayServer, ATakenPortIsAnErrorAndAHostNameListens) {
  TestGateway running({TestModel{.id = "fake"}});
  gateway::GatewayOptions options;
  options.http.host = "127.0.0.1";
  options.http.port = running.port();
  auto taken = gateway::GatewayServer::create(options, std::make_unique<ModelRegistry>());
  ASSERT_FALSE(taken.isOk());
  EXPECT_EQ(taken.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(
      taken.status().message().find("cannot listen on 127.0.0.1:" + std::to_string(running.port())),
      std::string::npos)
      << taken.status().message();
  options.http.host = "localhost";
  options.http.port = 0;
  auto named = gateway::GatewayServer::create(options, std::make_unique<ModelRegistry>());
  ASSERT_TRUE(named.isOk()) << named.status().toString();
  EXPECT_GT((*named)->port(), 0);
}

// Tokenizing a long prompt happens on the prompt threads, not on the io thread that read it: with
// one io thread, /health answers while a 24 MB prompt is being tokenized (it used to wait for it).
TEST(GatewayServer, HealthAnswersWhileALongPromptIsTokenized) {
  gateway::GatewayOptions options;
  options.http.io_threads = 1;
  TestGateway gateway({TestModel{.id = "fake"}}, options);
  std::string prompt;
  prompt.reserve(24 << 20);
  while (prompt.size() < (24u << 20)) prompt += "the little dog ran to the park and saw a cat ";
  const std::string body = json{{"model", "fake"}, {"prompt", prompt}, {"max_tokens", 1}}.dump();
  std::atomic<int> order{0};
  int completion_done = 0;
  int completion_status = 0;
  std::thread long_request([&] {
    HttpClient client(gateway.port());
    completion_status = client.request("POST", "/v1/completions", body).status;
    completion_done = ++order;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // the body is in, tokenizing
  HttpClient client(gateway.port());
  EXPECT_EQ(client.get("/health").status, 200);
  const int health_done = ++order;
  long_request.join();
  EXPECT_EQ(completion_status, 400);  // longer than the context
  EXPECT_LT(health_done, completion_done);
}

TEST(ApiKeys, KeyLimitedToSomeModelsSeesOnlyThose) {
  gateway::GatewayOptions options;
  options.api_keys = {{"sk-all", {}}, {"sk-fake-only", {"fake"}}};
  TestGateway gateway({TestModel{.id = "fake"}, TestModel{.id = "other"}}, options);
  HttpClient client(gateway.port());
  auto models = client.get("/v1/models", {{"Authorization", "Bearer sk-fake-only"}});
  ASSERT_EQ(models.status, 200);
  ASSERT_EQ(models.json()["data"].size(), 1u);
  EXPECT_EQ(models.json()["data"][0]["id"], "fake");
  auto other = client.post("/v1/chat/completions", chatBody({{"model", "other"}}),
                           {{"Authorization", "Bearer sk-fake-only"}});
  EXPECT_EQ(other.status, 404);
  auto allowed = client.post("/v1/chat/completions", chatBody({{"model", "other"}}),
                             {{"Authorization", "Bearer sk-all"}});
  EXPECT_EQ(allowed.status, 200);
}

}  // namespace
}  // namespace manifold::testing
