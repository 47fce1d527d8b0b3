// The Llama-family decoder (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM): embedding,
// N blocks of [RMSNorm, GQA attention with RoPE over the paged KV cache, RMSNorm, SwiGLU MLP],
// final RMSNorm, tied or separate LM head. Qwen2 adds q/k/v biases, Mistral a sliding window;
// both are options of the same block.
//
// Weights are copied at load into the backend's memory, in their file dtype (F32/BF16/F16) or the
// one asked for, packed where the backend packs matmul weights; with mmap_weights those needing no
// conversion or packing are read in place from the file mapping instead. q/k/v and gate/up are
// fused into one matrix each, as vLLM's QKVParallelLinear and MergedColumnParallelLinear do.
// Activations are F32.
//
// Thread safety: forward() is called by one thread at a time (the engine loop).
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "common/status.h"
#include "engine/loader/model_config.h"
#include "engine/loader/safetensors.h"
#include "engine/model/kv_cache_pool.h"
#include "engine/model/load_progress.h"
#include "kernels/backend.h"

namespace manifold {

struct LlamaLayerWeights {
  kernels::WeightView input_norm;    // [hidden]
  kernels::WeightView qkv;           // [q_dim + 2 * kv_dim, hidden] rows: q, then k, then v
  kernels::WeightView qkv_bias;      // [q_dim + 2 * kv_dim] or none
  kernels::WeightView o_proj;        // [hidden, q_dim]
  kernels::WeightView o_bias;        // [hidden] or none
  kernels::WeightView post_norm;     // [hidden]
  kernels::WeightView gate_up;       // [2 * intermediate, hidden] rows: gate, then up
  kernels::WeightView gate_up_bias;  // [2 * intermediate] or none
  kernels::WeightView down;          // [hidden, intermediate]
  kernels::WeightView down_bias;     // [hidden] or none
  int sliding_window = 0;            // 0: full causal attention
};

// The activation buffers one forward needs, sized for max_num_tokens rows.
struct LlamaWorkspace {
  kernels::DeviceBuffer hidden;     // [max_tokens, hidden] normed input of each sublayer
  kernels::DeviceBuffer residual;   // [max_tokens, hidden] the residual stream
  kernels::DeviceBuffer qkv;        // [max_tokens, q_dim + 2 * kv_dim]
  kernels::DeviceBuffer attn;       // [max_tokens, q_dim]
  kernels::DeviceBuffer proj;       // [max_tokens, hidden] o_proj / down_proj output
  kernels::DeviceBuffer gate_up;    // [max_tokens, 2 * intermediate]
  kernels::DeviceBuffer act;        // [max_tokens, intermediate]
  kernels::DeviceBuffer final_x;    // [max_tokens, hidden] gathered rows for the LM head
  kernels::DeviceBuffer final_res;  // [max_tokens, hidden]
};

class LlamaModel {
 public:
  // Checks every tensor the config needs (names and shapes; errors name file and tensor) and
  // makes them available to `backend`. weight_dtype: convert weights to this dtype at load
  // (nullopt: keep the file's). quantization kInt8 or kW8A8: every matmul weight (the LM head
  // included; not the embedding, which is gathered from) is quantized per output channel at load,
  // from the checkpoint's values; the backend must have that scheme's INT8 matmul. max_num_tokens:
  // rows of the largest batch. max_positions: size of the RoPE table. mmap_weights: on a
  // host-addressable backend, read weights that need no conversion, fusing or packing in place from
  // the file mapping instead of copying them into the backend's memory (huge pages on the CPU:
  // decode reads every weight once per token, and 4 KiB page-cache pages cost a core about a sixth
  // of its DRAM bandwidth in TLB misses).
  [[nodiscard]] static Result<std::unique_ptr<LlamaModel>> load(
      kernels::Backend& backend, const ModelConfig& config, const WeightStore& weights,
      std::optional<DType> weight_dtype, Quantization quantization, int max_num_tokens,
      int max_positions, bool mmap_weights = false, const LoadProgressCallback& on_progress = {});

  // Runs the decoder over the planned batch and writes the logits of `num_logits_rows` rows.
  // token_ids [num_tokens] and logits_rows [num_logits_rows] are device pointers; logits
  // [num_logits_rows, vocab] is a device buffer. REQUIRES: the plan matches token_ids; every
  // row's K/V blocks exist in `kv`.
  void forward(const kernels::AttentionPlan& plan, const int32_t* token_ids,
               const int32_t* logits_rows, int num_logits_rows, const KvCachePool& kv,
               float* logits);

  [[nodiscard]] const ModelConfig& config() const { return config_; }
  [[nodiscard]] size_t weightBytes() const { return weight_bytes_; }  // as read by the kernels
  [[nodiscard]] size_t copiedBytes() const { return copied_bytes_; }  // in backend memory
  // Some weight is read in place from the checkpoint's mapping (mmap_weights on a backend that
  // can): the WeightStore must outlive the model.
  [[nodiscard]] bool readsCheckpointInPlace() const { return in_place_bytes_ > 0; }
  [[nodiscard]] int64_t numParameters() const { return num_parameters_; }
  [[nodiscard]] DType weightDType() const { return weight_dtype_; }
  [[nodiscard]] Quantization quantization() const { return quantization_; }
  // The INT8 weights came quantized in the checkpoint (ModelConfig::checkpoint_quantization).
  [[nodiscard]] bool checkpointQuantized() const { return checkpoint_quantized_; }

 private:
  LlamaModel(kernels::Backend& backend, const ModelConfig& config)
      : backend_(backend), config_(config) {}

  // Makes one tensor (or several stacked along rows) available on the backend in `dtype`, in
  // place when mmap_weights_ allows. count: add it to the parameter and weight-byte totals.
  Result<kernels::WeightView> place(const std::vector<TensorView>& parts, DType dtype,
                                    bool count = true);
  // As place for a matmul weight [n, k] (parts stacked along n), packed when the backend packs:
  // I8 parts (a quantized checkpoint's) with their scales from `weights`; float ones quantized to
  // INT8 when quantization_ is set by --quantization (not by the checkpoint).
  Result<kernels::WeightView> placeMatrix(const WeightStore& weights,
                                          const std::vector<TensorView>& parts, DType dtype,
                                          int64_t n, int64_t k, bool count = true);
  Result<kernels::DeviceBuffer> copyToBackend(const std::vector<TensorView>& parts, DType dtype);
  // on_progress (may be empty): checkpoint bytes read so far, after the embedding, each layer
  // and the head; the last event reports all of weights.totalBytes().
  Status loadWeights(const WeightStore& weights, std::optional<DType> weight_dtype,
                     const LoadProgressCallback& on_progress);

  kernels::Backend& backend_;
  ModelConfig config_;
  DType weight_dtype_ = DType::kF32;
  Quantization quantization_ = Quantization::kNone;
  bool checkpoint_quantized_ = false;
  bool mmap_weights_ = false;
  std::vector<kernels::DeviceBuffer> owned_;  // weights copied into backend memory
  kernels::WeightView embed_;                 // [vocab, hidden]
  kernels::WeightView final_norm_;            // [hidden]
  kernels::WeightView lm_head_;               // [vocab, hidden] (the embedding when tied)
  std::vector<LlamaLayerWeights> layers_;
  kernels::DeviceBuffer rope_table_;  // [max_positions, head_dim] cos | sin
  LlamaWorkspace ws_;
  int max_num_tokens_ = 0;
  size_t weight_bytes_ = 0;
  size_t copied_bytes_ = 0;
  size_t in_place_bytes_ = 0;  // read from the mapping
  int64_t num_parameters_ = 0;
};

}  // namespace manifold
