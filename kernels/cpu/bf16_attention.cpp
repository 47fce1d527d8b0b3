// Compiled with AVX-512 BF16 flags (kernels/CMakeLists.txt). The work-item driver is
// attention_impl.h's attentionWith; this file supplies the fold of a span of keys into the
// query rows with vdpbf16ps. Its copy of the AVX-512 vector helpers lives in its own namespace
// (MANIFOLD_AVX512_ISA), for the reason given in cpu_kernels.h.
#define MANIFOLD_AVX512_ISA avx512bf16_isa
#include "kernels/cpu/bf16_attention.h"

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/attention_impl.h"
#include "kernels/cpu/vec_avx512.h"

namespace manifold::kernels::cpu {
namespace {

using avx512bf16_isa::Vec;
using impl::KvSegment;
using impl::maxOf;

// Head dims per 512-bit load of BF16 values; query and accumulator rows are padded to it.
constexpr int kChunk = 32;
// Per-row stride of the scores (keys rounded up to groups of 4) and BF16 probabilities (to pairs).
constexpr int kScoreStride = kMaxBlockSize + 4;
constexpr int kProbStride = kMaxBlockSize + 4;

__mmask32 wordMask(int n) {
  if (n <= 0) return 0;
  return n >= 32 ? ~__mmask32{0} : (__mmask32{1} << n) - 1;
}

__mmask16 laneMask(int n) {
  if (n <= 0) return 0;
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
}

// Lanes i of a 16-lane vector with lo <= i < hi.
__mmask16 rangeMask(int lo, int hi) {
  return static_cast<__mmask16>(laneMask(hi) & ~laneMask(lo));
}

__m512i loadWords(const uint16_t* p, int n) {
  return n >= kChunk ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi16(wordMask(n), p);
}

// scores[r * kScoreStride + j] = q_r . k[j] for keys j in [0, count rounded up to 4): k holds
// that many row pointers (the padding repeats a real row). Each zmm of q and k holds 32 head
// dims; vdpbf16ps sums neighbouring pairs into 16 lanes, reduced four keys at a time.
template <int R>
void spanScores(const uint16_t* q, int q_stride, const uint16_t* const* k, int count, int dim,
                float* scores) {
  for (int j = 0; j < count; j += 4) {
    __m512 acc[R][4];
    for (int r = 0; r < R; ++r) {
      for (int u = 0; u < 4; ++u) acc[r][u] = _mm512_setzero_ps();
    }
    for (int d = 0; d < dim; d += kChunk) {
      __m512bh kv[4];
      for (int u = 0; u < 4; ++u) kv[u] = (__m512bh)loadWords(k[j + u] + d, dim - d);
      for (int r = 0; r < R; ++r) {
        const __m512bh qv = (__m512bh)_mm512_loadu_si512(q + r * q_stride + d);
        for (int u = 0; u < 4; ++u) acc[r][u] = _mm512_dpbf16_ps(acc[r][u], qv, kv[u]);
      }
    }
    for (int r = 0; r < R; ++r) {
      Vec::reduceAdd4(acc[r][0], acc[r][1], acc[r][2], acc[r][3], scores + r * kScoreStride + j);
    }
  }
}

// Keys transposed for query tiles folded in several passes (prefill): pair p (head dims 2p,
// 2p + 1) of span key j is the 32-bit word kt[p * kKtStride + j]. Then 16 keys' scores come out of
// vdpbf16ps in the lanes of one vector, with no horizontal sums; the transpose is paid once per
// span and head, the sums it saves once per pass of 4 rows.
constexpr int kKtMaxKeys = 64;   // spans up to impl::kSpanKeys keys (blocks of at most 64)
constexpr int kKtMaxPairs = 64;  // head dims up to 128
constexpr int kKtStride = kKtMaxKeys + 16;
static_assert(impl::kSpanKeys <= kKtMaxKeys);

// kt for keys [0, count) with row pointers k (head dim `dim`, even), then zeros up to the next
// multiple of 16 past count + 15, so that 16 keys read from any start below count are defined.
void transposeKeys(const uint16_t* const* k, int count, int dim, uint32_t* kt) {
  const int pairs = dim / 2;
  for (int j0 = 0; j0 < count + 15; j0 += 16) {
    for (int c0 = 0; c0 < pairs; c0 += 16) {
      __m512 r[16];  // 16 keys' pairs as words, transposed as floats
      const __mmask16 mask = laneMask(pairs - c0);
      for (int i = 0; i < 16; ++i) {
        const __m512i words = j0 + i < count ? _mm512_maskz_loadu_epi32(mask, k[j0 + i] + 2 * c0)
                                             : _mm512_setzero_si512();
        r[i] = _mm512_castsi512_ps(words);
      }
      Vec::transpose(r);
      const int rows = pairs - c0 < 16 ? pairs - c0 : 16;
      for (int p = 0; p < rows; ++p) {
        _mm512_storeu_si512(kt + static_cast<size_t>(c0 + p) * kKtStride + j0,
                            _mm512_castps_si512(r[p]));
      }
    }
  }
}

// scores[r * kScoreStride + j] = q_r . key (first + j) for j in [0, 16 * G) of R rows, from kt.
template <int R, int G>
void scoreGroups(const uint32_t* q, int q_stride_words, const uint32_t* kt, int first, int pairs,
                 float* scores) {
  __m512 acc[R][G];
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < G; ++g) acc[r][g] = _mm512_setzero_ps();
  }
  for (int p = 0; p < pairs; ++p) {
    __m512bh kv[G];
    for (int g = 0; g < G; ++g) {
      kv[g] =
          (__m512bh)_mm512_loadu_si512(kt + static_cast<size_t>(p) * kKtStride + first + 16 * g);
    }
    for (int r = 0; r < R; ++r) {
      const __m512bh qv = (__m512bh)_mm512_set1_epi32(static_cast<int>(q[r * q_stride_words + p]));
      for (int g = 0; g < G; ++g) acc[r][g] = _mm512_dpbf16_ps(acc[r][g], qv, kv[g]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < G; ++g) _mm512_storeu_ps(scores + r * kScoreStride + 16 * g, acc[r][g]);
  }
}

// spanScores from the transposed keys: keys [first, first + count) of kt.
template <int R>
void spanScoresTransposed(const uint16_t* q, int q_stride, const uint32_t* kt, int first, int count,
                          int dim, float* scores) {
  const auto* q32 = reinterpret_cast<const uint32_t*>(q);
  const int pairs = dim / 2;
  int j = 0;
  for (; j + 48 < count; j += 64) {
    scoreGroups<R, 4>(q32, q_stride / 2, kt, first + j, pairs, scores + j);
  }
  switch ((count - j + 15) / 16) {
    case 3:
      scoreGroups<R, 3>(q32, q_stride / 2, kt, first + j, pairs, scores + j);
      break;
    case 2:
      scoreGroups<R, 2>(q32, q_stride / 2, kt, first + j, pairs, scores + j);
      break;
    case 1:
      scoreGroups<R, 1>(q32, q_stride / 2, kt, first + j, pairs, scores + j);
      break;
    default:
      break;
  }
}

// Dims [d0, d0 + 32 * NC) of R accumulator rows: acc_r = acc_r * alpha[r] + sum_j p_r[j] v[j]
// over key pairs. Two value rows interleave into BF16 pairs (vpunpck{l,h}wd) that vdpbf16ps
// multiplies by the two keys' probabilities: within each 128-bit lane, the low unpack holds dims
// 0-3 and the high one dims 4-7 of that lane's 8, so an accumulator row is stored permuted
// (storeRow undoes it).
template <int R, int NC>
void accumulateChunk(float* acc, int stride, const float* alpha, const uint16_t* probs,
                     const uint16_t* const* v, int pairs, int d0, int dim) {
  __m512 lo[R][NC];
  __m512 hi[R][NC];
  for (int r = 0; r < R; ++r) {
    const __m512 a = _mm512_set1_ps(alpha[r]);
    for (int c = 0; c < NC; ++c) {
      const float* row = acc + r * stride + d0 + c * kChunk;
      lo[r][c] = _mm512_mul_ps(a, _mm512_loadu_ps(row));
      hi[r][c] = _mm512_mul_ps(a, _mm512_loadu_ps(row + 16));
    }
  }
  for (int kp = 0; kp < pairs; ++kp) {
    __m512bh pv[R];
    for (int r = 0; r < R; ++r) {
      uint32_t pair;
      __builtin_memcpy(&pair, probs + r * kProbStride + 2 * kp, sizeof(pair));
      pv[r] = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair));
    }
    for (int c = 0; c < NC; ++c) {
      const int d = d0 + c * kChunk;
      const __m512i a = loadWords(v[2 * kp] + d, dim - d);
      const __m512i b = loadWords(v[2 * kp + 1] + d, dim - d);
      const __m512bh even = (__m512bh)_mm512_unpacklo_epi16(a, b);
      const __m512bh odd = (__m512bh)_mm512_unpackhi_epi16(a, b);
      for (int r = 0; r < R; ++r) {
        lo[r][c] = _mm512_dpbf16_ps(lo[r][c], pv[r], even);
        hi[r][c] = _mm512_dpbf16_ps(hi[r][c], pv[r], odd);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < NC; ++c) {
      float* row = acc + r * stride + d0 + c * kChunk;
      _mm512_storeu_ps(row, lo[r][c]);
      _mm512_storeu_ps(row + 16, hi[r][c]);
    }
  }
}

struct Bf16Fold {
  using Kv = Bf16;
  using Query = uint16_t;
  static constexpr int kRowsPerPass = 4;
  struct Scratch {
    alignas(64) float scores[kRowsPerPass * kScoreStride];
    alignas(64) uint16_t probs[kRowsPerPass * kProbStride];
    // The span's key and value rows from its first key, then 3 more copies of the last one
    // (beginSpan).
    const uint16_t* k[kMaxBlockSize + 4];
    const uint16_t* v[kMaxBlockSize + 4];
    int first_key;
    bool transposed;  // kt holds the span's keys
    alignas(64) uint32_t kt[kKtMaxPairs * kKtStride];
  };

  static int rowStride(int dim) { return (dim + kChunk - 1) / kChunk * kChunk; }

  static void beginSpan(const KvSegment<Bf16>* span, int span_segs, int dim, int rows, Scratch& s) {
    int n = 0;
    for (int i = 0; i < span_segs; ++i) {
      for (int j = 0; j < span[i].hi - span[i].lo; ++j, ++n) {
        s.k[n] = &span[i].k[static_cast<size_t>(j) * dim].bits;
        s.v[n] = &span[i].v[static_cast<size_t>(j) * dim].bits;
      }
    }
    const int keys = n;
    // A row range starting past the span's first key reads up to 3 rows beyond its last.
    for (int last = n - 1, end = n + 3; n < end; ++n) {
      s.k[n] = s.k[last];
      s.v[n] = s.v[last];
    }
    s.first_key = span[0].lo;
    // The transposed keys pay off when more than one pass of rows scores them.
    s.transposed =
        rows > kRowsPerPass && keys <= kKtMaxKeys && dim % 2 == 0 && dim <= 2 * kKtMaxPairs;
    if (s.transposed) transposeKeys(s.k, keys, dim, s.kt);
  }

  // q = src * scale rounded to BF16 and zero-padded to the row stride; acc = 0.
  static void loadQuery(const float* src, float scale, uint16_t* q, float* acc, int dim) {
    const __m512 vscale = _mm512_set1_ps(scale);
    for (int d = 0; d < rowStride(dim); d += 16) {
      const __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(laneMask(dim - d), src + d), vscale);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + d), (__m256i)_mm512_cvtneps_pbh(x));
      _mm512_storeu_ps(acc + d, _mm512_setzero_ps());
    }
  }

  template <int R>
  static void fold(const uint16_t* q, float* acc, float* row_max, float* row_sum,
                   const int* row_lo, const int* row_hi, int dim,
                   const KvSegment<Bf16>* /*span: see beginSpan*/, int /*span_segs*/, Scratch& s) {
    int lo, hi;
    if (!impl::keyUnion<R>(row_lo, row_hi, lo, hi)) return;
    const int count = hi - lo;
    // Rows of keys [lo, hi): the span's, from lo; past hi (up to a multiple of 4) they are real
    // rows of the span or its padding, and get probability 0.
    const uint16_t* const* k = s.k + (lo - s.first_key);
    const uint16_t* const* v = s.v + (lo - s.first_key);
    const int stride = rowStride(dim);
    if (s.transposed) {
      spanScoresTransposed<R>(q, stride, s.kt, lo - s.first_key, count, dim, s.scores);
    } else {
      spanScores<R>(q, stride, k, count, dim, s.scores);
    }

    // Online softmax in F32; the probabilities go to BF16, zero outside each row's keys and
    // past the span (the odd key of the last pair).
    const int padded = (count + 1) & ~1;
    float alpha[R];
    for (int r = 0; r < R; ++r) {
      const float* sc = s.scores + r * kScoreStride;
      uint16_t* p16 = s.probs + r * kProbStride;
      const int a = row_lo[r] - lo, b = row_hi[r] - lo;  // the row's own keys, within [0, count)
      if (a >= b) {
        alpha[r] = 1.0f;
        for (int j = 0; j < padded; ++j) p16[j] = 0;
        continue;
      }
      const float new_max = maxOf(row_max[r], impl::rangeMax<Vec>(sc, a, b));
      alpha[r] = Vec::expScalar(row_max[r] - new_max);
      const __m512 vmax = _mm512_set1_ps(new_max);
      __m512 vsum = _mm512_setzero_ps();
      for (int j = 0; j < padded; j += 16) {
        const __mmask16 keep = rangeMask(a - j, b - j);
        const __m512 x = _mm512_maskz_loadu_ps(keep, sc + j);
        const __m512 p = _mm512_maskz_mov_ps(keep, Vec::exp(_mm512_sub_ps(x, vmax)));
        vsum = _mm512_add_ps(vsum, p);
        _mm256_mask_storeu_epi16(p16 + j, laneMask(padded - j), (__m256i)_mm512_cvtneps_pbh(p));
      }
      row_sum[r] = row_sum[r] * alpha[r] + _mm512_reduce_add_ps(vsum);
      row_max[r] = new_max;
    }

    const int pairs = padded / 2;
    int d0 = 0;
    for (; d0 + 2 * kChunk <= stride; d0 += 2 * kChunk) {
      accumulateChunk<R, 2>(acc, stride, alpha, s.probs, v, pairs, d0, dim);
    }
    if (d0 < stride) accumulateChunk<R, 1>(acc, stride, alpha, s.probs, v, pairs, d0, dim);
  }

  // dst = acc * scale, undoing accumulateChunk's order: output dim w of a 32-dim chunk is in
  // lane 4 * (w / 8) + w % 8 of the low-unpack half when w % 8 < 4, else of the high half.
  static void storeRow(const float* acc, float scale, float* dst, int dim) {
    alignas(64) int32_t index[kChunk];
    for (int w = 0; w < kChunk; ++w) {
      const int lane = 4 * (w / 8) + w % 4;
      index[w] = w % 8 < 4 ? lane : 16 + lane;
    }
    const __m512i first = _mm512_load_si512(index);
    const __m512i second = _mm512_load_si512(index + 16);
    const __m512 vscale = _mm512_set1_ps(scale);
    for (int d = 0; d < dim; d += kChunk) {
      const __m512 lo = _mm512_loadu_ps(acc + d);
      const __m512 hi = _mm512_loadu_ps(acc + d + 16);
      _mm512_mask_storeu_ps(dst + d, laneMask(dim - d),
                            _mm512_mul_ps(_mm512_permutex2var_ps(lo, first, hi), vscale));
      _mm512_mask_storeu_ps(dst + d + 16, laneMask(dim - d - 16),
                            _mm512_mul_ps(_mm512_permutex2var_ps(lo, second, hi), vscale));
    }
  }
};

}  // namespace

void attentionBf16(const AttentionArgs& args, const AttentionWork& work) {
  impl::attentionWith<Bf16Fold>(args, work);
}

}  // namespace manifold::kernels::cpu
