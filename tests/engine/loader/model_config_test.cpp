#include "engine/loader/model_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string_view>

#include <nlohmann/json.hpp>

namespace manifold {
namespace {

using Json = nlohmann::json;

Json llamaJson() {
  return Json{{"architectures", {"LlamaForCausalLM"}},
              {"hidden_size", 64},
              {"intermediate_size", 172},
              {"num_hidden_layers", 5},
              {"num_attention_heads", 8},
              {"num_key_value_heads", 4},
              {"vocab_size", 512},
              {"max_position_embeddings", 512},
              {"rms_norm_eps", 1e-5},
              {"hidden_act", "silu"}};
}

Status parseError(const Json& json) { return parseModelConfig(json.dump()).status(); }

void expectErrorMentions(const Json& json, StatusCode code, const std::string& text) {
  Status status = parseError(json);
  EXPECT_EQ(status.code(), code) << status.toString();
  EXPECT_NE(status.message().find(text), std::string::npos) << status.message();
}

TEST(ModelConfig, ParsesTheBundledStories260KConfig) {
  Result<ModelConfig> config = loadModelConfig(MANIFOLD_SOURCE_DIR "/models/stories260K");
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->architecture, Architecture::kLlama);
  EXPECT_EQ(config->hidden_size, 64);
  EXPECT_EQ(config->intermediate_size, 172);
  EXPECT_EQ(config->num_hidden_layers, 5);
  EXPECT_EQ(config->num_attention_heads, 8);
  EXPECT_EQ(config->num_key_value_heads, 4);
  EXPECT_EQ(config->head_dim, 8);
  EXPECT_EQ(config->vocab_size, 512);
  EXPECT_EQ(config->max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(config->rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(config->rope_theta, 10000.0);
  EXPECT_EQ(config->rope_scaling.type, RopeScalingType::kNone);
  EXPECT_TRUE(config->tie_word_embeddings);
  EXPECT_FALSE(config->qkv_bias);
  EXPECT_EQ(config->torch_dtype, DType::kF32);
  EXPECT_EQ(config->bos_token_id, 1);
  EXPECT_EQ(config->eos_token_ids, std::vector<int32_t>{2});
  EXPECT_EQ(config->sliding_window, 0);
}

// quantization_config as llm-compressor writes it for INT8 W8A8 (the bundled
// tests/data/models/stories260K-w8a8) and, without input activations, W8A16.
TEST(ModelConfig, ReadsACompressedTensorsInt8Checkpoint) {
  Result<ModelConfig> config =
      loadModelConfig(MANIFOLD_SOURCE_DIR "/tests/data/models/stories260K-w8a8");
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->checkpoint_quantization, Quantization::kW8A8);
  EXPECT_EQ(parseModelConfig(llamaJson().dump())->checkpoint_quantization, Quantization::kNone);

  std::ifstream in(MANIFOLD_SOURCE_DIR "/tests/data/models/stories260K-w8a8/config.json");
  const Json w8a8 = Json::parse(in);
  Json w8a16 = w8a8;
  w8a16["quantization_config"]["config_groups"]["group_0"]["input_activations"] = nullptr;
  EXPECT_EQ(parseModelConfig(w8a16.dump())->checkpoint_quantization, Quantization::kInt8);
  Json group_format = w8a8;  // newer writers: the format per group
  group_format["quantization_config"]["format"] = "mixed-precision";
  group_format["quantization_config"]["config_groups"]["group_0"]["format"] = "int-quantized";
  EXPECT_EQ(parseModelConfig(group_format.dump())->checkpoint_quantization, Quantization::kW8A8);
  group_format["quantization_config"]["config_groups"]["group_0"]["format"] = "float-quantized";
  expectErrorMentions(group_format, StatusCode::kUnimplemented, "format \"float-quantized\"");
  Json per_tensor = w8a8;
  per_tensor["quantization_config"]["config_groups"]["group_0"]["weights"]["strategy"] = "tensor";
  EXPECT_EQ(parseModelConfig(per_tensor.dump())->checkpoint_quantization, Quantization::kW8A8);

  // Every other scheme is refused at load, naming the setting.
  auto refused = [&](const char* key, const Json& value, const char* path,
                     const std::string& text) {
    Json json = w8a8;
    Json* node = &json["quantization_config"];
    if (std::string_view(path) == "weights" || std::string_view(path) == "input_activations") {
      node = &(*node)["config_groups"]["group_0"][path];
    } else if (std::string_view(path) == "group") {
      node = &(*node)["config_groups"]["group_0"];
    }
    (*node)[key] = value;
    expectErrorMentions(json, StatusCode::kUnimplemented, text);
  };
  refused("quant_method", "gptq", "", "quant_method \"gptq\"");
  refused("format", "pack-quantized", "", "format \"pack-quantized\"");
  refused("kv_cache_scheme", Json{{"num_bits", 8}}, "", "kv_cache_scheme");
  refused("num_bits", 4, "weights", "weights");
  refused("symmetric", false, "weights", "weights");
  refused("strategy", "group", "weights", "weights");
  refused("group_size", 128, "weights", "weights");
  refused("dynamic", false, "input_activations", "input_activations");
  refused("strategy", "tensor", "input_activations", "input_activations");
  refused("type", "float", "input_activations", "input_activations");
  refused("targets", Json::array({"Linear", "Embedding"}), "group", "targets");
  Json two_groups = w8a8;
  two_groups["quantization_config"]["config_groups"]["group_1"] =
      w8a8["quantization_config"]["config_groups"]["group_0"];
  expectErrorMentions(two_groups, StatusCode::kUnimplemented, "config_groups");
  Json not_object = llamaJson();
  not_object["quantization_config"] = "int8";
  expectErrorMentions(not_object, StatusCode::kInvalidArgument, "quantization_config");
}

TEST(ModelConfig, DefaultsHeadDimAndKvHeadsFromHeads) {
  Json json = llamaJson();
  json.erase("num_key_value_heads");
  Result<ModelConfig> config = parseModelConfig(json.dump());
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->num_key_value_heads, 8);
  EXPECT_EQ(config->head_dim, 8);
  EXPECT_FALSE(config->tie_word_embeddings);
}

TEST(ModelConfig, KeepsAnExplicitHeadDimThatIsNotHiddenOverHeads) {
  Json json = llamaJson();
  json["head_dim"] = 16;  // Mistral-Nemo style: heads * head_dim != hidden
  Result<ModelConfig> config = parseModelConfig(json.dump());
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->head_dim, 16);
}

TEST(ModelConfig, ReadsLlama3RopeScaling) {
  Json json = llamaJson();
  json["rope_scaling"] = {{"rope_type", "llama3"},
                          {"factor", 32.0},
                          {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0},
                          {"original_max_position_embeddings", 8192}};
  Result<ModelConfig> config = parseModelConfig(json.dump());
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 32.0);
  EXPECT_DOUBLE_EQ(config->rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(config->rope_scaling.original_max_position_embeddings, 8192);
}

TEST(ModelConfig, ReadsLinearRopeScalingUnderTheOldTypeKey) {
  Json json = llamaJson();
  json["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  Result<ModelConfig> config = parseModelConfig(json.dump());
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 2.0);
}

TEST(ModelConfig, Qwen2AlwaysHasQkvBiasAndNoWindowUnlessEnabled) {
  Json json = llamaJson();
  json["architectures"] = {"Qwen2ForCausalLM"};
  json["sliding_window"] = 4096;
  json["use_sliding_window"] = false;
  Result<ModelConfig> config = parseModelConfig(json.dump());
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->architecture, Architecture::kQwen2);
  EXPECT_TRUE(config->qkv_bias);
  EXPECT_FALSE(config->o_proj_bias);
  EXPECT_EQ(config->slidingWindowForLayer(0), 0);

  json["use_sliding_window"] = true;
  json["max_window_layers"] = 3;
  config = parseModelConfig(json.dump());
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->slidingWindowForLayer(2), 0);
  EXPECT_EQ(config->slidingWindowForLayer(3), 4096);
}

TEST(ModelConfig, MistralSlidingWindowAppliesToEveryLayer) {
  Json json = llamaJson();
  json["architectures"] = {"MistralForCausalLM"};
  json["sliding_window"] = 4096;
  Result<ModelConfig> config = parseModelConfig(json.dump());
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->slidingWindowForLayer(0), 4096);
  EXPECT_EQ(config->slidingWindowForLayer(4), 4096);
  json["sliding_window"] = nullptr;
  config = parseModelConfig(json.dump());
  ASSERT_TRUE(config.isOk());
  EXPECT_EQ(config->slidingWindowForLayer(0), 0);
}

TEST(ModelConfig, LlamaAttentionBiasAddsQkvAndOutputBiases) {
  Json json = llamaJson();
  json["attention_bias"] = true;
  Result<ModelConfig> config = parseModelConfig(json.dump());
  ASSERT_TRUE(config.isOk());
  EXPECT_TRUE(config->qkv_bias);
  EXPECT_TRUE(config->o_proj_bias);
}

TEST(ModelConfig, AcceptsEosTokenIdAsAList) {
  Json json = llamaJson();
  json["eos_token_id"] = {2, 7};
  json["bos_token_id"] = 1;
  json["torch_dtype"] = "bfloat16";
  Result<ModelConfig> config = parseModelConfig(json.dump());
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->eos_token_ids, (std::vector<int32_t>{2, 7}));
  EXPECT_EQ(config->torch_dtype, DType::kBF16);
}

TEST(ModelConfig, RejectsAnUnknownArchitectureNamingItAndTheSupportedOnes) {
  Json json = llamaJson();
  json["architectures"] = {"GPTNeoXForCausalLM"};
  Status status = parseError(json);
  EXPECT_EQ(status.code(), StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("unsupported architecture \"GPTNeoXForCausalLM\""),
            std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("LlamaForCausalLM"), std::string::npos);
  EXPECT_NE(status.message().find("Qwen2ForCausalLM"), std::string::npos);
}

TEST(ModelConfig, RejectsMissingRequiredFields) {
  for (const char* field : {"architectures", "hidden_size", "intermediate_size",
                            "num_hidden_layers", "num_attention_heads", "vocab_size"}) {
    Json json = llamaJson();
    json.erase(field);
    expectErrorMentions(json, StatusCode::kInvalidArgument, field);
  }
}

TEST(ModelConfig, RejectsNegativeOrZeroSizes) {
  for (const char* field :
       {"hidden_size", "intermediate_size", "num_hidden_layers", "vocab_size"}) {
    Json json = llamaJson();
    json[field] = -4;
    expectErrorMentions(json, StatusCode::kInvalidArgument, field);
  }
  Json json = llamaJson();
  json["num_key_value_heads"] = 0;
  expectErrorMentions(json, StatusCode::kInvalidArgument, "num_key_value_heads must be positive");
}

TEST(ModelConfig, RejectsHeadsThatDoNotDivideHidden) {
  Json json = llamaJson();
  json["num_attention_heads"] = 6;
  json["num_key_value_heads"] = 6;
  expectErrorMentions(json, StatusCode::kInvalidArgument,
                      "num_attention_heads (6) does not divide hidden_size (64)");
}

TEST(ModelConfig, RejectsKvHeadsThatDoNotDivideHeads) {
  Json json = llamaJson();
  json["num_key_value_heads"] = 3;
  expectErrorMentions(json, StatusCode::kInvalidArgument,
                      "num_key_value_heads (3) does not divide num_attention_heads (8)");
}

TEST(ModelConfig, RejectsUnsupportedRopeScalingTypes) {
  Json json = llamaJson();
  json["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  expectErrorMentions(json, StatusCode::kUnimplemented,
                      "rope_scaling.rope_type \"yarn\" is not supported");
}

TEST(ModelConfig, RejectsIncompleteOrInconsistentLlama3RopeScaling) {
  Json json = llamaJson();
  json["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  expectErrorMentions(json, StatusCode::kInvalidArgument, "low_freq_factor");
  json["rope_scaling"] = {{"rope_type", "llama3"},
                          {"factor", 8.0},
                          {"low_freq_factor", 4.0},
                          {"high_freq_factor", 1.0},
                          {"original_max_position_embeddings", 8192}};
  expectErrorMentions(json, StatusCode::kInvalidArgument, "low_freq_factor < high_freq_factor");
  json["rope_scaling"] = {{"rope_type", "linear"}, {"factor", -2.0}};
  expectErrorMentions(json, StatusCode::kInvalidArgument, "rope_scaling.factor must be positive");
}

TEST(ModelConfig, RejectsActivationsOtherThanSilu) {
  Json json = llamaJson();
  json["hidden_act"] = "gelu";
  expectErrorMentions(json, StatusCode::kUnimplemented, "hidden_act \"gelu\"");
}

TEST(ModelConfig, RejectsFieldsOfTheWrongType) {
  Json json = llamaJson();
  json["hidden_size"] = "64";
  expectErrorMentions(json, StatusCode::kInvalidArgument, "\"hidden_size\" must be an integer");
  json = llamaJson();
  json["eos_token_id"] = "2";
  expectErrorMentions(json, StatusCode::kInvalidArgument, "eos_token_id");
}

TEST(ModelConfig, RejectsEosIdsOutsideTheVocabulary) {
  Json json = llamaJson();
  json["eos_token_id"] = 512;
  expectErrorMentions(json, StatusCode::kInvalidArgument, "eos_token_id 512");
}

// Values the engine keeps as int are range-checked, not narrowed: 2^32 + 512 positions loaded
// as 512, and an eos id of 2^32 + 2 was read as 2.
TEST(ModelConfig, RejectsValuesBeyondInt32InsteadOfNarrowingThem) {
  Json json = llamaJson();
  json["max_position_embeddings"] = int64_t{4294967808};
  expectErrorMentions(json, StatusCode::kInvalidArgument,
                      "max_position_embeddings 4294967808 is beyond what is supported");
  json = llamaJson();
  json["eos_token_id"] = int64_t{4294967298};
  expectErrorMentions(json, StatusCode::kInvalidArgument, "4294967298");
  json = llamaJson();
  json["bos_token_id"] = Json::array({1, int64_t{1} << 40});
  expectErrorMentions(json, StatusCode::kInvalidArgument, "bos_token_id");
}

TEST(ModelConfig, RejectsTextThatIsNotJson) {
  Status status = parseModelConfig("{\"architectures\": [").status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("not valid JSON"), std::string::npos);
}

TEST(ModelConfig, LoadNamesTheMissingFile) {
  Status status = loadModelConfig("/nonexistent/model").status();
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("/nonexistent/model/config.json"), std::string::npos);
}

TEST(ModelConfig, WrittenJsonCarriesEveryFieldAHuggingFaceLoaderReads) {
  Json json = llamaJson();
  json["rope_scaling"] = {{"rope_type", "llama3"},
                          {"factor", 32.0},
                          {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0},
                          {"original_max_position_embeddings", 8192}};
  json["tie_word_embeddings"] = true;
  json["rope_theta"] = 500000.0;
  Result<ModelConfig> config = parseModelConfig(json.dump());
  ASSERT_TRUE(config.isOk());
  Json written = Json::parse(modelConfigToJson(*config));
  EXPECT_EQ(written["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(written["model_type"], "llama");
  EXPECT_EQ(written["hidden_size"], 64);
  EXPECT_EQ(written["num_key_value_heads"], 4);
  EXPECT_EQ(written["head_dim"], 8);
  EXPECT_EQ(written["rope_theta"], 500000.0);
  EXPECT_EQ(written["rope_scaling"]["rope_type"], "llama3");
  EXPECT_EQ(written["rope_scaling"]["original_max_position_embeddings"], 8192);
  EXPECT_EQ(written["tie_word_embeddings"], true);
  EXPECT_EQ(written["hidden_act"], "silu");
}

}  // namespace
}  // namespace manifold
