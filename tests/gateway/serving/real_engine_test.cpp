// The gateway over the real engine built by the serve factory (LocalEngine on stories260K, its
// tokenizer and fallback chat template): greedy completions over HTTP match the float64 reference
// outputs shipped with the model, and a stream cut by the client leaves no KV blocks in use.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "gateway/server/gateway_server.h"
#include "gateway/serving/engine_factory.h"
#include "gateway/serving/serve.h"
#include "tests/gateway/testing/http_client.h"
#include "tests/gateway/testing/request_fuzzer.h"

namespace manifold::gateway {
namespace {

using json = nlohmann::json;
using testing::fuzzSeedRequests;
using testing::FuzzTally;
using testing::HttpClient;
using testing::sendMutatedRequests;
using namespace std::chrono_literals;

const std::string kModelDir = MANIFOLD_SOURCE_DIR "/models/stories260K";

// What serve's settings become in the engine's configuration.
TEST(EngineFactory, EngineConfigCarriesTheSchedulerCacheAndDtypeSettings) {
  EngineSpec spec;
  spec.model = kModelDir;
  spec.max_model_len = 256;
  spec.max_num_seqs = 3;
  spec.max_num_batched_tokens = 300;
  spec.enable_chunked_prefill = false;
  spec.long_prefill_token_threshold = 40;
  spec.scheduling_policy = "priority";
  spec.dtype = "bf16";
  spec.kv_cache_dtype = "f32";
  auto config = engineConfigFor(spec, 2, nullptr);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->scheduler.policy, SchedulingPolicy::kPriority);
  EXPECT_FALSE(config->scheduler.enable_chunked_prefill);
  EXPECT_EQ(config->scheduler.long_prefill_token_threshold, 40);
  EXPECT_EQ(config->scheduler.max_num_batched_tokens, 300);
  EXPECT_EQ(config->weight_dtype, DType::kBF16);
  EXPECT_EQ(config->kv_cache_dtype, DType::kF32);
  EXPECT_EQ(config->quantization, Quantization::kNone);
  EXPECT_EQ(config->cache.num_blocks, 3 * (256 / 16 + 1));
  spec.dtype = "auto";
  spec.kv_cache_dtype = "auto";
  spec.quantization = "int8";
  config = engineConfigFor(spec, 2, nullptr);
  ASSERT_TRUE(config.isOk());
  EXPECT_FALSE(config->weight_dtype.has_value());
  EXPECT_FALSE(config->kv_cache_dtype.has_value());
  EXPECT_EQ(config->quantization, Quantization::kInt8);
  spec.quantization = "w8a8";
  config = engineConfigFor(spec, 2, nullptr);
  ASSERT_TRUE(config.isOk());
  EXPECT_EQ(config->quantization, Quantization::kW8A8);
  // Without chunked prefill a step must hold a whole context.
  spec.max_num_batched_tokens = 128;
  EXPECT_FALSE(engineConfigFor(spec, 2, nullptr).isOk());
  // Blocks for max_num_seqs full contexts past 2^31: an error, not a wrapped count.
  spec.enable_chunked_prefill = true;
  spec.max_model_len = 100'000'000;
  spec.max_num_seqs = 1000;
  auto overflow = engineConfigFor(spec, 2, nullptr);
  ASSERT_FALSE(overflow.isOk());
  EXPECT_NE(overflow.status().message().find("more than 2^31"), std::string::npos)
      << overflow.status().message();
}

class RealEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EngineSpec spec;
    spec.model = kModelDir;
    spec.threads = 1;
    spec.max_num_seqs = 4;
    int progress_events = 0;
    auto engine = makeEngine(spec, 1, nullptr, [&](const LoadProgress&) { ++progress_events; });
    ASSERT_TRUE(engine.isOk()) << engine.status().toString();
    // serve logs the load as it goes and a summary of what it loaded.
    EXPECT_GT(progress_events, 0);
    EXPECT_NE(engine.value()->info().summary.find("5 layers"), std::string::npos)
        << engine.value()->info().summary;
    auto codec = makeCodec(spec, *engine.value());
    ASSERT_TRUE(codec.isOk()) << codec.status().toString();
    auto registry = std::make_unique<ModelRegistry>();
    ServedModelOptions options;
    options.id = "stories";
    auto model = ServedModel::local(options);
    std::vector<std::unique_ptr<EngineClient>> replicas;
    replicas.push_back(std::move(engine).value());
    model->setReady(std::move(replicas), std::move(codec).value());
    ASSERT_TRUE(registry->add(std::move(model)).isOk());
    GatewayOptions gateway_options;
    gateway_options.http.port = 0;
    auto server = GatewayServer::create(gateway_options, std::move(registry));
    ASSERT_TRUE(server.isOk());
    server_ = std::move(server).value().release();
    server_->start();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static HttpClient client() { return HttpClient(server_->port()); }
  // The replica's stats once nothing runs and the KV cache is empty, or after 2 s.
  static json idleReplica() {
    json replica;
    for (int i = 0; i < 200; ++i) {
      replica = client().get("/debug/engines").json()["models"][0]["replicas"][0];
      if (replica["num_running"] == 0 && replica["kv_cache_usage"] == 0.0) break;
      std::this_thread::sleep_for(10ms);
    }
    return replica;
  }

  static GatewayServer* server_;
};

GatewayServer* RealEngineTest::server_ = nullptr;

TEST_F(RealEngineTest, GreedyCompletionsMatchTheReferenceOutputs) {
  std::ifstream in(kModelDir + "/reference_outputs.json");
  json reference = json::parse(in);
  int checked = 0;
  for (const json& c : reference["cases"]) {
    if (c["prompt"].is_null() || c["min_top1_top2_logit_gap"].get<double>() < 0.05) continue;
    auto result = client().post("/v1/completions", {{"model", "stories"},
                                                    {"prompt", c["prompt"]},
                                                    {"max_tokens", c["max_new_tokens"]},
                                                    {"temperature", 0},
                                                    {"ignore_eos", true}});
    ASSERT_EQ(result.status, 200) << result.body;
    json body = result.json();
    EXPECT_EQ(body["choices"][0]["text"], c["output_text"]) << c["name"];
    EXPECT_EQ(body["usage"]["prompt_tokens"], c["prompt_ids"].size()) << c["name"];
    EXPECT_EQ(body["usage"]["completion_tokens"], c["max_new_tokens"]) << c["name"];
    ++checked;
  }
  EXPECT_GE(checked, 2);
}

TEST_F(RealEngineTest, StreamedChatEqualsTheNonStreamedAnswer) {
  json body = {{"model", "stories"},
               {"messages", json::array({{{"role", "user"}, {"content", "Tell me a story"}}})},
               {"max_tokens", 24},
               {"temperature", 0}};
  auto plain = client().post("/v1/chat/completions", body);
  ASSERT_EQ(plain.status, 200) << plain.body;
  body["stream"] = true;
  auto stream = client().post("/v1/chat/completions", body);
  ASSERT_EQ(stream.status, 200);
  std::string content;
  for (const std::string& data : stream.sseData()) {
    if (data == "[DONE]") continue;
    json chunk = json::parse(data);
    if (!chunk["choices"].empty()) content += chunk["choices"][0]["delta"].value("content", "");
  }
  EXPECT_EQ(content, plain.json()["choices"][0]["message"]["content"]);
}

TEST_F(RealEngineTest, StreamCutByTheClientFreesItsKvBlocks) {
  client().requestAndCut("/v1/completions",
                         {{"model", "stories"},
                          {"prompt", "Once upon a time"},
                          {"max_tokens", 400},
                          {"ignore_eos", true},
                          {"stream", true}},
                         800);
  const json replica = idleReplica();
  EXPECT_EQ(replica["num_running"], 0);
  EXPECT_EQ(replica["kv_cache_usage"], 0.0);
}

// The randomized requests of request_fuzz_test on the real model: the same answers (a success
// or a 4xx OpenAI error) through the real tokenizer, chat template, scheduler and sampler, and
// the KV cache is empty afterwards.
TEST_F(RealEngineTest, MutatedRequestsGetAnAnswerOrAnOpenAiErrorAndFreeTheirBlocks) {
  const FuzzTally tally =
      sendMutatedRequests(server_->port(), fuzzSeedRequests("stories", "stories"), 80, 0xfeed0000);
  // stories has no tool-call parser: the seeds with tools and tool_choice "auto" are 400s, as
  // in vLLM.
  EXPECT_GT(tally.successes, 40);
  EXPECT_GT(tally.errors, 250);
  const json replica = idleReplica();
  EXPECT_EQ(replica["num_running"], 0);
  EXPECT_EQ(replica["num_waiting"], 0);
  EXPECT_EQ(replica["kv_cache_usage"], 0.0);
}

TEST(ApiKeyFile, SkipsBlankLinesAndComments) {
  auto path = std::filesystem::temp_directory_path() / "manifold_api_keys_test.txt";
  {
    std::ofstream out(path);
    out << "# team keys\nsk-one\n\n  sk-two  \r\n# sk-commented\n\tsk-three\t\n";
  }
  auto keys = readApiKeyFile(path.string());
  ASSERT_TRUE(keys.isOk());
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[0].key, "sk-one");
  EXPECT_EQ((*keys)[1].key, "sk-two");
  EXPECT_EQ((*keys)[2].key, "sk-three");
  // A file without keys (a secret that did not mount) must not leave the server open.
  std::ofstream(path) << "# only comments\n\n";
  Result<std::vector<ApiKeyEntry>> none = readApiKeyFile(path.string());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("holds no key"), std::string::npos);
  std::filesystem::remove(path);
  EXPECT_FALSE(readApiKeyFile(path.string()).isOk());
}

}  // namespace
}  // namespace manifold::gateway

namespace manifold::gateway {
namespace {

TEST(EngineFactory, ChatTemplateFileReplacesTheModelsTemplate) {
  auto path = std::filesystem::temp_directory_path() / "manifold_chat_template_test.jinja";
  {
    std::ofstream out(path);
    out << "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
           "{% if add_generation_prompt %}[assistant]{% endif %}";
  }
  EngineSpec spec;
  spec.model = kModelDir;
  spec.chat_template = path.string();
  auto engine = makeEngine(spec, 1, nullptr);
  ASSERT_TRUE(engine.isOk()) << engine.status().toString();
  auto codec = makeCodec(spec, *engine.value());
  ASSERT_TRUE(codec.isOk()) << codec.status().toString();
  auto rendered =
      codec.value()->renderChat(json::array({{{"role", "system"}, {"content", "Be brief."}},
                                             {{"role", "user"}, {"content", "Hi"}}}),
                                {{"add_generation_prompt", true}});
  ASSERT_TRUE(rendered.isOk()) << rendered.status().toString();
  EXPECT_EQ(rendered.value(), "[system]Be brief.[user]Hi[assistant]");
  std::filesystem::remove(path);
}

TEST(EngineFactory, CudaDevicesAreRefusedByTheCpuEngine) {
  EngineSpec spec;
  spec.model = kModelDir;
  spec.device = "cuda:0";
  auto engine = makeEngine(spec, 1, nullptr);
  ASSERT_FALSE(engine.isOk());
  EXPECT_NE(engine.status().message().find("cuda:0"), std::string::npos);
}

}  // namespace
}  // namespace manifold::gateway
