// The model runner: owns one model's backend, weights, paged KV pool and per-step buffers, and
// runs one forward over a ForwardBatch (mixed prefill chunks and decodes) per engine step.
//
// Thread safety: not thread-safe; the engine loop that owns it calls every method.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "engine/loader/model_config.h"
#include "engine/loader/safetensors.h"
#include "engine/model/forward_batch.h"
#include "engine/model/kv_cache_pool.h"
#include "engine/model/llama_model.h"
#include "engine/model/load_progress.h"
#include "kernels/backend.h"

namespace manifold {

struct ModelRunnerOptions {
  static constexpr int kMaxThreads = 1024;
  int num_threads = 1;        // CPU worker threads, the calling thread included
  KvCacheOptions kv_cache;    // block size, block count or memory, dtype
  int max_num_tokens = 2048;  // rows of the largest batch (vLLM's max_num_batched_tokens)
  int max_num_seqs = 256;     // sequences in one batch
  int max_model_len = 0;      // longest sequence; 0: the config's max_position_embeddings
  // Logits rows one forward may return on a device backend (its device-side logits buffer);
  // host-addressable backends write straight into the caller's buffer and have no limit.
  int max_logits_rows = 256;
  std::optional<DType> weight_dtype;  // convert weights at load; nullopt: keep the file's
  // kInt8, kW8A8: matmul weights quantized at load (LlamaModel::load); the backend must support it.
  Quantization quantization = Quantization::kNone;
  // Read weights in place from the safetensors mmap where no conversion or packing is needed
  // (less memory, slower decode: 4 KiB pages, and the files must not change while loaded, as
  // with llama.cpp's --mmap); false copies every weight and closes the files (LlamaModel::load).
  bool mmap_weights = false;
  // CPU backend: OpenBLAS sgemm for matmuls of at least this many rows (0: never).
  int cpu_blas_min_rows = 0;
  // CPU backend, BF16 weights, batches of 16+ rows: BF16 dot products with the activations
  // rounded to BF16 (as a PyTorch BF16 model computes; about twice the prefill speed on CPUs
  // with AVX-512 BF16). false: F32 products, so results do not depend on the batch size.
  bool cpu_bf16_dot_products = true;
  // CPU backend: pack F32 / BF16 matmul weights at load (CpuBackendOptions::pack_weights).
  bool cpu_pack_weights = true;
  // Told how the load goes (weights, then KV cache); may be empty. Called only inside
  // create(), which drops it afterwards, so it may capture the caller's locals.
  LoadProgressCallback on_load_progress;

  [[nodiscard]] Status validate() const;
};

class ModelRunner {
 public:
  // Loads config.json and the safetensors weights of `model_dir` onto a CPU backend.
  [[nodiscard]] static Result<std::unique_ptr<ModelRunner>> create(
      const std::filesystem::path& model_dir, const ModelRunnerOptions& options);
  // The same on a given backend.
  [[nodiscard]] static Result<std::unique_ptr<ModelRunner>> create(
      const std::filesystem::path& model_dir, const ModelRunnerOptions& options,
      std::unique_ptr<kernels::Backend> backend);
  ~ModelRunner();

  // Runs the model over `batch` and writes F32 logits for each of batch.logits_rows to the host
  // buffer `logits` ([logits_rows.size(), vocab_size]). The new tokens' K/V are written into the
  // pool at batch.slot_mapping. Errors (INVALID_ARGUMENT) for a batch that breaks the limits or
  // refers to tokens, blocks or positions out of range; nothing is written then.
  [[nodiscard]] Status forward(const ForwardBatch& batch, float* logits);

  // Copies the KV contents of block `src` to block `dst` (all layers), for copy-on-write of a
  // partial block shared by forked sequences. Runs before the step's forward().
  [[nodiscard]] Status copyBlock(int32_t src, int32_t dst);

  [[nodiscard]] const ModelConfig& config() const { return config_; }
  [[nodiscard]] int vocabSize() const { return static_cast<int>(config_.vocab_size); }
  [[nodiscard]] int blockSize() const { return kv_->blockSize(); }
  [[nodiscard]] int numBlocks() const { return kv_->numBlocks(); }
  [[nodiscard]] int maxModelLen() const { return max_model_len_; }
  [[nodiscard]] int maxNumTokens() const { return options_.max_num_tokens; }
  [[nodiscard]] kernels::Backend& backend() { return *backend_; }
  // One line: architecture, parameters, weight dtype and bytes, KV blocks and memory, backend.
  [[nodiscard]] const std::string& summary() const { return summary_; }

 private:
  ModelRunner() = default;
  [[nodiscard]] Status checkBatch(const ForwardBatch& batch) const;

  ModelConfig config_;
  ModelRunnerOptions options_;
  int max_model_len_ = 0;
  int max_blocks_per_seq_ = 0;
  // Declared first so it is destroyed last: every buffer below frees through it.
  std::unique_ptr<kernels::Backend> backend_;
  std::unique_ptr<WeightStore> weights_;  // the file mappings, kept while a weight is read in place
  std::unique_ptr<LlamaModel> model_;
  std::unique_ptr<KvCachePool> kv_;
  std::unique_ptr<kernels::AttentionPlan> plan_;
  // Device copies of the batch's ids and rows, and the device logits; only for backends that
  // cannot address host memory.
  kernels::DeviceBuffer token_ids_;    // [max_num_tokens] int32
  kernels::DeviceBuffer logits_rows_;  // [max_num_tokens] int32
  kernels::DeviceBuffer logits_;       // [max_logits_rows, vocab] F32
  std::string summary_;
};

}  // namespace manifold
