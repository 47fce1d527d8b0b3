#include "gateway/bench/request_func.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "gateway/bench/http_client.h"

namespace manifold::bench {
namespace {

using nlohmann::json;

TEST(RequestBody, CompletionsRequestStreamsWithUsageAndGreedySampling) {
  const auto body = json::parse(buildRequestBody(
      Endpoint::kCompletions, "m", {.prompt = "hi there", .expected_output_len = 7}, true));
  EXPECT_EQ(body["model"], "m");
  EXPECT_EQ(body["prompt"], "hi there");
  EXPECT_EQ(body["max_tokens"], 7);
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_EQ(body["temperature"], 0.0);
  EXPECT_EQ(body["ignore_eos"], true);
}

TEST(RequestBody, ChatRequestSendsOneUserMessageAndOmitsIgnoreEosUnlessAsked) {
  const auto body = json::parse(buildRequestBody(
      Endpoint::kChatCompletions, "m", {.prompt = "hello", .expected_output_len = 3}, false));
  EXPECT_EQ(body["messages"], json::parse(R"([{"role":"user","content":"hello"}])"));
  EXPECT_EQ(body["max_completion_tokens"], 3);
  EXPECT_FALSE(body.contains("ignore_eos"));
  EXPECT_FALSE(body.contains("prompt"));
  for (const char* field :
       {"top_p", "top_k", "min_p", "frequency_penalty", "presence_penalty", "repetition_penalty"}) {
    EXPECT_FALSE(body.contains(field)) << field;  // only the options given are sent
  }
}

TEST(RequestBody, SendsTheSamplingOptionsGiven) {
  const auto body = json::parse(buildRequestBody(Endpoint::kCompletions, "m",
                                                 {.prompt = "x", .expected_output_len = 1}, false,
                                                 {.temperature = 0.7,
                                                  .top_p = 0.9,
                                                  .top_k = 40,
                                                  .min_p = 0.05,
                                                  .frequency_penalty = 0.5,
                                                  .presence_penalty = -0.5,
                                                  .repetition_penalty = 1.1}));
  EXPECT_EQ(body["temperature"], 0.7);
  EXPECT_EQ(body["top_p"], 0.9);
  EXPECT_EQ(body["top_k"], 40);
  EXPECT_EQ(body["min_p"], 0.05);
  EXPECT_EQ(body["frequency_penalty"], 0.5);
  EXPECT_EQ(body["presence_penalty"], -0.5);
  EXPECT_EQ(body["repetition_penalty"], 1.1);
}

TEST(HeaderArgument, IsNameEqualsValueWithATokenNameAndASingleLineValue) {
  using Header = std::pair<std::string, std::string>;
  EXPECT_EQ(*parseHeaderArgument("x-run=3"), Header("x-run", "3"));
  EXPECT_EQ(*parseHeaderArgument("X-Tag=a=b c"), Header("X-Tag", "a=b c"));  // first '=' splits
  EXPECT_EQ(*parseHeaderArgument("x-empty="), Header("x-empty", ""));
  for (const char* bad : {"no-equals", "=value", "two words=1", "x:y=1"}) {
    const Status status = parseHeaderArgument(bad).status();
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(status.message().find(bad), std::string::npos) << status.message();
  }
  for (const std::string& bad :
       {std::string("x=a\r\nHost: evil"), std::string("x=a\nb"), std::string("x=a\0b", 5)}) {
    EXPECT_EQ(parseHeaderArgument(bad).status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(EndpointFromPath, RecognisesBothOpenAiStreamingEndpoints) {
  EXPECT_EQ(*endpointFromPath("/v1/completions"), Endpoint::kCompletions);
  EXPECT_EQ(*endpointFromPath("/v1/chat/completions"), Endpoint::kChatCompletions);
  EXPECT_EQ(*endpointFromPath("/api/v1/chat/completions"), Endpoint::kChatCompletions);
  EXPECT_FALSE(endpointFromPath("/v1/embeddings").isOk());
}

TEST(StreamAccumulator, TimesTokenChunksAndTakesOutputTokensFromUsage) {
  StreamAccumulator acc(Endpoint::kCompletions, /*start_s=*/1.0, /*prompt_len=*/12);
  acc.onEvent(R"({"choices":[{"text":"Hel"}]})", 1.25);
  acc.onEvent(R"({"choices":[{"text":"lo"}]})", 1.30);
  acc.onEvent(R"({"choices":[{"text":"","finish_reason":"length"}]})", 1.31);  // no token
  acc.onEvent(R"({"choices":[{"text":"!"}]})", 1.45);
  acc.onEvent(R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":4}})", 1.5);
  acc.onEvent("[DONE]", 1.5);
  const RequestResult r = acc.finish("");
  ASSERT_TRUE(r.success) << r.error;
  EXPECT_EQ(r.prompt_len, 12);
  EXPECT_DOUBLE_EQ(r.ttft_s, 0.25);
  ASSERT_EQ(r.itl_s.size(), 2u);
  EXPECT_NEAR(r.itl_s[0], 0.05, 1e-12);
  EXPECT_NEAR(r.itl_s[1], 0.15, 1e-12);
  EXPECT_NEAR(r.latency_s, 0.45, 1e-12);
  EXPECT_EQ(r.output_tokens, 4);  // usage wins over the 3 chunks
  EXPECT_EQ(r.generated_text, "Hello!");
  EXPECT_EQ(r.chunk_times_s, (std::vector<double>{1.25, 1.30, 1.45}));
}

TEST(StreamAccumulator, ChatRoleOnlyChunkDoesNotCountAsFirstToken) {
  StreamAccumulator acc(Endpoint::kChatCompletions, 0.0, 3);
  acc.onEvent(R"({"choices":[{"delta":{"role":"assistant","content":""}}]})", 0.01);
  acc.onEvent(R"({"choices":[{"delta":{"content":"Hi"}}]})", 0.2);
  acc.onEvent(R"({"choices":[{"delta":{"content":" you"}}]})", 0.3);
  const RequestResult r = acc.finish("");
  ASSERT_TRUE(r.success);
  EXPECT_DOUBLE_EQ(r.ttft_s, 0.2);
  EXPECT_EQ(r.output_tokens, 2);  // no usage: one token per chunk
  EXPECT_EQ(r.generated_text, "Hi you");
}

// vLLM's server streams a chunk for a token that adds no text yet (partial UTF-8, ids past the
// tokenizer), and vLLM's client times it: so do we. Role and finish chunks stay excluded.
TEST(StreamAccumulator, EmptyTextTokenChunksCountAsTokens) {
  StreamAccumulator completion(Endpoint::kCompletions, 1.0, 4);
  completion.onEvent(R"({"choices":[{"text":""}]})", 1.1);
  completion.onEvent(R"({"choices":[{"text":"a"}]})", 1.3);
  completion.onEvent(R"({"choices":[{"text":"","finish_reason":"length"}]})", 1.4);
  const RequestResult r1 = completion.finish("");
  ASSERT_TRUE(r1.success) << r1.error;
  EXPECT_NEAR(r1.ttft_s, 0.1, 1e-12);
  ASSERT_EQ(r1.itl_s.size(), 1u);
  EXPECT_NEAR(r1.itl_s[0], 0.2, 1e-12);
  EXPECT_EQ(r1.output_tokens, 2);

  StreamAccumulator chat(Endpoint::kChatCompletions, 0.0, 3);
  chat.onEvent(R"({"choices":[{"delta":{"role":"assistant","content":""}}]})", 0.01);
  chat.onEvent(R"({"choices":[{"delta":{"content":""}}]})", 0.2);
  chat.onEvent(R"({"choices":[{"delta":{"content":"Hi"}}]})", 0.3);
  const RequestResult r2 = chat.finish("");
  ASSERT_TRUE(r2.success) << r2.error;
  EXPECT_DOUBLE_EQ(r2.ttft_s, 0.2);
  EXPECT_EQ(r2.output_tokens, 2);
  EXPECT_EQ(r2.generated_text, "Hi");
}

TEST(StreamAccumulator, FailsOnErrorEventsTransportErrorsAndEmptyStreams) {
  StreamAccumulator with_error(Endpoint::kCompletions, 0.0, 1);
  with_error.onEvent(R"({"choices":[{"text":"a"}]})", 0.1);
  with_error.onEvent(R"({"error":{"message":"engine died","type":"internal"}})", 0.2);
  const RequestResult r1 = with_error.finish("");
  EXPECT_FALSE(r1.success);
  EXPECT_NE(r1.error.find("engine died"), std::string::npos);

  StreamAccumulator transport(Endpoint::kCompletions, 0.0, 1);
  transport.onEvent(R"({"choices":[{"text":"a"}]})", 0.1);
  EXPECT_FALSE(transport.finish("HTTP 503: busy").success);

  StreamAccumulator empty(Endpoint::kCompletions, 0.0, 1);
  empty.onEvent("[DONE]", 0.1);
  const RequestResult r3 = empty.finish("");
  EXPECT_FALSE(r3.success);
  EXPECT_FALSE(r3.error.empty());
}

TEST(StreamAccumulator, AFinishChunkTimesAStreamWhoseTokensHadNoText) {
  StreamAccumulator acc(Endpoint::kCompletions, /*start_s=*/1.0, /*prompt_len=*/4);
  acc.onEvent(R"({"choices":[{"text":"","finish_reason":"length"}]})", 1.5);
  acc.onEvent(R"({"choices":[],"usage":{"completion_tokens":16}})", 1.5);
  acc.onEvent("[DONE]", 1.5);
  const RequestResult r = acc.finish("");
  EXPECT_TRUE(r.success) << r.error;
  EXPECT_DOUBLE_EQ(r.ttft_s, 0.5);
  EXPECT_EQ(r.output_tokens, 16);
}

// parseBaseUrl is common/http_url.h's parser (tested there) with an error that names the URL.
TEST(ParseBaseUrl, IsTheCommonParserWithAnErrorNamingTheUrl) {
  for (const char* text : {"http://localhost:8000", "https://[::1]:9000/api/"}) {
    auto url = parseBaseUrl(text);
    const std::optional<HttpUrl> common = parseHttpUrl(text);
    ASSERT_TRUE(url.isOk() && common.has_value()) << text;
    EXPECT_EQ(url->tls, common->tls);
    EXPECT_EQ(url->host, common->host);
    EXPECT_EQ(url->port, common->port);
    EXPECT_EQ(url->path_prefix, common->path_prefix);
  }
  auto bad = parseBaseUrl("http://host:port");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("http://host:port"), std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace manifold::bench
