// W8A8 INT8 GEMM with AVX-512 VNNI (vpdpbusd: 64 8-bit multiply-adds per instruction, twice
// vdpbf16ps's 32 at the same instruction rate) for --quantization w8a8: weights quantized per
// output channel at load, activations per row (token) at every matmul, as vLLM's dynamic
// per-token INT8 W8A8 scheme and oneDNN's u8s8 GEMM do.
//
// vpdpbusd multiplies unsigned by signed bytes, so a row of activations is stored as its INT8
// values plus 128 (1 .. 255); the offset adds 128 * sum(q) to every column's sum, and the packed
// weights carry that per column to take back. The sums are exact in INT32, so every output row is
// the same whatever the batch, and the only rounding is the two quantizations and the final
// scale multiply.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"

namespace manifold::kernels::cpu {

// True when the CPU has AVX-512 VNNI (and the AVX-512 base this path also needs).
[[nodiscard]] bool cpuHasAvx512Vnni();

// The deepest k the INT32 sums hold: k * 255 * 127 < 2^31.
constexpr int kW8A8MaxDepth = 65536;

// Packed W8A8 weights: the [n, k] matrix as ceil(n / 32) column panels, each [ceil(k / 4), 32, 4]
// INT8 (four k-neighbours of one column in one 32-bit lane, as vpdpbusd reads them), zero-padded
// past n and k; then the F32 scales of the ceil(n / 32) * 32 columns (0 past n); then per column
// 128 * the sum of its INT8 values (INT32).
constexpr int kW8A8PanelColumns = 32;
[[nodiscard]] size_t packedW8A8Bytes(int n, int k);
// Writes panel `panel_index` of the packed form of an [n, k] matrix to out (packedW8A8Bytes(n, k)
// bytes): q [cols, k] row-major holds the panel's quantized rows (output columns n0 .. n0 + cols),
// scales [cols] their scales. REQUIRES: cols == min(32, n - 32 * panel_index); k <= kW8A8MaxDepth.
void packW8A8Panel(const int8_t* q, const float* scales, int cols, int n, int k, int panel_index,
                   void* out);

// The row stride of quantized activations: k rounded up to a multiple of 4.
[[nodiscard]] constexpr int w8a8ActivationStride(int k) { return (k + 3) / 4 * 4; }
// Quantizes x [m, k] per row, symmetrically: scales[i] = max |x[i]| / 127, out[i] = round(x[i] /
// scales[i]) + 128 as unsigned bytes (nearest even), padded to `stride` with 128 (zero). A row
// holding an infinity or NaN gets the scale NaN, so its outputs are NaN as they would be
// unquantized. REQUIRES: cpuHasAvx512Vnni(); stride == w8a8ActivationStride(k).
void quantizeRowsToInt8(const float* x, int m, int k, uint8_t* out, int stride, float* scales);

// Output columns of panels [panel_begin, panel_end) of out = (x_q * q^T) * x_scale * scale + bias,
// with args.w packed by packW8A8Panel and x_q, x_scales from quantizeRowsToInt8 (row stride
// x_stride bytes); args.x is not read. REQUIRES: cpuHasAvx512Vnni().
void matmulW8A8Packed(const MatmulArgs& args, const uint8_t* x_q, int x_stride,
                      const float* x_scales, int panel_begin, int panel_end);

}  // namespace manifold::kernels::cpu
