// Randomized requests over real HTTP (loopback, fake engines; tests/gateway/testing/
// request_fuzzer.h): whatever arrives, the answer is a success or an OpenAI error with a 4xx
// status (never a 5xx, a dropped connection or a hang), and when all is done no engine request is
// left running and the server still answers correctly. real_engine_test sends the same to a real
// model.
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
  TestModel tools{.id = "tools", .tool_call_parser = "hermes"};
  tools.engine.script = "Hm.<tool_call>{\"name\":\"get_weather\",\"arguments\":{}}</tool_call>";
  TestGateway gateway({fake, tools});

  // About 2,100 requests; 42,000 with other seeds and up to 6 mutations each also passed.
  const FuzzTally tally =
      sendMutatedRequests(gateway.port(), fuzzSeedRequests("fake", "tools"), 300, 0x5eed0000);
  // Both kinds of answer happen: the mutations are neither all fatal nor all harmless.
  EXPECT_GT(tally.successes, 200);
  EXPECT_GT(tally.errors, 1000);

  for (const char* model : {"fake", "tools"}) EXPECT_EQ(gateway.engine(model).numActive(), 0);
  const HttpResult ok =
      HttpClient(gateway.port())
          .post("/v1/completions",
                {{"model", "fake"}, {"prompt", "hi"}, {"max_tokens", 4}, {"temperature", 0}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json()["choices"][0]["text"], "abcd");
}

}  // namespace
}  // namespace manifold::testing
