#include "engine/model/load_progress.h"

#include <cstdio>

namespace manifold {

LoadProgressLines::LoadProgressLines(std::chrono::milliseconds min_interval,
                                     std::chrono::steady_clock::time_point start)
    : min_interval_(min_interval), last_line_(start) {}

std::optional<std::string> LoadProgressLines::next(const LoadProgress& progress,
                                                   std::chrono::steady_clock::time_point now) {
  if (progress.stage != stage_) {
    stage_ = progress.stage;
    last_percent_ = -1;
  }
  // A stage with nothing to do (zero bytes) is done at once.
  const uint64_t total = progress.total_bytes;
  const uint64_t done = progress.done_bytes < total ? progress.done_bytes : total;
  const int percent = total > 0 ? static_cast<int>(100 * done / total) : 100;
  const bool ended = done == total;
  // 100% only when done == total (the division rounds down), so a stage ends on one line.
  if (percent == last_percent_ || (!ended && now - last_line_ < min_interval_)) {
    return std::nullopt;
  }
  last_percent_ = percent;
  last_line_ = now;
  char line[96];
  std::snprintf(line, sizeof(line), "%-8s %3d%% (%.1f/%.1f MB)",
                std::string(loadStageName(progress.stage)).c_str(), percent, done / 1e6,
                total / 1e6);
  return std::string(line);
}

}  // namespace manifold
