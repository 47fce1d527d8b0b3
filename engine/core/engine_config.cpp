#include "engine/core/engine_config.h"

#include <string>

namespace manifold {

Status EngineConfig::validate() const {
  if (model_dir.empty()) return invalidArgument("model_dir must be set");
  RETURN_IF_ERROR(cache.validate());
  // max_model_len is not known yet: check the scheduler with a stand-in that its own rules
  // accept, then the fields that are ours.
  SchedulerConfig scheduler_check = scheduler;
  scheduler_check.max_model_len =
      max_model_len > 0 ? max_model_len : scheduler.max_num_batched_tokens;
  RETURN_IF_ERROR(scheduler_check.validate());
  if (max_model_len < 0) {
    return invalidArgument("max_model_len must be >= 0, got " + std::to_string(max_model_len));
  }
  if (num_threads < 1) {
    return invalidArgument("threads must be >= 1, got " + std::to_string(num_threads));
  }
  if (kv_cache_dtype && *kv_cache_dtype != DType::kF32 && *kv_cache_dtype != DType::kBF16) {
    return invalidArgument("kv_cache_dtype must be f32 or bf16");
  }
  return Status::ok();
}

}  // namespace manifold
