// The CPU implementation of Backend: host memory, SIMD kernels chosen at run time (AVX-512,
// AVX2 or scalar; cpu_kernels.h), parallelised over an owned worker pool (thread_pool.h), and
// OpenBLAS for large F32 matrix products where it measured faster (docs/kernels.md).
//
// Limits of this backend (asserted): head_dim <= 256, block_size <= 256, at most 32 query heads
// per kv head.
//
// Thread safety: as Backend; one owner thread drives it.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/thread_pool.h"

namespace manifold::kernels::cpu {

enum class SimdLevel { kScalar, kAvx2, kAvx512 };

// The best level this CPU supports.
[[nodiscard]] SimdLevel detectSimdLevel();
[[nodiscard]] std::string_view simdLevelName(SimdLevel level);

struct CpuBackendOptions {
  // Worker threads including the caller; two engines on one machine split the cores.
  int num_threads = 1;
  // Forces a lower SIMD level (tests, benchmarks); clamped to what the CPU supports.
  std::optional<SimdLevel> simd_level;
  // Use OpenBLAS sgemm for row-major matmuls with at least this many rows (0: never); 16-bit
  // weights are widened to F32 first. Packed weights never take it.
  int blas_min_rows = 0;
  // m at and above which the SIMD paths use the blocked GEMM instead of the dot-product form;
  // 0: never; -1: chosen per SIMD level and weight dtype from measurements (docs/kernels.md).
  int gemm_min_rows = -1;
  // On CPUs with AVX-512 BF16, BF16 weights take BF16 dot products with the activations rounded
  // to BF16 (as a PyTorch BF16 model computes): at every m when packed (pack_weights), else where
  // they take the GEMM (m >= 16 by default). false: F32 products everywhere.
  bool bf16_dot_products = true;
  // Pack matmul weights at load where there is a packed kernel: F32 on AVX-512 (f32_gemm.h) and
  // BF16 with bf16_dot_products (bf16_gemm.h). false: every weight stays row-major.
  bool pack_weights = true;
  // How long idle workers poll for the next op before sleeping.
  int spin_us = 100;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& options = {});
  ~CpuBackend() override;

  [[nodiscard]] SimdLevel simdLevel() const { return simd_level_; }
  [[nodiscard]] int numThreads() const { return pool_->numThreads(); }
  // True when a BF16-weight matmul with m rows rounds its activations to BF16
  // (bf16_dot_products on a CPU that has them, and not routed to OpenBLAS).
  [[nodiscard]] bool roundsActivationsToBf16(int m) const {
    const bool blas = blas_min_rows_ > 0 && m >= blas_min_rows_;
    return use_bf16_dot_ && !blas && useGemm(DType::kBF16, m);
  }
  // Whether a matmul of m rows with weights of w_dtype takes the blocked GEMM.
  [[nodiscard]] bool useGemm(DType w_dtype, int m) const;

  [[nodiscard]] std::string_view name() const override { return "cpu"; }
  [[nodiscard]] bool hostAddressable() const override { return true; }

  void copyToDevice(void* dst, const void* host_src, size_t bytes) override;
  void copyToHost(void* host_dst, const void* src, size_t bytes) override;
  void copyOnDevice(void* dst, const void* src, size_t bytes) override;
  void fillZero(void* dst, size_t bytes) override;
  void synchronize() override {}

  [[nodiscard]] std::unique_ptr<AttentionPlan> createAttentionPlan(
      const AttentionPlanLimits& limits) override;
  void planAttention(AttentionPlan& plan, const AttentionBatch& batch) override;

  void embedding(const int32_t* ids, int num_tokens, WeightView table, int hidden,
                 float* out) override;
  void gatherRows(const float* src, const int32_t* rows, int num_rows, int cols,
                  float* out) override;
  void rmsNorm(const float* x, WeightView weight, int num_tokens, int hidden, float eps,
               float* out) override;
  void addRmsNorm(const float* x, float* residual, WeightView weight, int num_tokens, int hidden,
                  float eps, float* out) override;
  void rope(float* q, int q_stride, float* k, int k_stride, const int32_t* positions,
            int num_tokens, int num_q_heads, int num_kv_heads, int head_dim,
            const float* cos_sin) override;
  void writeKvCache(const AttentionPlan& plan, const float* k, int k_stride, const float* v,
                    int v_stride, const KvCacheShape& shape, void* k_cache, void* v_cache) override;
  void pagedAttention(const AttentionPlan& plan, const float* q, int q_stride, int num_q_heads,
                      const KvCacheShape& shape, const void* k_cache, const void* v_cache,
                      float scale, int sliding_window, float* out) override;
  void siluAndMul(const float* gate_up, int num_tokens, int intermediate, float* out) override;
  void matmul(const float* x, int m, int k, WeightView w, int n, WeightView bias,
              float* out) override;
  // F32 weights are packed on AVX-512 (f32_gemm.h), BF16 weights when this backend uses BF16
  // dot products (bf16_gemm.h); nothing is packed unless options.pack_weights.
  [[nodiscard]] size_t packedMatmulWeightBytes(DType dtype, int n, int k) const override;
  WeightView packMatmulWeight(WeightView w, int n, int k, void* dst) override;
  // INT8 weights, packed whatever pack_weights says (there is no row-major INT8 kernel).
  // kInt8 where this backend uses BF16 dot products (bf16_gemm.h): the products are the BF16
  // kernel's, with activations rounded to BF16. kW8A8 on AVX-512 with VNNI (int8_gemm.h), for
  // k up to kW8A8MaxDepth.
  [[nodiscard]] size_t packedInt8MatmulWeightBytes(Quantization scheme, int n,
                                                   int k) const override;
  WeightView packMatmulWeightInt8(Quantization scheme, WeightView w, const float* scales, int n,
                                  int k, void* dst) override;
  void add(const float* x, int64_t n, float* out) override;
  void argmax(const float* x, int rows, int cols, int32_t* out) override;
  void softmax(const float* x, int rows, int cols, float* out) override;
  void logSoftmax(const float* x, int rows, int cols, float* out) override;

 protected:
  [[nodiscard]] void* allocateRaw(size_t bytes) override;
  void deallocateRaw(void* data) override;

 private:
  bool matmulWithBlas(const float* x, int m, int k, WeightView w, int n, WeightView bias,
                      float* out);
  // x [m, k] rounded to BF16 into bf16_x_ for the dot-product GEMMs; returns its row stride.
  int convertActivationsToBf16(const float* x, int m, int k);
  // x [m, k] quantized per row into int8_x_ and int8_x_scales_ for the W8A8 GEMM; returns its row
  // stride.
  int quantizeActivationsToInt8(const float* x, int m, int k);

  SimdLevel simd_level_;
  const CpuKernels* kernels_;
  int blas_min_rows_;
  int gemm_min_rows_;
  bool use_bf16_dot_;
  bool use_vnni_;
  bool pack_weights_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<float> packed_x_;  // [m, k rounded up] activations in BF16 pair order
  std::vector<float> blas_scratch_;  // [n, k] widened 16-bit weight for the OpenBLAS route
  std::vector<uint16_t> bf16_x_;     // [m, k rounded up to even] activations rounded to BF16
  std::vector<uint8_t> int8_x_;      // [m, k rounded up to 4] activations quantized, plus 128
  std::vector<float> int8_x_scales_;  // [m] their scales
};

}  // namespace manifold::kernels::cpu
