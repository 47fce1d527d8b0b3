// Helpers shared by the model runner tests: run one sequence (prefill in chunks, optional
// block table) and greedy decoding through the paged KV cache.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/loader/safetensors.h"
#include "engine/loader/safetensors_writer.h"
#include "engine/model/forward_batch.h"
#include "engine/model/model_runner.h"
#include "kernels/cpu/cpu_backend.h"

namespace manifold::testing_runner {

// stories260K as a compressed-tensors INT8 W8A8 checkpoint (tests/data/models/README.md).
constexpr const char* kW8a8Checkpoint = MANIFOLD_SOURCE_DIR "/tests/data/models/stories260K-w8a8";

// That checkpoint written to `dir` (made afresh), its tensors passed through `edit` (which may
// replace, add or drop views; bytes it points them at must outlive the call) and its
// config.json through `edit_config`.
inline void writeModifiedW8a8(const std::filesystem::path& dir,
                              const std::function<void(std::vector<TensorView>&)>& edit,
                              const std::function<void(nlohmann::json&)>& edit_config = {}) {
  namespace fs = std::filesystem;
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
    fs::copy_file(fs::path(kW8a8Checkpoint) / name, dir / name);
  }
  std::ifstream in(fs::path(kW8a8Checkpoint) / "config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  if (edit_config) edit_config(config);
  std::ofstream(dir / "config.json") << config.dump(2);
  Result<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::open(fs::path(kW8a8Checkpoint) / "model.safetensors");
  ASSERT_TRUE(file.isOk()) << file.status().toString();
  std::vector<TensorView> tensors = (*file)->tensors();
  if (edit) edit(tensors);
  ASSERT_TRUE(writeSafetensors(dir / "model.safetensors", tensors).isOk());
}

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
