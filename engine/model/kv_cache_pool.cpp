#include "engine/model/kv_cache_pool.h"

#include "engine/kv_cache/cache_config.h"

#include <cassert>
#include <limits>
#include <string>

namespace manifold {

Status KvCacheOptions::validate() const {
  if (block_size <= 0 || block_size > CacheConfig::kMaxBlockSize) {
    return invalidArgument("block_size must be in [1, " +
                           std::to_string(CacheConfig::kMaxBlockSize) + "], got " +
                           std::to_string(block_size));
  }
  if (num_blocks < 0) {
    return invalidArgument("num_kv_blocks must not be negative, got " + std::to_string(num_blocks));
  }
  if (num_blocks == 0 && !(space_gib > 0.0)) {
    return invalidArgument("kv_cache_space must be positive, got " + std::to_string(space_gib));
  }
  if (dtype && *dtype != DType::kF32 && *dtype != DType::kBF16) {
    return invalidArgument("kv_cache_dtype must be F32 or BF16, got " +
                           std::string(dtypeName(*dtype)));
  }
  return Status::ok();
}

size_t KvCachePool::bytesPerBlock(const ModelConfig& config, int block_size, DType dtype) {
  return 2 * static_cast<size_t>(config.num_hidden_layers) * config.num_key_value_heads *
         block_size * config.head_dim * dtypeSize(dtype);
}

Result<std::unique_ptr<KvCachePool>> KvCachePool::create(kernels::Backend& backend,
                                                         const ModelConfig& config,
                                                         const KvCacheOptions& options,
                                                         const LoadProgressCallback& on_progress) {
  RETURN_IF_ERROR(options.validate());
  const DType dtype = options.dtype.value_or(DType::kF32);
  const size_t block_bytes = bytesPerBlock(config, options.block_size, dtype);
  int64_t num_blocks = options.num_blocks;
  if (num_blocks == 0) {
    num_blocks = static_cast<int64_t>(options.space_gib * (1ull << 30) / block_bytes);
  }
  if (num_blocks < 1) {
    return invalidArgument("kv_cache_space " + std::to_string(options.space_gib) +
                           " GiB holds no KV block (one block takes " +
                           std::to_string(block_bytes) + " bytes)");
  }
  if (num_blocks > std::numeric_limits<int32_t>::max() / options.block_size) {
    return invalidArgument("too many KV blocks: " + std::to_string(num_blocks));
  }
  std::unique_ptr<KvCachePool> pool(new KvCachePool());
  pool->shape_.num_blocks = static_cast<int>(num_blocks);
  pool->shape_.block_size = options.block_size;
  pool->shape_.num_kv_heads = static_cast<int>(config.num_key_value_heads);
  pool->shape_.head_dim = static_cast<int>(config.head_dim);
  pool->shape_.dtype = dtype;
  const size_t layer_bytes = pool->shape_.bytesPerLayer();
  const uint64_t total_bytes = uint64_t{2} * layer_bytes * config.num_hidden_layers;
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    Layer layer;
    ASSIGN_OR_RETURN(layer.keys, backend.allocate(layer_bytes));
    ASSIGN_OR_RETURN(layer.values, backend.allocate(layer_bytes));
    // Zeroed so that stale memory can never hold NaNs that a masked read could pick up.
    backend.fillZero(layer.keys.data(), layer_bytes);
    backend.fillZero(layer.values.data(), layer_bytes);
    pool->layers_.push_back(std::move(layer));
    if (on_progress) {
      on_progress(LoadProgress{LoadProgress::Stage::kKvCache,
                               uint64_t{2} * layer_bytes * static_cast<uint64_t>(l + 1),
                               total_bytes});
    }
  }
  return pool;
}

void KvCachePool::copyBlock(kernels::Backend& backend, int src, int dst) {
  assert(src >= 0 && src < shape_.num_blocks && dst >= 0 && dst < shape_.num_blocks);
  // One block of one layer is contiguous: [num_kv_heads, block_size, head_dim].
  const size_t block_bytes = shape_.bytesPerLayer() / shape_.num_blocks;
  for (Layer& layer : layers_) {
    for (kernels::DeviceBuffer* pool : {&layer.keys, &layer.values}) {
      auto* base = pool->as<uint8_t>();
      backend.copyOnDevice(base + dst * block_bytes, base + src * block_bytes, block_bytes);
    }
  }
}

}  // namespace manifold
