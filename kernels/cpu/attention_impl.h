// Paged attention for the CPU kernels, over the `Vec` abstraction (see ops_impl.h): one work
// item is one sequence x one kv head x a tile of query tokens, computed flash-style (online
// softmax, one pass over the KV blocks).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/impl_util.h"
#include "kernels/cpu/vec_types.h"

namespace manifold::kernels::cpu::impl {

template <class Vec, typename T>
float dot(const float* a, const T* b, int n) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  V acc0 = Vec::zero();
  V acc1 = Vec::zero();
  int i = 0;
  for (; i + 2 * kW <= n; i += 2 * kW) {
    acc0 = Vec::fmadd(Vec::load(a + i), Vec::load(b + i), acc0);
    acc1 = Vec::fmadd(Vec::load(a + i + kW), Vec::load(b + i + kW), acc1);
  }
  for (; i < n; i += kW) {
    acc0 = Vec::fmadd(Vec::loadTail(a + i, n - i), Vec::loadTail(b + i, n - i), acc0);
  }
  return Vec::reduceAdd(Vec::add(acc0, acc1));
}

// Query rows scored and accumulated together: each K and V vector is loaded (and widened from
// BF16) once for all of them. Bounded by the register file: R accumulator sets plus the shared
// K/V vectors (32 vector registers with AVX-512, 16 with AVX2).
template <class Vec>
constexpr int kRowsPerPass = Vec::kWidth >= 16 ? 4 : 2;

template <int N>
struct RowCount {
  static constexpr int value = N;
};

// Vectors of one output row held in registers while R rows accumulate, with the NV shared V
// vectors and a broadcast: R * NV + NV + 1 registers.
template <class Vec, int R>
constexpr int kAccumulateVectors = [] {
  constexpr int registers = Vec::kWidth >= 16 ? 32 : 16;
  const int nv = (registers - 1) / (R + 1);
  return nv > 8 ? 8 : (nv < 1 ? 1 : nv);
}();

// scores[r * kMaxBlockSize + j] = q_r . k[j] for R query rows q [R, dim] and count keys
// k [count, dim]; four keys share one reduction per row.
template <class Vec, typename KV, int R>
void blockScores(const float* q, const KV* k, int count, int dim, float* scores) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  int j = 0;
  for (; j + 4 <= count; j += 4) {
    const KV* k0 = k + static_cast<size_t>(j) * dim;
    V acc[R][4];
    for (int r = 0; r < R; ++r) {
      for (int u = 0; u < 4; ++u) acc[r][u] = Vec::zero();
    }
    for (int d = 0; d < dim; d += kW) {
      const int left = dim - d;
      V kv[4];
      for (int u = 0; u < 4; ++u) kv[u] = Vec::loadTail(k0 + static_cast<size_t>(u) * dim + d, left);
      for (int r = 0; r < R; ++r) {
        const V qv = Vec::loadTail(q + r * dim + d, left);
        for (int u = 0; u < 4; ++u) acc[r][u] = Vec::fmadd(qv, kv[u], acc[r][u]);
      }
    }
    for (int r = 0; r < R; ++r) {
      Vec::reduceAdd4(acc[r][0], acc[r][1], acc[r][2], acc[r][3], scores + r * kMaxBlockSize + j);
    }
  }
  for (; j < count; ++j) {
    for (int r = 0; r < R; ++r) {
      scores[r * kMaxBlockSize + j] = dot<Vec>(q + r * dim, k + static_cast<size_t>(j) * dim, dim);
    }
  }
}

// Keys [lo, hi) of one KV block of a span: k and v point at key `lo`'s row of the block's tiles.
template <typename KV>
struct KvSegment {
  const KV* k;
  const KV* v;
  int lo;
  int hi;
};

// Most blocks folded into one online-softmax update, and most keys in such a span (the scores
// buffer holds kMaxBlockSize per row): with 16-token blocks the per-update work (row maxima,
// rescaling, the accumulators' loads and stores) is spread over 64 keys instead of 16.
constexpr int kMaxSpanBlocks = 8;
constexpr int kSpanKeys = 64;

// One chunk of NV vectors of R output rows (row stride dim; the last vector holding `last`
// values, fewer than kWidth only if kPartial): out_r = out_r * alpha[r] + sum_j
// p[r * kMaxBlockSize + j] * v[j], accumulated in registers across all keys.
template <class Vec, typename KV, int R, int NV, bool kPartial>
void accumulateChunk(float* out, int dim, const float* alpha, const float* p,
                     const KV* const* rows, int keys, int d0, int last) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  const auto load = [&](const auto* src, int u) {
    return kPartial && u == NV - 1 ? Vec::loadTail(src, last) : Vec::load(src);
  };
  V acc[R][NV];
  for (int r = 0; r < R; ++r) {
    const V valpha = Vec::set1(alpha[r]);
    for (int u = 0; u < NV; ++u) acc[r][u] = Vec::mul(valpha, load(out + r * dim + u * kW, u));
  }
  // One flat loop over the value rows: with a loop per KV block around it (or the partial
  // vector's mask in it), GCC kept acc on the stack and stored all of it on every key.
  for (int j = 0; j < keys; ++j) {
    V vv[NV];
    for (int u = 0; u < NV; ++u) vv[u] = load(rows[j] + d0 + u * kW, u);
    for (int r = 0; r < R; ++r) {
      const V pv = Vec::set1(p[r * kMaxBlockSize + j]);
      for (int u = 0; u < NV; ++u) acc[r][u] = Vec::fmadd(pv, vv[u], acc[r][u]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int u = 0; u < NV; ++u) {
      float* dst = out + r * dim + u * kW;
      if (kPartial && u == NV - 1) {
        Vec::storeTail(dst, acc[r][u], last);
      } else {
        Vec::store(dst, acc[r][u]);
      }
    }
  }
}

// out_r = out_r * alpha[r] + sum_j p_r[j] * v[j] for R rows over `keys` value rows (p indexed
// across them), in chunks of as many vectors of out as the registers hold.
template <class Vec, typename KV, int R>
void blockAccumulate(float* out, int dim, const float* alpha, const float* p,
                     const KV* const* rows, int keys) {
  constexpr int kW = Vec::kWidth;
  constexpr int kMaxRegs = kAccumulateVectors<Vec, R>;
  for (int d0 = 0; d0 < dim; d0 += kMaxRegs * kW) {
    const int nv = minOf(kMaxRegs, (dim - d0 + kW - 1) / kW);
    const int last = minOf(kW, dim - d0 - (nv - 1) * kW);  // values in the chunk's last vector
    float* o = out + d0;
    switch (nv) {
#define MANIFOLD_ACCUMULATE_CASE(N)                                                   \
  case N:                                                                             \
    if constexpr (N <= kMaxRegs) {                                                    \
      if (last == kW) {                                                               \
        accumulateChunk<Vec, KV, R, N, false>(o, dim, alpha, p, rows, keys, d0, kW);   \
      } else {                                                                        \
        accumulateChunk<Vec, KV, R, N, true>(o, dim, alpha, p, rows, keys, d0, last);  \
      }                                                                               \
    }                                                                                 \
    break;
      MANIFOLD_ACCUMULATE_CASE(1)
      MANIFOLD_ACCUMULATE_CASE(2)
      MANIFOLD_ACCUMULATE_CASE(3)
      MANIFOLD_ACCUMULATE_CASE(4)
      MANIFOLD_ACCUMULATE_CASE(5)
      MANIFOLD_ACCUMULATE_CASE(6)
      MANIFOLD_ACCUMULATE_CASE(7)
      MANIFOLD_ACCUMULATE_CASE(8)
#undef MANIFOLD_ACCUMULATE_CASE
      default:
        break;
    }
  }
}

// max(s[a..b)), b > a; vectors as far as they go (a serial scalar max stalls on its latency).
template <class Vec>
float rangeMax(const float* s, int a, int b) {
  constexpr int kW = Vec::kWidth;
  typename Vec::V vmax = Vec::set1(s[a]);
  int j = a;
  for (; j + kW <= b; j += kW) vmax = Vec::max(vmax, Vec::load(s + j));
  float result = Vec::reduceMax(vmax);
  for (; j < b; ++j) result = maxOf(result, s[j]);
  return result;
}

// [lo, hi): the union of R rows' key ranges [row_lo[r], row_hi[r]) (empty ones skipped); false
// when every row's is empty.
template <int R>
bool keyUnion(const int* row_lo, const int* row_hi, int& lo, int& hi) {
  lo = 1 << 30;
  hi = -1;
  for (int r = 0; r < R; ++r) {
    if (row_lo[r] >= row_hi[r]) continue;
    lo = minOf(lo, row_lo[r]);
    hi = maxOf(hi, row_hi[r]);
  }
  return lo < hi;
}

// A span's keys transposed for query tiles that score it in several passes (prefill): head dim
// d of span key j is kt[d * kTransposedStride + j]. Then kWidth keys' scores come out of one FMA
// chain per row, with no horizontal sums; the transpose is paid once per span and kv head.
constexpr int kTransposedMaxKeys = 64;
constexpr int kTransposedMaxDim = 128;
constexpr int kTransposedStride = kTransposedMaxKeys + 16;
static_assert(kSpanKeys <= kTransposedMaxKeys);

// kt for `count` key rows, then zeros up to count + kWidth - 1 rounded up to kWidth, so that
// kWidth keys read from any start below count are defined.
template <class Vec, typename KV>
void transposeKeys(const KV* const* rows, int count, int dim, float* kt) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  for (int j0 = 0; j0 < count + kW - 1; j0 += kW) {
    for (int d0 = 0; d0 < dim; d0 += kW) {
      V r[kW];
      for (int i = 0; i < kW; ++i) {
        r[i] = j0 + i < count ? Vec::loadTail(rows[j0 + i] + d0, dim - d0) : Vec::zero();
      }
      Vec::transpose(r);
      for (int d = 0; d < kW && d0 + d < dim; ++d) {
        Vec::store(kt + static_cast<size_t>(d0 + d) * kTransposedStride + j0, r[d]);
      }
    }
  }
}

// scores[r * kMaxBlockSize + j] = q_r . key (first + j) for j in [0, G * kWidth), from kt.
template <class Vec, int R, int G>
void transposedScoreGroups(const float* q, int dim, const float* kt, int first, float* scores) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  V acc[R][G];
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < G; ++g) acc[r][g] = Vec::zero();
  }
  for (int d = 0; d < dim; ++d) {
    const float* row = kt + static_cast<size_t>(d) * kTransposedStride + first;
    V kv[G];
    for (int g = 0; g < G; ++g) kv[g] = Vec::load(row + g * kW);
    for (int r = 0; r < R; ++r) {
      const V qv = Vec::set1(q[r * dim + d]);
      for (int g = 0; g < G; ++g) acc[r][g] = Vec::fmadd(qv, kv[g], acc[r][g]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < G; ++g) Vec::store(scores + r * kMaxBlockSize + g * kW, acc[r][g]);
  }
}

// blockScores over keys [first, first + count) of kt.
template <class Vec, int R>
void transposedScores(const float* q, int dim, const float* kt, int first, int count,
                      float* scores) {
  constexpr int kW = Vec::kWidth;
  int j = 0;
  for (; j + 3 * kW < count; j += 4 * kW) {
    transposedScoreGroups<Vec, R, 4>(q, dim, kt, first + j, scores + j);
  }
  switch ((count - j + kW - 1) / kW) {
    case 3:
      transposedScoreGroups<Vec, R, 3>(q, dim, kt, first + j, scores + j);
      break;
    case 2:
      transposedScoreGroups<Vec, R, 2>(q, dim, kt, first + j, scores + j);
      break;
    case 1:
      transposedScoreGroups<Vec, R, 1>(q, dim, kt, first + j, scores + j);
      break;
    default:
      break;
  }
}

// Folds a span of consecutive keys (segs: one per KV block, in order, together at most
// kMaxBlockSize keys) into R query rows: row r sees keys [row_lo[r], row_hi[r]) of them (causal
// and window limits; may be empty). Scores over the union of the rows' ranges, from the span's
// transposed keys when kt is set; keys outside a row's own range get probability 0. v_rows (and
// kt) start at the span's first key, first_key.
template <class Vec, typename KV, int R>
void foldSpan(const float* qbuf, float* acc, float* row_max, float* row_sum, const int* row_lo,
              const int* row_hi, int dim, const KvSegment<KV>* span, int span_segs,
              float* scores, const KV* const* v_rows, const float* kt, int first_key) {
  using V = typename Vec::V;
  constexpr int kW = Vec::kWidth;
  int lo, hi;
  if (!keyUnion<R>(row_lo, row_hi, lo, hi)) return;
  const int count = hi - lo;
  if (kt != nullptr) {
    transposedScores<Vec, R>(qbuf, dim, kt, lo - first_key, count, scores);
  } else {
    // Block by block over the union [lo, hi): each block's keys are contiguous rows.
    for (int i = 0; i < span_segs; ++i) {
      const int a = maxOf(lo, span[i].lo), b = minOf(hi, span[i].hi);
      if (a >= b) continue;
      blockScores<Vec, KV, R>(qbuf, span[i].k + static_cast<size_t>(a - span[i].lo) * dim, b - a,
                              dim, scores + (a - lo));
    }
  }
  float alpha[R];
  for (int r = 0; r < R; ++r) {
    float* s = scores + r * kMaxBlockSize;
    const int a = row_lo[r] - lo, b = row_hi[r] - lo;  // the row's own keys, within [0, count)
    if (a >= b) {
      alpha[r] = 1.0f;
      for (int j = 0; j < count; ++j) s[j] = 0.0f;
      continue;
    }
    const float new_max = maxOf(row_max[r], rangeMax<Vec>(s, a, b));
    alpha[r] = Vec::expScalar(row_max[r] - new_max);
    const V vmax = Vec::set1(new_max);
    V vsum = Vec::zero();
    for (int j = a; j < b; j += kW) {
      const int left = b - j;
      const V p = Vec::keepFirst(Vec::exp(Vec::sub(Vec::loadTail(s + j, left), vmax)), left);
      Vec::storeTail(s + j, p, left);
      vsum = Vec::add(vsum, p);
    }
    for (int j = 0; j < a; ++j) s[j] = 0.0f;
    for (int j = b; j < count; ++j) s[j] = 0.0f;
    row_sum[r] = row_sum[r] * alpha[r] + Vec::reduceAdd(vsum);
    row_max[r] = new_max;
  }
  blockAccumulate<Vec, KV, R>(acc, dim, alpha, scores, v_rows + (lo - first_key), count);
}

// How attention() holds query rows and folds spans of keys into them: F32 products over K and V
// of any stored type. bf16_attention.cpp has a BF16 dot-product one.
template <class Vec, typename KV>
struct F32Fold {
  using Kv = KV;
  using Query = float;
  static constexpr int kRowsPerPass = impl::kRowsPerPass<Vec>;
  struct Scratch {
    alignas(64) float scores[kRowsPerPass * kMaxBlockSize];  // [rows of a pass, keys]
    // The span's key and value rows from its first key (beginSpan), as Bf16Fold's.
    const KV* k[kMaxBlockSize];
    const KV* v[kMaxBlockSize];
    int first_key;
    bool transposed;  // kt holds the span's keys
    alignas(64) float kt[kTransposedMaxDim * kTransposedStride];
  };
  static int rowStride(int dim) { return dim; }
  // Called once per span (and kv head) before its passes of `rows` rows (fold). The transposed
  // keys pay off when more than one pass scores them.
  static void beginSpan(const KvSegment<KV>* span, int span_segs, int dim, int rows,
                        Scratch& s) {
    int keys = 0;
    for (int i = 0; i < span_segs; ++i) {
      for (int j = 0; j < span[i].hi - span[i].lo; ++j, ++keys) {
        s.k[keys] = span[i].k + static_cast<size_t>(j) * dim;
        s.v[keys] = span[i].v + static_cast<size_t>(j) * dim;
      }
    }
    s.first_key = span[0].lo;
    s.transposed = rows > kRowsPerPass && keys <= kTransposedMaxKeys && dim <= kTransposedMaxDim;
    if (s.transposed) transposeKeys<Vec, KV>(s.k, keys, dim, s.kt);
  }
  // q = src * scale; acc = 0.
  static void loadQuery(const float* src, float scale, float* q, float* acc, int dim) {
    constexpr int kW = Vec::kWidth;
    const typename Vec::V vscale = Vec::set1(scale);
    for (int i = 0; i < dim; i += kW) {
      const int left = dim - i;
      Vec::storeTail(q + i, Vec::mul(Vec::loadTail(src + i, left), vscale), left);
      Vec::storeTail(acc + i, Vec::zero(), left);
    }
  }
  template <int R>
  static void fold(const float* q, float* acc, float* row_max, float* row_sum, const int* row_lo,
                   const int* row_hi, int dim, const KvSegment<KV>* span, int span_segs,
                   Scratch& scratch) {
    foldSpan<Vec, KV, R>(q, acc, row_max, row_sum, row_lo, row_hi, dim, span, span_segs,
                         scratch.scores, scratch.v, scratch.transposed ? scratch.kt : nullptr,
                         scratch.first_key);
  }
  // dst = acc * scale.
  static void storeRow(const float* acc, float scale, float* dst, int dim) {
    constexpr int kW = Vec::kWidth;
    const typename Vec::V vscale = Vec::set1(scale);
    for (int i = 0; i < dim; i += kW) {
      const int left = dim - i;
      Vec::storeTail(dst + i, Vec::mul(Vec::loadTail(acc + i, left), vscale), left);
    }
  }
};

// Flash-style attention for one work item: the query rows (tokens x heads of one GQA group) are
// held on the stack with their running max m, running sum l and unnormalised output acc; each
// span of KV blocks is read once and folded into every row (online softmax) by Fold (F32Fold).
template <class Fold>
void attentionWith(const AttentionArgs& a, const AttentionWork& work) {
  using KV = typename Fold::Kv;
  const int dim = a.head_dim;
  const int stride = Fold::rowStride(dim);  // of the query and accumulator rows
  const int bs = a.block_size;
  const int group = a.num_q_heads / a.num_kv_heads;
  const int q_start = a.query_start[work.seq];
  const int q_len = a.query_start[work.seq + 1] - q_start;
  const int first_pos = a.seq_lens[work.seq] - q_len;
  const int head_rows = (work.q_end - work.q_begin) * group;  // rows per kv head
  const int rows = head_rows * work.kv_heads;
  // Row r: kv head work.kv_head + r / head_rows; within it, query token r % head_rows / group
  // of the tile and query head r % group of the GQA group.
  const auto query_token = [&](int r) { return work.q_begin + r % head_rows / group; };
  const auto query_head = [&](int r) {
    return (work.kv_head + r / head_rows) * group + r % head_rows % group;
  };

  alignas(64) typename Fold::Query qbuf[kMaxAttentionRows * kMaxHeadDim];  // pre-scaled
  alignas(64) float acc[kMaxAttentionRows * kMaxHeadDim];
  typename Fold::Scratch scratch;
  float row_max[kMaxAttentionRows];
  float row_sum[kMaxAttentionRows];
  int row_pos[kMaxAttentionRows];
  for (int r = 0; r < rows; ++r) {
    const int ti = query_token(r);
    const float* src =
        a.q + static_cast<size_t>(q_start + ti) * a.q_stride + query_head(r) * dim;
    Fold::loadQuery(src, a.scale, qbuf + r * stride, acc + r * stride, dim);
    row_max[r] = -__builtin_inff();
    row_sum[r] = 0.0f;
    row_pos[r] = first_pos + ti;
  }

  // Keys [lo, hi): what any row of the tile sees, cut to the work item's key range.
  const int hi = minOf(first_pos + work.q_end, work.kv_end);
  int lo = work.kv_begin;
  if (a.sliding_window > 0) {
    lo = maxOf(lo, first_pos + work.q_begin - a.sliding_window + 1);
  }
  const int32_t* table = a.block_tables + static_cast<size_t>(work.seq) * a.max_blocks_per_seq;
  const KV* k_cache = static_cast<const KV*>(a.k_cache);
  const KV* v_cache = static_cast<const KV*>(a.v_cache);
  const size_t head_elems = static_cast<size_t>(bs) * dim;  // one head's slice of a block
  int b = lo / bs;
  while (b * bs < hi) {
    // A span: consecutive blocks up to kSpanKeys keys (at least one block), as offsets of the
    // first head's slices; each head's are head_elems further.
    KvSegment<KV> span[kMaxSpanBlocks] = {};
    int num_span = 0;
    int span_keys = 0;
    while (b * bs < hi && num_span < kMaxSpanBlocks) {
      const int j0 = maxOf(lo, b * bs);
      const int j1 = minOf(hi, (b + 1) * bs);
      if (num_span > 0 && span_keys + (j1 - j0) > kSpanKeys) break;
      const size_t tile = (static_cast<size_t>(table[b]) * a.num_kv_heads + work.kv_head) *
                              head_elems +
                          static_cast<size_t>(j0 - b * bs) * dim;
      span[num_span++] = {k_cache + tile, v_cache + tile, j0, j1};
      span_keys += j1 - j0;
      ++b;
    }
    const int span_lo = span[0].lo;
    const int span_hi = span[num_span - 1].hi;
    int row_lo[kMaxAttentionRows];
    int row_hi[kMaxAttentionRows];
    for (int r = 0; r < rows; ++r) {
      row_lo[r] = span_lo;
      row_hi[r] = minOf(span_hi, row_pos[r] + 1);
      if (a.sliding_window > 0) row_lo[r] = maxOf(row_lo[r], row_pos[r] - a.sliding_window + 1);
    }
    for (int h = 0; h < work.kv_heads; ++h) {
      if (h > 0) {
        for (int i = 0; i < num_span; ++i) {
          span[i].k += head_elems;
          span[i].v += head_elems;
        }
      }
      Fold::beginSpan(span, num_span, dim, head_rows, scratch);
      constexpr int kPass = Fold::kRowsPerPass;
      const auto fold = [&](auto rows_tag, int r0) {
        Fold::template fold<decltype(rows_tag)::value>(
            qbuf + r0 * stride, acc + r0 * stride, row_max + r0, row_sum + r0, row_lo + r0,
            row_hi + r0, dim, span, num_span, scratch);
      };
      const int end = (h + 1) * head_rows;
      int r0 = h * head_rows;
      for (; r0 + kPass <= end; r0 += kPass) fold(RowCount<kPass>{}, r0);
      // The head's last rows: 1 .. kPass - 1 of them.
      switch (end - r0) {
        case 3:
          if constexpr (kPass > 3) fold(RowCount<3>{}, r0);
          break;
        case 2:
          if constexpr (kPass > 2) fold(RowCount<2>{}, r0);
          break;
        case 1:
          fold(RowCount<1>{}, r0);
          break;
        default:
          break;
      }
    }
  }

  if (work.partial >= 0) {  // one part of a split key range (one head): the merge normalises
    float* part = a.partials + static_cast<size_t>(work.partial) * a.partial_stride;
    for (int r = 0; r < rows; ++r) {
      float* dst = part + static_cast<size_t>(r) * (dim + 2);
      dst[0] = row_max[r];
      dst[1] = row_sum[r];
      Fold::storeRow(acc + r * stride, 1.0f, dst + 2, dim);
    }
    return;
  }
  for (int r = 0; r < rows; ++r) {
    float* dst =
        a.out + (static_cast<size_t>(q_start + query_token(r)) * a.num_q_heads + query_head(r)) *
                    dim;
    Fold::storeRow(acc + r * stride, 1.0f / row_sum[r], dst, dim);
  }
}

template <class Vec, typename KV>
void attention(const AttentionArgs& a, const AttentionWork& work) {
  attentionWith<F32Fold<Vec, KV>>(a, work);
}

template <class Vec>
void attentionAny(const AttentionArgs& a, const AttentionWork& work) {
  if (a.kv_dtype == DType::kBF16) {
    attention<Vec, Bf16>(a, work);
  } else {
    attention<Vec, float>(a, work);
  }
}

}  // namespace manifold::kernels::cpu::impl
