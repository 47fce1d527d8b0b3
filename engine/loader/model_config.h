// The model's architecture as read from a Hugging Face config.json: the Llama family
// (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM), which share one block (RMSNorm, RoPE,
// GQA attention, SwiGLU MLP) and differ only in biases, sliding windows and RoPE scaling.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/dtype.h"
#include "common/status.h"

namespace manifold {

enum class Architecture { kLlama, kMistral, kQwen2 };

// "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM".
std::string_view architectureName(Architecture architecture);
// Comma-separated list of the supported names, for error messages.
std::string supportedArchitectureNames();

enum class RopeScalingType { kNone, kLinear, kLlama3 };

// config.json "rope_scaling". kNone ignores the other fields.
struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;            // linear and llama3: positions (or low frequencies) / factor
  double low_freq_factor = 1.0;   // llama3 only
  double high_freq_factor = 4.0;  // llama3 only
  int64_t original_max_position_embeddings = 8192;  // llama3 only
};

struct ModelConfig {
  Architecture architecture = Architecture::kLlama;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // defaults to num_attention_heads (no GQA)
  int64_t head_dim = 0;             // defaults to hidden_size / num_attention_heads
  int64_t vocab_size = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 2048;
  bool tie_word_embeddings = false;  // true: no lm_head.weight, the embedding is the head
  bool qkv_bias = false;             // q/k/v_proj have biases (Qwen2 always; Llama attention_bias)
  bool o_proj_bias = false;          // o_proj has a bias (Llama attention_bias only)
  bool mlp_bias = false;             // gate/up/down_proj have biases (Llama mlp_bias)
  // Tokens a query attends to, itself included; 0: unlimited. Mistral applies it to every layer,
  // Qwen2 (use_sliding_window) to layers >= max_window_layers.
  int64_t sliding_window = 0;
  int64_t max_window_layers = 0;
  DType torch_dtype = DType::kF32;  // dtype the weights were saved in (informational)
  // A quantized checkpoint (config.json "quantization_config": compressed-tensors
  // "int-quantized", INT8 weights per channel or per tensor, symmetric): kInt8 with float
  // activations, kW8A8 with dynamic per-token INT8 activations; kNone for a float checkpoint.
  // Its quantized linear layers hold an I8 "weight" and a "weight_scale"; modules it ignores
  // (usually lm_head) stay float.
  Quantization checkpoint_quantization = Quantization::kNone;
  std::optional<int32_t> bos_token_id;
  std::vector<int32_t> eos_token_ids;  // config.json accepts an int or a list

  // Sliding window of one layer, 0 when that layer attends to the whole sequence.
  [[nodiscard]] int64_t slidingWindowForLayer(int64_t layer) const;
  // Ranges and divisibility; the message names the field.
  [[nodiscard]] Status validate() const;
};

// Parses the JSON object of a config.json and validates it. Errors name the field and value,
// e.g. `unsupported architecture "GPTNeoXForCausalLM" (supported: ...)`.
[[nodiscard]] Result<ModelConfig> parseModelConfigJson(const nlohmann::json& json);
[[nodiscard]] Result<ModelConfig> parseModelConfig(std::string_view json_text);
// Reads <model_dir>/config.json; errors are prefixed with the file path.
[[nodiscard]] Result<ModelConfig> loadModelConfig(const std::filesystem::path& model_dir);
// The config.json a Hugging Face loader would read for this config (used by make-random-model).
[[nodiscard]] std::string modelConfigToJson(const ModelConfig& config);

}  // namespace manifold
