// The table of CPU kernels for one instruction set. Each entry computes one slice of an op
// (rows, output columns, or attention work items) so that CpuBackend can split the op over its
// thread pool; the kernels themselves are single-threaded.
//
// The same kernel source (ops_impl.h) is compiled once per instruction set, each in its own
// translation unit with its own -m flags (scalar_kernels.cpp, avx2_kernels.cpp,
// avx512_kernels.cpp). Those translation units must not instantiate or call inline code shared
// with the rest of the program (the standard library, common/ helpers): the linker could keep the
// AVX-512 copy for everyone. So this header and the kernel sources use only plain types.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/dtype.h"

namespace manifold::kernels::cpu {

// Largest head_dim and query rows (query tokens x GQA group) one attention work item holds on
// its stack.
inline constexpr int kMaxHeadDim = 256;
inline constexpr int kMaxAttentionRows = 32;
inline constexpr int kMaxBlockSize = 256;

struct MatmulArgs {
  const float* x;  // [m, k]
  int m;
  int k;
  const void* w;  // [n, k]
  DType w_dtype;
  int n;
  const void* bias;  // [n] or nullptr
  DType bias_dtype;
  float* out;  // [m, n]
  // BF16 weights on SIMD paths: x permuted by packBf16Activations, [m, x_packed_stride].
  const float* x_packed;
  int x_packed_stride;
  // SIMD paths: use the blocked GEMM instead of the dot-product form.
  bool use_gemm;
};

struct AttentionArgs {
  const int32_t* query_start;   // [num_seqs + 1]
  const int32_t* seq_lens;      // [num_seqs]
  const int32_t* block_tables;  // [num_seqs, max_blocks_per_seq]
  int max_blocks_per_seq;
  const float* q;  // [num_tokens, num_q_heads, head_dim], row stride q_stride
  int q_stride;
  int num_q_heads;
  int num_kv_heads;
  int head_dim;
  int block_size;
  const void* k_cache;  // [num_blocks, num_kv_heads, block_size, head_dim]
  const void* v_cache;  // same
  DType kv_dtype;
  float scale;
  int sliding_window;  // <= 0: none
  float* out;          // [num_tokens, num_q_heads, head_dim]
  float* partials;     // split work items: [num_partials, partial_stride]
  int partial_stride;  // >= kMaxAttentionRows * (head_dim + 2)
};

// One attention work item: query tokens [q_begin, q_end) (relative to the sequence's first new
// token) of sequence seq, against kv heads [kv_head, kv_head + kv_heads), over keys [kv_begin,
// kv_end). Its rows are head-major: (q_end - q_begin) * group of them per kv head. REQUIRES: rows
// <= kMaxAttentionRows; kv_heads == 1 for a split part.
struct AttentionWork {
  int32_t seq;
  int32_t kv_head;
  int32_t q_begin;
  int32_t q_end;
  // Key positions [kv_begin, kv_end) this item covers (the whole context unless split).
  int32_t kv_begin;
  int32_t kv_end;
  // -1: write normalised rows to out. Otherwise one part of a split key range: write each row's
  // [max, sum, unnormalised output (head_dim)] to partials + partial * partial_stride.
  int32_t partial;
  // Several heads of one sequence in one item read each KV block's heads (contiguous in the
  // pool) together, so that a decode streams the pool instead of hopping over the other heads'
  // slices: 1.5x the KV read rate when the cache is past the last-level cache.
  int32_t kv_heads = 1;
};

struct CpuKernels {
  const char* name;
  // out[t] = table[ids[t]] for t in [t_begin, t_end).
  void (*embedding)(const int32_t* ids, const void* table, DType dtype, int hidden, float* out,
                    int t_begin, int t_end);
  // residual (nullable): residual += x first and normalise residual. Rows [t_begin, t_end).
  void (*rmsNorm)(const float* x, float* residual, const void* weight, DType w_dtype, int hidden,
                  float eps, float* out, int t_begin, int t_end);
  void (*rope)(float* q, int q_stride, float* k, int k_stride, const int32_t* positions,
               int num_q_heads, int num_kv_heads, int head_dim, const float* cos_sin, int t_begin,
               int t_end);
  // Tokens [t_begin, t_end) into the pool; slot < 0 skips a token.
  void (*writeKv)(const float* k, int k_stride, const float* v, int v_stride,
                  const int32_t* slot_mapping, int num_kv_heads, int head_dim, int block_size,
                  void* k_cache, void* v_cache, DType kv_dtype, int t_begin, int t_end);
  void (*attention)(const AttentionArgs& args, const AttentionWork& work);
  void (*siluAndMul)(const float* gate_up, int intermediate, float* out, int t_begin, int t_end);
  // Output columns [n_begin, n_end) of every row.
  void (*matmul)(const MatmulArgs& args, int n_begin, int n_end);
  // BF16 matmuls need x permuted first when bf16_pack_block > 0: into [m, k rounded up to
  // bf16_pack_block] (zero padding).
  int bf16_pack_block;
  void (*packBf16Activations)(const float* x, int m, int k, float* out);
  // out[i] += x[i] for i in [begin, end).
  void (*add)(const float* x, float* out, int64_t begin, int64_t end);
  void (*argmax)(const float* x, int cols, int32_t* out, int r_begin, int r_end);
  void (*softmax)(const float* x, int cols, bool log, float* out, int r_begin, int r_end);
};

const CpuKernels& scalarKernels();
const CpuKernels& avx2Kernels();    // REQUIRES: the CPU has AVX2, FMA and F16C.
const CpuKernels& avx512Kernels();  // REQUIRES: the CPU has AVX-512 F/BW/VL/DQ.

}  // namespace manifold::kernels::cpu
