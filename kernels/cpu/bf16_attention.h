// Paged attention over a BF16 KV cache with AVX-512 BF16 dot products (vdpbf16ps), as a GPU
// flash-attention kernel computes it: the query rows are rounded to BF16 (after the softmax
// scale), scores q.k and the online softmax are F32, and the probabilities are rounded to BF16
// before they weight the values, accumulated in F32. Two multiply-adds per lane per instruction
// and no widening of K and V, so about half the instructions of the F32 path (attention_impl.h)
// for the same cache.
//
// Same work items, key ranges, windows and split parts as CpuKernels::attention.
#pragma once

#include "kernels/cpu/cpu_kernels.h"

namespace manifold::kernels::cpu {

// One work item. REQUIRES: cpuHasAvx512Bf16(); args.kv_dtype == kBF16; head_dim <= kMaxHeadDim.
void attentionBf16(const AttentionArgs& args, const AttentionWork& work);

}  // namespace manifold::kernels::cpu
