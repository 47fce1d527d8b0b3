// LoadProgressLines: which load events become a line, and how the line reads.
#include "engine/model/load_progress.h"

#include <gtest/gtest.h>

namespace manifold {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
constexpr LoadProgress::Stage kWeights = LoadProgress::Stage::kWeights;
constexpr LoadProgress::Stage kKv = LoadProgress::Stage::kKvCache;

TEST(LoadProgressLines, ATerminalGetsALineForEveryNewPercent) {
  const Clock::time_point t0 = Clock::now();
  LoadProgressLines lines(milliseconds(0), t0);
  EXPECT_EQ(lines.next({kWeights, 45'000'000, 100'000'000}, t0), "weights   45% (45.0/100.0 MB)");
  EXPECT_EQ(lines.next({kWeights, 45'500'000, 100'000'000}, t0), std::nullopt);  // still 45%
  EXPECT_EQ(lines.next({kWeights, 46'000'000, 100'000'000}, t0), "weights   46% (46.0/100.0 MB)");
}

TEST(LoadProgressLines, ALogGetsALineASecondAndEachStagesEnd) {
  const Clock::time_point t0 = Clock::now();
  LoadProgressLines lines(milliseconds(1000), t0);
  EXPECT_EQ(lines.next({kWeights, 10, 100}, t0 + milliseconds(400)), std::nullopt);
  EXPECT_EQ(lines.next({kWeights, 30, 100}, t0 + milliseconds(1100)), "weights   30% (0.0/0.0 MB)");
  EXPECT_EQ(lines.next({kWeights, 60, 100}, t0 + milliseconds(1500)), std::nullopt);
  // A stage's end is always shown, once, however soon it comes.
  EXPECT_EQ(lines.next({kWeights, 100, 100}, t0 + milliseconds(1600)),
            "weights  100% (0.0/0.0 MB)");
  EXPECT_EQ(lines.next({kWeights, 100, 100}, t0 + milliseconds(1700)), std::nullopt);
  // The next stage starts over: its end shows even though the percentage is again 100.
  EXPECT_EQ(lines.next({kKv, 50, 100}, t0 + milliseconds(1800)), std::nullopt);
  EXPECT_EQ(lines.next({kKv, 100, 100}, t0 + milliseconds(1900)), "KV cache 100% (0.0/0.0 MB)");
}

TEST(LoadProgressLines, ToleratesDoneBeyondTotalAndAZeroTotal) {
  const Clock::time_point t0 = Clock::now();
  LoadProgressLines lines(milliseconds(0), t0);
  EXPECT_EQ(lines.next({kWeights, 150, 100}, t0), "weights  100% (0.0/0.0 MB)");
  // A stage with nothing to do ends at once, on its one line, even within the interval.
  LoadProgressLines empty(milliseconds(1000), t0);
  EXPECT_EQ(empty.next({kKv, 0, 0}, t0), "KV cache 100% (0.0/0.0 MB)");
  EXPECT_EQ(empty.next({kKv, 0, 0}, t0), std::nullopt);
}

}  // namespace
}  // namespace manifold
