// vLLM's extensions of the OpenAI API and the places where vLLM and OpenAI define an answer the
// plain API leaves open, over real HTTP against fake engines: prompt_logprobs, allowed_token_ids,
// bad_words, truncate_prompt_tokens, token ids in answers, continuous usage, echo with
// max_tokens 0, n split across engine requests, logprob and key order, tool-choice rules.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "tests/gateway/api/openai_api_fixture.h"

namespace manifold::testing {
namespace {

using namespace std::chrono_literals;

// Completions default to 16 tokens (OpenAI); an explicit null asks for the rest of the context,
// as in vLLM.
TEST_F(OpenAiApiTest, CompletionsMaxTokensDefaultsTo16AndNullMeansTheRestOfTheContext) {
  json body = completionBody({});
  body.erase("max_tokens");
  ASSERT_EQ(client().post("/v1/completions", body).status, 200);
  body["max_tokens"] = nullptr;
  ASSERT_EQ(client().post("/v1/completions", body).status, 200);
  auto submitted = gateway_->engine("fake").submitted();
  ASSERT_EQ(submitted.size(), 2u);
  EXPECT_EQ(submitted[0].params.max_tokens, 16);
  const int prompt = promptTokens("Once upon a time", true);
  EXPECT_EQ(submitted[1].params.max_tokens, 256 - prompt);
}

// vLLM's truncate_prompt_tokens keeps the prompt's last N tokens; bad_words reach the engine as
// token ids (each word, and with a leading space when that is another word of as many tokens);
// allowed_token_ids as a set.
TEST_F(OpenAiApiTest, VllmPromptAndVocabularyExtrasReachTheEngine) {
  const auto& tokenizer = FakeEngine::sharedTokenizer();
  const auto full = tokenizer.encode("Once upon a time", true);
  ASSERT_GT(full.size(), 3u);
  auto result = client().post("/v1/completions", completionBody({{"truncate_prompt_tokens", 3},
                                                                 {"bad_words", {"upon"}},
                                                                 {"allowed_token_ids", {7, 5, 7}},
                                                                 {"echo", true}}));
  ASSERT_EQ(result.status, 200) << result.body;
  auto submitted = gateway_->engine("fake").submitted();
  ASSERT_EQ(submitted.size(), 1u);
  const std::vector<int32_t> kept(full.end() - 3, full.end());
  EXPECT_EQ(submitted[0].prompt_token_ids, kept);
  EXPECT_EQ(result.json()["usage"]["prompt_tokens"], 3);
  // The echo is the text the model saw.
  EXPECT_EQ(result.json()["choices"][0]["text"].get<std::string>().rfind(
                tokenizer.decode(kept, false), 0),
            0u);
  ASSERT_FALSE(submitted[0].params.bad_words_token_ids.empty());
  EXPECT_EQ(submitted[0].params.bad_words_token_ids[0], tokenizer.encode("upon", false));
  EXPECT_EQ(submitted[0].params.allowed_token_ids, (std::vector<int32_t>{5, 7}));
}

// bad_words are stripped of leading whitespace as Python's str.lstrip() strips it (vLLM's),
// Unicode spaces included: an ideographic or no-break space before a word is not part of it.
TEST_F(OpenAiApiTest, BadWordsLoseLeadingUnicodeWhitespace) {
  ASSERT_EQ(client().post("/v1/completions", completionBody({{"bad_words", {"upon"}}})).status,
            200);
  ASSERT_EQ(
      client()
          .post("/v1/completions", completionBody({{"bad_words", {"\xE3\x80\x80\xC2\xA0\tupon"}}}))
          .status,
      200);
  auto submitted = gateway_->engine("fake").submitted();
  ASSERT_EQ(submitted.size(), 2u);
  ASSERT_FALSE(submitted[0].params.bad_words_token_ids.empty());
  EXPECT_EQ(submitted[1].params.bad_words_token_ids, submitted[0].params.bad_words_token_ids);
}

// As OpenAI specifies and vLLM does, logit_bias values are clamped to [-100, 100]; chat's own
// limits name its own fields.
TEST_F(OpenAiApiTest, LogitBiasIsClampedAndChatLimitsNameTheirFields) {
  ASSERT_EQ(
      client()
          .post("/v1/completions", completionBody({{"logit_bias", {{"5", 500}, {"6", -1e9}}}}))
          .status,
      200);
  auto submitted = gateway_->engine("fake").submitted();
  ASSERT_EQ(submitted.size(), 1u);
  EXPECT_EQ(submitted[0].params.logit_bias,
            (std::vector<std::pair<int32_t, float>>{{5, 100.0f}, {6, -100.0f}}));
  auto zero = client().post("/v1/chat/completions", chatBody({{"max_completion_tokens", 0}}));
  EXPECT_EQ(zero.status, 400);
  EXPECT_EQ(zero.json()["error"]["param"], "max_completion_tokens") << zero.body;
  auto top =
      client().post("/v1/chat/completions", chatBody({{"logprobs", true}, {"top_logprobs", 21}}));
  EXPECT_EQ(top.status, 400);
  EXPECT_EQ(top.json()["error"]["param"], "top_logprobs") << top.body;
}

// An empty prompt is the tokenizer's BOS alone, as vLLM serves it (a story from nothing).
TEST_F(OpenAiApiTest, AnEmptyPromptIsTheBosToken) {
  auto result = client().post("/v1/completions", completionBody({{"prompt", ""}}));
  ASSERT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(result.json()["usage"]["prompt_tokens"], 1);
  auto submitted = gateway_->engine("fake").submitted();
  ASSERT_EQ(submitted.size(), 1u);
  EXPECT_EQ(submitted[0].prompt_token_ids, FakeEngine::sharedTokenizer().encode("", true));
}

// Completions' top_logprobs always hold the sampled token (OpenAI: "up to logprobs+1 elements",
// as vLLM returns them), so logprobs 0 lists it alone.
TEST_F(OpenAiApiTest, CompletionTopLogprobsAlwaysHoldTheSampledToken) {
  auto result = client().post("/v1/completions", completionBody({{"logprobs", 0}}));
  ASSERT_EQ(result.status, 200) << result.body;
  const json logprobs = result.json()["choices"][0]["logprobs"];
  ASSERT_EQ(logprobs["tokens"].size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(logprobs["top_logprobs"][i], json({{logprobs["tokens"][i], -0.25}})) << i;
  }
}

// Keys come in OpenAI's order (id, object, created, model, choices, usage), and top_logprobs list
// the sampled token first, then the others by rank, as vLLM lists them.
TEST_F(OpenAiApiTest, ResponsesKeepOpenAisKeyOrderAndTopLogprobsTheirRankOrder) {
  auto result = client().post("/v1/completions", completionBody({{"logprobs", 2}}));
  ASSERT_EQ(result.status, 200) << result.body;
  const auto body = nlohmann::ordered_json::parse(result.body);
  std::vector<std::string> keys;
  for (const auto& [key, value] : body.items()) keys.push_back(key);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"id", "object", "created", "model", "choices", "usage"}));
  const auto& logprobs = body["choices"][0]["logprobs"];
  for (size_t i = 0; i < logprobs["tokens"].size(); ++i) {
    const auto& top = logprobs["top_logprobs"][i];
    ASSERT_EQ(top.size(), 2u);
    EXPECT_EQ(top.begin().key(), logprobs["tokens"][i]);  // the fake's sampled token ranks first
    EXPECT_EQ(std::next(top.begin()).key(), "B");         // its second: the byte 'A' + 1
  }
}

// vLLM's prompt_logprobs: per prompt token an object of id -> {logprob, rank, decoded_token} with
// the prompt's token and the top ones, null for the first token; in each completions choice, beside
// the choices for chat; never streamed.
TEST_F(OpenAiApiTest, PromptLogprobsAreListedAsVllmListsThem) {
  const auto prompt_ids = FakeEngine::sharedTokenizer().encode("Once upon a time", true);
  ASSERT_GE(prompt_ids.size(), 3u);
  auto check = [&](const json& listed) {
    ASSERT_EQ(listed.size(), prompt_ids.size()) << listed;
    EXPECT_TRUE(listed[0].is_null());
    for (size_t i = 1; i < prompt_ids.size(); ++i) {
      const json& position = listed[i];
      ASSERT_EQ(position.size(), 3u) << position;  // the prompt's token and the top 2
      const json& own = position[std::to_string(prompt_ids[i])];
      EXPECT_EQ(own["logprob"], -1.0);
      EXPECT_EQ(own["rank"], 3);  // the fake ranks every prompt token third
      const std::vector<int32_t> before(prompt_ids.begin(), prompt_ids.begin() + i);
      EXPECT_EQ(
          own["decoded_token"],
          FakeEngine::sharedTokenizer()
              .decode(std::vector<int32_t>(prompt_ids.begin(), prompt_ids.begin() + i + 1), false)
              .substr(FakeEngine::sharedTokenizer().decode(before, false).size()));
      EXPECT_EQ(position["100"]["rank"], 1);  // the fake's top tokens: ids 100 and 101
      EXPECT_EQ(position["101"]["rank"], 2);
      EXPECT_EQ(position["101"]["logprob"], -1.5);
    }
  };
  auto completion = client().post("/v1/completions", completionBody({{"prompt_logprobs", 2}}));
  ASSERT_EQ(completion.status, 200) << completion.body;
  check(completion.json()["choices"][0]["prompt_logprobs"]);
  EXPECT_FALSE(client()
                   .post("/v1/completions", completionBody({}))
                   .json()["choices"][0]
                   .contains("prompt_logprobs"));

  auto chat = client().post("/v1/chat/completions", chatBody({{"prompt_logprobs", 2}}));
  ASSERT_EQ(chat.status, 200) << chat.body;
  EXPECT_EQ(chat.json()["prompt_logprobs"].size(), promptTokens("user: Hi\nassistant: ", false));

  auto streamed =
      client().post("/v1/completions", completionBody({{"prompt_logprobs", 1}, {"stream", true}}));
  EXPECT_EQ(streamed.status, 400);
  EXPECT_EQ(streamed.json()["error"]["param"], "prompt_logprobs") << streamed.body;
  EXPECT_EQ(client()
                .post("/v1/completions", completionBody({{"prompt_logprobs", 0}, {"stream", true}}))
                .status,
            200);
}

// echo with max_tokens 0 scores a prompt (OpenAI's legacy use, vLLM's echo_without_generation):
// the answer is the prompt and its logprobs, nothing generated, streamed or not.
TEST_F(OpenAiApiTest, EchoWithZeroMaxTokensAnswersThePromptAlone) {
  const json body =
      completionBody({{"echo", true}, {"logprobs", 1}, {"max_tokens", 0}, {"prompt", "Hi"}});
  auto whole = client().post("/v1/completions", body);
  ASSERT_EQ(whole.status, 200) << whole.body;
  const json choice = whole.json()["choices"][0];
  EXPECT_EQ(choice["text"], "Hi");
  EXPECT_EQ(choice["finish_reason"], "length");
  const size_t prompt = FakeEngine::sharedTokenizer().encode("Hi", true).size();
  EXPECT_EQ(choice["logprobs"]["tokens"].size(), prompt);
  EXPECT_TRUE(choice["logprobs"]["token_logprobs"][0].is_null());
  EXPECT_EQ(choice["logprobs"]["token_logprobs"][prompt - 1], -1.0);
  EXPECT_EQ(whole.json()["usage"]["completion_tokens"], 0);

  json streamed_body = body;
  streamed_body["stream"] = true;
  auto streamed = client().post("/v1/completions", streamed_body);
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  std::string text;
  for (const json& chunk : chunks(streamed)) text += chunk["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, "Hi");

  // Without echo, max_tokens 0 is still an error.
  EXPECT_EQ(client().post("/v1/completions", completionBody({{"max_tokens", 0}})).status, 400);
}

// vLLM's return_token_ids: the prompt's ids and each choice's generated ids, streamed (the
// prompt's once per choice, the generated ones per chunk) or not; return_tokens_as_token_ids
// names logprobs tokens "token_id:N".
TEST_F(OpenAiApiTest, TokenIdsComeBackWhenAskedFor) {
  const auto prompt = FakeEngine::sharedTokenizer().encode("Once upon a time", true);
  auto whole = client().post(
      "/v1/completions",
      completionBody(
          {{"return_token_ids", true}, {"return_tokens_as_token_ids", true}, {"logprobs", 0}}));
  ASSERT_EQ(whole.status, 200) << whole.body;
  const json choice = whole.json()["choices"][0];
  EXPECT_EQ(choice["prompt_token_ids"], json(prompt));
  ASSERT_EQ(choice["token_ids"].size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    const std::string name = "token_id:" + std::to_string(choice["token_ids"][i].get<int>());
    EXPECT_EQ(choice["logprobs"]["tokens"][i], name);
    EXPECT_TRUE(choice["logprobs"]["top_logprobs"][i].contains(name));
  }

  auto streamed = client().post("/v1/completions",
                                completionBody({{"return_token_ids", true}, {"stream", true}}));
  json ids = json::array();
  int prompt_ids_seen = 0;
  for (const json& event : chunks(streamed)) {
    const json& entry = event["choices"][0];
    if (entry.contains("prompt_token_ids")) {
      EXPECT_EQ(entry["prompt_token_ids"], json(prompt));
      ++prompt_ids_seen;
    }
    if (entry.contains("token_ids")) {
      for (const json& id : entry["token_ids"]) ids.push_back(id);
    }
  }
  EXPECT_EQ(prompt_ids_seen, 1);
  EXPECT_EQ(ids, choice["token_ids"]);

  auto chat = client().post(
      "/v1/chat/completions",
      chatBody(
          {{"return_token_ids", true}, {"logprobs", true}, {"return_tokens_as_token_ids", true}}));
  ASSERT_EQ(chat.status, 200) << chat.body;
  EXPECT_EQ(chat.json()["prompt_token_ids"].size(), promptTokens("user: Hi\nassistant: ", false));
  const json chat_choice = chat.json()["choices"][0];
  ASSERT_EQ(chat_choice["token_ids"].size(), 4u);
  EXPECT_EQ(chat_choice["logprobs"]["content"][0]["token"],
            "token_id:" + std::to_string(chat_choice["token_ids"][0].get<int>()));
  EXPECT_FALSE(client()
                   .post("/v1/completions", completionBody({}))
                   .json()["choices"][0]
                   .contains("token_ids"));
}

// With echo, return_token_ids leaves the prompt's text out (vLLM: prompt_token_ids carry it),
// streamed or not; the echoed prompt's logprobs stay.
TEST_F(OpenAiApiTest, EchoWithTokenIdsLeavesThePromptTextOut) {
  const auto prompt = FakeEngine::sharedTokenizer().encode("Once upon a time", true);
  const json options = {{"echo", true}, {"return_token_ids", true}, {"logprobs", 0}};
  auto whole = client().post("/v1/completions", completionBody(options));
  ASSERT_EQ(whole.status, 200) << whole.body;
  const json choice = whole.json()["choices"][0];
  EXPECT_EQ(choice["prompt_token_ids"], json(prompt));
  ASSERT_EQ(choice["token_ids"].size(), 5u);
  EXPECT_EQ(choice["logprobs"]["tokens"].size(), prompt.size() + 5);
  auto plain = client().post("/v1/completions", completionBody({{"logprobs", 0}}));
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(choice["text"], plain.json()["choices"][0]["text"]);
  auto echoed = client().post("/v1/completions", completionBody({{"echo", true}}));
  EXPECT_EQ(echoed.json()["choices"][0]["text"].get<std::string>().rfind("Once upon a time", 0),
            0u);

  json streaming = options;
  streaming["stream"] = true;
  std::string text;
  size_t logprob_tokens = 0;
  for (const json& chunk : chunks(client().post("/v1/completions", completionBody(streaming)))) {
    const json& entry = chunk["choices"][0];
    text += entry["text"].get<std::string>();
    if (entry["logprobs"].is_object()) logprob_tokens += entry["logprobs"]["tokens"].size();
  }
  EXPECT_EQ(text, choice["text"]);
  EXPECT_EQ(logprob_tokens, prompt.size() + 5);

  // Scoring the prompt (max_tokens 0), streamed: the echoing chunk still carries its ids and
  // logprobs, though its text is empty.
  json score = streaming;
  score["max_tokens"] = 0;
  int prompt_ids_seen = 0;
  logprob_tokens = 0;
  for (const json& chunk : chunks(client().post("/v1/completions", completionBody(score)))) {
    const json& entry = chunk["choices"][0];
    EXPECT_EQ(entry["text"], "");
    if (entry.contains("prompt_token_ids")) {
      EXPECT_EQ(entry["prompt_token_ids"], json(prompt));
      ++prompt_ids_seen;
    }
    if (entry["logprobs"].is_object()) logprob_tokens += entry["logprobs"]["tokens"].size();
  }
  EXPECT_EQ(prompt_ids_seen, 1);
  EXPECT_EQ(logprob_tokens, prompt.size());
}

// vLLM's continuous_usage_stats: every chunk carries the usage so far; each token's chunk counts
// it.
TEST_F(OpenAiApiTest, ContinuousUsageStatsPutTheUsageSoFarInEveryChunk) {
  auto result = client().post(
      "/v1/chat/completions",
      chatBody({{"stream", true},
                {"stream_options", {{"include_usage", true}, {"continuous_usage_stats", true}}}}));
  ASSERT_EQ(result.status, 200);
  const int prompt = promptTokens("user: Hi\nassistant: ", false);
  int previous = 0;
  int content_chunks = 0;
  for (const json& event : chunks(result)) {
    ASSERT_TRUE(event["usage"].is_object()) << event;
    EXPECT_EQ(event["usage"]["prompt_tokens"], prompt);
    const int completion = event["usage"]["completion_tokens"];
    EXPECT_GE(completion, previous);
    if (!event["choices"].empty() && event["choices"][0]["delta"].contains("content") &&
        !event["choices"][0]["delta"]["content"].get<std::string>().empty()) {
      EXPECT_EQ(completion, ++content_chunks) << event;  // the fake sends a token per chunk
    }
    previous = completion;
  }
  EXPECT_EQ(previous, 4);

  // With n = 2 each chunk counts its own choice's tokens, as vLLM's do.
  auto two = client().post(
      "/v1/completions",
      completionBody(
          {{"n", 2},
           {"stream", true},
           {"stream_options", {{"include_usage", true}, {"continuous_usage_stats", true}}}}));
  ASSERT_EQ(two.status, 200);
  std::map<int, int> per_choice;
  for (const json& event : chunks(two)) {
    if (event["choices"].empty()) continue;  // the final usage: the whole request's
    const int index = event["choices"][0]["index"];
    const int completion = event["usage"]["completion_tokens"];
    EXPECT_GE(completion, per_choice[index]);
    EXPECT_LE(completion, 5);
    per_choice[index] = completion;
  }
  EXPECT_EQ(per_choice, (std::map<int, int>{{0, 5}, {1, 5}}));
}

// --tool-call-parser hermes: the answer's call comes back as `tool_calls`, the text before it
// as content, and finish_reason "tool_calls" (as vLLM answers).
// As vLLM, chat_template_kwargs apply over the request's add_generation_prompt (and
// continue_final_message and tools): the render is the one the top-level field gives.
TEST_F(OpenAiApiTest, ChatTemplateKwargsOverrideTheRequestsTemplateOptions) {
  const json messages = json::array({{{"role", "user"}, {"content", "Hi"}}});
  auto tokens = [&](const json& extra) {
    json body = {{"model", "fake"}, {"messages", messages}};
    for (auto& [k, v] : extra.items()) body[k] = v;
    auto result = client().post("/tokenize", body);
    EXPECT_EQ(result.status, 200) << result.body;
    return result.json()["tokens"];
  };
  const json plain = tokens(json::object());
  const json without = tokens({{"add_generation_prompt", false}});
  ASSERT_NE(plain, without);
  EXPECT_EQ(tokens({{"chat_template_kwargs", {{"add_generation_prompt", false}}}}), without);
  EXPECT_EQ(tokens({{"add_generation_prompt", true},
                    {"chat_template_kwargs", {{"add_generation_prompt", false}}}}),
            without);
}

// As vLLM: tools with tool_choice "auto" (given, or by default) need a tool-call parser; "none",
// "required" and a named function do not.
TEST_F(OpenAiApiTest, AutoToolChoiceNeedsAToolCallParser) {
  const json tools = json::array(
      {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", json::object()}}}}});
  for (const json& choice : {json("auto"), json()}) {
    json body = chatBody({{"tools", tools}});
    if (!choice.is_null()) body["tool_choice"] = choice;
    auto refused = client().post("/v1/chat/completions", body);
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_NE(refused.body.find("--enable-auto-tool-choice and --tool-call-parser"),
              std::string::npos)
        << refused.body;
  }
  EXPECT_EQ(client()
                .post("/v1/chat/completions", chatBody({{"tools", tools}, {"tool_choice", "none"}}))
                .status,
            200);
  EXPECT_EQ(client()
                .post("/v1/chat/completions",
                      chatBody({{"model", "tools"}, {"tools", tools}, {"tool_choice", "auto"}}))
                .status,
            200);
}

// n beyond the engine's max_num_seqs is split into engine requests of at most that many samples
// (vLLM fans n out into separate requests): every choice comes back, indexed in order, streamed or
// not, and each part draws its own samples' RNG streams, so the answer is the unsplit one.
TEST(GatewayServer, NBeyondMaxNumSeqsIsSplitAcrossEngineRequests) {
  TestModel small{.id = "small"};
  small.engine.max_num_seqs = 4;
  TestModel big{.id = "big"};  // no limit: one engine request per prompt
  TestGateway gateway({small, big});
  HttpClient client(gateway.port());
  const json body = {{"model", "small"}, {"prompt", json::array({"Once", "upon"})},
                     {"n", 10},          {"max_tokens", 3},
                     {"temperature", 1}, {"seed", 5}};
  auto result = client.post("/v1/completions", body);
  ASSERT_EQ(result.status, 200) << result.body;
  const json choices = result.json()["choices"];
  ASSERT_EQ(choices.size(), 20u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(choices[i]["index"], i);
    EXPECT_EQ(choices[i]["text"].get<std::string>().size(), 3u);
  }
  EXPECT_EQ(result.json()["usage"]["completion_tokens"], 60);
  auto submitted = gateway.engine("small").submitted();
  ASSERT_EQ(submitted.size(), 6u);  // 4 + 4 + 2 samples for each of the 2 prompts
  std::multiset<int> firsts;
  for (const EngineRequest& r : submitted) {
    EXPECT_LE(r.params.n, 4);
    EXPECT_EQ(r.params.seed, 5u);
    firsts.insert(r.first_sample_index);
  }
  EXPECT_EQ(firsts, (std::multiset<int>{0, 0, 4, 4, 8, 8}));
  json unsplit_body = body;
  unsplit_body["model"] = "big";
  auto unsplit = client.post("/v1/completions", unsplit_body);
  ASSERT_EQ(unsplit.status, 200) << unsplit.body;
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(unsplit.json()["choices"][i]["text"], choices[i]["text"]) << i;
  }

  json streamed_body = body;
  streamed_body["stream"] = true;
  auto streamed = client.post("/v1/completions", streamed_body);
  ASSERT_EQ(streamed.status, 200);
  std::map<int, std::string> texts;
  for (const std::string& data : streamed.sseData()) {
    if (data == "[DONE]") continue;
    const json chunk = json::parse(data);
    for (const json& choice : chunk["choices"]) {
      texts[choice["index"].get<int>()] += choice["text"].get<std::string>();
    }
  }
  ASSERT_EQ(texts.size(), 20u) << streamed.body.substr(0, 600);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(texts[static_cast<int>(i)], choices[i]["text"]) << i;
}

// A part of a split n that the engine refuses fails the whole request, and the parts already
// submitted are aborted, not left running.
TEST(GatewayServer, ARefusedPartOfASplitNAbortsTheOthers) {
  TestModel small{.id = "small"};
  small.engine.max_num_seqs = 2;
  small.engine.refuse_submits_from = 1;
  small.engine.start_held = true;  // the first part would otherwise finish at once
  TestGateway gateway({small});
  auto result = HttpClient(gateway.port())
                    .post("/v1/completions",
                          {{"model", "small"}, {"prompt", "Hi"}, {"n", 5}, {"max_tokens", 3}});
  EXPECT_EQ(result.status, 503) << result.body;
  EXPECT_EQ(gateway.engine("small").submitted().size(), 1u);
  EXPECT_EQ(gateway.engine("small").abortedIds().size(), 1u);
  for (int i = 0; i < 1000 && gateway.engine("small").numActive() > 0; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(gateway.engine("small").numActive(), 0);
}

}  // namespace
}  // namespace manifold::testing
