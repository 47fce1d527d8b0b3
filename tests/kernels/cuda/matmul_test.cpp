// CudaBackend::matmul (cuBLASLt) on fresh random inputs, outputs poisoned with NaN first, against
// two references:
// - a double-precision product over exactly what the GPU multiplies (activations rounded to the
//   weight's 16-bit dtype, as the backend does before cuBLASLt): relative L2 error below 1e-5 for
//   every dtype (F32 accumulation; F32 weights in full FP32, no TF32);
// - CpuBackend::matmul, which may keep F32 activations for 16-bit weights: below 1e-2 for BF16
//   (8-bit mantissa rounding of x), 2e-3 for F16, 1e-5 for F32.
#include <gtest/gtest.h>

#include <vector>

#include "tests/kernels/cuda/cuda_test_util.h"

namespace manifold::kernels::cuda {
namespace {

using testing::CudaBackendTest;
using testing::makeTyped;
using testing::randomFloats;
using testing::relativeError;
using testing::TypedTensor;

struct Shape {
  int m;
  int k;
  int n;
};

constexpr double kExactInputsTolerance = 1e-5;

double cpuTolerance(DType dtype) {
  switch (dtype) {
    case DType::kBF16:
      return 1e-2;
    case DType::kF16:
      return 2e-3;
    case DType::kF32:
    case DType::kI8:
      break;
  }
  return 1e-5;
}

double roundedTo(float value, DType dtype) {
  switch (dtype) {
    case DType::kBF16:
      return bf16ToF32(f32ToBf16(value));
    case DType::kF16:
      return f16ToF32(f32ToF16(value));
    case DType::kF32:
    case DType::kI8:
      break;
  }
  return value;
}

class CudaMatmul : public CudaBackendTest {
 protected:
  void check(const Shape& s, DType w_dtype, const TypedTensor* bias, uint32_t seed) {
    const std::vector<float> x = randomFloats(static_cast<size_t>(s.m) * s.k, seed);
    const TypedTensor w =
        makeTyped(randomFloats(static_cast<size_t>(s.n) * s.k, seed + 1), w_dtype);
    const WeightView bias_view = bias != nullptr ? bias->view() : WeightView{};
    const size_t out_size = static_cast<size_t>(s.m) * s.n;

    std::vector<float> exact(out_size);
    for (int i = 0; i < s.m; ++i) {
      for (int j = 0; j < s.n; ++j) {
        double sum = bias != nullptr ? bias->values[j] : 0.0;
        for (int kk = 0; kk < s.k; ++kk) {
          sum += roundedTo(x[static_cast<size_t>(i) * s.k + kk], w_dtype) *
                 w.values[static_cast<size_t>(j) * s.k + kk];
        }
        exact[static_cast<size_t>(i) * s.n + j] = static_cast<float>(sum);
      }
    }
    std::vector<float> cpu_out(out_size);
    cpu_.matmul(x.data(), s.m, s.k, w.view(), s.n, bias_view, cpu_out.data());

    DeviceBuffer d_x = upload(x);
    DeviceBuffer d_w = uploadTyped(w);
    DeviceBuffer d_bias;
    if (bias != nullptr) d_bias = uploadTyped(*bias);
    DeviceBuffer d_out = poisoned<float>(out_size);
    gpu_->matmul(
        d_x.as<float>(), s.m, s.k, {d_w.data(), w_dtype}, s.n,
        {bias != nullptr ? d_bias.data() : nullptr, bias != nullptr ? bias->dtype : DType::kF32},
        d_out.as<float>());
    const std::vector<float> got = download<float>(d_out, out_size);
    EXPECT_LT(relativeError(got, exact), kExactInputsTolerance)
        << "m=" << s.m << " k=" << s.k << " n=" << s.n << " " << dtypeName(w_dtype);
    EXPECT_LT(relativeError(got, cpu_out), cpuTolerance(w_dtype))
        << "m=" << s.m << " k=" << s.k << " n=" << s.n << " " << dtypeName(w_dtype);
  }
};

TEST_F(CudaMatmul, MatchesReferencesForEveryWeightDtypeAndShape) {
  // Decode (m = 1), odd and unaligned k / n, a prefill-sized m, and a Llama-sized projection.
  const std::vector<Shape> shapes = {{1, 64, 172}, {1, 4096, 1024}, {3, 37, 11},    {5, 100, 33},
                                     {7, 172, 64}, {130, 64, 96},   {257, 512, 768}};
  uint32_t seed = 100;
  for (const Shape& shape : shapes) {
    for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
      check(shape, dtype, nullptr, seed);
      seed += 2;
    }
  }
}

TEST_F(CudaMatmul, AddsBiasOfAnyDtype) {
  uint32_t seed = 200;
  for (DType bias_dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
    const TypedTensor bias = makeTyped(randomFloats(96, seed + 50), bias_dtype);
    check({6, 64, 96}, DType::kBF16, &bias, seed);
    seed += 2;
  }
}

TEST_F(CudaMatmul, RepeatedShapesReuseTheCachedPlanAndStayCorrect) {
  for (uint32_t seed = 300; seed < 306; seed += 2) {
    check({4, 256, 128}, DType::kBF16, nullptr, seed);
  }
}

}  // namespace
}  // namespace manifold::kernels::cuda
