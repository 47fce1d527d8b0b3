// Packed F32 GEMM with AVX-512 FMAs: the F32 counterpart of bf16_gemm.h. F32 weights are packed
// once at load into column panels, and one micro-kernel serves every m (decode streams each panel
// front to back; prefill reuses each L1-sized depth block across all row tiles), so every output
// is summed in the same order whatever m is: F32 results do not depend on the batch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"

namespace manifold::kernels::cpu {

// The [n, k] matrix as ceil(n / 32) column panels, each [k, 32] floats, zero-padded past n.
constexpr int kF32PanelColumns = 32;
[[nodiscard]] size_t packedF32Bytes(int n, int k);
// Packs panels [panel_begin, panel_end) of w [n, k] F32 into out (packedF32Bytes(n, k) bytes).
void packF32Panels(const float* w, int n, int k, float* out, int panel_begin, int panel_end);

// Output columns of panels [panel_begin, panel_end) of out = x * w^T + bias, with args.w packed
// by packF32Panels and args.x [m, k]. REQUIRES: the CPU has AVX-512F.
void matmulF32Packed(const MatmulArgs& args, int panel_begin, int panel_end);

}  // namespace manifold::kernels::cpu
