// Progress of loading a model, reported as the load goes (ModelRunnerOptions::on_load_progress):
// `manifold generate` draws it on a terminal, `manifold serve` logs it, as vLLM and llama.cpp
// show theirs. A large checkpoint takes minutes to read, convert and pack, and a KV cache of many
// GiB takes seconds to fault in and zero.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace manifold {

struct LoadProgress {
  enum class Stage {
    kWeights,  // bytes of the checkpoint's tensors read (and converted or packed) so far
    kKvCache,  // bytes of the KV cache allocated and zeroed so far
  };
  Stage stage = Stage::kWeights;
  uint64_t done_bytes = 0;
  uint64_t total_bytes = 0;  // each stage ends with an event where done_bytes == total_bytes
};

// Called on the loading thread: weights events first (after the embedding, each decoder layer
// and the head), then KV cache events (after each layer's keys and values).
using LoadProgressCallback = std::function<void(const LoadProgress&)>;

[[nodiscard]] constexpr std::string_view loadStageName(LoadProgress::Stage stage) {
  return stage == LoadProgress::Stage::kWeights ? "weights" : "KV cache";
}

// Turns events into lines worth showing, e.g. "weights   45% (121.1/269.1 MB)": one when a stage
// ends, and otherwise one when the percentage moved and at least `min_interval` passed since the
// last line (or since construction). A terminal redraws every percent (interval 0); a log takes
// one line a second, so a small model logs only each stage's end.
class LoadProgressLines {
 public:
  explicit LoadProgressLines(
      std::chrono::milliseconds min_interval,
      std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now());

  [[nodiscard]] std::optional<std::string> next(const LoadProgress& progress,
                                                std::chrono::steady_clock::time_point now);

 private:
  std::chrono::milliseconds min_interval_;
  std::chrono::steady_clock::time_point last_line_;
  LoadProgress::Stage stage_ = LoadProgress::Stage::kWeights;
  int last_percent_ = -1;
};

}  // namespace manifold
