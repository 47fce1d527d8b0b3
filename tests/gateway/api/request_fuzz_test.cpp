// Randomized requests over real HTTP (loopback, fake engines; tests/gateway/testing/
// request_fuzzer.h): whatever arrives, the answer is a success or an OpenAI error with a 4xx
// status (never a 5xx, a dropped connection or a hang), and when all is done no engine request is
// left running and the server still answers correctly. real_engine_test sends the same to a real
// model; the second test here sends them through the upstream proxy.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/gateway/testing/http_client.h"
#include "tests/gateway/testing/request_fuzzer.h"
#include "tests/gateway/testing/test_gateway.h"

namespace manifold::testing {
namespace {

using json = nlohmann::json;

TEST(RequestFuzz, MutatedRequestsGetAnAnswerOrAnOpenAiErrorAndLeaveNothingRunning) {
  TestModel fake{.id = "fake"};
  fake.engine.max_model_len = 64;
  // Chat answers read for tool calls in each format (the scripts are what the models write).
  TestModel hermes{.id = "tools", .tool_call_parser = "hermes"};
  hermes.engine.script = "Hm.<tool_call>{\"name\":\"get_weather\",\"arguments\":{}}</tool_call>";
  TestModel llama3{.id = "tools-llama3", .tool_call_parser = "llama3_json"};
  llama3.engine.script = "{\"name\":\"get_weather\",\"parameters\":{}}";
  TestModel mistral{.id = "tools-mistral", .tool_call_parser = "mistral"};
  mistral.engine.script = "Hm.[TOOL_CALLS][{\"name\":\"get_weather\",\"arguments\":{}}]";
  TestGateway gateway({fake, hermes, llama3, mistral});

  // About 2,800 requests; 42,000 with other seeds and up to 6 mutations each also passed.
  FuzzTally tally =
      sendMutatedRequests(gateway.port(), fuzzSeedRequests("fake", "tools"), 300, 0x5eed0000);
  for (const char* chat_model : {"tools-llama3", "tools-mistral"}) {
    std::vector<FuzzSeed> chat_seeds;
    for (const FuzzSeed& seed : fuzzSeedRequests("fake", chat_model)) {
      if (seed.first == "/v1/chat/completions") chat_seeds.push_back(seed);
    }
    const FuzzTally more = sendMutatedRequests(gateway.port(), chat_seeds, 180, 0x5eed1000);
    tally.successes += more.successes;
    tally.errors += more.errors;
  }
  // Both kinds of answer happen: the mutations are neither all fatal nor all harmless.
  EXPECT_GT(tally.successes, 250);
  EXPECT_GT(tally.errors, 1300);

  for (const char* model : {"fake", "tools", "tools-llama3", "tools-mistral"}) {
    EXPECT_EQ(gateway.engine(model).numActive(), 0) << model;
  }
  const HttpResult ok =
      HttpClient(gateway.port())
          .post("/v1/completions",
                {{"model", "fake"}, {"prompt", "hi"}, {"max_tokens", 4}, {"temperature", 0}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json()["choices"][0]["text"], "abcd");
}

// The same through the upstream proxy: a front gateway whose models are remote ones on a second
// gateway. The upstream's answers, errors included, are relayed; the proxy adds no 5xx of its own.
TEST(RequestFuzz, MutatedRequestsThroughTheUpstreamProxyAreRelayed) {
  TestModel fake{.id = "fake"};
  fake.engine.max_model_len = 64;
  TestModel hermes{.id = "tools", .tool_call_parser = "hermes"};
  hermes.engine.script = "Hm.<tool_call>{\"name\":\"get_weather\",\"arguments\":{}}</tool_call>";
  TestGateway back({fake, hermes});
  const std::string base = "http://127.0.0.1:" + std::to_string(back.port()) + "/v1";
  TestModel remote_fake{.id = "fake"};
  remote_fake.upstream = UpstreamTarget{base, "", "fake"};
  TestModel remote_tools{.id = "tools"};
  remote_tools.upstream = UpstreamTarget{base, "", "tools"};
  TestGateway front({remote_fake, remote_tools});

  std::vector<FuzzSeed> seeds;
  for (const FuzzSeed& seed : fuzzSeedRequests("fake", "tools")) {
    if (seed.first.starts_with("/v1/")) seeds.push_back(seed);
  }
  const FuzzTally tally = sendMutatedRequests(front.port(), seeds, 100, 0x5eed2000);
  EXPECT_GT(tally.successes, 50);
  EXPECT_GT(tally.errors, 250);
  for (const char* model : {"fake", "tools"}) EXPECT_EQ(back.engine(model).numActive(), 0);
}

}  // namespace
}  // namespace manifold::testing
