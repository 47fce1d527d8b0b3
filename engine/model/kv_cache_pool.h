// The paged KV cache memory of one model: per layer, a K and a V pool of fixed-size blocks,
// preallocated once on the backend. The scheduler hands out block ids; attention reads K/V only
// through block tables. Layout per layer and per K/V: kernels::KvCacheShape
// [num_blocks, num_kv_heads, block_size, head_dim].
//
// Thread safety: immutable after create(); the memory is written by the engine loop's forward.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/dtype.h"
#include "common/status.h"
#include "engine/loader/model_config.h"
#include "engine/model/load_progress.h"
#include "kernels/backend.h"

namespace manifold {

struct KvCacheOptions {
  int block_size = 16;        // tokens per block
  int64_t num_blocks = 0;     // > 0: exactly this many blocks; 0: as many as space_gib holds
  double space_gib = 1.0;     // memory for all layers' K and V (vLLM's VLLM_CPU_KVCACHE_SPACE)
  // kF32 or kBF16; nullopt ("auto", as vLLM's --kv-cache-dtype auto): the weights' dtype,
  // BF16 for 16-bit weights and F32 otherwise (resolved by ModelRunner; the pool alone takes F32).
  std::optional<DType> dtype;

  [[nodiscard]] Status validate() const;
};

class KvCachePool {
 public:
  // on_progress (may be empty): bytes allocated and zeroed, after each layer's keys and values.
  [[nodiscard]] static Result<std::unique_ptr<KvCachePool>> create(
      kernels::Backend& backend, const ModelConfig& config, const KvCacheOptions& options,
      const LoadProgressCallback& on_progress = {});

  [[nodiscard]] const kernels::KvCacheShape& shape() const { return shape_; }
  [[nodiscard]] int numBlocks() const { return shape_.num_blocks; }
  [[nodiscard]] int blockSize() const { return shape_.block_size; }
  [[nodiscard]] size_t totalBytes() const { return 2 * layers_.size() * shape_.bytesPerLayer(); }
  // Bytes one block takes over all layers, K and V.
  [[nodiscard]] static size_t bytesPerBlock(const ModelConfig& config, int block_size, DType dtype);

  // Copies block `src` onto block `dst` in every layer, K and V (copy-on-write of a shared
  // partial block). REQUIRES: both in [0, numBlocks()).
  void copyBlock(kernels::Backend& backend, int src, int dst);

  [[nodiscard]] void* keys(int layer) const { return layers_[layer].keys.data(); }
  [[nodiscard]] void* values(int layer) const { return layers_[layer].values.data(); }

 private:
  struct Layer {
    kernels::DeviceBuffer keys;    // [num_blocks, num_kv_heads, block_size, head_dim]
    kernels::DeviceBuffer values;  // same
  };
  kernels::KvCacheShape shape_;
  std::vector<Layer> layers_;
};

}  // namespace manifold
