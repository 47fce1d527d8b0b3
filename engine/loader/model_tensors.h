// The tensors a Llama-family checkpoint must hold for a given config, with their HF names and
// shapes. The model runner loads exactly these; make-random-model writes exactly these.
#pragma once

#include <string>
#include <vector>

#include "common/dtype.h"
#include "engine/loader/model_config.h"
#include "engine/loader/safetensors_writer.h"

namespace manifold {

// "model.layers.<layer>.<suffix>".
std::string layerTensorName(int64_t layer, std::string_view suffix);

// In the order HF writes them: embeddings, then each layer, then the final norm and lm_head
// (absent when tie_word_embeddings). Every spec has `dtype`, except in a quantized checkpoint
// (config.checkpoint_quantization, compressed-tensors INT8): there each q/k/v/o/gate/up/down_proj
// weight is I8, followed by its F32 "weight_scale" [rows, 1] (lm_head stays `dtype`).
std::vector<TensorSpec> expectedModelTensors(const ModelConfig& config, DType dtype);

}  // namespace manifold
