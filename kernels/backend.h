// The op interface between the model runner and a device: memory, per-step attention metadata,
// and one virtual method per op. CpuBackend (kernels/cpu/) implements it now, CudaBackend
// (kernels/cuda/) later; the CPU backend is the reference every other backend is tested against.
//
// Conventions for every op:
// - All tensor pointers are device pointers obtained from this backend (allocate), or, when
//   hostAddressable() is true, any host memory (e.g. weights mmapped by the loader).
// - A batch is a flat varlen batch of num_tokens rows: sequence s owns rows
//   query_start[s] .. query_start[s+1] of every activation.
// - Activations, norms' inputs/outputs and logits are F32. Weights may be F32, BF16 or F16
//   (WeightView). Row-major everywhere; shapes are given next to each parameter.
// - Ops are asynchronous with respect to the host on devices that can be (CUDA): a copy to the
//   host or synchronize() orders them. On the CPU every op has finished when it returns.
//
// Thread safety: a Backend is driven by one thread at a time (the engine loop that owns it). The
// CPU backend parallelises inside each op with its own worker pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include "common/dtype.h"
#include "common/status.h"

namespace manifold::kernels {

class Backend;

// A typed, read-only pointer to a weight tensor (or bias) in device memory; the shape is given
// by the op that reads it.
// How a matmul weight is laid out in memory.
enum class WeightLayout {
  kRowMajor,  // [n, k], as in the checkpoint
  kPacked,    // the backend's own form, made by Backend::packMatmulWeight
  // Quantized to INT8 per output channel, in the backend's own form with its scales, made by
  // Backend::packMatmulWeightInt8; `dtype` is the source's and is not read. kPackedInt8 runs
  // with BF16 activations (Quantization::kInt8), kPackedW8A8 with INT8 ones (kW8A8).
  kPackedInt8,
  kPackedW8A8,
};

struct WeightView {
  const void* data = nullptr;
  DType dtype = DType::kF32;
  WeightLayout layout = WeightLayout::kRowMajor;
};

// Owns one allocation on a backend; move-only. Frees through the backend that made it, which
// must outlive the buffer.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(Backend* backend, void* data, size_t bytes)
      : backend_(backend), data_(data), bytes_(bytes) {}
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { reset(); }

  void reset();
  [[nodiscard]] void* data() const { return data_; }
  [[nodiscard]] size_t bytes() const { return bytes_; }
  template <typename T>
  [[nodiscard]] T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  Backend* backend_ = nullptr;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// Shape of one layer's paged KV pool. K and V are separate tensors, each laid out
//   [num_blocks, num_kv_heads, block_size, head_dim]
// (flashinfer's "HND"): one (block, head) tile of block_size x head_dim values is contiguous,
// which keeps the attention inner loop streaming. Slot s = block_id * block_size + offset.
struct KvCacheShape {
  int num_blocks = 0;
  int block_size = 16;
  int num_kv_heads = 0;
  int head_dim = 0;
  DType dtype = DType::kF32;  // kF32 or kBF16

  [[nodiscard]] size_t elementsPerLayer() const {
    return static_cast<size_t>(num_blocks) * num_kv_heads * block_size * head_dim;
  }
  [[nodiscard]] size_t bytesPerLayer() const { return elementsPerLayer() * dtypeSize(dtype); }
};

// The host-side description of one step's attention batch, filled by the model runner.
// Sequence s has q_len = query_start[s+1] - query_start[s] new tokens and seq_lens[s] tokens of
// context in total (cached prefix + new), so its new tokens sit at positions
// seq_lens[s] - q_len .. seq_lens[s] - 1. A decode is q_len == 1; a prefill chunk with a cached
// prefix has q_len < seq_lens[s]. Spans need only live until planAttention returns.
struct AttentionBatch {
  int num_seqs = 0;
  int num_tokens = 0;
  int max_blocks_per_seq = 0;             // row stride of block_tables
  std::span<const int32_t> query_start;   // [num_seqs + 1], query_start[0] == 0
  std::span<const int32_t> seq_lens;      // [num_seqs]
  std::span<const int32_t> block_tables;  // [num_seqs, max_blocks_per_seq]
  std::span<const int32_t> slot_mapping;  // [num_tokens]; -1 skips the token (padding)
  std::span<const int32_t> positions;     // [num_tokens], rope positions
};

// Capacity of an AttentionPlan. Device memory for the metadata is allocated once at this size so
// that its pointers stay fixed across steps (a CUDA graph can capture a decode step).
struct AttentionPlanLimits {
  int max_num_seqs = 256;
  int max_num_tokens = 8192;
  int max_blocks_per_seq = 512;
};

// Asserts planAttention's REQUIRES on sizes: the batch fits `limits` and every span is long
// enough for its counts. Shared by the backends' plan implementations.
void assertBatchFitsLimits(const AttentionBatch& batch, const AttentionPlanLimits& limits);

// Per-step attention metadata in device memory, planned once per step (planAttention) and then
// used by every layer's writeKvCache / pagedAttention / rope. Backends subclass it.
class AttentionPlan {
 public:
  virtual ~AttentionPlan() = default;
  [[nodiscard]] int numSeqs() const { return num_seqs_; }
  [[nodiscard]] int numTokens() const { return num_tokens_; }
  // Device pointer to the positions of the planned batch, [num_tokens]; feed it to rope().
  [[nodiscard]] virtual const int32_t* positions() const = 0;

 protected:
  int num_seqs_ = 0;
  int num_tokens_ = 0;
};

enum class RopeScalingType { kNone, kLinear, kLlama3 };

// HF `rope_scaling`. kLinear divides positions by `factor`; kLlama3 follows
// transformers' `_compute_llama3_parameters` (rescales low frequencies, keeps high ones).
struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;                 // kLlama3 only
  double high_freq_factor = 4.0;                // kLlama3 only
  int original_max_position_embeddings = 8192;  // kLlama3 only
};

class Backend {
 public:
  virtual ~Backend() = default;

  [[nodiscard]] virtual std::string_view name() const = 0;
  // True when device pointers are ordinary host pointers (CPU): weights can be read in place.
  [[nodiscard]] virtual bool hostAddressable() const = 0;

  // Memory. Allocations are 64-byte aligned. Failure (out of memory) is an environment error
  // returned as kResourceExhausted.
  [[nodiscard]] Result<DeviceBuffer> allocate(size_t bytes);
  virtual void copyToDevice(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copyToHost(void* host_dst, const void* src, size_t bytes) = 0;
  virtual void copyOnDevice(void* dst, const void* src, size_t bytes) = 0;
  virtual void fillZero(void* dst, size_t bytes) = 0;
  // Waits until every op issued so far has finished.
  virtual void synchronize() = 0;

  // Attention metadata (plan once per step, run per layer).
  [[nodiscard]] virtual std::unique_ptr<AttentionPlan> createAttentionPlan(
      const AttentionPlanLimits& limits) = 0;
  // REQUIRES: batch within the plan's limits; query_start non-decreasing; q_len <= seq_len.
  virtual void planAttention(AttentionPlan& plan, const AttentionBatch& batch) = 0;

  // out[t, :] = table[ids[t], :].
  // ids [num_tokens] (each < vocab_size), table [vocab_size, hidden], out [num_tokens, hidden].
  virtual void embedding(const int32_t* ids, int num_tokens, WeightView table, int hidden,
                         float* out) = 0;

  // out[r, :] = src[rows[r], :]; src [*, cols], rows [num_rows], out [num_rows, cols].
  // Picks the rows whose logits are needed (last token of each prefill) before the LM head.
  virtual void gatherRows(const float* src, const int32_t* rows, int num_rows, int cols,
                          float* out) = 0;

  // out = x / sqrt(mean(x^2) + eps) * weight, per row. x, out [num_tokens, hidden] (may alias);
  // weight [hidden].
  virtual void rmsNorm(const float* x, WeightView weight, int num_tokens, int hidden, float eps,
                       float* out) = 0;
  // residual += x; out = rmsNorm(residual) * weight. x, residual, out [num_tokens, hidden];
  // out may alias x (not residual).
  virtual void addRmsNorm(const float* x, float* residual, WeightView weight, int num_tokens,
                          int hidden, float eps, float* out) = 0;

  // Neox-style (rotate_half, HF layout) rotary embedding, in place, on
  // q [num_tokens, num_q_heads, head_dim] and k [num_tokens, num_kv_heads, head_dim] with row
  // strides q_stride / k_stride in floats (so q and k may be slices of a fused qkv buffer).
  // cos_sin is a table from buildRopeTable copied to the device: [max_positions, head_dim] with
  // cos in the first head_dim/2 columns and sin in the second. positions [num_tokens].
  virtual void rope(float* q, int q_stride, float* k, int k_stride, const int32_t* positions,
                    int num_tokens, int num_q_heads, int num_kv_heads, int head_dim,
                    const float* cos_sin) = 0;

  // Writes the new tokens' K and V into one layer's paged pool at the plan's slot_mapping.
  // k, v [num_tokens, num_kv_heads, head_dim] with row strides k_stride / v_stride (floats);
  // k_cache, v_cache: one layer's pool, layout in KvCacheShape.
  virtual void writeKvCache(const AttentionPlan& plan, const float* k, int k_stride, const float* v,
                            int v_stride, const KvCacheShape& shape, void* k_cache,
                            void* v_cache) = 0;

  // Causal paged GQA attention over the planned varlen batch (after writeKvCache of this step).
  // q [num_tokens, num_q_heads, head_dim] with row stride q_stride; out [num_tokens, num_q_heads,
  // head_dim] contiguous. Query head h reads kv head h / (num_q_heads / num_kv_heads). A query at
  // position p sees keys at positions max(0, p - sliding_window + 1) .. p (sliding_window <= 0:
  // no window). scale multiplies q.k (1/sqrt(head_dim) for Llama).
  // REQUIRES: num_q_heads % shape.num_kv_heads == 0.
  virtual void pagedAttention(const AttentionPlan& plan, const float* q, int q_stride,
                              int num_q_heads, const KvCacheShape& shape, const void* k_cache,
                              const void* v_cache, float scale, int sliding_window, float* out) = 0;

  // out[t, i] = silu(gate_up[t, i]) * gate_up[t, intermediate + i]: gate in the first half, up in
  // the second, as vLLM fuses gate_proj and up_proj into one matmul.
  // gate_up [num_tokens, 2 * intermediate], out [num_tokens, intermediate].
  virtual void siluAndMul(const float* gate_up, int num_tokens, int intermediate, float* out) = 0;

  // out[m, n] = sum_k x[m, k] * w[n, k] + bias[n]. x [m, k] F32; w [n, k] (HF Linear layout)
  // F32/BF16/F16, row-major or packed by packMatmulWeight for this n and k; bias [n] of any
  // dtype, or data == nullptr for none; out [m, n] F32.
  // REQUIRES: out does not alias x.
  virtual void matmul(const float* x, int m, int k, WeightView w, int n, WeightView bias,
                      float* out) = 0;

  // Bytes of the packed form of a [n, k] matmul weight of `dtype`, or 0 when this backend reads
  // that weight fastest row-major (then there is nothing to pack). Packing is done once, at load:
  // e.g. the CPU backend lays BF16 weights out in the column panels its vdpbf16ps GEMM streams.
  [[nodiscard]] virtual size_t packedMatmulWeightBytes(DType dtype, int n, int k) const {
    (void)dtype;
    (void)n;
    (void)k;
    return 0;
  }
  // Writes the packed form of the row-major weight w [n, k] to dst (packedMatmulWeightBytes
  // bytes of this backend's memory) and returns a view of it for matmul.
  // REQUIRES: packedMatmulWeightBytes(w.dtype, n, k) > 0; w row-major.
  virtual WeightView packMatmulWeight(WeightView w, int n, int k, void* dst) {
    (void)n;
    (void)k;
    (void)dst;
    return w;
  }

  // INT8 quantization (--quantization int8 | w8a8; `scheme` is not kNone): bytes of the INT8 form
  // of a [n, k] matmul weight for that scheme, or 0 when this backend has no such matmul.
  [[nodiscard]] virtual size_t packedInt8MatmulWeightBytes(Quantization scheme, int n,
                                                           int k) const {
    (void)scheme;
    (void)n;
    (void)k;
    return 0;
  }
  // Quantizes the row-major weight w [n, k] (a float dtype, `scales` null) symmetrically per
  // output channel (row of w: scale = max |w| / 127, q = round(w / scale)), or takes it as
  // quantized already (dtype kI8, with `scales` [n] in host memory: a quantized checkpoint's),
  // into dst (packedInt8MatmulWeightBytes bytes of this backend's memory) and returns its view
  // (layout kPackedInt8 or kPackedW8A8). matmul then computes out = (x * q^T) * scale + bias,
  // with x rounded to BF16 (kInt8) or quantized per row the same way (kW8A8: out =
  // (q_x * q^T) * scale_x * scale + bias). REQUIRES: packedInt8MatmulWeightBytes(scheme, n, k) > 0.
  virtual WeightView packMatmulWeightInt8(Quantization scheme, WeightView w, const float* scales,
                                          int n, int k, void* dst) {
    (void)scheme;
    (void)scales;
    (void)n;
    (void)k;
    (void)dst;
    return w;
  }

  // out += x, elementwise over n floats (residual add outside a norm, e.g. tied layers).
  virtual void add(const float* x, int64_t n, float* out) = 0;

  // Row-wise reductions over x [rows, cols] for sampling and logprobs.
  // argmax: out [rows], first index of the maximum.
  virtual void argmax(const float* x, int rows, int cols, int32_t* out) = 0;
  // softmax / logSoftmax: out [rows, cols] (may alias x).
  virtual void softmax(const float* x, int rows, int cols, float* out) = 0;
  virtual void logSoftmax(const float* x, int rows, int cols, float* out) = 0;

 protected:
  friend class DeviceBuffer;
  // Returns nullptr when the memory is not available.
  [[nodiscard]] virtual void* allocateRaw(size_t bytes) = 0;
  virtual void deallocateRaw(void* data) = 0;
};

}  // namespace manifold::kernels
