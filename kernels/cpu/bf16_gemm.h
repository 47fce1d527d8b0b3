// BF16 x BF16 GEMM with AVX-512 BF16 dot products (vdpbf16ps): two multiply-adds per lane per
// instruction, twice the F32 FMA rate. Used for BF16 weights at large m (prefill), where
// the product is compute-bound. The activations are rounded to BF16 first, as PyTorch does for a
// BF16 model; the products and sums are F32.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"

namespace manifold::kernels::cpu {

// True when the CPU has AVX-512 BF16 (and the AVX-512 base this path also needs).
[[nodiscard]] bool cpuHasAvx512Bf16();

// out[m, stride] = x[m, k] rounded to BF16 (nearest even), zero-padded to stride.
// REQUIRES: cpuHasAvx512Bf16(); stride >= k, even.
void convertRowsToBf16(const float* x, int m, int k, uint16_t* out, int stride);

// Output columns [n_begin, n_end) of out = x_bf16 * w^T + bias, for BF16 weights.
// x_bf16 [m, x_stride] from convertRowsToBf16 (x_stride = k rounded up to even);
// args: shapes, weights (dtype kBF16), bias and out; args.x is not read.
// REQUIRES: cpuHasAvx512Bf16().
void matmulBf16DotProducts(const MatmulArgs& args, const uint16_t* x_bf16, int x_stride,
                           int n_begin, int n_end);

// Packed BF16 weights: the [n, k] matrix as ceil(n / 32) column panels, each [ceil(k / 2), 32]
// BF16 pairs (the two k-neighbours of one column in one 32-bit word, as vdpbf16ps reads them),
// zero-padded past n and k. The GEMM then streams each panel front to back with no packing per
// call, so the same kernel serves decode (m = 1) and prefill, and every output row is computed
// the same way whatever m is (results do not depend on the batch).
constexpr int kBf16PanelColumns = 32;
[[nodiscard]] size_t packedBf16Bytes(int n, int k);
// Packs panels [panel_begin, panel_end) of w [n, k] BF16 into out (packedBf16Bytes(n, k) bytes).
void packBf16Panels(const uint16_t* w, int n, int k, uint32_t* out, int panel_begin, int panel_end);

// Output columns of panels [panel_begin, panel_end) of out = x_bf16 * w^T + bias, with args.w
// packed by packBf16Panels; x_bf16 as for matmulBf16DotProducts. REQUIRES: cpuHasAvx512Bf16().
void matmulBf16Packed(const MatmulArgs& args, const uint16_t* x_bf16, int x_stride,
                      int panel_begin, int panel_end);

// Weight-only INT8 (--quantization int8): the [n, k] matrix quantized per output column, in the
// BF16 panels' order with one byte per value: ceil(n / 32) panels of [ceil(k / 2), 32, 2] INT8,
// then the F32 scales of the ceil(n / 32) * 32 columns (0 past n). Every INT8 value is exact in
// BF16, so the GEMM widens them to BF16 in registers and runs the same vdpbf16ps products as for
// BF16 weights, over half the bytes; a column's scale factors out of its sum and multiplies it
// once at the end.
[[nodiscard]] size_t packedInt8Bytes(int n, int k);
// Writes panel `panel_index` of the packed form of an [n, k] matrix to out (packedInt8Bytes(n, k)
// bytes): q [cols, k] row-major holds the panel's quantized rows (columns n0 .. n0 + cols of the
// output), scales [cols] their scales. REQUIRES: cols == min(32, n - 32 * panel_index).
void packInt8Panel(const int8_t* q, const float* scales, int cols, int n, int k, int panel_index,
                   void* out);
// As matmulBf16Packed, with args.w packed by packInt8Panel: out = (x_bf16 * q^T) * scale + bias.
// REQUIRES: cpuHasAvx512Bf16().
void matmulInt8Packed(const MatmulArgs& args, const uint16_t* x_bf16, int x_stride, int panel_begin,
                      int panel_end);

}  // namespace manifold::kernels::cpu
