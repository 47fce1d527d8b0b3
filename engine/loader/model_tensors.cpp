#include "engine/loader/model_tensors.h"

namespace manifold {

std::string layerTensorName(int64_t layer, std::string_view suffix) {
  return "model.layers." + std::to_string(layer) + "." + std::string(suffix);
}

std::vector<TensorSpec> expectedModelTensors(const ModelConfig& c, DType dtype) {
  const int64_t q_dim = c.num_attention_heads * c.head_dim;
  const int64_t kv_dim = c.num_key_value_heads * c.head_dim;
  std::vector<TensorSpec> specs;
  specs.push_back({"model.embed_tokens.weight", dtype, {c.vocab_size, c.hidden_size}});
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    auto add = [&](std::string_view suffix, std::vector<int64_t> shape) {
      specs.push_back({layerTensorName(l, suffix), dtype, std::move(shape)});
    };
    // A linear layer's weight; in a quantized checkpoint I8 with an F32 scale per row after it.
    auto addLinear = [&](std::string_view suffix, std::vector<int64_t> shape) {
      if (c.checkpoint_quantization == Quantization::kNone) return add(suffix, std::move(shape));
      const int64_t rows = shape[0];
      specs.push_back({layerTensorName(l, suffix), DType::kI8, std::move(shape)});
      specs.push_back({layerTensorName(l, suffix) + "_scale", DType::kF32, {rows, 1}});
    };
    add("input_layernorm.weight", {c.hidden_size});
    addLinear("self_attn.q_proj.weight", {q_dim, c.hidden_size});
    addLinear("self_attn.k_proj.weight", {kv_dim, c.hidden_size});
    addLinear("self_attn.v_proj.weight", {kv_dim, c.hidden_size});
    if (c.qkv_bias) {
      add("self_attn.q_proj.bias", {q_dim});
      add("self_attn.k_proj.bias", {kv_dim});
      add("self_attn.v_proj.bias", {kv_dim});
    }
    addLinear("self_attn.o_proj.weight", {c.hidden_size, q_dim});
    if (c.o_proj_bias) add("self_attn.o_proj.bias", {c.hidden_size});
    add("post_attention_layernorm.weight", {c.hidden_size});
    addLinear("mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size});
    addLinear("mlp.up_proj.weight", {c.intermediate_size, c.hidden_size});
    addLinear("mlp.down_proj.weight", {c.hidden_size, c.intermediate_size});
    if (c.mlp_bias) {
      add("mlp.gate_proj.bias", {c.intermediate_size});
      add("mlp.up_proj.bias", {c.intermediate_size});
      add("mlp.down_proj.bias", {c.hidden_size});
    }
  }
  specs.push_back({"model.norm.weight", dtype, {c.hidden_size}});
  if (!c.tie_word_embeddings) {
    specs.push_back({"lm_head.weight", dtype, {c.vocab_size, c.hidden_size}});
  }
  return specs;
}

}  // namespace manifold
