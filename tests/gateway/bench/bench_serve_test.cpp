// `manifold bench serve` end to end against FakeOpenAiServer: a real HTTP exchange with
// deterministic delays, so that measured times have known lower bounds.
#include "gateway/bench/bench_serve.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "gateway/bench/dataset.h"
#include "tests/gateway/bench/fake_openai_server.h"

namespace manifold::bench {
namespace {

using testing::FakeOpenAiServer;
using testing::FakeServerOptions;

BenchServeConfig configFor(const FakeOpenAiServer& server) {
  BenchServeConfig config;
  config.base_url = "http://127.0.0.1:" + std::to_string(server.port());
  config.num_prompts = 12;
  config.random_input_len = 32;
  config.random_output_len = 6;
  config.show_progress = false;
  config.metric_percentiles = "50,90,99";
  return config;
}

TEST(BenchServe, MeasuresEveryRequestAgainstAStreamingServer) {
  FakeOpenAiServer server({.first_token_delay = std::chrono::milliseconds(80),
                           .token_gap = std::chrono::milliseconds(5)});
  BenchServeConfig config = configFor(server);
  config.max_concurrency = 4;
  std::ostringstream report;
  auto result = runBenchServe(config, report);
  ASSERT_TRUE(result.isOk()) << result.status().toString();

  EXPECT_EQ(result->model, "fake-model");  // from GET /v1/models
  EXPECT_TRUE(result->exact_token_counts);
  const BenchmarkMetrics& m = result->metrics;
  EXPECT_EQ(m.completed, 12);
  EXPECT_EQ(m.failed, 0);
  EXPECT_EQ(m.total_input_tokens, 12 * 32);  // /tokenize counted words; calibrated exactly
  EXPECT_EQ(m.total_output_tokens, 12 * 6);
  for (const RequestResult& r : result->outputs) {
    ASSERT_TRUE(r.success) << r.error;
    // The server sleeps 80 ms before the first token and 5 ms between tokens: data cannot
    // arrive earlier than that.
    EXPECT_GE(r.ttft_s, 0.080);
    EXPECT_GE(r.latency_s, 0.080 + 5 * 0.005);
    EXPECT_EQ(r.itl_s.size(), 5u);
    EXPECT_EQ(r.output_tokens, 6);
    EXPECT_EQ(r.generated_text, "tok0 tok1 tok2 tok3 tok4 tok5 ");
  }
  EXPECT_GE(m.ttft.percentiles_ms[0].second, 80.0);
  EXPECT_LE(server.peakConcurrentStreams(), 4);
  EXPECT_GE(server.peakConcurrentStreams(), 2);  // the limit is used, not serialised
  EXPECT_LE(m.max_concurrent_requests, 4);
  // 1 initial test request + 12 measured ones, on kept connections: one for the test request,
  // at most one per concurrency slot for the run (vLLM's aiohttp session keeps them too).
  EXPECT_EQ(server.completionRequests(), 13);
  EXPECT_LE(server.completionConnections(), 1 + 4);
  // Besides: one for GET /v1/models and one for all the /tokenize calls of the calibration.
  EXPECT_LE(server.connectionsAccepted(), 2 + 1 + 4);
  const std::string table = report.str();
  EXPECT_NE(table.find("============ Serving Benchmark Result ============"), std::string::npos);
  EXPECT_NE(table.find("Successful requests:                     12"), std::string::npos) << table;
  EXPECT_NE(table.find("P90 TTFT (ms):"), std::string::npos);
  EXPECT_NE(table.find("Mean E2EL (ms):"), std::string::npos);
}

// --header pairs (after the API key's, so a header of the same name replaces it) and the sampling
// options reach every request; a malformed --header or a NaN option is refused before any request.
TEST(BenchServe, SendsHeadersAndSamplingOptionsWithEveryRequest) {
  FakeOpenAiServer server({.first_token_delay = std::chrono::milliseconds(1),
                           .token_gap = std::chrono::milliseconds(1)});
  BenchServeConfig config = configFor(server);
  config.num_prompts = 3;
  config.api_key = "sk-1";
  config.headers = {"x-team=research", "X-Run=7"};
  config.sampling.temperature = 0.8;
  config.sampling.top_k = 20;
  config.sampling.repetition_penalty = 1.2;
  std::ostringstream report;
  auto result = runBenchServe(config, report);
  ASSERT_TRUE(result.isOk()) << result.status().toString();
  EXPECT_EQ(result->metrics.completed, 3);
  const std::string headers = server.lastCompletionHeaders();
  EXPECT_NE(headers.find("Authorization: Bearer sk-1\n"), std::string::npos) << headers;
  EXPECT_NE(headers.find("x-team: research\n"), std::string::npos) << headers;
  EXPECT_NE(headers.find("X-Run: 7\n"), std::string::npos) << headers;
  const auto body = nlohmann::json::parse(server.lastCompletionBody());
  EXPECT_EQ(body["temperature"], 0.8);
  EXPECT_EQ(body["top_k"], 20);
  EXPECT_EQ(body["repetition_penalty"], 1.2);
  EXPECT_FALSE(body.contains("top_p"));

  config.headers = {"Authorization=Token abc"};
  ASSERT_TRUE(runBenchServe(config, report).isOk());
  EXPECT_NE(server.lastCompletionHeaders().find("Authorization: Token abc\n"), std::string::npos)
      << server.lastCompletionHeaders();
  EXPECT_EQ(server.lastCompletionHeaders().find("Bearer"), std::string::npos);

  const int sent = server.completionRequests();
  config.headers = {"x-bad=a\r\nHost: elsewhere"};
  EXPECT_EQ(runBenchServe(config, report).status().code(), StatusCode::kInvalidArgument);
  config.headers = {};
  config.sampling.top_p = std::nan("");
  Status nan = runBenchServe(config, report).status();
  EXPECT_EQ(nan.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(nan.message().find("--top-p must be a finite number"), std::string::npos)
      << nan.message();
  EXPECT_EQ(server.completionRequests(), sent);
}

// The setup calls keep their connection too: calibrating prompts asks /tokenize several times per
// prompt, over one connection (a connection each before); a server that closes after each answer,
// or whose idle timeout closed the kept one, gets a new one.
TEST(BenchServe, CountsTokensOverOneKeptConnection) {
  for (const FakeServerOptions& options :
       {FakeServerOptions{}, FakeServerOptions{.keep_alive = false},
        FakeServerOptions{.idle_timeout = std::chrono::milliseconds(5)}}) {
    FakeOpenAiServer server(options);
    Result<BaseUrl> base = parseBaseUrl("http://127.0.0.1:" + std::to_string(server.port()));
    ASSERT_TRUE(base.isOk());
    ServerTokenCounter counter(*base, "fake-model", {});
    for (int words = 1; words <= 6; ++words) {
      if (options.idle_timeout.count() > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::string text = "w";
      for (int i = 1; i < words; ++i) text += " w";
      Result<int> count = counter.countTokens(text);
      ASSERT_TRUE(count.isOk()) << count.status().toString();
      EXPECT_EQ(*count, words);
    }
    EXPECT_EQ(server.connectionsAccepted(), static_cast<int>(counter.connectionsOpened()));
    if (options.idle_timeout.count() > 0) {
      // How many the idle timeout closed depends on the machine's timing; at least one was.
      EXPECT_GE(counter.connectionsOpened(), 2u);
    } else {
      EXPECT_EQ(counter.connectionsOpened(), options.keep_alive ? 1u : 6u);
    }
  }
}

// A setup call that fails on a kept connection before any answer (the server closed it after the
// liveness check) is sent once more on a new one: /tokenize is idempotent. On a new connection
// the failure is the answer.
TEST(BenchServe, ResendsASetupCallThatAKeptConnectionLost) {
  FakeOpenAiServer server({.hang_up_tokenize_every = 2});
  Result<BaseUrl> base = parseBaseUrl("http://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(base.isOk());
  ServerTokenCounter counter(*base, "fake-model", {});
  for (int i = 0; i < 3; ++i) {
    Result<int> count = counter.countTokens("a b c");
    ASSERT_TRUE(count.isOk()) << i << ": " << count.status().toString();
    EXPECT_EQ(*count, 3);
  }
  // Requests 1 (answered), 2 (lost, kept connection), 3 (resent), 4 (lost), 5 (resent).
  EXPECT_EQ(server.tokenizeRequests(), 5);
  EXPECT_EQ(counter.connectionsOpened(), 3u);

  FakeOpenAiServer always_lost({.hang_up_tokenize_every = 1});
  Result<BaseUrl> lost_base =
      parseBaseUrl("http://127.0.0.1:" + std::to_string(always_lost.port()));
  ASSERT_TRUE(lost_base.isOk());
  ServerTokenCounter lost(*lost_base, "fake-model", {});
  EXPECT_EQ(lost.countTokens("a b c").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(always_lost.tokenizeRequests(), 1);  // a new connection's failure is not resent
}

// A server whose idle timeout (5 ms) closes kept connections between requests 40 ms apart: the
// client sees each closed connection before reusing it and opens a new one, so no request fails
// (without the check, each reuse failed).
TEST(BenchServe, DropsAKeptConnectionTheServerHasClosed) {
  FakeOpenAiServer server({.first_token_delay = std::chrono::milliseconds(2),
                           .token_gap = std::chrono::milliseconds(1),
                           .idle_timeout = std::chrono::milliseconds(5)});
  BenchServeConfig config = configFor(server);
  config.max_concurrency = 1;
  config.request_rate = 25.0;
  config.burstiness = std::numeric_limits<double>::infinity();  // evenly spaced
  std::ostringstream report;
  auto result = runBenchServe(config, report);
  ASSERT_TRUE(result.isOk()) << result.status().toString();
  for (const RequestResult& r : result->outputs) EXPECT_TRUE(r.success) << r.error;
  EXPECT_EQ(result->metrics.completed, 12);
  EXPECT_EQ(server.completionRequests(), 13);    // none sent twice
  EXPECT_GE(server.completionConnections(), 3);  // the server closed and the client reconnected
}

// A server that reads a request and hangs up without answering: that request fails and is not
// sent again (the server may have acted on it; aiohttp does not resend a POST either), and the
// others go on over kept connections.
TEST(BenchServe, AnUnansweredRequestFailsAndIsNotSentAgain) {
  FakeOpenAiServer server({.first_token_delay = std::chrono::milliseconds(2),
                           .token_gap = std::chrono::milliseconds(1),
                           .hang_up_every = 4});
  BenchServeConfig config = configFor(server);
  config.max_concurrency = 2;
  std::ostringstream report;
  auto result = runBenchServe(config, report);
  ASSERT_TRUE(result.isOk()) << result.status().toString();
  // Of the server's completion requests 1 (the test run) to 13, numbers 4, 8 and 12 hang up.
  EXPECT_EQ(server.completionRequests(), 13);
  EXPECT_EQ(result->metrics.failed, 3);
  EXPECT_EQ(result->metrics.completed, 9);
  for (const RequestResult& r : result->outputs) {
    if (!r.success) {
      EXPECT_NE(r.error.find("read header"), std::string::npos) << r.error;
    }
  }
}

TEST(BenchServe, ChatEndpointWithWarmupsAndFailuresAndApproximateCounts) {
  FakeOpenAiServer server({.first_token_delay = std::chrono::milliseconds(30),
                           .token_gap = std::chrono::milliseconds(1),
                           .tokenize = false,
                           .fail_every = 5});
  BenchServeConfig config = configFor(server);
  config.endpoint = "/v1/chat/completions";
  config.model = "fake-model";
  config.num_warmups = 2;
  config.request_rate = 200.0;  // Poisson arrivals
  config.goodput = {"ttft:100000"};
  std::ostringstream report;
  auto result = runBenchServe(config, report);
  ASSERT_TRUE(result.isOk()) << result.status().toString();
  EXPECT_FALSE(result->exact_token_counts);
  // Requests 1 (test) and 2-3 (warmups) succeed; of the measured requests 4..15, the server
  // fails numbers 5, 10 and 15.
  EXPECT_EQ(result->metrics.failed, 3);
  EXPECT_EQ(result->metrics.completed, 9);
  EXPECT_DOUBLE_EQ(result->metrics.request_goodput, result->metrics.request_throughput);
  for (const RequestResult& r : result->outputs) {
    if (!r.success) {
      EXPECT_NE(r.error.find("HTTP 503"), std::string::npos) << r.error;
      continue;
    }
    EXPECT_GE(r.ttft_s, 0.030);  // the role-only chunk before the delay is not a token
  }
  EXPECT_NE(report.str().find("Request goodput (req/s):"), std::string::npos);
}

TEST(BenchServe, SavesVllmStyleJsonAndAPlot) {
  FakeOpenAiServer server({.first_token_delay = std::chrono::milliseconds(10),
                           .token_gap = std::chrono::milliseconds(1)});
  BenchServeConfig config = configFor(server);
  const auto dir =
      std::filesystem::temp_directory_path() / ("manifold_bench_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  config.save_result = (dir / "result.json").string();
  const bool have_gnuplot = std::system("command -v gnuplot >/dev/null 2>&1") == 0;
  if (have_gnuplot) config.plot = (dir / "plot.png").string();
  std::ostringstream report;
  auto result = runBenchServe(config, report);
  ASSERT_TRUE(result.isOk()) << result.status().toString();

  std::ifstream in(config.save_result);
  const auto json = nlohmann::json::parse(in);
  EXPECT_EQ(json["completed"], 12);
  EXPECT_EQ(json["model_id"], "fake-model");
  EXPECT_EQ(json["total_output_tokens"], 72);
  EXPECT_EQ(json["ttfts"].size(), 12u);
  EXPECT_EQ(json["output_lens"].size(), 12u);
  EXPECT_TRUE(json.contains("p99_tpot_ms"));
  EXPECT_TRUE(json.contains("median_itl_ms"));
  EXPECT_DOUBLE_EQ(json["mean_ttft_ms"].get<double>(), result->metrics.ttft.mean_ms);
  EXPECT_TRUE(json["request_goodput"].is_null());  // no --goodput: not measured, as in vLLM
  if (have_gnuplot) {
    std::ifstream png(config.plot, std::ios::binary);
    char magic[8] = {};
    png.read(magic, sizeof(magic));
    EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  }
  std::filesystem::remove_all(dir);
}

TEST(BenchServe, FailsFastWhenTheServerIsUnreachable) {
  BenchServeConfig config;
  {
    // A port that was free a moment ago.
    FakeOpenAiServer server({});
    config.base_url = "http://127.0.0.1:" + std::to_string(server.port());
  }
  config.model = "m";
  config.num_prompts = 2;
  config.show_progress = false;
  std::ostringstream report;
  EXPECT_FALSE(runBenchServe(config, report).isOk());
}

}  // namespace
}  // namespace manifold::bench
