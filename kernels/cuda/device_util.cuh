// Device helpers shared by the .cu files (included only from .cu): typed loads widened to F32,
// DType dispatch, warp and block reductions, launch sizing.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "common/dtype.h"

namespace manifold::kernels::cuda {

inline constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ float toF32(float v) { return v; }
__device__ __forceinline__ float toF32(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float toF32(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T fromF32(float v);
template <>
__device__ __forceinline__ float fromF32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 fromF32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ __half fromF32<__half>(float v) {
  return __float2half_rn(v);
}

// Calls fn(T{}) with T the device type of `dtype`.
template <typename Fn>
cudaError_t dispatchDType(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::kF32:
      return fn(float{});
    case DType::kBF16:
      return fn(__nv_bfloat16{});
    case DType::kF16:
      return fn(__half{});
    case DType::kI8:  // stored quantized weights only (common/dtype.h)
      break;
  }
  return cudaErrorInvalidValue;
}

__device__ __forceinline__ float warpSum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

__device__ __forceinline__ float warpMax(float v) {
  for (int offset = 16; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// Sum (or max) over the block; every thread gets the result. REQUIRES: blockDim.x a multiple of
// 32, every thread of the block calls it. Uses 32 floats of shared memory.
template <bool kMax>
__device__ float blockReduce(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int num_warps = blockDim.x / 32;
  v = kMax ? warpMax(v) : warpSum(v);
  __syncthreads();  // partial may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const float identity = kMax ? -INFINITY : 0.0f;
  float total = lane < num_warps ? partial[lane] : identity;
  total = kMax ? warpMax(total) : warpSum(total);
  return total;
}

__device__ __forceinline__ float blockSum(float v) { return blockReduce<false>(v); }
__device__ __forceinline__ float blockMax(float v) { return blockReduce<true>(v); }

// Grid size for a grid-stride loop over n elements with `threads` per block.
inline unsigned gridFor(int64_t n, int threads) {
  constexpr int64_t kMaxBlocks = 65535;
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

}  // namespace manifold::kernels::cuda
