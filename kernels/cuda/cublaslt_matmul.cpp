#include "kernels/cuda/cublaslt_matmul.h"

#include <cublasLt.h>
#include <cublas_v2.h>

#include <string>
#include <tuple>
#include <unordered_map>

namespace manifold::kernels::cuda {
namespace {

// Distinct (m, n, k, dtype) shapes kept; a serving engine sees one per (weight, batch size).
constexpr size_t kMaxCachedShapes = 4096;

struct ShapeKey {
  int m;
  int n;
  int k;
  DType dtype;
  bool operator==(const ShapeKey&) const = default;
};

struct ShapeKeyHash {
  size_t operator()(const ShapeKey& key) const {
    auto h = static_cast<size_t>(key.m);
    h = h * 1000003u ^ static_cast<size_t>(key.n);
    h = h * 1000003u ^ static_cast<size_t>(key.k);
    return h * 31u ^ static_cast<size_t>(key.dtype);
  }
};

cudaDataType_t cudaType(DType dtype) {
  switch (dtype) {
    case DType::kBF16:
      return CUDA_R_16BF;
    case DType::kF16:
      return CUDA_R_16F;
    case DType::kF32:
    case DType::kI8:  // never a matmul operand here (common/dtype.h)
      break;
  }
  return CUDA_R_32F;
}

std::string shapeText(const ShapeKey& key) {
  return "m=" + std::to_string(key.m) + " n=" + std::to_string(key.n) +
         " k=" + std::to_string(key.k) + " " + std::string(dtypeName(key.dtype));
}

Status ltError(cublasStatus_t status, const char* what, const ShapeKey& key) {
  return internalError(std::string("cuBLASLt ") + what + " failed (" +
                       cublasLtGetStatusName(status) + ": " + cublasLtGetStatusString(status) +
                       ") for " + shapeText(key));
}

// One shape's descriptors and chosen algorithm.
struct ShapePlan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr;  // w
  cublasLtMatrixLayout_t b = nullptr;  // x
  cublasLtMatrixLayout_t d = nullptr;  // out
  cublasLtMatmulAlgo_t algo{};

  ShapePlan() = default;
  ShapePlan(const ShapePlan&) = delete;
  ShapePlan& operator=(const ShapePlan&) = delete;
  ~ShapePlan() {
    if (d != nullptr) cublasLtMatrixLayoutDestroy(d);
    if (b != nullptr) cublasLtMatrixLayoutDestroy(b);
    if (a != nullptr) cublasLtMatrixLayoutDestroy(a);
    if (desc != nullptr) cublasLtMatmulDescDestroy(desc);
  }
};

}  // namespace

struct CublasLtMatmul::Impl {
  cublasLtHandle_t handle = nullptr;
  // Fallback for shapes cuBLASLt's heuristic has no algorithm for (e.g. 16-bit operands whose
  // leading dimension breaks its alignment needs): cublasGemmEx, same types and accumulation.
  cublasHandle_t fallback = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  std::unordered_map<ShapeKey, std::unique_ptr<ShapePlan>, ShapeKeyHash> plans;

  ~Impl() {
    plans.clear();
    if (workspace != nullptr) cudaFree(workspace);
    if (fallback != nullptr) cublasDestroy(fallback);
    if (handle != nullptr) cublasLtDestroy(handle);
  }

  Result<const ShapePlan*> planFor(const ShapeKey& key) {
    if (auto it = plans.find(key); it != plans.end()) return it->second.get();
    if (plans.size() >= kMaxCachedShapes) plans.clear();
    auto plan = std::make_unique<ShapePlan>();
    const cudaDataType_t in_type = cudaType(key.dtype);
    cublasStatus_t status = cublasLtMatmulDescCreate(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    if (status != CUBLAS_STATUS_SUCCESS) return ltError(status, "MatmulDescCreate", key);
    const cublasOperation_t transpose = CUBLAS_OP_T;
    status = cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &transpose,
                                            sizeof(transpose));
    if (status != CUBLAS_STATUS_SUCCESS) return ltError(status, "MatmulDescSetAttribute", key);
    status = cublasLtMatrixLayoutCreate(&plan->a, in_type, key.k, key.n, key.k);
    if (status == CUBLAS_STATUS_SUCCESS) {
      status = cublasLtMatrixLayoutCreate(&plan->b, in_type, key.k, key.m, key.k);
    }
    if (status == CUBLAS_STATUS_SUCCESS) {
      status = cublasLtMatrixLayoutCreate(&plan->d, CUDA_R_32F, key.n, key.m, key.n);
    }
    if (status != CUBLAS_STATUS_SUCCESS) return ltError(status, "MatrixLayoutCreate", key);

    cublasLtMatmulPreference_t preference = nullptr;
    status = cublasLtMatmulPreferenceCreate(&preference);
    if (status != CUBLAS_STATUS_SUCCESS) return ltError(status, "MatmulPreferenceCreate", key);
    status =
        cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                             &workspace_bytes, sizeof(workspace_bytes));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    if (status == CUBLAS_STATUS_SUCCESS) {
      status = cublasLtMatmulAlgoGetHeuristic(handle, plan->desc, plan->a, plan->b, plan->d,
                                              plan->d, preference, 1, &result, &found);
    }
    cublasLtMatmulPreferenceDestroy(preference);
    if (status != CUBLAS_STATUS_SUCCESS) return ltError(status, "MatmulAlgoGetHeuristic", key);
    if (found == 0) {
      plans.emplace(key, nullptr);  // remembered: use the cublasGemmEx fallback
      return static_cast<const ShapePlan*>(nullptr);
    }
    plan->algo = result.algo;
    const ShapePlan* raw = plan.get();
    plans.emplace(key, std::move(plan));
    return raw;
  }
};

CublasLtMatmul::CublasLtMatmul(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CublasLtMatmul::~CublasLtMatmul() = default;

Result<std::unique_ptr<CublasLtMatmul>> CublasLtMatmul::create(size_t workspace_bytes) {
  auto impl = std::make_unique<Impl>();
  const cublasStatus_t status = cublasLtCreate(&impl->handle);
  if (status != CUBLAS_STATUS_SUCCESS) {
    return unavailable(std::string("cublasLtCreate failed: ") + cublasLtGetStatusName(status));
  }
  const cublasStatus_t fallback_status = cublasCreate(&impl->fallback);
  if (fallback_status != CUBLAS_STATUS_SUCCESS) {
    return unavailable(std::string("cublasCreate failed: ") + cublasGetStatusName(fallback_status));
  }
  if (workspace_bytes > 0) {
    const cudaError_t error = cudaMalloc(&impl->workspace, workspace_bytes);
    if (error != cudaSuccess) {
      cudaGetLastError();
      return resourceExhausted(std::string("cuBLASLt workspace: ") + cudaGetErrorString(error));
    }
  }
  impl->workspace_bytes = workspace_bytes;
  // A set workspace keeps cublasGemmEx from allocating (graph capture). The default math mode
  // with CUBLAS_COMPUTE_32F never down-converts F32 to TF32.
  const cublasStatus_t workspace_status =
      cublasSetWorkspace(impl->fallback, impl->workspace, workspace_bytes);
  if (workspace_status != CUBLAS_STATUS_SUCCESS) {
    return unavailable(std::string("cublasSetWorkspace failed: ") +
                       cublasGetStatusName(workspace_status));
  }
  return std::unique_ptr<CublasLtMatmul>(new CublasLtMatmul(std::move(impl)));
}

Status CublasLtMatmul::run(const void* x, int m, int k, const void* w, DType dtype, int n,
                           float* out, cudaStream_t stream) {
  const ShapeKey key{m, n, k, dtype};
  Result<const ShapePlan*> plan = impl_->planFor(key);
  if (!plan.isOk()) return plan.status();
  const float alpha = 1.0f;
  const float beta = 0.0f;
  if (*plan == nullptr) {
    cublasStatus_t status = cublasSetStream(impl_->fallback, stream);
    if (status == CUBLAS_STATUS_SUCCESS) {
      const cudaDataType_t in_type = cudaType(dtype);
      status = cublasGemmEx(impl_->fallback, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, w, in_type,
                            k, x, in_type, k, &beta, out, CUDA_R_32F, n, CUBLAS_COMPUTE_32F,
                            CUBLAS_GEMM_DEFAULT);
    }
    if (status != CUBLAS_STATUS_SUCCESS) return ltError(status, "GemmEx (fallback)", key);
    return Status::ok();
  }
  const ShapePlan& p = **plan;
  const cublasStatus_t status =
      cublasLtMatmul(impl_->handle, p.desc, &alpha, w, p.a, x, p.b, &beta, out, p.d, out, p.d,
                     &p.algo, impl_->workspace, impl_->workspace_bytes, stream);
  if (status != CUBLAS_STATUS_SUCCESS) return ltError(status, "Matmul", key);
  return Status::ok();
}

}  // namespace manifold::kernels::cuda
