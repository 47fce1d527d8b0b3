#include "gateway/serving/engine_factory.h"

#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include "common/dtype.h"
#include "common/file_util.h"
#include "engine/core/engine_config.h"
#include "engine/scheduler/scheduler_config.h"
#include "engine/core/local_engine.h"
#include "engine/loader/model_config.h"
#include "gateway/serving/tokenizer_codec.h"

namespace manifold::gateway {

Result<EngineConfig> engineConfigFor(const EngineSpec& spec, int num_threads,
                                     EngineObserver* observer) {
  EngineConfig config;
  config.model_dir = spec.model;
  config.max_model_len = spec.max_model_len;
  config.num_threads = std::max(1, num_threads);
  config.observer = observer;
  config.cache.block_size = spec.block_size;
  ASSIGN_OR_RETURN(config.weight_dtype, parseDTypeChoice(spec.dtype));
  ASSIGN_OR_RETURN(config.kv_cache_dtype, parseDTypeChoice(spec.kv_cache_dtype));
  ASSIGN_OR_RETURN(config.quantization, parseQuantization(spec.quantization));
  config.cache.enable_prefix_caching = spec.enable_prefix_caching;
  if (spec.kv_cache_space > 0) {
    config.cache.kv_cache_space_gib = spec.kv_cache_space;
  } else {
    // Enough blocks for max_num_seqs sequences of full context, plus one spare per sequence.
    int64_t len = spec.max_model_len;
    if (len == 0) {
      ASSIGN_OR_RETURN(ModelConfig model_config, loadModelConfig(spec.model));
      len = model_config.max_position_embeddings;
    }
    const int64_t per_seq = (len + spec.block_size - 1) / spec.block_size + 1;
    const int64_t blocks = per_seq * spec.max_num_seqs;  // both below 2^31: no overflow
    if (blocks > std::numeric_limits<int32_t>::max()) {
      return invalidArgument("engine for `" + spec.model +
                             "`: " + std::to_string(spec.max_num_seqs) + " sequences of " +
                             std::to_string(len) + " tokens need " + std::to_string(blocks) +
                             " KV cache blocks, more than 2^31; lower max_num_seqs or "
                             "max_model_len, or give kv_cache_space");
    }
    config.cache.num_blocks = static_cast<int>(blocks);
  }
  config.scheduler.max_num_seqs = spec.max_num_seqs;
  config.scheduler.max_num_batched_tokens = spec.max_num_batched_tokens;
  config.scheduler.enable_chunked_prefill = spec.enable_chunked_prefill;
  config.scheduler.long_prefill_token_threshold = spec.long_prefill_token_threshold;
  ASSIGN_OR_RETURN(config.scheduler.policy, parseSchedulingPolicy(spec.scheduling_policy));
  Status valid = config.validate();
  if (!valid.isOk()) return valid.withContext("engine for `" + spec.model + "`");
  return config;
}

Result<std::unique_ptr<EngineClient>> makeEngine(const EngineSpec& spec, int num_threads,
                                                 EngineObserver* observer,
                                                 const LoadProgressCallback& on_progress) {
  ASSIGN_OR_RETURN(DeviceSpec device, parseDevice(spec.device));
  if (device.kind != DeviceSpec::Kind::kCpu) {
    return unimplemented("device `" + spec.device +
                         "`: the local engine runs on the CPU only in this build");
  }
  ASSIGN_OR_RETURN(EngineConfig config, engineConfigFor(spec, num_threads, observer));
  config.on_load_progress = on_progress;
  auto engine = LocalEngine::create(config);
  if (!engine.isOk()) return engine.status().withContext("loading `" + spec.model + "`");
  return std::unique_ptr<EngineClient>(std::move(engine).value());
}

Result<std::unique_ptr<PromptCodec>> makeCodec(const EngineSpec& spec, const EngineClient& engine) {
  std::optional<std::string> source;
  if (!spec.chat_template.empty()) {
    Result<std::string> text = readFile(spec.chat_template);
    if (!text.isOk()) return text.status().withContext("--chat-template");
    source = std::move(text).value();
  }
  auto codec = TokenizerCodec::create(engine.tokenizer(), spec.model, std::move(source));
  if (!codec.isOk()) return codec.status();
  return std::unique_ptr<PromptCodec>(std::move(codec).value());
}

}  // namespace manifold::gateway
