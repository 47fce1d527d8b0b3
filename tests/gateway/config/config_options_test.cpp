// The settings table: config files, overrides, validation messages that name the key, device
// parsing, and docs/configuration.md kept in step with the table.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gateway/config/config_options.h"
#include "gateway/config/server_config.h"

namespace manifold::gateway {
namespace {

using json = nlohmann::json;

const std::string kModelDir = MANIFOLD_SOURCE_DIR "/models/stories260K";

const ConfigOption& option(const std::string& key) {
  for (const ConfigOption& o : configOptions()) {
    if (o.key == key && o.scope != OptionScope::kUpstream) return o;
  }
  ADD_FAILURE() << "no option " << key;
  return configOptions().front();
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ConfigOptions, EveryEntryHasAUniqueKeyFlagAndEnvironmentVariable) {
  std::set<std::string> flags, envs, keys;
  for (const ConfigOption& o : configOptions()) {
    EXPECT_FALSE(o.key.empty());
    EXPECT_FALSE(o.help.empty()) << o.key;
    EXPECT_TRUE(keys.insert(std::to_string(static_cast<int>(o.scope)) + o.key).second) << o.key;
    if (o.scope == OptionScope::kUpstream) continue;
    EXPECT_EQ(o.flag.rfind("--", 0), 0u) << o.key;
    EXPECT_EQ(o.env.rfind("MANIFOLD_", 0), 0u) << o.key;
    EXPECT_TRUE(flags.insert(o.flag).second) << o.flag;
    EXPECT_TRUE(envs.insert(o.env).second) << o.env;
  }
}

TEST(ConfigOptions, DocsListEveryKeyFlagAndVariableAsGenerated) {
  std::string docs = readFile(MANIFOLD_SOURCE_DIR "/docs/configuration.md");
  ASSERT_FALSE(docs.empty());
  for (const ConfigOption& o : configOptions()) {
    EXPECT_NE(docs.find("`" + o.key + "`"), std::string::npos) << o.key;
    if (!o.flag.empty()) {
      EXPECT_NE(docs.find("`" + o.flag + "`"), std::string::npos) << o.flag;
    }
    if (!o.env.empty()) {
      EXPECT_NE(docs.find("`" + o.env + "`"), std::string::npos) << o.env;
    }
  }
  // The reference section is exactly what the table renders today.
  EXPECT_NE(docs.find(configReferenceMarkdown()), std::string::npos)
      << "docs/configuration.md is stale: regenerate it with "
         "`manifold serve --print-config-reference`";
}

TEST(ConfigOptions, DefaultConfigResolvesModelPathsAgainstItsDirectory) {
  auto config = loadConfigFile(MANIFOLD_SOURCE_DIR "/configs/default.json");
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  ASSERT_EQ(config->engines.size(), 2u);
  EXPECT_EQ(std::filesystem::path(config->engines[0].model),
            std::filesystem::path(kModelDir).lexically_normal());
  EXPECT_EQ(config->engines[0].served_model_name, std::vector<std::string>{"stories"});
  EXPECT_EQ(config->engines[0].aliases, std::vector<std::string>{"stories260k"});
  EXPECT_NE(config->engines[0].served_model_name, config->engines[1].served_model_name);
  EXPECT_TRUE(config->validate().isOk()) << config->validate().toString();
}

TEST(ConfigOptions, ErrorsNameTheKeyPath) {
  json root = {{"engines", json::array({{{"model", kModelDir}},
                                        {{"model", kModelDir}, {"max_num_seqs", "lots"}}})}};
  auto bad_type = parseConfigJson(root, "");
  ASSERT_FALSE(bad_type.isOk());
  EXPECT_EQ(bad_type.status().message(), "engines[1].max_num_seqs: must be an integer");

  root["engines"][1]["max_num_seqs"] = 0;
  auto parsed = parseConfigJson(root, "");
  ASSERT_TRUE(parsed.isOk());
  parsed->engines[1].served_model_name = {"second"};
  EXPECT_EQ(parsed->validate().message(), "engines[1].max_num_seqs: must be from 1 to 1000000");

  // Values that overflowed later arithmetic (timeouts as nanosecond clocks: every connection
  // closed unanswered; sequences times blocks) are refused here.
  parsed->engines[1].max_num_seqs = 2'000'000'000;
  EXPECT_EQ(parsed->validate().message(), "engines[1].max_num_seqs: must be from 1 to 1000000");
  parsed->engines[1].max_num_seqs = 4;
  parsed->idle_timeout_s = 1e10;
  EXPECT_EQ(
      parsed->validate().message(),
      "idle_timeout_s: must be from 0.001 s (they count milliseconds) to a year (31536000 s)");
  parsed->idle_timeout_s = 0.0001;  // 0 ms: every connection would time out at once
  EXPECT_EQ(
      parsed->validate().message(),
      "idle_timeout_s: must be from 0.001 s (they count milliseconds) to a year (31536000 s)");
  parsed->idle_timeout_s = 5;
  parsed->drain_timeout_s = 1e300;
  EXPECT_EQ(parsed->validate().message(), "drain_timeout_s: must be from 0 to a year (31536000 s)");

  auto unknown = parseConfigJson({{"engines", json::array({{{"max_num_seq", 4}}})}}, "");
  EXPECT_EQ(unknown.status().message(), "engines[0].max_num_seq: unknown key");

  auto bad_key = parseConfigJson({{"api_keys", json::array({{{"key", 5}}})}}, "");
  EXPECT_EQ(bad_key.status().message(), "api_keys[0].key: must be a string");
}

TEST(ConfigOptions, SchedulerAndDtypeSettingsAreChecked) {
  ServerConfig config;
  EngineSpec e;
  e.model = kModelDir;
  e.served_model_name = {"m"};
  config.engines = {e};
  config.engines[0].scheduling_policy = "lifo";
  EXPECT_EQ(config.validate().message(),
            "engines[0].scheduling_policy: must be fcfs or priority, got `lifo`");
  config.engines[0].scheduling_policy = "priority";
  config.engines[0].long_prefill_token_threshold = -5;
  EXPECT_EQ(config.validate().message(),
            "engines[0].long_prefill_token_threshold: must not be negative");
  config.engines[0].long_prefill_token_threshold = 64;
  config.engines[0].kv_cache_dtype = "fp8";
  EXPECT_EQ(config.validate().message(),
            "engines[0].kv_cache_dtype: must be auto, f32 or bf16, got `fp8`");
  config.engines[0].kv_cache_dtype = "f16";
  EXPECT_EQ(
      config.validate().message(),
      "engines[0].kv_cache_dtype: must be auto, f32 or bf16, got `f16` (there is no F16 KV cache)");
  config.engines[0].dtype = "f16";
  config.engines[0].kv_cache_dtype = "bf16";
  EXPECT_TRUE(config.validate().isOk());
  config.engines[0].threads = 100000;  // refused before anything starts, not at engine load
  EXPECT_EQ(config.validate().message(),
            "engines[0].threads: must be in [0, 1024] (0: the cores split among the engines)");
  config.engines[0].threads = 0;
  // A key for a name nothing serves reaches nothing: a typo.
  config.api_keys = {ApiKeyEntry{"k", {"typo"}}};
  EXPECT_EQ(config.validate().message(), "api_keys[0].models: no model is served as `typo`");
  config.api_keys.clear();
  config.engines[0].quantization = "fp8";
  EXPECT_EQ(config.validate().message(),
            "engines[0].quantization: must be none, int8 or w8a8, got `fp8`");
  config.engines[0].quantization = "int8";
  EXPECT_TRUE(config.validate().isOk());
  config.engines[0].quantization = "w8a8";
  EXPECT_TRUE(config.validate().isOk());
  config.engines[0].enable_auto_tool_choice = true;
  EXPECT_EQ(config.validate().message(),
            "engines[0].enable_auto_tool_choice: needs tool_call_parser");
  config.engines[0].tool_call_parser = "pythonic";
  EXPECT_EQ(config.validate().message(),
            "engines[0].tool_call_parser: unknown format `pythonic` (known: hermes, llama3_json, "
            "mistral)");
  for (const char* parser : {"hermes", "llama3_json", "mistral"}) {
    config.engines[0].tool_call_parser = parser;
    EXPECT_TRUE(config.validate().isOk()) << parser;
  }
}

TEST(ConfigOptions, ValidationCatchesNameClashesAndMissingModels) {
  ServerConfig config;
  EXPECT_EQ(config.validate().message(),
            "engines: nothing to serve: give --model DIR or --config FILE");
  EngineSpec a;
  a.model = kModelDir;
  a.served_model_name = {"m"};
  EngineSpec b = a;
  b.model = MANIFOLD_SOURCE_DIR "/models";
  config.engines = {a, b};
  EXPECT_EQ(config.validate().message(),
            "engines[1].served_model_name: `m` is already served from another model directory");
  config.engines = {a, a};  // replicas
  EXPECT_TRUE(config.validate().isOk());
  // A replica may spell the directory with a trailing slash, but not show clients another model:
  // its names, context length, template or tool parsing differ (they were silently ignored).
  b = a;
  b.model = std::string(kModelDir) + "/";
  config.engines = {a, b};
  EXPECT_TRUE(config.validate().isOk()) << config.validate().message();
  b = a;
  b.aliases = {"y"};
  config.engines = {a, b};
  EXPECT_EQ(config.validate().message(),
            "engines[1].aliases: replicas of `m` must agree on aliases (clients see one model)");
  b = a;
  b.max_model_len = 128;
  config.engines = {a, b};
  EXPECT_EQ(config.validate().message(),
            "engines[1].max_model_len: replicas of `m` must agree on max_model_len (clients see "
            "one model)");
  config.engines = {a, a};
  config.upstreams = {{"m", {}, "http://x", "", ""}};
  EXPECT_EQ(config.validate().message(),
            "upstreams[0].name: the name `m` is already used by engines[0]");
  config.upstreams = {{"r", {}, "ftp://x", "", ""}};
  EXPECT_EQ(config.validate().message(),
            "upstreams[0].base_url: must start with http:// or https://");
  // URLs that failed only per request (500/502) are refused at start.
  for (const char* url : {"http://", "http://exa mple:8000/v1", "http://[::1/v1", "http://h:0",
                          "http://h:99999999/v1", "https://:443", "http://h:x"}) {
    config.upstreams = {{"r", {}, url, "", ""}};
    EXPECT_EQ(config.validate().message(), std::string("upstreams[0].base_url: `") + url +
                                               "` needs a host, and a port from 1 to 65535 if any");
  }
  for (const char* url :
       {"http://h", "http://h:8000/v1", "https://[::1]:8443/v1/", "http://1.2.3.4"}) {
    config.upstreams = {{"r", {}, url, "", ""}};
    EXPECT_TRUE(config.validate().isOk()) << url << ": " << config.validate().message();
  }
  config.upstreams = {{"r", {}, "http://h", "", ""}};
  config.upstreams[0].read_timeout_s = 0;
  EXPECT_EQ(config.validate().message(),
            "upstreams[0].read_timeout_s: must be from 0.001 s (they count milliseconds) to a year "
            "(31536000 s)");
  config.upstreams[0].read_timeout_s = 1;
  config.upstreams[0].connect_timeout_s = 1e10;
  EXPECT_EQ(config.validate().message(),
            "upstreams[0].connect_timeout_s: must be from 0.001 s (they count milliseconds) to a "
            "year (31536000 s)");
  config.upstreams.clear();
  config.engines[0].model = "/no/such/dir";
  EXPECT_EQ(config.validate().message(), "engines[0].model: `/no/such/dir` is not a directory");
}

TEST(ConfigOptions, OverridesApplyToEveryEngineAndCreateOneWhenNeeded) {
  ServerConfig config;
  ASSERT_TRUE(applyOverride(config, option("model"), kModelDir, "--model").isOk());
  ASSERT_EQ(config.engines.size(), 1u);
  config.engines.push_back(config.engines[0]);
  ASSERT_TRUE(applyOverride(config, option("max_num_seqs"), 3, "--max-num-seqs").isOk());
  EXPECT_EQ(config.engines[0].max_num_seqs, 3);
  EXPECT_EQ(config.engines[1].max_num_seqs, 3);
  Status bad = applyOverride(config, option("port"), "eighty", "--port");
  EXPECT_EQ(bad.message(), "--port: must be an integer");
}

TEST(ConfigOptions, FlagAndEnvironmentTextBecomeTypedValues) {
  EXPECT_EQ(optionValueFromStrings(option("enable_prefix_caching"), {"yes"}).value(), true);
  EXPECT_EQ(optionValueFromStrings(option("port"), {"8080"}).value(), 8080);
  EXPECT_FALSE(optionValueFromStrings(option("port"), {"80x"}).isOk());
  EXPECT_EQ(optionValueFromStrings(option("kv_cache_space"), {"1.5"}).value(), 1.5);
  EXPECT_EQ(optionValueFromStrings(option("api_keys"), {"a,b", "c"}).value(),
            json::array({"a", "b", "c"}));
  // Only commas (MANIFOLD_API_KEY="$A,$B" with both unset) would have meant no authentication.
  EXPECT_EQ(optionValueFromStrings(option("api_keys"), {",,"}).status().message(),
            "`,,` holds no values");
  EXPECT_EQ(optionValueFromStrings(option("api_keys"), {""}).value(), json::array());
}

TEST(DeviceSpec, ParsesCpuAndCudaListsAndRejectsTheRest) {
  EXPECT_EQ(parseDevice("cpu")->kind, DeviceSpec::Kind::kCpu);
  EXPECT_EQ(parseDevice("cuda:0")->cuda_ids, std::vector<int>{0});
  EXPECT_EQ(parseDevice("cuda:0,1")->cuda_ids, (std::vector<int>{0, 1}));
  EXPECT_FALSE(parseDevice("gpu").isOk());
  EXPECT_FALSE(parseDevice("cuda:").isOk());
  EXPECT_FALSE(parseDevice("cuda:a").isOk());
  EXPECT_FALSE(parseDevice("cuda:0,0").isOk());
  ServerConfig config;
  EngineSpec engine;
  engine.model = kModelDir;
  engine.device = "cuda:0,1";
  config.engines = {engine};
  Status status = config.validate();
  if (haveCudaBackend()) {
    EXPECT_TRUE(status.isOk());
  } else {
    EXPECT_NE(status.message().find("engines[0].device: `cuda:0,1` needs the CUDA backend"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace manifold::gateway
