// CpuBackend::matmul (x [m, k] F32 times w [n, k]^T of each weight dtype, plus bias) on every SIMD
// path, with and without the OpenBLAS route, against a double-precision reference over the
// weights' stored values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/int8_gemm.h"
#include "tests/kernels/cpu/kernel_test_util.h"

namespace manifold::kernels::cpu {
namespace {

using testing::availableSimdLevels;
using testing::makeTyped;
using testing::randomFloats;
using testing::TypedTensor;

struct MatmulShape {
  int m;
  int k;
  int n;
};

// The products are exact in double; F32 accumulation error grows with the magnitude of the
// terms, so the bound scales with sum |x w| (about sqrt(k) roundings of that size, k <= 1536).
constexpr double kRelativeToMagnitude = 2e-6;

// The weight as the backend's matmul reads it: row-major, or packed by packMatmulWeight into
// `storage` when `packed` (and the backend packs this dtype).
WeightView weightFor(CpuBackend& backend, const TypedTensor& w, int n, int k, bool packed,
                     DeviceBuffer& storage) {
  const size_t bytes = packed ? backend.packedMatmulWeightBytes(w.dtype, n, k) : 0;
  if (bytes == 0) return w.view();
  Result<DeviceBuffer> buffer = backend.allocate(bytes);
  EXPECT_TRUE(buffer.isOk());
  storage = std::move(buffer).value();
  // The packed form must not depend on what the buffer held before.
  std::memset(storage.data(), 0xA5, bytes);
  const WeightView view = backend.packMatmulWeight(w.view(), n, k, storage.data());
  EXPECT_EQ(view.layout, WeightLayout::kPacked);
  return view;
}

void checkMatmul(CpuBackend& backend, const MatmulShape& s, DType w_dtype, DType bias_dtype,
                 bool with_bias, uint32_t seed, bool packed = false) {
  const std::vector<float> x = randomFloats(static_cast<size_t>(s.m) * s.k, seed);
  const TypedTensor w = makeTyped(randomFloats(static_cast<size_t>(s.n) * s.k, seed + 1), w_dtype);
  DeviceBuffer storage;
  const WeightView w_view = weightFor(backend, w, s.n, s.k, packed, storage);
  // The BF16 dot-product paths compute with activations rounded to BF16: so does the reference.
  std::vector<double> x_ref(x.begin(), x.end());
  if (w_dtype == DType::kBF16 &&
      (w_view.layout == WeightLayout::kPacked || backend.roundsActivationsToBf16(s.m))) {
    for (size_t i = 0; i < x.size(); ++i) x_ref[i] = bf16ToF32(f32ToBf16(x[i]));
  }
  const TypedTensor bias = makeTyped(randomFloats(s.n, seed + 2), bias_dtype);
  std::vector<float> out(static_cast<size_t>(s.m) * s.n, NAN);
  backend.matmul(x.data(), s.m, s.k, w_view, s.n, with_bias ? bias.view() : WeightView{},
                 out.data());
  for (int i = 0; i < s.m; ++i) {
    for (int j = 0; j < s.n; ++j) {
      double expected = with_bias ? bias.values[j] : 0.0;
      double magnitude = 0;
      for (int kk = 0; kk < s.k; ++kk) {
        const double term =
            x_ref[static_cast<size_t>(i) * s.k + kk] * w.values[static_cast<size_t>(j) * s.k + kk];
        expected += term;
        magnitude += std::abs(term);
      }
      ASSERT_NEAR(out[static_cast<size_t>(i) * s.n + j], expected,
                  kRelativeToMagnitude * magnitude + 1e-6)
          << "m=" << s.m << " k=" << s.k << " n=" << s.n << " w=" << dtypeName(w_dtype) << " at ("
          << i << ", " << j << ")";
    }
  }
}

class Matmul : public ::testing::TestWithParam<SimdLevel> {};

TEST_P(Matmul, MatchesReferenceForEveryWeightDtypeAndShape) {
  CpuBackend backend({.num_threads = 2, .simd_level = GetParam()});
  // Decode rows, k tails on every path, odd k (BF16 pairs), several m tiles and blocks.
  const std::vector<MatmulShape> shapes = {{1, 64, 172},  {1, 576, 1536}, {3, 37, 11},
                                           {5, 100, 33},  {7, 172, 64},   {130, 64, 96},
                                           {37, 301, 45}, {20, 576, 100}, {64, 33, 17}};
  uint32_t seed = 100;
  for (const MatmulShape& shape : shapes) {
    for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
      checkMatmul(backend, shape, dtype, DType::kF32, false, seed++);
    }
  }
}

TEST_P(Matmul, AddsBiasOfAnyDtype) {
  CpuBackend backend({.num_threads = 2, .simd_level = GetParam()});
  uint32_t seed = 200;
  for (DType bias_dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
    checkMatmul(backend, {4, 64, 30}, DType::kBF16, bias_dtype, true, seed++);
    checkMatmul(backend, {1, 96, 9}, DType::kF32, bias_dtype, true, seed++);
  }
}

TEST_P(Matmul, BlockedGemmAddsBiasAcrossPartialPanelsAndDepthBlocks) {
  CpuBackendOptions options;
  options.num_threads = 2;
  options.simd_level = GetParam();
  options.gemm_min_rows = 16;
  CpuBackend backend(options);
  uint32_t seed = 250;
  for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
    checkMatmul(backend, {29, 600, 70}, dtype, DType::kBF16, true, seed++);
  }
}

TEST_P(Matmul, DotProductFormServesLargeBatchesToo) {
  CpuBackendOptions options;
  options.num_threads = 2;
  options.simd_level = GetParam();
  options.gemm_min_rows = 0;
  CpuBackend backend(options);
  uint32_t seed = 270;
  for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
    checkMatmul(backend, {70, 100, 45}, dtype, DType::kF32, true, seed++);
  }
}

TEST_P(Matmul, RunsSingleThreaded) {
  CpuBackend backend({.num_threads = 1, .simd_level = GetParam()});
  checkMatmul(backend, {2, 576, 200}, DType::kBF16, DType::kF32, true, 300);
}

// Packed weights: every m from decode to prefill tiles, k odd and across several depth blocks
// (more than 768 values for F32, 768 pairs for BF16; split evenly), n across partial panels, bias
// of each dtype.
void checkPackedAtEveryM(CpuBackend& backend, DType dtype, uint32_t seed) {
  const std::vector<MatmulShape> shapes = {
      {1, 64, 172}, {1, 577, 1536}, {2, 37, 11}, {12, 600, 70}, {13, 301, 45},
      {25, 576, 33}, {64, 33, 17},  {130, 64, 96}, {13, 1601, 40}, {1, 3073, 33}};
  for (const MatmulShape& shape : shapes) {
    checkMatmul(backend, shape, dtype, DType::kF32, false, seed++, true);
  }
  for (DType bias_dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
    checkMatmul(backend, {3, 260, 40}, dtype, bias_dtype, true, seed++, true);
  }
}

// One kernel for every m and a fixed summation order per output: a row's result is the same bits
// alone (decode) as inside any batch, so the output does not depend on what else is scheduled.
// x [m, k] (random from `seed`) times w [n, k] plus a bias, in one batch of m rows and in slices
// of 1, 5, 12 and 13 rows: every row bitwise the same.
void expectRowsIndependentOfTheBatch(CpuBackend& backend, WeightView w_view, int m, int k, int n,
                                     uint32_t seed) {
  const std::vector<float> x = randomFloats(static_cast<size_t>(m) * k, seed);
  const TypedTensor bias = makeTyped(randomFloats(n, seed + 2), DType::kF32);
  std::vector<float> batch(static_cast<size_t>(m) * n);
  backend.matmul(x.data(), m, k, w_view, n, bias.view(), batch.data());
  for (int rows : {1, 5, 12, 13}) {
    for (int first = 0; first + rows <= m; first += rows) {
      std::vector<float> part(static_cast<size_t>(rows) * n);
      backend.matmul(x.data() + static_cast<size_t>(first) * k, rows, k, w_view, n, bias.view(),
                     part.data());
      for (size_t i = 0; i < part.size(); ++i) {
        ASSERT_EQ(part[i], batch[static_cast<size_t>(first) * n + i])
            << "rows " << first << ".." << first + rows << ", element " << i;
      }
    }
  }
}

void checkRowsIndependentOfTheBatch(CpuBackend& backend, DType dtype, uint32_t seed) {
  const int m = 37, k = 300, n = 70;
  const TypedTensor w = makeTyped(randomFloats(static_cast<size_t>(n) * k, seed + 1), dtype);
  DeviceBuffer storage;
  const WeightView w_view = weightFor(backend, w, n, k, true, storage);
  ASSERT_EQ(w_view.layout, WeightLayout::kPacked);
  expectRowsIndependentOfTheBatch(backend, w_view, m, k, n, seed);
}

// BF16 weights are packed on CPUs with AVX-512 BF16 (vdpbf16ps panels), F32 on AVX-512.
class MatmulPacked : public ::testing::TestWithParam<DType> {
 protected:
  void SetUp() override {
    if (backend_.packedMatmulWeightBytes(GetParam(), 32, 64) == 0) {
      GTEST_SKIP() << dtypeName(GetParam()) << " weights stay row-major on this CPU";
    }
  }
  CpuBackend backend_{CpuBackendOptions{.num_threads = 2, .simd_level = std::nullopt}};
};

TEST_P(MatmulPacked, MatchesReferenceAtEveryM) {
  checkPackedAtEveryM(backend_, GetParam(), GetParam() == DType::kBF16 ? 500 : 700);
  EXPECT_EQ(backend_.packedMatmulWeightBytes(DType::kF16, 32, 64), 0u);  // F16 stays row-major
}

TEST_P(MatmulPacked, RowsAreBitwiseIndependentOfTheBatch) {
  checkRowsIndependentOfTheBatch(backend_, GetParam(), GetParam() == DType::kBF16 ? 600 : 800);
}

INSTANTIATE_TEST_SUITE_P(F32AndBf16, MatmulPacked, ::testing::Values(DType::kF32, DType::kBF16),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return std::string(dtypeName(info.param));
                         });

// Makes the rows of `values` [rows, k] (random in [-1, 1]) integers times a per-row power of two
// with the row's maximum at +-127 times it, when `exact` (BF16-, F16- and F32-exact values that
// symmetric INT8 quantization recovers exactly). Returns each row's quantization scale,
// max |row| / 127.
std::vector<double> int8Rows(std::vector<float>& values, int rows, int k, bool exact) {
  std::vector<double> scales(rows);
  for (int j = 0; j < rows; ++j) {
    float* row = values.data() + static_cast<size_t>(j) * k;
    if (exact) {
      const float step = std::ldexp(1.0f, -7 - j % 5);
      for (int i = 0; i < k; ++i) row[i] = std::round(row[i] * 127.0f) * step;
      row[(j * 7) % k] = (j % 2 ? 127.0f : -127.0f) * step;  // the row's maximum
    }
    double max_abs = 0;
    for (int i = 0; i < k; ++i) max_abs = std::max(max_abs, std::abs(double{row[i]}));
    scales[j] = max_abs / 127;
  }
  return scales;
}

// The INT8 suites' scaffolding: skips without the scheme's matmul, packs weights for it.
template <Quantization kScheme>
class QuantizedMatmulTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (backend_.packedInt8MatmulWeightBytes(kScheme, 32, 64) == 0) {
      GTEST_SKIP() << "no " << quantizationName(kScheme) << " matmul on this CPU";
    }
  }

  // w quantized here (a float dtype), or taken as it is with `scales` (I8).
  WeightView pack(WeightView w, int n, int k, const float* scales = nullptr) {
    const size_t bytes = backend_.packedInt8MatmulWeightBytes(kScheme, n, k);
    storage_.push_back(std::move(backend_.allocate(bytes)).value());
    std::memset(storage_.back().data(), 0xA5, bytes);  // the packed form must not read it
    const WeightView view =
        backend_.packMatmulWeightInt8(kScheme, w, scales, n, k, storage_.back().data());
    EXPECT_EQ(view.layout, kScheme == Quantization::kW8A8 ? WeightLayout::kPackedW8A8
                                                          : WeightLayout::kPackedInt8);
    return view;
  }

  void expectRowsIndependentOfTheBatch(int m, int k, int n, uint32_t seed) {
    const TypedTensor w =
        makeTyped(randomFloats(static_cast<size_t>(n) * k, seed + 1), DType::kBF16);
    cpu::expectRowsIndependentOfTheBatch(backend_, pack(w.view(), n, k), m, k, n, seed);
  }

  // A checkpoint's INT8 values (-128 included, which quantizing here never makes) and per-row
  // scales are packed as they are: with activations exact in BF16 and in INT8 per row, the
  // product is exact to F32 summation.
  void expectPreQuantizedWeightsKept(const MatmulShape& s, uint32_t seed) {
    std::vector<float> x = randomFloats(static_cast<size_t>(s.m) * s.k, seed);
    int8Rows(x, s.m, s.k, /*exact=*/true);
    std::vector<int8_t> q(static_cast<size_t>(s.n) * s.k);
    std::mt19937 rng(seed + 1);
    for (int8_t& value : q) value = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
    std::vector<float> scales(s.n);
    for (int j = 0; j < s.n; ++j) scales[j] = std::ldexp(1.0f + (j % 7) / 8.0f, -9 - j % 3);
    const std::vector<float> bias = randomFloats(s.n, seed + 2);
    const WeightView view = pack(WeightView{q.data(), DType::kI8}, s.n, s.k, scales.data());
    std::vector<float> out(static_cast<size_t>(s.m) * s.n, NAN);
    backend_.matmul(x.data(), s.m, s.k, view, s.n, {bias.data(), DType::kF32}, out.data());
    for (int i = 0; i < s.m; ++i) {
      for (int j = 0; j < s.n; ++j) {
        double expected = bias[j], magnitude = std::abs(double{bias[j]});
        for (int kk = 0; kk < s.k; ++kk) {
          const double term = double{x[static_cast<size_t>(i) * s.k + kk]} *
                              q[static_cast<size_t>(j) * s.k + kk] * scales[j];
          expected += term;
          magnitude += std::abs(term);
        }
        ASSERT_NEAR(out[static_cast<size_t>(i) * s.n + j], expected, 1e-6 * magnitude + 1e-6)
            << "m=" << s.m << " k=" << s.k << " n=" << s.n << " at (" << i << ", " << j << ")";
      }
    }
  }

  CpuBackend backend_{CpuBackendOptions{.num_threads = 2, .simd_level = std::nullopt}};
  std::vector<DeviceBuffer> storage_;
};

// Weight-only INT8 (packMatmulWeightInt8): quantized per output channel, computed with the BF16
// dot products over activations rounded to BF16.
class MatmulInt8 : public QuantizedMatmulTest<Quantization::kInt8> {
 protected:
  // out of x [m, k] times w [n, k] (of `dtype`), quantized, plus an F32 bias, against the double
  // reference over the unquantized weights. Rounding each weight to the nearest of 255 levels
  // moves it by at most scale / 2 (scale = max |row| / 127), so an output moves by at most
  // sum |x| * scale / 2; with `exact` the weights are integers times a per-row scale, which the
  // quantization recovers exactly, and only summation error is allowed.
  void check(const MatmulShape& s, DType dtype, bool exact, uint32_t seed) {
    const std::vector<float> x = randomFloats(static_cast<size_t>(s.m) * s.k, seed);
    std::vector<float> source = randomFloats(static_cast<size_t>(s.n) * s.k, seed + 1);
    const std::vector<double> scales = int8Rows(source, s.n, s.k, exact);
    const TypedTensor w = makeTyped(source, dtype);
    const std::vector<float> bias = randomFloats(s.n, seed + 2);
    const WeightView view = pack(w.view(), s.n, s.k);
    std::vector<float> out(static_cast<size_t>(s.m) * s.n, NAN);
    backend_.matmul(x.data(), s.m, s.k, view, s.n, {bias.data(), DType::kF32}, out.data());
    for (int i = 0; i < s.m; ++i) {
      for (int j = 0; j < s.n; ++j) {
        double expected = bias[j];
        double magnitude = 0;
        double x_sum = 0;
        for (int kk = 0; kk < s.k; ++kk) {
          const double xv = bf16ToF32(f32ToBf16(x[static_cast<size_t>(i) * s.k + kk]));
          const double term = xv * w.values[static_cast<size_t>(j) * s.k + kk];
          expected += term;
          magnitude += std::abs(term);
          x_sum += std::abs(xv);
        }
        const double quantization = exact ? 0.0 : x_sum * scales[j] * (0.5 + 1e-3);
        ASSERT_NEAR(out[static_cast<size_t>(i) * s.n + j], expected,
                    quantization + 1e-5 * magnitude + 1e-6)
            << "m=" << s.m << " k=" << s.k << " n=" << s.n << " " << dtypeName(dtype) << " at ("
            << i << ", " << j << ")";
      }
    }
  }
};

// Every m from decode to prefill tiles (one row tile widens in registers, more widen each depth
// block once), k odd and across several depth blocks, n across partial panels.
const std::vector<MatmulShape> kInt8Shapes = {
    {1, 64, 172},  {1, 577, 1536}, {2, 37, 11},   {12, 600, 70},  {13, 301, 45},
    {25, 576, 33}, {64, 33, 17},   {130, 64, 96}, {13, 1601, 40}, {1, 3073, 33}};

TEST_F(MatmulInt8, ExactOnWeightsThatAreIntegersTimesTheirRowScale) {
  uint32_t seed = 900;
  for (const MatmulShape& shape : kInt8Shapes) check(shape, DType::kBF16, true, seed++);
  check({5, 300, 40}, DType::kF32, true, seed++);
  check({5, 300, 40}, DType::kF16, true, seed++);
}

TEST_F(MatmulInt8, WithinHalfAStepOfTheUnquantizedProduct) {
  uint32_t seed = 950;
  for (const MatmulShape& shape : kInt8Shapes) check(shape, DType::kBF16, false, seed++);
  check({5, 300, 40}, DType::kF32, false, seed++);
}

TEST_F(MatmulInt8, RowsAreBitwiseIndependentOfTheBatch) {
  expectRowsIndependentOfTheBatch(37, 1601, 70, 990);  // two depth blocks
}

TEST_F(MatmulInt8, PreQuantizedWeightsArePackedAsTheyAre) {
  expectPreQuantizedWeightsKept({1, 577, 70}, 1000);
  expectPreQuantizedWeightsKept({13, 1601, 40}, 1010);
}

TEST_F(MatmulInt8, ZeroAndNanRowsQuantizeToZero) {
  const int m = 3, k = 40, n = 33;
  std::vector<float> source = randomFloats(static_cast<size_t>(n) * k, 995);
  for (int i = 0; i < k; ++i) source[i] = 0.0f;             // row 0: all zero
  source[static_cast<size_t>(32) * k + 5] = std::nanf("");  // row 32 (second panel)
  const TypedTensor w = makeTyped(source, DType::kF32);
  const WeightView view = pack(w.view(), n, k);
  const std::vector<float> x = randomFloats(static_cast<size_t>(m) * k, 996);
  std::vector<float> out(static_cast<size_t>(m) * n, NAN);
  backend_.matmul(x.data(), m, k, view, n, {}, out.data());
  for (int i = 0; i < m; ++i) {
    EXPECT_EQ(out[static_cast<size_t>(i) * n], 0.0f);
    EXPECT_TRUE(std::isfinite(out[static_cast<size_t>(i) * n + 32])) << "row " << i;
  }
}

TEST(MatmulInt8Unsupported, NoInt8WithoutBf16DotProducts) {
  CpuBackendOptions options;
  options.bf16_dot_products = false;
  EXPECT_EQ(CpuBackend(options).packedInt8MatmulWeightBytes(Quantization::kInt8, 32, 64), 0u);
  options.bf16_dot_products = true;
  options.simd_level = SimdLevel::kAvx2;
  EXPECT_EQ(CpuBackend(options).packedInt8MatmulWeightBytes(Quantization::kInt8, 32, 64), 0u);
}

// W8A8 (packMatmulWeightInt8 with kW8A8): weights quantized per output channel, activations per
// row at each call, the products summed exactly in INT32 by vpdpbusd.
class MatmulW8A8 : public QuantizedMatmulTest<Quantization::kW8A8> {
 protected:
  // out of x [m, k] times w [n, k] (of `dtype`), both quantized, plus an F32 bias, against the
  // double reference over the unquantized values. Each x (w) moves by at most its row's scale
  // sx / 2 (sw / 2), so a product moves by at most sx / 2 * |w| + sw / 2 * |x| + sx * sw / 4.
  // With `exact` both are integers times per-row scales: the INT32 sums are exact and only the
  // final scale multiply and add round.
  void check(const MatmulShape& s, DType dtype, bool exact, uint32_t seed) {
    std::vector<float> x = randomFloats(static_cast<size_t>(s.m) * s.k, seed);
    const std::vector<double> x_scales = int8Rows(x, s.m, s.k, exact);
    std::vector<float> source = randomFloats(static_cast<size_t>(s.n) * s.k, seed + 1);
    const std::vector<double> w_scales = int8Rows(source, s.n, s.k, exact);
    const TypedTensor w = makeTyped(source, dtype);
    const std::vector<float> bias = randomFloats(s.n, seed + 2);
    const WeightView view = pack(w.view(), s.n, s.k);
    std::vector<float> out(static_cast<size_t>(s.m) * s.n, NAN);
    backend_.matmul(x.data(), s.m, s.k, view, s.n, {bias.data(), DType::kF32}, out.data());
    for (int i = 0; i < s.m; ++i) {
      for (int j = 0; j < s.n; ++j) {
        double expected = bias[j];
        double magnitude = std::abs(double{bias[j]});
        double quantization = 0;
        for (int kk = 0; kk < s.k; ++kk) {
          const double xv = x[static_cast<size_t>(i) * s.k + kk];
          const double wv = w.values[static_cast<size_t>(j) * s.k + kk];
          expected += xv * wv;
          magnitude += std::abs(xv * wv);
          quantization += x_scales[i] / 2 * std::abs(wv) + w_scales[j] / 2 * std::abs(xv) +
                          x_scales[i] * w_scales[j] / 4;
        }
        const double bound = (exact ? 0.0 : quantization * (1 + 1e-3)) + 1e-6 * magnitude + 1e-6;
        ASSERT_NEAR(out[static_cast<size_t>(i) * s.n + j], expected, bound)
            << "m=" << s.m << " k=" << s.k << " n=" << s.n << " " << dtypeName(dtype) << " at ("
            << i << ", " << j << ")";
      }
    }
  }
};

// The INT8 shapes, and three depth blocks (k = 6145: 1537 groups of four).
TEST_F(MatmulW8A8, ExactOnValuesThatAreIntegersTimesTheirRowScale) {
  uint32_t seed = 1100;
  for (const MatmulShape& shape : kInt8Shapes) check(shape, DType::kBF16, true, seed++);
  check({13, 6145, 40}, DType::kBF16, true, seed++);
  check({5, 300, 40}, DType::kF32, true, seed++);
  check({5, 300, 40}, DType::kF16, true, seed++);
}

TEST_F(MatmulW8A8, WithinHalfAStepOfBothOperands) {
  uint32_t seed = 1150;
  for (const MatmulShape& shape : kInt8Shapes) check(shape, DType::kBF16, false, seed++);
  check({13, 6145, 40}, DType::kBF16, false, seed++);
  check({5, 300, 40}, DType::kF32, false, seed++);
}

TEST_F(MatmulW8A8, RowsAreBitwiseIndependentOfTheBatch) {
  expectRowsIndependentOfTheBatch(37, 3073, 70, 1190);  // two depth blocks
}

TEST_F(MatmulW8A8, PreQuantizedWeightsArePackedAsTheyAre) {
  expectPreQuantizedWeightsKept({1, 577, 70}, 1200);
  expectPreQuantizedWeightsKept({13, 3073, 40}, 1210);
}

// Weights: a zero row gives 0, a NaN weight quantizes to 0. Activations: a zero row gives the
// bias; a row holding an infinity or NaN gives NaN everywhere (as unquantized), and no other row
// notices.
TEST_F(MatmulW8A8, ZeroAndNonFiniteRows) {
  const int m = 4, k = 40, n = 33;
  std::vector<float> source = randomFloats(static_cast<size_t>(n) * k, 1195);
  for (int i = 0; i < k; ++i) source[i] = 0.0f;             // weight row 0: all zero
  source[static_cast<size_t>(32) * k + 5] = std::nanf("");  // weight row 32 (second panel)
  const TypedTensor w = makeTyped(source, DType::kF32);
  const WeightView view = pack(w.view(), n, k);
  std::vector<float> x = randomFloats(static_cast<size_t>(m) * k, 1196);
  for (int i = 0; i < k; ++i) x[static_cast<size_t>(1) * k + i] = 0.0f;  // row 1: all zero
  x[static_cast<size_t>(2) * k + 39] = std::nanf("");                    // row 2: a NaN
  x[static_cast<size_t>(3) * k + 7] = -INFINITY;                         // row 3: an infinity
  const std::vector<float> bias = randomFloats(n, 1197);
  std::vector<float> out(static_cast<size_t>(m) * n, 12345.0f);
  backend_.matmul(x.data(), m, k, view, n, {bias.data(), DType::kF32}, out.data());
  EXPECT_EQ(out[0], bias[0]);
  EXPECT_TRUE(std::isfinite(out[32]));
  for (int j = 0; j < n; ++j) {
    EXPECT_EQ(out[static_cast<size_t>(1) * n + j], bias[j]) << "column " << j;
    EXPECT_TRUE(std::isnan(out[static_cast<size_t>(2) * n + j])) << "column " << j;
    EXPECT_TRUE(std::isnan(out[static_cast<size_t>(3) * n + j])) << "column " << j;
  }
}

// An activation row whose maximum is 127 has the scale 1, so each value's rounding shows through
// a weight that is 127 times the identity: halves round to even, as nearbyint does.
TEST_F(MatmulW8A8, ActivationsRoundToNearestEven) {
  const std::vector<float> x = {127.0f, 0.6f, -0.6f, 2.5f, 3.5f, -2.5f, 1.4f, 126.5f, -0.5f};
  const std::vector<float> rounded = {127, 1, -1, 2, 4, -2, 1, 126, 0};
  const int k = static_cast<int>(x.size()), n = k;
  std::vector<float> identity(static_cast<size_t>(n) * k, 0.0f);
  for (int j = 0; j < n; ++j) identity[static_cast<size_t>(j) * k + j] = 127.0f;
  const WeightView view = pack(makeTyped(identity, DType::kF32).view(), n, k);
  std::vector<float> out(n, NAN);
  backend_.matmul(x.data(), 1, k, view, n, {}, out.data());
  for (int j = 0; j < n; ++j) EXPECT_EQ(out[j], 127.0f * rounded[j]) << "x = " << x[j];
}

TEST(MatmulW8A8Unsupported, NoW8A8WithoutAvx512OrPastTheInt32Depth) {
  CpuBackendOptions options;
  CpuBackend backend(options);
  if (backend.packedInt8MatmulWeightBytes(Quantization::kW8A8, 32, 64) == 0) {
    GTEST_SKIP() << "no W8A8 matmul on this CPU (needs AVX-512 VNNI)";
  }
  EXPECT_GT(backend.packedInt8MatmulWeightBytes(Quantization::kW8A8, 32, kW8A8MaxDepth), 0u);
  EXPECT_EQ(backend.packedInt8MatmulWeightBytes(Quantization::kW8A8, 32, kW8A8MaxDepth + 1), 0u);
  EXPECT_EQ(backend.packedInt8MatmulWeightBytes(Quantization::kNone, 32, 64), 0u);
  options.simd_level = SimdLevel::kAvx2;
  EXPECT_EQ(CpuBackend(options).packedInt8MatmulWeightBytes(Quantization::kW8A8, 32, 64), 0u);
}

TEST(MatmulPackingOff, NothingIsPacked) {
  CpuBackendOptions options;
  options.pack_weights = false;
  CpuBackend backend(options);
  EXPECT_EQ(backend.packedMatmulWeightBytes(DType::kF32, 32, 64), 0u);
  EXPECT_EQ(backend.packedMatmulWeightBytes(DType::kBF16, 32, 64), 0u);
  EXPECT_EQ(backend.packedMatmulWeightBytes(DType::kF16, 32, 64), 0u);
}

TEST(MatmulBlas, OpenBlasRouteForLargeF32BatchesMatchesReference) {
  CpuBackendOptions options;
  options.num_threads = 2;
  options.blas_min_rows = 16;
  CpuBackend backend(options);
  checkMatmul(backend, {64, 576, 192}, DType::kF32, DType::kF32, true, 400);
  checkMatmul(backend, {64, 64, 40}, DType::kF32, DType::kBF16, true, 401);
  // Below the threshold and for 16-bit weights the own kernels run.
  checkMatmul(backend, {8, 64, 40}, DType::kF32, DType::kF32, false, 402);
  checkMatmul(backend, {64, 64, 40}, DType::kBF16, DType::kF32, false, 403);
}

INSTANTIATE_TEST_SUITE_P(AllSimdPaths, Matmul, ::testing::ValuesIn(availableSimdLevels()),
                         testing::simdLevelParamName);

}  // namespace
}  // namespace manifold::kernels::cpu
