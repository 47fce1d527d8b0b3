// CpuAttentionPlan's work items: how a step's attention is cut into (sequence, kv heads, query
// tile, key range) items for the pool. Their results are checked in paged_attention_test.cpp.
#include "kernels/cpu/cpu_attention_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace manifold::kernels::cpu {
namespace {

struct Step {
  std::vector<int32_t> query_start, seq_lens, block_tables, slots, positions;
  AttentionBatch batch;
};

// num_seqs sequences of context tokens whose last q_len are new; 16-token blocks.
Step makeStep(int num_seqs, int context, int q_len) {
  Step s;
  const int blocks = (context + 15) / 16;
  s.query_start.push_back(0);
  for (int i = 0; i < num_seqs; ++i) {
    s.query_start.push_back(s.query_start.back() + q_len);
    s.seq_lens.push_back(context);
    for (int b = 0; b < blocks; ++b) s.block_tables.push_back(i * blocks + b);
    for (int pos = context - q_len; pos < context; ++pos) {
      s.slots.push_back(i * blocks * 16 + pos);
      s.positions.push_back(pos);
    }
  }
  s.batch = {num_seqs,    s.query_start.back(), blocks, s.query_start, s.seq_lens,
             s.block_tables, s.slots,           s.positions};
  return s;
}

int rowsOf(const AttentionWork& w, int group) { return (w.q_end - w.q_begin) * group * w.kv_heads; }

TEST(CpuAttentionPlan, ManyDecodesShareEachSequencesHeadsInOneItem) {
  CpuAttentionPlan plan({64, 64, 64}, /*num_threads=*/2);
  const Step step = makeStep(32, 200, 1);
  plan.plan(step.batch);
  const std::vector<AttentionWork>& work = plan.work(/*num_kv_heads=*/3, /*group=*/3);
  ASSERT_EQ(work.size(), 32u);
  for (size_t i = 0; i < work.size(); ++i) {
    EXPECT_EQ(work[i].seq, static_cast<int>(i));
    EXPECT_EQ(work[i].kv_head, 0);
    EXPECT_EQ(work[i].kv_heads, 3);
    EXPECT_EQ(work[i].partial, -1);
    EXPECT_EQ(work[i].kv_end, 200);
  }
  EXPECT_TRUE(plan.splitGroups().empty());
}

TEST(CpuAttentionPlan, HeadsPerItemAreBoundedByTheRowLimit) {
  CpuAttentionPlan plan({64, 64, 64}, 2);
  const Step step = makeStep(8, 100, 1);
  plan.plan(step.batch);
  // 8 kv heads of group 4: 8 heads x 4 rows = 32 rows, the limit; group 8: 4 heads per item.
  for (int group : {4, 8}) {
    const std::vector<AttentionWork>& work = plan.work(8, group);
    int heads_seen = 0;
    for (const AttentionWork& w : work) {
      EXPECT_LE(rowsOf(w, group), kMaxAttentionRows);
      EXPECT_EQ(w.kv_heads, kMaxAttentionRows / group);
      heads_seen += w.kv_heads;
    }
    EXPECT_EQ(heads_seen, 8 * 8);
  }
}

TEST(CpuAttentionPlan, FewSequencesKeepOneHeadPerItemAndSplitLongKeyRanges) {
  CpuAttentionPlan plan({64, 64, 64}, 2);
  const Step step = makeStep(1, 700, 1);
  plan.plan(step.batch);
  const std::vector<AttentionWork>& work = plan.work(3, 3);
  ASSERT_EQ(plan.splitGroups().size(), 3u);  // one per head
  for (const AttentionWork& w : work) {
    EXPECT_EQ(w.kv_heads, 1);
    EXPECT_GE(w.partial, 0);
  }
}

TEST(CpuAttentionPlan, PrefillTilesFillTheRowsWithOneHead) {
  CpuAttentionPlan plan({64, 1024, 64}, 2);
  const Step step = makeStep(4, 100, 100);
  plan.plan(step.batch);
  for (const AttentionWork& w : plan.work(3, 3)) {
    EXPECT_EQ(w.kv_heads, 1);
    EXPECT_LE(rowsOf(w, 3), kMaxAttentionRows);
  }
}

}  // namespace
}  // namespace manifold::kernels::cpu
