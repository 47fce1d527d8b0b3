#include "common/dtype.h"

#include <cmath>
#include <string>

namespace manifold {

std::string_view dtypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kI8:
      return "I8";
  }
  return "?";
}

std::optional<DType> parseDType(std::string_view name) {
  if (name == "F32" || name == "float32") return DType::kF32;
  if (name == "F16" || name == "float16") return DType::kF16;
  if (name == "BF16" || name == "bfloat16") return DType::kBF16;
  return std::nullopt;
}

Result<std::optional<DType>> parseDTypeChoice(std::string_view name) {
  if (name == "auto") return std::optional<DType>();
  if (name == "f32") return std::optional<DType>(DType::kF32);
  if (name == "bf16") return std::optional<DType>(DType::kBF16);
  if (name == "f16") return std::optional<DType>(DType::kF16);
  return invalidArgument("must be auto, f32, bf16 or f16, got `" + std::string(name) + "`");
}

Result<std::optional<DType>> parseKvCacheDTypeChoice(std::string_view name) {
  if (name != "f16") {
    Result<std::optional<DType>> dtype = parseDTypeChoice(name);
    if (dtype.isOk()) return dtype;
  }
  return invalidArgument("must be auto, f32 or bf16, got `" + std::string(name) + "`" +
                         (name == "f16" ? " (there is no F16 KV cache)" : ""));
}

std::string_view quantizationName(Quantization quantization) {
  switch (quantization) {
    case Quantization::kNone:
      return "none";
    case Quantization::kInt8:
      return "int8";
    case Quantization::kW8A8:
      return "w8a8";
  }
  return "?";
}

Result<Quantization> parseQuantization(std::string_view name) {
  for (Quantization q : {Quantization::kNone, Quantization::kInt8, Quantization::kW8A8}) {
    if (name == quantizationName(q)) return q;
  }
  return invalidArgument("must be none, int8 or w8a8, got `" + std::string(name) + "`");
}

float f16ToF32(uint16_t bits) {
  const uint32_t sign = (bits >> 15) & 1u;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  float value;
  if (exponent == 0) {
    value = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal
  } else if (exponent == 31) {
    value = mantissa ? NAN : INFINITY;
  } else {
    value = std::ldexp(static_cast<float>(mantissa | 0x400u), static_cast<int>(exponent) - 25);
  }
  return sign ? -value : value;
}

uint16_t f32ToF16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (abs < 0x38800000u) {  // subnormal or zero in F16: round to nearest even at 2^-24
    float a;
    std::memcpy(&a, &abs, sizeof(a));
    const float scaled = std::nearbyint(a * 16777216.0f);  // a / 2^-24
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(scaled));
  }
  // Normal: rebias exponent, round mantissa to nearest even.
  uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

}  // namespace manifold
