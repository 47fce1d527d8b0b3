// Malformed and hostile requests over real HTTP (loopback, port 0, fake engines): each gets the
// right status and an OpenAI-shaped error, and the server keeps serving afterwards.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "tests/gateway/testing/http_client.h"
#include "tests/gateway/testing/test_gateway.h"

namespace manifold::testing {
namespace {

using json = nlohmann::json;

constexpr const char* kKey = "sk-test-key";

struct BadCase {
  std::string name;
  std::string method;
  std::string path;
  std::string body;  // sent verbatim
  int status;
  std::string message_part;  // must appear in error.message ("" : any)
  std::string param;         // expected error.param ("" : not checked)
  bool auth = true;          // send the right key
};

std::string completion(const json& extra) {
  json body = {{"model", "fake"}, {"prompt", "Once upon a time"}, {"max_tokens", 4}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return body.dump();
}

std::string chat(const json& extra) {
  json body = {{"model", "fake"},
               {"messages", json::array({{{"role", "user"}, {"content", "Hi"}}})},
               {"max_tokens", 4}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return body.dump();
}

// Structured-output specs that recursed once per level and overflowed the stack (found by an
// adversarial audit): groups nested 20,000 deep, a chain of 10,000 $refs, schema text nested
// 20,000 deep.
std::string deepGroupsGrammar() {
  return "root ::= " + std::string(20000, '(') + "\"a\"" + std::string(20000, ')');
}

// A chain of 20,000 rules: past the recognizer's limits its start was empty, and the output
// went unconstrained.
std::string ruleChainGrammar() {
  std::string text = "root ::= r0\n";
  for (int i = 0; i < 20000; ++i) {
    text += "r" + std::to_string(i) + " ::= r" + std::to_string(i + 1) + "\n";
  }
  return text + "r20000 ::= \"a\"\n";
}

json refChainSchema() {
  json defs = json::object();
  for (int i = 0; i < 10000; ++i) {
    defs["a" + std::to_string(i)] = {{"$ref", "#/$defs/a" + std::to_string(i + 1)}};
  }
  defs["a10000"] = {{"type", "integer"}};
  return {{"$defs", defs}, {"$ref", "#/$defs/a0"}};
}

std::string deepSchemaText() {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += R"({"type":"array","items":)";
  return text + R"({"type":"integer"})" + std::string(20000, '}');
}

json manyWords(int count) {
  json words = json::array();
  for (int i = 0; i < count; ++i) words.push_back("w" + std::to_string(i));
  return words;
}

std::vector<BadCase> badCases() {
  const std::string kC = "/v1/completions";
  const std::string kChat = "/v1/chat/completions";
  const json kTools =
      json::array({{{"type", "function"},
                    {"function", {{"name", "f"}, {"parameters", {{"type", "object"}}}}}}});
  std::vector<int> long_prompt(50, 300);
  std::vector<int> longer_prompt(100, 300);
  return {
      {"broken json", "POST", kC, R"({"model": "fake", "prompt": )", 400, "not valid JSON", ""},
      {"json array body", "POST", kC, "[1, 2, 3]", 400, "JSON object", ""},
      {"empty body", "POST", kC, "", 400, "empty", ""},
      {"prompt of wrong type", "POST", kC, completion({{"prompt", 5}}), 400, "", "prompt"},
      {"negative max_tokens", "POST", kC, completion({{"max_tokens", -5}}), 400, "", "max_tokens"},
      {"huge max_tokens", "POST", kC, completion({{"max_tokens", 1000000000}}), 400,
       "maximum context length is 64 tokens", ""},
      {"max_tokens as string", "POST", kC, completion({{"max_tokens", "10"}}), 400, "integer",
       "max_tokens"},
      {"max_tokens beyond int64", "POST", kC,
       R"({"model":"fake","prompt":"x","max_tokens":99999999999999999999})", 400, "", "max_tokens"},
      {"n of ten thousand", "POST", kC, completion({{"n", 10000}}), 400, "", "n"},
      {"negative temperature", "POST", kC, completion({{"temperature", -1}}), 400, "",
       "temperature"},
      {"temperature as string", "POST", kC, completion({{"temperature", "hot"}}), 400, "",
       "temperature"},
      {"top_p of zero", "POST", kChat, chat({{"top_p", 0}}), 400, "", "top_p"},
      {"invalid utf-8 in a json string", "POST", kC,
       std::string(R"({"model":"fake","prompt":"bad )") + "\xff\xfe" + R"("})", 400,
       "not valid JSON", ""},
      {"unknown model", "POST", kC, R"({"model":"nope","prompt":"x"})", 404,
       "The model `nope` does not exist.", ""},
      {"missing model", "POST", kC, R"({"prompt":"x"})", 400, "", "model"},
      {"model of wrong type", "POST", kChat, chat({{"model", 7}}), 400, "", "model"},
      {"missing messages", "POST", kChat, R"({"model":"fake"})", 400, "", "messages"},
      {"messages not a list", "POST", kChat, chat({{"messages", "hello"}}), 400, "", "messages"},
      {"empty messages", "POST", kChat, chat({{"messages", json::array()}}), 400, "", "messages"},
      {"bad role", "POST", kChat,
       chat({{"messages", json::array({{{"role", "wizard"}, {"content", "hi"}}})}}), 400, "wizard",
       "messages[0].role"},
      {"content of wrong type", "POST", kChat,
       chat({{"messages", json::array({{{"role", "user"}, {"content", 42}}})}}), 400, "",
       "messages[0].content"},
      {"image content part", "POST", kChat,
       chat({{"messages",
              json::array({{{"role", "user"},
                            {"content", json::array({{{"type", "image_url"},
                                                      {"image_url", {{"url", "x"}}}}})}}})}}),
       400, "only text", ""},
      {"user message without content", "POST", kChat,
       chat({{"messages", json::array({{{"role", "user"}}})}}), 400, "", "messages[0].content"},
      // "" is BOS alone with the default add_special_tokens (vLLM serves it); without BOS it is
      // no prompt.
      {"empty prompt without special tokens", "POST", kC,
       completion({{"prompt", ""}, {"add_special_tokens", false}}), 400, "no tokens", "prompt"},
      {"empty prompt list", "POST", kC, completion({{"prompt", json::array()}}), 400, "", "prompt"},
      {"beam search", "POST", kC, completion({{"use_beam_search", true}}), 400, "not supported",
       "use_beam_search"},
      {"empty allowed_token_ids", "POST", kC, completion({{"allowed_token_ids", json::array()}}),
       400, "must not be empty", "allowed_token_ids"},
      {"allowed_token_ids past the vocabulary", "POST", kC,
       completion({{"allowed_token_ids", {1, 1000000}}}), 400, "out-of-vocabulary",
       "allowed_token_ids"},
      {"bad_words as a string", "POST", kC, completion({{"bad_words", "x"}}), 400, "list",
       "bad_words"},
      {"truncate_prompt_tokens 0", "POST", kC, completion({{"truncate_prompt_tokens", 0}}), 400, "",
       "truncate_prompt_tokens"},
      {"truncate_prompt_tokens past the context", "POST", kC,
       completion({{"truncate_prompt_tokens", 100000}}), 400,
       "cannot be greater than max_model_len", "truncate_prompt_tokens"},
      {"too many bad_words", "POST", kC, completion({{"bad_words", manyWords(1025)}}), 400,
       "more than 1024", "bad_words"},
      {"prompt mixing ids and text", "POST", kC, completion({{"prompt", json::array({1, "a"})}}),
       400, "", "prompt"},
      {"prompt and max_tokens beyond the context", "POST", kC,
       completion({{"prompt", long_prompt}, {"max_tokens", 20}}), 400,
       "This model's maximum context length is 64 tokens. However, you requested 70 tokens "
       "(50 in the messages, 20 in the completion).",
       ""},
      {"prompt alone beyond the context", "POST", kC, completion({{"prompt", longer_prompt}}), 400,
       "However, you requested 100 tokens in the messages", ""},
      {"out-of-vocabulary token id", "POST", kC, completion({{"prompt", json::array({100000})}}),
       400, "outside the vocabulary", "prompt"},
      {"logprobs of fifty", "POST", kC, completion({{"logprobs", 50}}), 400, "", "logprobs"},
      {"top_logprobs of fifty", "POST", kChat, chat({{"logprobs", true}, {"top_logprobs", 50}}),
       400, "", "top_logprobs"},
      {"top_logprobs without logprobs", "POST", kChat, chat({{"top_logprobs", 2}}), 400, "",
       "top_logprobs"},
      {"stop of wrong type", "POST", kC, completion({{"stop", 5}}), 400, "", "stop"},
      {"stop list with a number", "POST", kChat, chat({{"stop", json::array({"a", 1})}}), 400, "",
       "stop"},
      {"suffix", "POST", kC, completion({{"suffix", "The end"}}), 400, "not supported", "suffix"},
      {"best_of", "POST", kC, completion({{"best_of", 3}}), 400, "", "best_of"},
      {"seed with a fraction", "POST", kC, completion({{"seed", 1.5}}), 400, "", "seed"},
      {"stream_options without stream", "POST", kChat,
       chat({{"stream_options", {{"include_usage", true}}}}), 400, "", "stream_options"},
      {"logit_bias with a bad key", "POST", kC, completion({{"logit_bias", {{"abc", 1}}}}), 400, "",
       "logit_bias"},
      {"tool_choice required without tools", "POST", kChat, chat({{"tool_choice", "required"}}),
       400, "needs `tools`", "tool_choice"},
      {"tool_choice required with parameters the grammar cannot keep", "POST", kChat,
       chat({{"tools",
              json::array(
                  {{{"type", "function"},
                    {"function",
                     {{"name", "f"}, {"parameters", {{"type", "string"}, {"multipleOf", 1}}}}}}})},
             {"tool_choice", "required"}}),
       400, "\"multipleOf\"", "tools"},
      {"tool_choice required with two functions of one name", "POST", kChat,
       chat({{"tools", json::array({kTools[0], kTools[0]})}, {"tool_choice", "required"}}), 400,
       "has the name of `tools[0]`", "tools[1]"},
      {"tool_choice of an unknown kind", "POST", kChat,
       chat({{"tools", kTools}, {"tool_choice", "always"}}), 400, "", "tool_choice"},
      {"tool_choice naming a function not in tools", "POST", kChat,
       chat({{"tools", kTools},
             {"tool_choice", {{"type", "function"}, {"function", {{"name", "other"}}}}}}),
       400, "not among `tools`", "tool_choice"},
      {"tool_choice naming a function without tools", "POST", kChat,
       chat({{"tool_choice", {{"type", "function"}, {"function", {{"name", "f"}}}}}}), 400,
       "needs `tools`", "tool_choice"},
      {"tool_choice of a bad shape", "POST", kChat,
       chat({{"tools", kTools}, {"tool_choice", {{"type", "function"}}}}), 400, "", "tool_choice"},
      {"tool_choice naming a function beside response_format", "POST", kChat,
       chat({{"tools", kTools},
             {"tool_choice", {{"type", "function"}, {"function", {{"name", "f"}}}}},
             {"response_format", {{"type", "json_object"}}}}),
       400, "cannot be combined", "tool_choice"},
      {"tool_choice naming a function whose parameters the grammar cannot keep", "POST", kChat,
       chat({{"tools", json::array({{{"type", "function"},
                                     {"function",
                                      {{"name", "f"},
                                       {"parameters",
                                        {{"type", "object"},
                                         {"properties", {{"d", {{"format", "hostname"}}}}}}}}}}})},
             {"tool_choice", {{"type", "function"}, {"function", {{"name", "f"}}}}}}),
       400, "the format \"hostname\"", "tools[0].function.parameters"},
      {"guided_regex with a backreference", "POST", kC, completion({{"guided_regex", "(a)\\1"}}),
       400, "a backreference is not supported", "guided_regex"},
      {"guided_regex not a string", "POST", kC, completion({{"guided_regex", 3}}), 400,
       "a non-empty regular expression", "guided_regex"},
      {"guided_regex empty", "POST", kC, completion({{"guided_regex", ""}}), 400,
       "a non-empty regular expression", "guided_regex"},
      {"guided_regex too large", "POST", kC, completion({{"guided_regex", "[ab]*a[ab]{30}"}}), 400,
       "automaton states", "guided_regex"},
      {"guided_regex beside guided_choice", "POST", kC,
       completion({{"guided_choice", {"a"}}, {"guided_regex", "a"}}), 400, "only one",
       "guided_choice"},
      {"guided_grammar with a syntax error", "POST", kC,
       completion({{"guided_grammar", "root ::= \"a\" )"}}), 400, "line 1, column 14",
       "guided_grammar"},
      {"guided_grammar without root", "POST", kC,
       completion({{"guided_grammar", "start ::= \"a\""}}), 400, "no `root` rule",
       "guided_grammar"},
      {"guided_grammar with an undefined rule", "POST", kC,
       completion({{"guided_grammar", "root ::= item+"}}), 400, "`item` is used but not defined",
       "guided_grammar"},
      {"guided_grammar left-recursive", "POST", kC,
       completion({{"guided_grammar", "root ::= root \"a\" | \"a\""}}), 400, "left-recursive",
       "guided_grammar"},
      {"guided_grammar that never ends", "POST", kC,
       completion({{"guided_grammar", "root ::= \"a\" root"}}), 400, "never ends",
       "guided_grammar"},
      {"guided_grammar not a string", "POST", kC, completion({{"guided_grammar", 3}}), 400, "GBNF",
       "guided_grammar"},
      {"grammar beside guided_regex", "POST", kC,
       completion({{"grammar", "root ::= \"a\""}, {"guided_regex", "a"}}), 400, "only one",
       "guided_regex"},
      {"structured_outputs.grammar with a token reference", "POST", kC,
       completion({{"structured_outputs", {{"grammar", "root ::= <think>"}}}}), 400,
       "token references", "structured_outputs.grammar"},
      {"guided_choice not a list", "POST", kC, completion({{"guided_choice", "yes"}}), 400, "",
       "guided_choice"},
      {"guided_choice with an empty text", "POST", kC, completion({{"guided_choice", {"yes", ""}}}),
       400, "must not be empty", "guided_choice"},
      {"guided_choice beside guided_json", "POST", kC,
       completion({{"guided_json", {{"type", "object"}}}, {"guided_choice", {"a"}}}), 400,
       "only one", "guided_choice"},
      {"structured_outputs regex with lookaround", "POST", kC,
       completion({{"structured_outputs", {{"regex", "(?=a)a"}}}}), 400, "lookaround",
       "structured_outputs.regex"},
      {"guided_json beside response_format", "POST", kChat,
       chat(
           {{"response_format", {{"type", "json_object"}}}, {"guided_json", {{"type", "object"}}}}),
       400, "only one", "guided_json"},
      {"guided_json the grammar cannot keep", "POST", kC,
       completion({{"guided_json", {{"type", "number"}, {"multipleOf", 2}}}}), 400,
       "\"multipleOf\"", "guided_json"},
      {"guided_json with bounds no number lies within", "POST", kC,
       completion({{"guided_json", {{"type", "integer"}, {"minimum", 5}, {"maximum", 1}}}}), 400,
       "no integer lies within the bounds", "guided_json"},
      {"a tool that is a string", "POST", kChat, chat({{"tools", {"a"}}}), 400, "must be an object",
       "tools[0]"},
      {"a tool without a function", "POST", kChat,
       chat({{"tools", json::array({{{"type", "function"}}})}}), 400, "", "tools[0].function"},
      {"a tool whose name is a number", "POST", kChat,
       chat({{"tools", json::array({{{"type", "function"}, {"function", {{"name", 3}}}}})}}), 400,
       "", "tools[0].function.name"},
      {"a tool of another type", "POST", kChat,
       chat({{"tools", json::array({{{"type", "retrieval"}, {"function", {{"name", "f"}}}}})}}),
       400, "must be \"function\"", "tools[0].type"},
      {"a tool whose parameters are a string", "POST", kChat,
       chat({{"tools", json::array({{{"function", {{"name", "f"}, {"parameters", "{}"}}}}})}}), 400,
       "a JSON Schema object", "tools[0].function.parameters"},
      {"tool_calls that are a string", "POST", kChat,
       chat({{"messages", json::array({{{"role", "user"}, {"content", "hi"}},
                                       {{"role", "assistant"}, {"tool_calls", "x"}}})}}),
       400, "a list of tool calls", "messages[1].tool_calls"},
      {"a tool call without a function name", "POST", kChat,
       chat({{"messages", json::array({{{"role", "user"}, {"content", "hi"}},
                                       {{"role", "assistant"},
                                        {"tool_calls", {{{"function", json::object()}}}}}})}}),
       400, "", "messages[1].tool_calls[0].function.name"},
      {"token id past int64", "POST", kC, R"({"model":"fake","prompt":[18446744073709551615]})",
       400, "invalid token id 18446744073709551615", "prompt"},
      {"token id past int32", "POST", kC, R"({"model":"fake","prompt":[1, 9223372036854775807]})",
       400, "invalid token id 9223372036854775807", "prompt"},
      {"negative token id", "POST", kC, R"({"model":"fake","prompt":[[5, -3]]})", 400,
       "invalid token id -3", "prompt"},
      {"guided_grammar nested 20000 groups deep", "POST", kC,
       completion({{"guided_grammar", deepGroupsGrammar()}}), 400, "groups nested deeper than 100",
       "guided_grammar"},
      {"guided_grammar with a chain of 20000 rules", "POST", kC,
       completion({{"guided_grammar", ruleChainGrammar()}}), 400,
       "the grammar's root derives no text the recognizer can follow", "guided_grammar"},
      {"guided_json with a chain of 10000 $refs", "POST", kC,
       completion({{"guided_json", refChainSchema()}}), 400, "nested deeper than 64 levels",
       "guided_json"},
      {"guided_json as text nested 20000 deep", "POST", kC,
       completion({{"guided_json", deepSchemaText()}}), 400, "deeper than 64 levels",
       "guided_json"},
      {"guided_json as text that is not JSON", "POST", kC,
       completion({{"guided_json", "{not json"}}), 400, "not valid JSON", "guided_json"},
      {"json_schema response format without a schema", "POST", kChat,
       chat({{"response_format", {{"type", "json_schema"}}}}), 400, "json_schema.schema",
       "response_format"},
      {"json_schema with a keyword the grammar cannot keep", "POST", kChat,
       chat({{"response_format",
              {{"type", "json_schema"},
               {"json_schema",
                {{"name", "x"},
                 {"schema",
                  {{"type", "object"},
                   {"properties", {{"id", {{"type", "string"}, {"pattern", "^(?<!a)b$"}}}}}}}}}}}}),
       400, "lookaround is not supported", "response_format.json_schema.schema"},
      {"json_schema naming a missing definition", "POST", kC,
       completion({{"response_format",
                    {{"type", "json_schema"},
                     {"json_schema", {{"name", "x"}, {"schema", {{"$ref", "#/$defs/Nope"}}}}}}}}),
       400, "names no definition", "response_format.json_schema.schema"},
      {"response format of an unknown type", "POST", kC,
       completion({{"response_format", {{"type", "yaml"}}}}), 400, "", "response_format"},
      {"chat template raising an error", "POST", kChat, chat({{"model", "raising"}}), 400,
       "templates say no", ""},
      {"model still loading", "POST", kC, completion({{"model", "loading"}}), 503, "loading", ""},
      {"unknown endpoint", "POST", "/v1/nothing", "{}", 404, "Not found", ""},
      {"GET on completions", "GET", kC, "", 405, "not allowed", ""},
      {"POST on models", "POST", "/v1/models", "{}", 405, "not allowed", ""},
      {"detokenize out of vocabulary", "POST", "/detokenize",
       R"({"model":"fake","tokens":[999999]})", 400, "outside the vocabulary", "tokens"},
      {"tokenize without prompt", "POST", "/tokenize", R"({"model":"fake"})", 400, "prompt", ""},
      {"no api key", "POST", kC, completion({}), 401, "API key", "", false},
  };
}

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestModel fake{.id = "fake", .aliases = {"fake-alias"}};
    fake.engine.max_model_len = 64;
    TestModel raising{.id = "raising"};
    raising.chat_template = "{{ raise_exception('templates say no') }}";
    TestModel loading{.id = "loading", .leave_loading = true};
    gateway::GatewayOptions options;
    options.api_keys = {{kKey, {}}};
    options.http.max_body_bytes = 8u << 20;
    gateway_ = new TestGateway({fake, raising, loading}, options);
    gateway_->server().api().addRoute(
        "GET", "/throws",
        [](const gateway::HttpRequest&) -> gateway::HttpResponse {
          throw std::runtime_error("a handler bug");
        },
        false);
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
  }

  static HttpClient client() { return HttpClient(gateway_->port()); }
  static std::map<std::string, std::string> auth() {
    return {{"Authorization", std::string("Bearer ") + kKey}};
  }

  static void expectErrorShape(const HttpResult& result, int status, const std::string& what) {
    EXPECT_EQ(result.status, status) << what << ": " << result.body;
    json body = result.json();
    ASSERT_TRUE(body.is_object()) << what << ": " << result.body;
    ASSERT_TRUE(body.contains("error")) << what;
    const json& error = body["error"];
    EXPECT_TRUE(error["message"].is_string() && !error["message"].get<std::string>().empty())
        << what;
    EXPECT_TRUE(error["type"].is_string()) << what;
    EXPECT_TRUE(error.contains("param")) << what;
    EXPECT_TRUE(error.contains("code")) << what;
  }

  // A good request: the fake engine's greedy letters, a, b, c, d.
  static void expectStillServing() {
    auto ok = client().post(
        "/v1/completions",
        {{"model", "fake"}, {"prompt", "hi"}, {"max_tokens", 4}, {"temperature", 0}}, auth());
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(ok.json()["choices"][0]["text"], "abcd");
  }

  static TestGateway* gateway_;
};

TestGateway* BadInputTest::gateway_ = nullptr;

TEST_F(BadInputTest, EachMalformedRequestGetsItsStatusAndAnOpenAiError) {
  auto cases = badCases();
  ASSERT_GE(cases.size(), 30u);
  for (const BadCase& c : cases) {
    auto headers = c.auth ? auth() : std::map<std::string, std::string>{};
    if (!c.body.empty()) headers["Content-Type"] = "application/json";
    HttpResult result = client().request(c.method, c.path, c.body, headers);
    expectErrorShape(result, c.status, c.name);
    json error = result.json().value("error", json::object());
    if (!c.message_part.empty()) {
      EXPECT_NE(error.value("message", "").find(c.message_part), std::string::npos)
          << c.name << ": " << result.body;
    }
    if (!c.param.empty()) {
      EXPECT_EQ(error["param"], c.param) << c.name << ": " << result.body;
    }
  }
  expectStillServing();
}

TEST_F(BadInputTest, WrongKeysAreUnauthorizedInConstantShape) {
  for (const std::string& header : {std::string("Bearer wrong"), std::string("Basic c2stdGVzdA=="),
                                    std::string("Bearer "), std::string(kKey)}) {
    auto result =
        client().post("/v1/chat/completions", json::parse(chat({})), {{"Authorization", header}});
    expectErrorShape(result, 401, header);
    EXPECT_EQ(result.headers["www-authenticate"], "Bearer");
  }
  auto models = client().get("/v1/models");
  expectErrorShape(models, 401, "models without a key");
  // Health and version stay open for probes.
  EXPECT_EQ(client().get("/health").status, 503);  // one model is still loading
  EXPECT_EQ(client().get("/version").status, 200);
  expectStillServing();
}

TEST_F(BadInputTest, AHundredMegabyteBodyIsRefusedWith413) {
  std::string body(100u << 20, 'a');
  std::string request =
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Authorization: Bearer " +
      std::string(kKey) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  HttpResult result = client().raw(request);
  expectErrorShape(result, 413, "100 MB body");
  expectStillServing();
}

TEST_F(BadInputTest, ANumberBeyondADoubleIsInvalidJson) {
  for (const std::string& body : {std::string(R"({"model":"fake","x":1e400})"),
                                  std::string(R"({"model":"fake","prompt":"x","n":-1e400})")}) {
    HttpResult result = client().request("POST", "/v1/completions", body, auth());
    expectErrorShape(result, 400, body);
    EXPECT_NE(result.json()["error"].value("message", "").find("not valid JSON"), std::string::npos)
        << result.body;
  }
  expectStillServing();
}

TEST_F(BadInputTest, DeeplyNestedJsonIsRefusedWith400) {
  const size_t kDepth = 100000;
  std::string nested = std::string(kDepth, '[') + std::string(kDepth, ']');
  std::string body = R"({"model":"fake","max_tokens":4,"messages":[{"role":"user","content":"hi",)"
                     R"("extra":)" +
                     nested + "}]}";
  HttpResult result = client().request("POST", "/v1/chat/completions", body, auth());
  expectErrorShape(result, 400, "100k-deep array");
  EXPECT_NE(result.json()["error"].value("message", "").find("deeper than 64"), std::string::npos)
      << result.body;
  // 64 levels are fine; brackets inside strings do not count.
  std::string ok_nested = std::string(60, '[') + std::string(60, ']');
  std::string ok_body = R"({"model":"fake","prompt":"hi","max_tokens":4,"user":")" +
                        std::string(100, '[') + R"(\"{","x":)" + ok_nested + "}";
  HttpResult ok = client().request("POST", "/v1/completions", ok_body, auth());
  EXPECT_EQ(ok.status, 200) << ok.body;
  expectStillServing();
}

TEST_F(BadInputTest, AnExceptionInAHandlerIsAnswered500AndTheServerKeepsServing) {
  HttpResult result = client().get("/throws");
  expectErrorShape(result, 500, "throwing handler");
  expectStillServing();
}

// A model that failed to load (its error names a file), a key for every model and a key for one.
TEST(BadInputWithKeys, HealthAndEngineStatsTellOnlyWhatTheCallersKeyMayKnow) {
  TestModel fake{.id = "fake"};
  TestModel broken{.id = "broken", .leave_loading = true};
  gateway::GatewayOptions options;
  options.api_keys = {{"sk-all", {}}, {"sk-fake-only", {"fake"}}};
  TestGateway gateway({fake, broken}, options);
  gateway.server().registry().find("broken")->setFailed(
      internalError("cannot open /secret/weights/broken.gguf"));
  HttpClient client(gateway.port());
  auto bearer = [](const std::string& key) {
    return std::map<std::string, std::string>{{"Authorization", "Bearer " + key}};
  };

  HttpResult anonymous = client.get("/health");
  EXPECT_EQ(anonymous.status, 503);
  EXPECT_EQ(anonymous.body.find("/secret/"), std::string::npos) << anonymous.body;
  EXPECT_EQ(anonymous.body.find("broken"), std::string::npos) << anonymous.body;
  HttpResult other_model = client.get("/health", bearer("sk-fake-only"));
  EXPECT_EQ(other_model.status, 503);
  EXPECT_EQ(other_model.body.find("/secret/"), std::string::npos) << other_model.body;
  HttpResult allowed = client.get("/health", bearer("sk-all"));
  EXPECT_EQ(allowed.status, 503);
  EXPECT_NE(allowed.body.find("/secret/weights/broken.gguf"), std::string::npos) << allowed.body;

  auto ids = [&](const std::string& key) {
    std::vector<std::string> out;
    HttpResult stats = client.get("/debug/engines", bearer(key));
    EXPECT_EQ(stats.status, 200) << stats.body;
    json body = stats.json();
    for (const json& model : body["models"]) out.push_back(model["id"]);
    return out;
  };
  EXPECT_EQ(ids("sk-fake-only"), std::vector<std::string>{"fake"});
  EXPECT_EQ(ids("sk-all"), (std::vector<std::string>{"fake", "broken"}));
  EXPECT_EQ(client.get("/debug/engines").status, 401);
}

TEST_F(BadInputTest, MalformedHttpIsRefusedWith400) {
  HttpResult result = client().raw("GARBAGE\r\n\r\n");
  expectErrorShape(result, 400, "garbage request line");
  HttpResult bad_length =
      client().raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n");
  expectErrorShape(bad_length, 400, "negative content length");
  expectStillServing();
}

}  // namespace
}  // namespace manifold::testing
