#include "engine/loader/model_config.h"

#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/file_util.h"

namespace manifold {

namespace {

using Json = nlohmann::json;

constexpr Architecture kArchitectures[] = {Architecture::kLlama, Architecture::kMistral,
                                           Architecture::kQwen2};

// Reads an optional integer field; absent or null keeps `out`.
Status readInt(const Json& json, const char* key, int64_t& out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return Status::ok();
  if (!it->is_number_integer()) {
    return invalidArgument(std::string("field \"") + key + "\" must be an integer, got " +
                           it->dump());
  }
  out = it->get<int64_t>();
  return Status::ok();
}

Status requireInt(const Json& json, const char* key, int64_t& out) {
  if (!json.contains(key) || json[key].is_null()) {
    return invalidArgument(std::string("missing required field \"") + key + "\"");
  }
  return readInt(json, key, out);
}

Status readDouble(const Json& json, const char* key, double& out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return Status::ok();
  if (!it->is_number()) {
    return invalidArgument(std::string("field \"") + key + "\" must be a number, got " +
                           it->dump());
  }
  out = it->get<double>();
  return Status::ok();
}

Status readBool(const Json& json, const char* key, bool& out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return Status::ok();
  if (!it->is_boolean()) {
    return invalidArgument(std::string("field \"") + key + "\" must be a boolean, got " +
                           it->dump());
  }
  out = it->get<bool>();
  return Status::ok();
}

// Token ids given as an int, a list of ints, or null.
Status readTokenIds(const Json& json, const char* key, std::vector<int32_t>& out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return Status::ok();
  auto bad = [&] {
    return invalidArgument(std::string("field \"") + key +
                           "\" must be a token id or a list of token ids, got " + it->dump());
  };
  out.clear();
  // Ids are read whole and range-checked: get<int32_t>() would keep the low bits of 2^32 + 2.
  auto inRange = [](const Json& id) {
    return id.is_number_unsigned()
               ? id.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max())
               : id.get<int64_t>() >= 0 && id.get<int64_t>() <= std::numeric_limits<int32_t>::max();
  };
  if (it->is_number_integer()) {
    if (!inRange(*it)) return bad();
    out.push_back(static_cast<int32_t>(it->get<int64_t>()));
  } else if (it->is_array()) {
    for (const Json& id : *it) {
      if (!id.is_number_integer() || !inRange(id)) return bad();
      out.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
  } else {
    return bad();
  }
  return Status::ok();
}

Status parseRopeScaling(const Json& json, RopeScaling& out) {
  auto it = json.find("rope_scaling");
  if (it == json.end() || it->is_null()) return Status::ok();
  if (!it->is_object()) return invalidArgument("rope_scaling must be an object or null");
  const Json& rs = *it;
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    if (rs.contains(key) && rs[key].is_string()) {
      type = rs[key].get<std::string>();
      break;
    }
  }
  if (type.empty()) return invalidArgument("rope_scaling has no \"rope_type\" (or \"type\")");
  if (type == "default") return Status::ok();
  if (type == "linear") {
    out.type = RopeScalingType::kLinear;
  } else if (type == "llama3") {
    out.type = RopeScalingType::kLlama3;
  } else {
    return unimplemented("rope_scaling.rope_type \"" + type +
                         "\" is not supported (supported: default, linear, llama3)");
  }
  if (!rs.contains("factor")) return invalidArgument("rope_scaling." + type + " needs \"factor\"");
  RETURN_IF_ERROR(readDouble(rs, "factor", out.factor).withContext("rope_scaling"));
  if (out.type == RopeScalingType::kLlama3) {
    for (const char* key :
         {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
      if (!rs.contains(key)) {
        return invalidArgument(std::string("rope_scaling.llama3 needs \"") + key + "\"");
      }
    }
    RETURN_IF_ERROR(
        readDouble(rs, "low_freq_factor", out.low_freq_factor).withContext("rope_scaling"));
    RETURN_IF_ERROR(
        readDouble(rs, "high_freq_factor", out.high_freq_factor).withContext("rope_scaling"));
    RETURN_IF_ERROR(
        readInt(rs, "original_max_position_embeddings", out.original_max_position_embeddings)
            .withContext("rope_scaling"));
  }
  return Status::ok();
}

Status parseArchitecture(const Json& json, Architecture& out) {
  auto it = json.find("architectures");
  if (it == json.end() || !it->is_array() || it->empty() || !(*it)[0].is_string()) {
    return invalidArgument("missing required field \"architectures\" (a list of names)");
  }
  const std::string name = (*it)[0].get<std::string>();
  for (Architecture arch : kArchitectures) {
    if (name == architectureName(arch)) {
      out = arch;
      return Status::ok();
    }
  }
  return unimplemented("unsupported architecture \"" + name +
                       "\" (supported: " + supportedArchitectureNames() + ")");
}

// `where` + " " + what, for unsupported quantization settings.
Status unsupportedQuantization(const std::string& where, const Json& value) {
  return unimplemented("quantization_config: " + where + " " + value.dump() +
                       " is not supported (supported: compressed-tensors \"int-quantized\" with "
                       "symmetric 8-bit int weights per channel or tensor, and no input "
                       "activation quantization or dynamic symmetric 8-bit int per token)");
}

// The value of `key` in `object`, or null when absent.
const Json& member(const Json& object, const char* key) {
  static const Json kNull;
  const auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// config.json "quantization_config", as llm-compressor writes it for INT8 W8A8 / W8A16:
// {"quant_method": "compressed-tensors", "format": "int-quantized", "config_groups": {"group_0":
// {"targets": ["Linear"], "weights": {"num_bits": 8, "type": "int", "symmetric": true,
// "strategy": "channel", "dynamic": false, ...}, "input_activations": {"num_bits": 8, "type":
// "int", "symmetric": true, "strategy": "token", "dynamic": true, ...} or null}}, "ignore":
// ["lm_head"], ...}. Anything else (GPTQ, AWQ, FP8, INT4, static or asymmetric scales, KV cache
// quantization) is UNIMPLEMENTED, naming the setting.
Status parseQuantizationConfig(const Json& json, ModelConfig& c) {
  const Json& q = member(json, "quantization_config");
  if (q.is_null()) return Status::ok();
  if (!q.is_object()) return invalidArgument("quantization_config must be an object");
  if (member(q, "quant_method") != "compressed-tensors") {
    return unsupportedQuantization("quant_method", member(q, "quant_method"));
  }
  if (!member(q, "kv_cache_scheme").is_null()) {
    return unsupportedQuantization("kv_cache_scheme", member(q, "kv_cache_scheme"));
  }
  const Json& groups = member(q, "config_groups");
  if (!groups.is_object() || groups.size() != 1) {
    return unsupportedQuantization("config_groups (one group)", groups);
  }
  const Json& group = groups.begin().value();
  // Newer compressed-tensors versions name the format per group (the top level then says
  // "mixed-precision" or nothing).
  const Json& format =
      member(group, "format").is_null() ? member(q, "format") : member(group, "format");
  if (format != "int-quantized") return unsupportedQuantization("format", format);
  const Json& targets = member(group, "targets");
  if (targets != Json::array({"Linear"})) return unsupportedQuantization("targets", targets);
  auto isSymmetricInt8 = [](const Json& args) {
    return args.is_object() && member(args, "num_bits") == 8 && member(args, "type") == "int" &&
           member(args, "symmetric") == true && member(args, "group_size").is_null();
  };
  const Json& weights = member(group, "weights");
  if (!isSymmetricInt8(weights) || member(weights, "dynamic") == true ||
      (member(weights, "strategy") != "channel" && member(weights, "strategy") != "tensor")) {
    return unsupportedQuantization("weights", weights);
  }
  const Json& inputs = member(group, "input_activations");
  if (inputs.is_null()) {
    c.checkpoint_quantization = Quantization::kInt8;
  } else if (isSymmetricInt8(inputs) && member(inputs, "dynamic") == true &&
             member(inputs, "strategy") == "token") {
    c.checkpoint_quantization = Quantization::kW8A8;
  } else {
    return unsupportedQuantization("input_activations", inputs);
  }
  if (!member(group, "output_activations").is_null()) {
    return unsupportedQuantization("output_activations", member(group, "output_activations"));
  }
  return Status::ok();
}

Status parseFields(const Json& json, ModelConfig& c) {
  if (!json.is_object()) return invalidArgument("config.json must be a JSON object");
  RETURN_IF_ERROR(parseQuantizationConfig(json, c));
  RETURN_IF_ERROR(parseArchitecture(json, c.architecture));
  RETURN_IF_ERROR(requireInt(json, "hidden_size", c.hidden_size));
  RETURN_IF_ERROR(requireInt(json, "intermediate_size", c.intermediate_size));
  RETURN_IF_ERROR(requireInt(json, "num_hidden_layers", c.num_hidden_layers));
  RETURN_IF_ERROR(requireInt(json, "num_attention_heads", c.num_attention_heads));
  RETURN_IF_ERROR(requireInt(json, "vocab_size", c.vocab_size));
  c.num_key_value_heads = c.num_attention_heads;
  RETURN_IF_ERROR(readInt(json, "num_key_value_heads", c.num_key_value_heads));
  c.head_dim = 0;
  RETURN_IF_ERROR(readInt(json, "head_dim", c.head_dim));
  if (c.head_dim == 0) {
    if (c.num_attention_heads > 0 && c.hidden_size % c.num_attention_heads != 0) {
      return invalidArgument("num_attention_heads (" + std::to_string(c.num_attention_heads) +
                             ") does not divide hidden_size (" + std::to_string(c.hidden_size) +
                             ") and no head_dim is given");
    }
    c.head_dim = c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0;
  }
  RETURN_IF_ERROR(readDouble(json, "rms_norm_eps", c.rms_norm_eps));
  RETURN_IF_ERROR(readDouble(json, "rope_theta", c.rope_theta));
  RETURN_IF_ERROR(parseRopeScaling(json, c.rope_scaling));
  RETURN_IF_ERROR(readInt(json, "max_position_embeddings", c.max_position_embeddings));
  RETURN_IF_ERROR(readBool(json, "tie_word_embeddings", c.tie_word_embeddings));

  if (json.contains("hidden_act") && !json["hidden_act"].is_null()) {
    const Json& act = json["hidden_act"];
    if (!act.is_string() || act.get<std::string>() != "silu") {
      return unimplemented("hidden_act " + act.dump() + " is not supported (supported: \"silu\")");
    }
  }
  switch (c.architecture) {
    case Architecture::kLlama: {
      bool attention_bias = false;
      RETURN_IF_ERROR(readBool(json, "attention_bias", attention_bias));
      c.qkv_bias = c.o_proj_bias = attention_bias;
      RETURN_IF_ERROR(readBool(json, "mlp_bias", c.mlp_bias));
      break;
    }
    case Architecture::kMistral:
      RETURN_IF_ERROR(readInt(json, "sliding_window", c.sliding_window));
      c.max_window_layers = 0;
      break;
    case Architecture::kQwen2: {
      c.qkv_bias = true;
      bool use_sliding_window = false;
      RETURN_IF_ERROR(readBool(json, "use_sliding_window", use_sliding_window));
      if (use_sliding_window) {
        RETURN_IF_ERROR(readInt(json, "sliding_window", c.sliding_window));
        c.max_window_layers = c.num_hidden_layers;
        RETURN_IF_ERROR(readInt(json, "max_window_layers", c.max_window_layers));
      }
      break;
    }
  }
  for (const char* key : {"torch_dtype", "dtype"}) {
    if (json.contains(key) && json[key].is_string()) {
      const std::string name = json[key].get<std::string>();
      std::optional<DType> dtype = parseDType(name);
      if (!dtype) {
        return unimplemented(std::string(key) + " \"" + name +
                             "\" is not supported (supported: float32, float16, bfloat16)");
      }
      c.torch_dtype = *dtype;
      break;
    }
  }
  std::vector<int32_t> bos;
  RETURN_IF_ERROR(readTokenIds(json, "bos_token_id", bos));
  if (!bos.empty()) c.bos_token_id = bos.front();
  RETURN_IF_ERROR(readTokenIds(json, "eos_token_id", c.eos_token_ids));
  return Status::ok();
}

Status positive(const char* name, int64_t value) {
  if (value <= 0) {
    return invalidArgument(std::string(name) + " must be positive, got " + std::to_string(value));
  }
  return Status::ok();
}

}  // namespace

std::string_view architectureName(Architecture architecture) {
  switch (architecture) {
    case Architecture::kLlama:
      return "LlamaForCausalLM";
    case Architecture::kMistral:
      return "MistralForCausalLM";
    case Architecture::kQwen2:
      return "Qwen2ForCausalLM";
  }
  return "?";
}

std::string supportedArchitectureNames() {
  std::string out;
  for (Architecture arch : kArchitectures) {
    if (!out.empty()) out += ", ";
    out += architectureName(arch);
  }
  return out;
}

int64_t ModelConfig::slidingWindowForLayer(int64_t layer) const {
  if (sliding_window <= 0) return 0;
  return layer >= max_window_layers ? sliding_window : 0;
}

Status ModelConfig::validate() const {
  RETURN_IF_ERROR(positive("hidden_size", hidden_size));
  RETURN_IF_ERROR(positive("intermediate_size", intermediate_size));
  RETURN_IF_ERROR(positive("num_hidden_layers", num_hidden_layers));
  RETURN_IF_ERROR(positive("num_attention_heads", num_attention_heads));
  RETURN_IF_ERROR(positive("num_key_value_heads", num_key_value_heads));
  RETURN_IF_ERROR(positive("head_dim", head_dim));
  RETURN_IF_ERROR(positive("vocab_size", vocab_size));
  RETURN_IF_ERROR(positive("max_position_embeddings", max_position_embeddings));
  // Sizes the engine keeps as int (positions, token ids, rows of a batch).
  for (const auto& [name, value] : {std::pair<const char*, int64_t>{"hidden_size", hidden_size},
                                    {"intermediate_size", intermediate_size},
                                    {"num_hidden_layers", num_hidden_layers},
                                    {"num_attention_heads", num_attention_heads},
                                    {"num_key_value_heads", num_key_value_heads},
                                    {"head_dim", head_dim},
                                    {"vocab_size", vocab_size},
                                    {"max_position_embeddings", max_position_embeddings},
                                    {"rope_scaling.original_max_position_embeddings",
                                     rope_scaling.original_max_position_embeddings}}) {
    if (value > std::numeric_limits<int32_t>::max()) {
      return invalidArgument(std::string(name) + " " + std::to_string(value) +
                             " is beyond what is supported (2^31 - 1)");
    }
  }
  if (num_attention_heads % num_key_value_heads != 0) {
    return invalidArgument("num_key_value_heads (" + std::to_string(num_key_value_heads) +
                           ") does not divide num_attention_heads (" +
                           std::to_string(num_attention_heads) + ")");
  }
  if (head_dim % 2 != 0) {
    return invalidArgument("head_dim must be even for RoPE, got " + std::to_string(head_dim));
  }
  if (!(rms_norm_eps > 0.0)) {
    return invalidArgument("rms_norm_eps must be positive, got " + std::to_string(rms_norm_eps));
  }
  if (!(rope_theta > 0.0)) {
    return invalidArgument("rope_theta must be positive, got " + std::to_string(rope_theta));
  }
  if (sliding_window < 0) {
    return invalidArgument("sliding_window must not be negative, got " +
                           std::to_string(sliding_window));
  }
  if (rope_scaling.type != RopeScalingType::kNone) {
    if (!(rope_scaling.factor > 0.0)) {
      return invalidArgument("rope_scaling.factor must be positive, got " +
                             std::to_string(rope_scaling.factor));
    }
  }
  if (rope_scaling.type == RopeScalingType::kLlama3) {
    if (!(rope_scaling.low_freq_factor > 0.0) ||
        !(rope_scaling.high_freq_factor > rope_scaling.low_freq_factor)) {
      return invalidArgument(
          "rope_scaling.llama3 needs 0 < low_freq_factor < high_freq_factor, got " +
          std::to_string(rope_scaling.low_freq_factor) + " and " +
          std::to_string(rope_scaling.high_freq_factor));
    }
    RETURN_IF_ERROR(positive("rope_scaling.original_max_position_embeddings",
                             rope_scaling.original_max_position_embeddings));
  }
  for (int32_t id : eos_token_ids) {
    if (id >= vocab_size) {
      return invalidArgument("eos_token_id " + std::to_string(id) + " is not below vocab_size " +
                             std::to_string(vocab_size));
    }
  }
  if (bos_token_id && *bos_token_id >= vocab_size) {
    return invalidArgument("bos_token_id " + std::to_string(*bos_token_id) +
                           " is not below vocab_size " + std::to_string(vocab_size));
  }
  return Status::ok();
}

Result<ModelConfig> parseModelConfigJson(const nlohmann::json& json) {
  ModelConfig config;
  RETURN_IF_ERROR(parseFields(json, config));
  RETURN_IF_ERROR(config.validate());
  return config;
}

Result<ModelConfig> parseModelConfig(std::string_view json_text) {
  Json json = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return invalidArgument("config.json is not valid JSON");
  return parseModelConfigJson(json);
}

Result<ModelConfig> loadModelConfig(const std::filesystem::path& model_dir) {
  const std::filesystem::path path = model_dir / "config.json";
  ASSIGN_OR_RETURN(std::string text, readFile(path));
  Result<ModelConfig> config = parseModelConfig(text);
  if (!config.isOk()) return config.status().withContext(path.string());
  return config;
}

std::string modelConfigToJson(const ModelConfig& c) {
  Json json;
  json["architectures"] = {std::string(architectureName(c.architecture))};
  switch (c.architecture) {
    case Architecture::kLlama:
      json["model_type"] = "llama";
      break;
    case Architecture::kMistral:
      json["model_type"] = "mistral";
      break;
    case Architecture::kQwen2:
      json["model_type"] = "qwen2";
      break;
  }
  json["hidden_size"] = c.hidden_size;
  json["intermediate_size"] = c.intermediate_size;
  json["num_hidden_layers"] = c.num_hidden_layers;
  json["num_attention_heads"] = c.num_attention_heads;
  json["num_key_value_heads"] = c.num_key_value_heads;
  json["head_dim"] = c.head_dim;
  json["vocab_size"] = c.vocab_size;
  json["max_position_embeddings"] = c.max_position_embeddings;
  json["hidden_act"] = "silu";
  json["rms_norm_eps"] = c.rms_norm_eps;
  json["rope_theta"] = c.rope_theta;
  switch (c.rope_scaling.type) {
    case RopeScalingType::kNone:
      json["rope_scaling"] = nullptr;
      break;
    case RopeScalingType::kLinear:
      json["rope_scaling"] = {{"rope_type", "linear"}, {"factor", c.rope_scaling.factor}};
      break;
    case RopeScalingType::kLlama3:
      json["rope_scaling"] = {
          {"rope_type", "llama3"},
          {"factor", c.rope_scaling.factor},
          {"low_freq_factor", c.rope_scaling.low_freq_factor},
          {"high_freq_factor", c.rope_scaling.high_freq_factor},
          {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
      break;
  }
  json["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.architecture == Architecture::kLlama) {
    json["attention_bias"] = c.qkv_bias;
    json["mlp_bias"] = c.mlp_bias;
  }
  if (c.architecture == Architecture::kMistral) {
    json["sliding_window"] = c.sliding_window > 0 ? Json(c.sliding_window) : Json(nullptr);
  }
  if (c.architecture == Architecture::kQwen2) {
    json["use_sliding_window"] = c.sliding_window > 0;
    json["sliding_window"] = c.sliding_window > 0 ? Json(c.sliding_window) : Json(nullptr);
    json["max_window_layers"] = c.sliding_window > 0 ? c.max_window_layers : c.num_hidden_layers;
  }
  json["torch_dtype"] = c.torch_dtype == DType::kF32    ? "float32"
                        : c.torch_dtype == DType::kBF16 ? "bfloat16"
                                                        : "float16";
  if (c.checkpoint_quantization != Quantization::kNone) {
    // As llm-compressor writes an INT8 W8A8 (or, without input activations, W8A16) model.
    const Json int8 = {{"num_bits", 8},       {"type", "int"},
                       {"symmetric", true},   {"group_size", nullptr},
                       {"actorder", nullptr}, {"block_structure", nullptr}};
    Json weights = int8;
    weights["strategy"] = "channel";
    weights["dynamic"] = false;
    Json inputs = nullptr;
    if (c.checkpoint_quantization == Quantization::kW8A8) {
      inputs = int8;
      inputs["strategy"] = "token";
      inputs["dynamic"] = true;
    }
    json["quantization_config"] = {{"quant_method", "compressed-tensors"},
                                   {"format", "int-quantized"},
                                   {"quantization_status", "compressed"},
                                   {"kv_cache_scheme", nullptr},
                                   {"ignore", {"lm_head"}},
                                   {"config_groups",
                                    {{"group_0",
                                      {{"targets", {"Linear"}},
                                       {"weights", weights},
                                       {"input_activations", inputs},
                                       {"output_activations", nullptr}}}}}};
  }
  if (c.bos_token_id) json["bos_token_id"] = *c.bos_token_id;
  if (c.eos_token_ids.size() == 1) {
    json["eos_token_id"] = c.eos_token_ids.front();
  } else if (!c.eos_token_ids.empty()) {
    json["eos_token_id"] = c.eos_token_ids;
  }
  return json.dump(2) + "\n";
}

}  // namespace manifold
