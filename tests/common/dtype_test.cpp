#include "common/dtype.h"

#include <gtest/gtest.h>

#include <cmath>

namespace manifold {
namespace {

TEST(DType, ParsesSafetensorsAndTorchSpellings) {
  EXPECT_EQ(parseDType("BF16"), DType::kBF16);
  EXPECT_EQ(parseDType("bfloat16"), DType::kBF16);
  EXPECT_EQ(parseDType("float16"), DType::kF16);
  EXPECT_EQ(parseDType("F32"), DType::kF32);
  EXPECT_FALSE(parseDType("I8").has_value());
}

TEST(DType, Bf16RoundsToNearestEven) {
  // Known bit patterns (torch.tensor(x, dtype=torch.bfloat16).view(torch.int16)).
  EXPECT_EQ(f32ToBf16(1.0f), 0x3f80);
  EXPECT_EQ(f32ToBf16(-2.5f), 0xc020);
  EXPECT_EQ(f32ToBf16(3.14159265f), 0x4049);
  EXPECT_EQ(bf16ToF32(0x4049), 3.140625f);
  EXPECT_TRUE(std::isnan(bf16ToF32(f32ToBf16(NAN))));
}

TEST(DType, F16ConvertsNormalsSubnormalsAndInfinities) {
  // Known bit patterns (numpy.float16(x).view(numpy.uint16)).
  EXPECT_EQ(f32ToF16(1.0f), 0x3c00);
  EXPECT_EQ(f32ToF16(-2.0f), 0xc000);
  EXPECT_EQ(f32ToF16(65504.0f), 0x7bff);
  EXPECT_EQ(f32ToF16(1e6f), 0x7c00);
  EXPECT_EQ(f32ToF16(5.9604645e-08f), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32ToF16(0.1f), 0x2e66);
  EXPECT_FLOAT_EQ(f16ToF32(0x2e66), 0.0999755859375f);
  EXPECT_FLOAT_EQ(f16ToF32(0x0001), 5.9604645e-08f);
  EXPECT_TRUE(std::isinf(f16ToF32(0x7c00)));
}

// The --dtype choice shared by serve, generate and bench throughput.
TEST(DType, ParsesTheUserFacingChoice) {
  EXPECT_EQ(parseDTypeChoice("auto").value(), std::nullopt);
  EXPECT_EQ(parseDTypeChoice("f32").value(), DType::kF32);
  EXPECT_EQ(parseDTypeChoice("bf16").value(), DType::kBF16);
  EXPECT_EQ(parseDTypeChoice("f16").value(), DType::kF16);
  const auto bad = parseDTypeChoice("fp8");
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().message(), "must be auto, f32, bf16 or f16, got `fp8`");
  EXPECT_FALSE(parseDTypeChoice("BF16").isOk());  // safetensors spelling is parseDType's
}

// --kv-cache-dtype has no F16, and its errors say so consistently.
TEST(DType, ParsesTheKvCacheChoice) {
  EXPECT_EQ(parseKvCacheDTypeChoice("auto").value(), std::nullopt);
  EXPECT_EQ(parseKvCacheDTypeChoice("f32").value(), DType::kF32);
  EXPECT_EQ(parseKvCacheDTypeChoice("bf16").value(), DType::kBF16);
  EXPECT_EQ(parseKvCacheDTypeChoice("fp8").status().message(),
            "must be auto, f32 or bf16, got `fp8`");
  EXPECT_EQ(parseKvCacheDTypeChoice("f16").status().message(),
            "must be auto, f32 or bf16, got `f16` (there is no F16 KV cache)");
}

}  // namespace
}  // namespace manifold
