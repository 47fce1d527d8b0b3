#include "engine/model/model_runner.h"

#include <algorithm>
#include <cstdio>
#include <new>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_kernels.h"

namespace manifold {

namespace {

std::string megabytes(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MB", bytes / 1e6);
  return buf;
}

}  // namespace

Status ModelRunnerOptions::validate() const {
  if (num_threads < 1 || num_threads > kMaxThreads) {
    return invalidArgument("threads must be in [1, " + std::to_string(kMaxThreads) + "], got " +
                           std::to_string(num_threads));
  }
  if (max_num_tokens < 1) {
    return invalidArgument("max_num_batched_tokens must be positive, got " +
                           std::to_string(max_num_tokens));
  }
  if (max_num_seqs < 1) {
    return invalidArgument("max_num_seqs must be positive, got " + std::to_string(max_num_seqs));
  }
  if (max_logits_rows < 1) {
    return invalidArgument("max_logits_rows must be positive, got " +
                           std::to_string(max_logits_rows));
  }
  if (max_model_len < 0) {
    return invalidArgument("max_model_len must not be negative, got " +
                           std::to_string(max_model_len));
  }
  return kv_cache.validate();
}

Result<std::unique_ptr<ModelRunner>> ModelRunner::create(const std::filesystem::path& model_dir,
                                                         const ModelRunnerOptions& options) {
  RETURN_IF_ERROR(options.validate());
  // The CPU attention kernel keeps one work item's rows and head on its stack.
  ASSIGN_OR_RETURN(ModelConfig config, loadModelConfig(model_dir));
  if (config.head_dim > kernels::cpu::kMaxHeadDim) {
    return unimplemented("head_dim " + std::to_string(config.head_dim) +
                         " is larger than the CPU attention kernel's " +
                         std::to_string(kernels::cpu::kMaxHeadDim));
  }
  if (config.num_attention_heads / config.num_key_value_heads > kernels::cpu::kMaxAttentionRows) {
    return unimplemented("a GQA group of " +
                         std::to_string(config.num_attention_heads / config.num_key_value_heads) +
                         " query heads per KV head is larger than the CPU attention kernel's " +
                         std::to_string(kernels::cpu::kMaxAttentionRows));
  }
  kernels::cpu::CpuBackendOptions cpu;
  cpu.num_threads = options.num_threads;
  cpu.blas_min_rows = options.cpu_blas_min_rows;
  cpu.bf16_dot_products = options.cpu_bf16_dot_products;
  cpu.pack_weights = options.cpu_pack_weights;
  return create(model_dir, options, std::make_unique<kernels::cpu::CpuBackend>(cpu));
}

Result<std::unique_ptr<ModelRunner>> ModelRunner::create(
    const std::filesystem::path& model_dir, const ModelRunnerOptions& options,
    std::unique_ptr<kernels::Backend> backend) {
  RETURN_IF_ERROR(options.validate());
  std::unique_ptr<ModelRunner> runner(new ModelRunner());
  runner->options_ = options;
  runner->backend_ = std::move(backend);
  ASSIGN_OR_RETURN(runner->config_, loadModelConfig(model_dir));
  const ModelConfig& c = runner->config_;
  runner->max_model_len_ = static_cast<int>(c.max_position_embeddings);
  if (options.max_model_len > 0) {
    if (options.max_model_len > c.max_position_embeddings) {
      return invalidArgument("max_model_len " + std::to_string(options.max_model_len) +
                             " exceeds the model's max_position_embeddings " +
                             std::to_string(c.max_position_embeddings));
    }
    runner->max_model_len_ = options.max_model_len;
  }
  const int block_size = options.kv_cache.block_size;
  runner->max_blocks_per_seq_ = (runner->max_model_len_ + block_size - 1) / block_size;

  ASSIGN_OR_RETURN(runner->weights_, WeightStore::open(model_dir));
  kernels::Backend& b = *runner->backend_;
  std::optional<DType> weight_dtype = options.weight_dtype;
  bool f16_as_bf16 = false;
  if (!weight_dtype) {
    // "auto": as stored, except an F16 checkpoint on a backend that packs BF16 matrices and not
    // F16 ones (the CPU backend with AVX-512 BF16), which loads as BF16, as vLLM's CPU backend
    // casts float16 models to bfloat16. There the BF16 path is the fast one (smollm2-135m:
    // prefill 1,583 vs 834 tok/s, decode 122 vs 98, 2 threads); the weights lose 3 of their 11
    // significant bits, and the activations are rounded to BF16 on that path anyway. The
    // converted weights are copies: nothing is read in place from the file mapping then.
    ASSIGN_OR_RETURN(TensorView embed, runner->weights_->get("model.embed_tokens.weight",
                                                             {c.vocab_size, c.hidden_size}));
    const int h = static_cast<int>(c.hidden_size);
    f16_as_bf16 = embed.dtype == DType::kF16 && b.packedMatmulWeightBytes(DType::kBF16, h, h) > 0 &&
                  b.packedMatmulWeightBytes(DType::kF16, h, h) == 0;
    if (f16_as_bf16) weight_dtype = DType::kBF16;
  }
  // Host tables sized by the model's numbers (the RoPE table by max_model_len) may not fit in
  // memory: that is this model's error, not the process's end.
  Result<std::unique_ptr<LlamaModel>> model = resourceExhausted("");
  try {
    model = LlamaModel::load(b, c, *runner->weights_, weight_dtype, options.quantization,
                             options.max_num_tokens, runner->max_model_len_, options.mmap_weights,
                             options.on_load_progress);
  } catch (const std::bad_alloc&) {
    return resourceExhausted("out of memory loading the model with max_model_len " +
                             std::to_string(runner->max_model_len_) +
                             " (--max-model-len sets a shorter context)");
  }
  ASSIGN_OR_RETURN(runner->model_, std::move(model));
  // Unless a weight is read in place (mmap_weights on a host-addressable backend: not CUDA, not a
  // misaligned file), every weight was copied: nothing reads the checkpoint after this, so the
  // mapping goes. A file replaced or truncated under a running server (a model directory updated
  // in place) then cannot fault the process with SIGBUS, and the page cache is not held.
  if (!runner->model_->readsCheckpointInPlace()) runner->weights_.reset();
  KvCacheOptions& kv_options = runner->options_.kv_cache;
  if (!kv_options.dtype) {
    const DType w = runner->model_->weightDType();
    kv_options.dtype = w == DType::kBF16 || w == DType::kF16 ? DType::kBF16 : DType::kF32;
  }
  ASSIGN_OR_RETURN(runner->kv_, KvCachePool::create(b, c, kv_options, options.on_load_progress));
  runner->options_.on_load_progress = nullptr;  // may capture the caller's locals
  kernels::AttentionPlanLimits limits;
  limits.max_num_seqs = options.max_num_seqs;
  limits.max_num_tokens = options.max_num_tokens;
  limits.max_blocks_per_seq = runner->max_blocks_per_seq_;
  runner->plan_ = b.createAttentionPlan(limits);
  if (!b.hostAddressable()) {
    const size_t rows = static_cast<size_t>(options.max_num_tokens);
    ASSIGN_OR_RETURN(runner->token_ids_, b.allocate(rows * sizeof(int32_t)));
    ASSIGN_OR_RETURN(runner->logits_rows_, b.allocate(rows * sizeof(int32_t)));
    ASSIGN_OR_RETURN(runner->logits_, b.allocate(static_cast<size_t>(options.max_logits_rows) *
                                                 c.vocab_size * sizeof(float)));
  }

  const LlamaModel& m = *runner->model_;
  char params[32];
  std::snprintf(params, sizeof(params), "%.2fM", m.numParameters() / 1e6);
  runner->summary_ =
      std::string(architectureName(c.architecture)) + " from " + model_dir.string() + ": " +
      std::to_string(c.num_hidden_layers) + " layers, " + params + " params, weights " +
      (m.quantization() != Quantization::kNone
           ? std::string(m.quantization() == Quantization::kW8A8
                             ? "INT8 per channel, activations INT8 per token"
                             : "INT8 per channel") +
                 (m.checkpointQuantized()
                      ? std::string(" (compressed-tensors checkpoint)")
                      : " (from " + std::string(dtypeName(m.weightDType())) + ")")
           : std::string(dtypeName(m.weightDType())) + (f16_as_bf16 ? " (from F16)" : "")) +
      " " + megabytes(m.weightBytes()) + " (" + megabytes(m.copiedBytes()) +
      " in backend memory), KV cache " + std::to_string(runner->kv_->numBlocks()) + " blocks x " +
      std::to_string(block_size) + " tokens " + std::string(dtypeName(*kv_options.dtype)) + " " +
      megabytes(runner->kv_->totalBytes()) + ", max_model_len " +
      std::to_string(runner->max_model_len_) + ", backend " + std::string(b.name()) + " " +
      std::to_string(options.num_threads) + " thread(s)";
  return runner;
}

ModelRunner::~ModelRunner() = default;

Status ModelRunner::checkBatch(const ForwardBatch& batch) const {
  const int num_seqs = batch.numSeqs();
  const int num_tokens = batch.numTokens();
  if (num_seqs < 1 || num_tokens < 1) return invalidArgument("empty batch");
  if (num_tokens > options_.max_num_tokens) {
    return invalidArgument("batch has " + std::to_string(num_tokens) +
                           " tokens, more than max_num_batched_tokens " +
                           std::to_string(options_.max_num_tokens));
  }
  if (num_seqs > options_.max_num_seqs) {
    return invalidArgument("batch has " + std::to_string(num_seqs) +
                           " sequences, more than max_num_seqs " +
                           std::to_string(options_.max_num_seqs));
  }
  if (batch.positions.size() != batch.token_ids.size() ||
      batch.slot_mapping.size() != batch.token_ids.size() ||
      batch.query_start.size() != static_cast<size_t>(num_seqs) + 1 ||
      batch.max_blocks_per_seq < 1 ||
      batch.block_tables.size() < static_cast<size_t>(num_seqs) * batch.max_blocks_per_seq) {
    return invalidArgument("batch arrays have inconsistent sizes");
  }
  if (batch.query_start[0] != 0 || batch.query_start[num_seqs] != num_tokens) {
    return invalidArgument("query_start must go from 0 to num_tokens");
  }
  if (batch.max_blocks_per_seq > max_blocks_per_seq_) {
    return invalidArgument("block tables have " + std::to_string(batch.max_blocks_per_seq) +
                           " columns, more than max_model_len " + std::to_string(max_model_len_) +
                           " needs (" + std::to_string(max_blocks_per_seq_) + ")");
  }
  const int block_size = kv_->blockSize();
  const int64_t num_slots = static_cast<int64_t>(kv_->numBlocks()) * block_size;
  for (int s = 0; s < num_seqs; ++s) {
    const int q_len = batch.query_start[s + 1] - batch.query_start[s];
    const int seq_len = batch.seq_lens[s];
    if (q_len < 1 || seq_len < q_len || seq_len > max_model_len_) {
      return invalidArgument("sequence " + std::to_string(s) + " has " + std::to_string(q_len) +
                             " new tokens and length " + std::to_string(seq_len) +
                             " (max_model_len " + std::to_string(max_model_len_) + ")");
    }
    const int blocks = (seq_len + block_size - 1) / block_size;
    if (blocks > batch.max_blocks_per_seq) {
      return invalidArgument("sequence " + std::to_string(s) + " needs " + std::to_string(blocks) +
                             " blocks, block table has " +
                             std::to_string(batch.max_blocks_per_seq));
    }
    for (int i = 0; i < blocks; ++i) {
      const int32_t block =
          batch.block_tables[static_cast<size_t>(s) * batch.max_blocks_per_seq + i];
      if (block < 0 || block >= kv_->numBlocks()) {
        return invalidArgument("sequence " + std::to_string(s) + " uses KV block " +
                               std::to_string(block) + " of " + std::to_string(kv_->numBlocks()));
      }
    }
    for (int t = batch.query_start[s]; t < batch.query_start[s + 1]; ++t) {
      const int32_t position = batch.positions[t];
      if (position < 0 || position >= seq_len) {
        return invalidArgument("token " + std::to_string(t) + " has position " +
                               std::to_string(position) + " outside its sequence of " +
                               std::to_string(seq_len));
      }
    }
  }
  for (int t = 0; t < num_tokens; ++t) {
    if (batch.token_ids[t] < 0 || batch.token_ids[t] >= config_.vocab_size) {
      return invalidArgument("token id " + std::to_string(batch.token_ids[t]) +
                             " is outside the vocabulary of " + std::to_string(config_.vocab_size));
    }
    const int32_t slot = batch.slot_mapping[t];
    if (slot < -1 || slot >= num_slots) {
      return invalidArgument("slot " + std::to_string(slot) + " is outside the KV pool");
    }
  }
  if (batch.logits_rows.empty() || batch.logits_rows.size() > static_cast<size_t>(num_tokens)) {
    return invalidArgument("logits_rows must name between 1 and num_tokens rows");
  }
  if (!backend_->hostAddressable() &&
      batch.logits_rows.size() > static_cast<size_t>(options_.max_logits_rows)) {
    return invalidArgument("batch asks for " + std::to_string(batch.logits_rows.size()) +
                           " logits rows, more than max_logits_rows " +
                           std::to_string(options_.max_logits_rows));
  }
  for (int32_t row : batch.logits_rows) {
    if (row < 0 || row >= num_tokens) {
      return invalidArgument("logits row " + std::to_string(row) + " is outside the batch");
    }
  }
  return Status::ok();
}

Status ModelRunner::copyBlock(int32_t src, int32_t dst) {
  if (src < 0 || src >= kv_->numBlocks() || dst < 0 || dst >= kv_->numBlocks()) {
    return invalidArgument("block copy " + std::to_string(src) + " -> " + std::to_string(dst) +
                           " is outside the KV pool of " + std::to_string(kv_->numBlocks()) +
                           " blocks");
  }
  kv_->copyBlock(*backend_, src, dst);
  return Status::ok();
}

Status ModelRunner::forward(const ForwardBatch& batch, float* logits) {
  RETURN_IF_ERROR(checkBatch(batch));
  kernels::Backend& b = *backend_;
  kernels::AttentionBatch attention;
  attention.num_seqs = batch.numSeqs();
  attention.num_tokens = batch.numTokens();
  attention.max_blocks_per_seq = batch.max_blocks_per_seq;
  attention.query_start = batch.query_start;
  attention.seq_lens = batch.seq_lens;
  attention.block_tables = batch.block_tables;
  attention.slot_mapping = batch.slot_mapping;
  attention.positions = batch.positions;
  b.planAttention(*plan_, attention);
  const int num_rows = static_cast<int>(batch.logits_rows.size());
  if (b.hostAddressable()) {
    model_->forward(*plan_, batch.token_ids.data(), batch.logits_rows.data(), num_rows, *kv_,
                    logits);
    return Status::ok();
  }
  b.copyToDevice(token_ids_.data(), batch.token_ids.data(),
                 batch.token_ids.size() * sizeof(int32_t));
  b.copyToDevice(logits_rows_.data(), batch.logits_rows.data(),
                 batch.logits_rows.size() * sizeof(int32_t));
  model_->forward(*plan_, token_ids_.as<int32_t>(), logits_rows_.as<int32_t>(), num_rows, *kv_,
                  logits_.as<float>());
  b.copyToHost(logits, logits_.data(), static_cast<size_t>(num_rows) * config_.vocab_size * 4);
  return Status::ok();
}

}  // namespace manifold
