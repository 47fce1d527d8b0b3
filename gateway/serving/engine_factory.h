// The one place where `manifold serve` builds engines: an EngineSpec from the config becomes a
// LocalEngine (today: the CPU backend) and the PromptCodec that goes with it.
#pragma once

#include <memory>

#include "common/status.h"
#include "engine/core/engine_config.h"
#include "engine/engine_client.h"
#include "engine/engine_observer.h"
#include "gateway/config/server_config.h"
#include "routing/prompt_codec.h"

namespace manifold::gateway {

// The EngineConfig makeEngine loads `spec` with (validated; errors name the model directory).
// Reads the model's config.json only to size the KV cache when kv_cache_space is 0.
[[nodiscard]] Result<EngineConfig> engineConfigFor(const EngineSpec& spec, int num_threads,
                                                   EngineObserver* observer);

// Loads the model of `spec` with `num_threads` CPU threads. `observer` (may be null) sees the
// engine's steps and must outlive it; `on_progress` (may be empty) is told how the load goes.
// Errors name the model directory.
[[nodiscard]] Result<std::unique_ptr<EngineClient>> makeEngine(
    const EngineSpec& spec, int num_threads, EngineObserver* observer,
    const LoadProgressCallback& on_progress = {});

// The codec of an engine built by makeEngine: its tokenizer and spec.chat_template (a file) or
// the model's template. REQUIRES: engine outlives the codec.
[[nodiscard]] Result<std::unique_ptr<PromptCodec>> makeCodec(const EngineSpec& spec,
                                                             const EngineClient& engine);

}  // namespace manifold::gateway
