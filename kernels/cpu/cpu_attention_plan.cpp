#include "kernels/cpu/cpu_attention_plan.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace manifold::kernels::cpu {

void CpuAttentionPlan::plan(const AttentionBatch& batch) {
  assertBatchFitsLimits(batch, limits_);
  num_seqs_ = batch.num_seqs;
  num_tokens_ = batch.num_tokens;
  max_blocks_per_seq_ = batch.max_blocks_per_seq;
  query_start_.assign(batch.query_start.begin(), batch.query_start.begin() + num_seqs_ + 1);
  seq_lens_.assign(batch.seq_lens.begin(), batch.seq_lens.begin() + num_seqs_);
  block_tables_.assign(
      batch.block_tables.begin(),
      batch.block_tables.begin() + static_cast<size_t>(num_seqs_) * max_blocks_per_seq_);
  slot_mapping_.assign(batch.slot_mapping.begin(), batch.slot_mapping.begin() + num_tokens_);
  positions_.assign(batch.positions.begin(), batch.positions.begin() + num_tokens_);
  for (int s = 0; s < num_seqs_; ++s) {
    assert(query_start_[s] <= query_start_[s + 1]);
    assert(query_start_[s + 1] - query_start_[s] <= seq_lens_[s]);
  }
  work_group_ = -1;
}

const std::vector<AttentionWork>& CpuAttentionPlan::work(int num_kv_heads, int group) const {
  if (work_group_ != group || work_kv_heads_ != num_kv_heads) {
    work_.clear();
    split_groups_.clear();
    num_partials_ = 0;
    const int tile = std::max(1, kMaxAttentionRows / group);
    int64_t base_items = 0;
    for (int s = 0; s < num_seqs_; ++s) {
      const int q_len = query_start_[s + 1] - query_start_[s];
      base_items += int64_t{(q_len + tile - 1) / tile} * num_kv_heads;
    }
    const int64_t wanted = 2 * int64_t{num_threads_};
    const int max_parts = num_threads_ > 1 && base_items > 0 && base_items < wanted
                              ? static_cast<int>((wanted + base_items - 1) / base_items)
                              : 1;
    // Heads of a sequence share an item when there are enough items without splitting them.
    const bool share_heads = base_items / num_kv_heads >= wanted;
    for (int s = 0; s < num_seqs_; ++s) {
      const int q_len = query_start_[s + 1] - query_start_[s];
      const int first_pos = seq_lens_[s] - q_len;
      for (int begin = 0; begin < q_len; begin += tile) {
        const int end = std::min(q_len, begin + tile);
        const int key_end = first_pos + end;
        const int parts = std::clamp(key_end / kMinKeysPerPart, 1, max_parts);
        const int heads_per_item =
            parts == 1 && share_heads
                ? std::clamp(kMaxAttentionRows / ((end - begin) * group), 1, num_kv_heads)
                : 1;
        for (int h = 0; h < num_kv_heads; h += heads_per_item) {
          if (parts == 1) {
            const int heads = std::min(heads_per_item, num_kv_heads - h);
            work_.push_back({s, h, begin, end, 0, key_end, -1, heads});
            continue;
          }
          split_groups_.push_back({static_cast<int>(work_.size()), parts});
          for (int part = 0; part < parts; ++part) {
            const int kv_begin = static_cast<int>(int64_t{key_end} * part / parts);
            const int kv_end = static_cast<int>(int64_t{key_end} * (part + 1) / parts);
            work_.push_back({s, h, begin, end, kv_begin, kv_end, num_partials_++});
          }
        }
      }
    }
    work_group_ = group;
    work_kv_heads_ = num_kv_heads;
  }
  return work_;
}

// Combines the parts of one split work item: each row's parts hold (max m_i, sum l_i,
// unnormalised output o_i); the row is sum_i o_i e^(m_i - M) / sum_i l_i e^(m_i - M), M = max m_i.
// Parts that saw no key for a row (l_i = 0) drop out.
void mergeSplitAttention(const AttentionArgs& args, const AttentionWork* parts, int num_parts,
                         int group, float* out) {
  const AttentionWork& first = parts[0];
  const int dim = args.head_dim;
  const int rows = (first.q_end - first.q_begin) * group;
  const int q_start = args.query_start[first.seq];
  for (int r = 0; r < rows; ++r) {
    float max_score = -INFINITY;
    for (int i = 0; i < num_parts; ++i) {
      const float* row = args.partials +
                         static_cast<size_t>(parts[i].partial) * args.partial_stride +
                         static_cast<size_t>(r) * (dim + 2);
      if (row[1] > 0.0f) max_score = std::max(max_score, row[0]);
    }
    const int token = q_start + first.q_begin + r / group;
    const int head = first.kv_head * group + r % group;
    float* dst = out + (static_cast<size_t>(token) * args.num_q_heads + head) * dim;
    std::fill(dst, dst + dim, 0.0f);
    float sum = 0.0f;
    for (int i = 0; i < num_parts; ++i) {
      const float* row = args.partials +
                         static_cast<size_t>(parts[i].partial) * args.partial_stride +
                         static_cast<size_t>(r) * (dim + 2);
      if (row[1] <= 0.0f) continue;
      const float weight = std::exp(row[0] - max_score);
      sum += row[1] * weight;
      for (int d = 0; d < dim; ++d) dst[d] += row[2 + d] * weight;
    }
    const float inv = 1.0f / sum;
    for (int d = 0; d < dim; ++d) dst[d] *= inv;
  }
}

}  // namespace manifold::kernels::cpu
