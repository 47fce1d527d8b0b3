// Helpers shared by the model runner tests: run one sequence (prefill in chunks, optional
// block table) and greedy decoding through the paged KV cache.
#pragma once

#include <algorithm>
#include <numeric>
#include <vector>

#include "engine/model/forward_batch.h"
#include "engine/model/model_runner.h"
#include "kernels/cpu/cpu_backend.h"

namespace manifold::testing_runner {

// Whether the default CPU backend has the INT8 matmul of `scheme` (--quantization int8: AVX-512
// BF16; w8a8: AVX-512 VNNI).
inline bool haveInt8Matmul(Quantization scheme = Quantization::kInt8) {
  return kernels::cpu::CpuBackend(kernels::cpu::CpuBackendOptions{})
             .packedInt8MatmulWeightBytes(scheme, 32, 64) > 0;
}

inline std::vector<int32_t> iota(int n, int first = 0) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

// Logits of every position of `prompt`, fed in chunks of `chunk` tokens through `block_table`.
inline std::vector<float> allPositionLogits(ModelRunner& runner, const std::vector<int32_t>& prompt,
                                            int chunk, const std::vector<int32_t>& block_table,
                                            Status* status) {
  const int vocab = runner.vocabSize();
  std::vector<float> out(prompt.size() * vocab);
  ForwardBatchBuilder builder(runner.blockSize());
  for (size_t begin = 0; begin < prompt.size(); begin += chunk) {
    const size_t end = std::min(prompt.size(), begin + chunk);
    builder.clear();
    builder.addSequence(std::span(prompt).subspan(begin, end - begin), static_cast<int>(begin),
                        block_table, /*all_logits=*/true);
    *status = runner.forward(builder.view(), out.data() + begin * vocab);
    if (!status->isOk()) return {};
  }
  return out;
}

inline int32_t argmaxRow(const float* row, int n) {
  return static_cast<int32_t>(std::max_element(row, row + n) - row);
}

}  // namespace manifold::testing_runner
