// Configuration of one local engine: which model, how its KV cache and scheduler are sized, and
// how many CPU threads its runner uses.
#pragma once

#include <optional>
#include <string>

#include "common/dtype.h"
#include "common/status.h"
#include "engine/kv_cache/cache_config.h"
#include "engine/model/load_progress.h"
#include "engine/scheduler/scheduler_config.h"

namespace manifold {

class EngineObserver;

struct EngineConfig {
  // Hugging Face model folder: config.json, safetensors, tokenizer.json.
  std::string model_dir;
  CacheConfig cache;
  // scheduler.max_model_len is replaced by max_model_len below.
  SchedulerConfig scheduler;
  // Longest sequence (prompt + output); 0: the model's max_position_embeddings.
  int max_model_len = 0;
  // CPU threads of the model runner, the engine loop's included.
  int num_threads = 1;
  // Convert the weights at load (e.g. kBF16 -> kF32); nullopt keeps the file's dtype.
  std::optional<DType> weight_dtype;
  // Matmul weights quantized at load (ModelRunnerOptions::quantization).
  Quantization quantization = Quantization::kNone;
  // Element type of the KV cache: kF32 or kBF16; nullopt ("auto"): BF16 for 16-bit weights,
  // else F32.
  std::optional<DType> kv_cache_dtype;
  // Notified of steps and finished requests; may be null; must outlive the engine.
  EngineObserver* observer = nullptr;
  // Told how the model's load goes (LocalEngine::create); may be empty.
  LoadProgressCallback on_load_progress;

  // Ranges; the message names the field.
  [[nodiscard]] Status validate() const;
};

}  // namespace manifold
