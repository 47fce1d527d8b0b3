// Element types of weights, activations and KV cache, and scalar conversions to and from F32.
// Shared by the loader (what is on disk), the kernels (what they read) and the model runner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "common/status.h"

namespace manifold {

// kI8 is a stored type only: the INT8 weights of a quantized checkpoint, which the loader hands to
// Backend::packMatmulWeightInt8 with their scales. No kernel reads it as an activation or weight
// dtype, and WeightStore::get() refuses it where a float tensor is expected.
enum class DType : uint8_t { kF32, kF16, kBF16, kI8 };

constexpr size_t dtypeSize(DType dtype) {
  return dtype == DType::kF32 ? 4 : dtype == DType::kI8 ? 1 : 2;
}
// "F32", "F16", "BF16", "I8" (safetensors spelling).
std::string_view dtypeName(DType dtype);
// Parses the float dtypes' safetensors ("F32", "BF16") and torch_dtype ("float32", "bfloat16")
// spellings; not "I8".
std::optional<DType> parseDType(std::string_view name);
// The user-facing choice of --dtype (vLLM's spelling): "auto" (nullopt: keep
// or derive the model's), "f32", "bf16" or "f16". Error: names the accepted values.
Result<std::optional<DType>> parseDTypeChoice(std::string_view name);
// The same for --kv-cache-dtype, which has no F16: "auto", "f32" or "bf16".
Result<std::optional<DType>> parseKvCacheDTypeChoice(std::string_view name);

// Weight quantization at load (vLLM's --quantization). Both quantize the matmul weights
// symmetrically per output channel to INT8 (the backend's packMatmulWeightInt8).
// kInt8: weight-only; activations stay BF16 (W8A16).
// kW8A8: the activations too, per row (token) at every matmul, dynamically (W8A8).
enum class Quantization : uint8_t { kNone, kInt8, kW8A8 };
std::string_view quantizationName(Quantization quantization);  // "none", "int8", "w8a8"
// "none", "int8" or "w8a8". Error: names the accepted values.
Result<Quantization> parseQuantization(std::string_view name);

inline float bf16ToF32(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// Round to nearest even; NaN stays NaN.
inline uint16_t f32ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float f16ToF32(uint16_t bits);
uint16_t f32ToF16(float f);

}  // namespace manifold
