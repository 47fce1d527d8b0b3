// The runner's load-time and batch checks, the KV pool sizing, the batch builder's slot mapping,
// and sliding-window attention (checked through an invariant of RoPE: with a one-layer model,
// the last position attends only to the last W tokens, whose scores depend only on relative
// positions, so running those W tokens alone gives the same logits).
#include "engine/model/model_runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/loader/random_model.h"
#include "engine/loader/safetensors_writer.h"
#include "kernels/cpu/bf16_gemm.h"
#include "tests/engine/model/runner_test_util.h"

namespace manifold {
namespace {

namespace fs = std::filesystem;
using testing_runner::iota;

constexpr const char* kStories = MANIFOLD_SOURCE_DIR "/models/stories260K";

fs::path freshDir() {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(testing::TempDir()) / "model_runner_test" / info->name();
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::unique_ptr<ModelRunner> storiesRunner(int num_blocks = 8) {
  ModelRunnerOptions options;
  options.kv_cache.num_blocks = num_blocks;
  Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(kStories, options);
  EXPECT_TRUE(runner.isOk()) << runner.status().toString();
  return runner.isOk() ? std::move(runner).value() : nullptr;
}

TEST(ForwardBatchBuilder, MapsEachTokenToItsBlockAndOffset) {
  ForwardBatchBuilder builder(4);
  const std::vector<int32_t> blocks_a = {9, 2, 7};
  const std::vector<int32_t> blocks_b = {5};
  const std::vector<int32_t> a = {10, 11, 12};
  const std::vector<int32_t> b = {20};
  builder.addSequence(a, 3, blocks_a);  // positions 3, 4, 5
  builder.addSequence(b, 0, blocks_b, /*all_logits=*/true);
  const ForwardBatch batch = builder.view();
  EXPECT_EQ(std::vector<int32_t>(batch.positions.begin(), batch.positions.end()),
            (std::vector<int32_t>{3, 4, 5, 0}));
  // Position 3 is offset 3 of block 9; positions 4 and 5 are offsets 0 and 1 of block 2.
  EXPECT_EQ(std::vector<int32_t>(batch.slot_mapping.begin(), batch.slot_mapping.end()),
            (std::vector<int32_t>{9 * 4 + 3, 2 * 4 + 0, 2 * 4 + 1, 5 * 4 + 0}));
  EXPECT_EQ(std::vector<int32_t>(batch.seq_lens.begin(), batch.seq_lens.end()),
            (std::vector<int32_t>{6, 1}));
  EXPECT_EQ(std::vector<int32_t>(batch.query_start.begin(), batch.query_start.end()),
            (std::vector<int32_t>{0, 3, 4}));
  EXPECT_EQ(batch.max_blocks_per_seq, 2);
  EXPECT_EQ(std::vector<int32_t>(batch.block_tables.begin(), batch.block_tables.end()),
            (std::vector<int32_t>{9, 2, 5, 0}));
  EXPECT_EQ(std::vector<int32_t>(batch.logits_rows.begin(), batch.logits_rows.end()),
            (std::vector<int32_t>{2, 3}));
}

TEST(KvCachePool, SizesTheBlockCountFromTheMemoryBudget) {
  Result<ModelConfig> config = loadModelConfig(kStories);
  ASSERT_TRUE(config.isOk());
  // stories260K: 5 layers x 4 KV heads x head_dim 8 x 2 (K and V) x 4 bytes = 1280 B per token.
  EXPECT_EQ(KvCachePool::bytesPerBlock(*config, 16, DType::kF32), 16u * 1280u);
  ModelRunnerOptions options;
  options.kv_cache.space_gib = 1.0 / 1024;  // 1 MiB
  Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(kStories, options);
  ASSERT_TRUE(runner.isOk()) << runner.status().toString();
  EXPECT_EQ((*runner)->numBlocks(), (1 << 20) / (16 * 1280));
  EXPECT_NE((*runner)->summary().find("LlamaForCausalLM"), std::string::npos);
  EXPECT_NE((*runner)->summary().find("51 blocks x 16 tokens"), std::string::npos)
      << (*runner)->summary();
}

TEST(ModelRunner, RejectsInvalidOptions) {
  ModelRunnerOptions options;
  options.kv_cache.block_size = 0;
  EXPECT_EQ(ModelRunner::create(kStories, options).status().code(), StatusCode::kInvalidArgument);
  options = {};
  options.num_threads = 0;
  EXPECT_EQ(ModelRunner::create(kStories, options).status().code(), StatusCode::kInvalidArgument);
  options = {};
  options.max_model_len = 4096;  // stories260K has 512 positions
  Status status = ModelRunner::create(kStories, options).status();
  EXPECT_NE(status.message().find("exceeds the model's max_position_embeddings 512"),
            std::string::npos);
}

TEST(ModelRunner, ReportsLoadProgressWeightsThenKvCache) {
  std::vector<LoadProgress> events;
  ModelRunnerOptions options;
  options.kv_cache.num_blocks = 8;
  options.on_load_progress = [&](const LoadProgress& p) { events.push_back(p); };
  Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(kStories, options);
  ASSERT_TRUE(runner.isOk()) << runner.status().toString();
  Result<std::unique_ptr<WeightStore>> store = WeightStore::open(kStories);
  ASSERT_TRUE(store.isOk());
  const uint64_t weight_bytes = (*store)->totalBytes();
  const uint64_t kv_bytes =
      8 * KvCachePool::bytesPerBlock((*runner)->config(), 16, DType::kF32);  // F32 weights

  // Weights: after the embedding, each of the 5 layers and the head; bytes never go back, and
  // every event before the last has read less than the whole checkpoint.
  std::vector<LoadProgress> weights, kv;
  for (const LoadProgress& p : events) {
    (p.stage == LoadProgress::Stage::kWeights ? weights : kv).push_back(p);
  }
  ASSERT_EQ(weights.size(), 7u);
  for (size_t i = 0; i < weights.size(); ++i) {
    EXPECT_EQ(weights[i].total_bytes, weight_bytes);
    if (i > 0) {
      EXPECT_GE(weights[i].done_bytes, weights[i - 1].done_bytes);
    }
    if (i + 1 < weights.size()) {
      EXPECT_LT(weights[i].done_bytes, weight_bytes);
    }
  }
  EXPECT_EQ(weights.back().done_bytes, weight_bytes);
  // Then the KV cache, a layer at a time, after every weights event.
  EXPECT_EQ(events[weights.size()].stage, LoadProgress::Stage::kKvCache);
  ASSERT_EQ(kv.size(), 5u);
  for (size_t i = 0; i < kv.size(); ++i) {
    EXPECT_EQ(kv[i].total_bytes, kv_bytes);
    EXPECT_EQ(kv[i].done_bytes, kv_bytes * (i + 1) / kv.size());
  }
}

// Copies stories260K into `dir` without the tensor `skip`, and with config.json `config_text`.
void writeModifiedStories(const fs::path& dir, const std::string& skip,
                          const std::string& config_text) {
  Result<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::open(fs::path(kStories) / "model.safetensors");
  ASSERT_TRUE(file.isOk());
  std::vector<TensorView> tensors;
  for (const TensorView& view : (*file)->tensors()) {
    if (view.name != skip) tensors.push_back(view);
  }
  ASSERT_TRUE(writeSafetensors(dir / "model.safetensors", tensors).isOk());
  std::ofstream(dir / "config.json") << config_text;
}

std::string storiesConfigText() {
  std::ifstream in(fs::path(kStories) / "config.json");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// stories260K with every tensor stored as F16, as many Hugging Face checkpoints ship.
void writeF16Stories(const fs::path& dir) {
  Result<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::open(fs::path(kStories) / "model.safetensors");
  ASSERT_TRUE(file.isOk());
  std::vector<std::vector<uint16_t>> halves;
  std::vector<TensorView> tensors;
  for (const TensorView& view : (*file)->tensors()) {
    ASSERT_EQ(view.dtype, DType::kF32) << view.name;
    const auto* values = static_cast<const float*>(view.data);
    std::vector<uint16_t>& half = halves.emplace_back(static_cast<size_t>(view.numel()));
    for (size_t i = 0; i < half.size(); ++i) half[i] = f32ToF16(values[i]);
    TensorView out = view;
    out.dtype = DType::kF16;
    out.data = half.data();
    out.nbytes = half.size() * sizeof(uint16_t);
    tensors.push_back(out);
  }
  ASSERT_TRUE(writeSafetensors(dir / "model.safetensors", tensors).isOk());
  std::ofstream(dir / "config.json") << storiesConfigText();
}

// --dtype auto loads an F16 checkpoint as BF16 where the backend packs BF16 and not F16 (the CPU
// with AVX-512 BF16; vLLM's CPU backend casts float16 to bfloat16 too), else as stored; an
// explicit dtype is always kept.
TEST(ModelRunner, AutoLoadsAnF16CheckpointAsBf16WhereBf16IsTheFastPath) {
  const fs::path dir = freshDir();
  writeF16Stories(dir);
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378, 100, 13, 263};
  auto run = [&](ModelRunnerOptions options, std::vector<float>* logits) {
    options.kv_cache.num_blocks = 4;
    Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(dir, options);
    EXPECT_TRUE(runner.isOk()) << runner.status().toString();
    if (!runner.isOk()) return std::string();
    if (logits == nullptr) return (*runner)->summary();
    Status status;
    *logits = testing_runner::allPositionLogits(**runner, prompt, 8, iota(4), &status);
    EXPECT_TRUE(status.isOk()) << status.toString();
    return (*runner)->summary();
  };
  std::vector<float> auto_logits, f16_logits;
  const std::string auto_summary = run({}, &auto_logits);
  ModelRunnerOptions explicit_f16;
  explicit_f16.weight_dtype = DType::kF16;
  EXPECT_NE(run(explicit_f16, &f16_logits).find("weights F16 "), std::string::npos);
  ModelRunnerOptions f32_products;  // BF16 not packed: F16 stays the better form
  f32_products.cpu_bf16_dot_products = false;
  EXPECT_NE(run(f32_products, nullptr).find("weights F16 "), std::string::npos);
  if (kernels::cpu::cpuHasAvx512Bf16()) {
    EXPECT_NE(auto_summary.find("weights BF16 (from F16) "), std::string::npos) << auto_summary;
  } else {
    EXPECT_NE(auto_summary.find("weights F16 "), std::string::npos) << auto_summary;
  }
  // BF16 weights and activations: within the BF16 dot-product bound of the golden tests.
  ASSERT_EQ(auto_logits.size(), f16_logits.size());
  const int vocab = static_cast<int>(auto_logits.size() / prompt.size());
  for (size_t row = 0; row < prompt.size(); ++row) {
    const float* a = auto_logits.data() + row * vocab;
    const float* f = f16_logits.data() + row * vocab;
    float lo = f[0], hi = f[0], worst = 0.0f;
    for (int i = 0; i < vocab; ++i) {
      lo = std::min(lo, f[i]);
      hi = std::max(hi, f[i]);
      worst = std::max(worst, std::fabs(a[i] - f[i]));
    }
    EXPECT_LE(worst, 5e-2f * (hi - lo)) << "row " << row;
  }
}

// --quantization int8 where the backend has no INT8 matmul (here: BF16 dot products off, as on a
// CPU without AVX-512 BF16) is refused at load, with the reason; where it has one, the summary
// says what the weights became.
TEST(ModelRunner, Int8QuantizationNeedsAnInt8MatmulAndSaysSo) {
  ModelRunnerOptions options;
  options.kv_cache.num_blocks = 4;
  options.quantization = Quantization::kInt8;
  options.cpu_bf16_dot_products = false;
  Result<std::unique_ptr<ModelRunner>> refused =
      ModelRunner::create(MANIFOLD_SOURCE_DIR "/models/stories260K", options);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(refused.status().message().find("AVX-512 BF16"), std::string::npos)
      << refused.status().toString();
  if (!testing_runner::haveInt8Matmul()) GTEST_SKIP() << "no INT8 matmul on this CPU";
  options.cpu_bf16_dot_products = true;
  Result<std::unique_ptr<ModelRunner>> runner =
      ModelRunner::create(MANIFOLD_SOURCE_DIR "/models/stories260K", options);
  ASSERT_TRUE(runner.isOk()) << runner.status().toString();
  EXPECT_NE((*runner)->summary().find("weights INT8 per channel (from F32) "), std::string::npos)
      << (*runner)->summary();
}

// --quantization w8a8 needs AVX-512 VNNI: a backend held to AVX2 refuses it at load and says so.
TEST(ModelRunner, W8A8QuantizationNeedsVnniAndSaysSo) {
  ModelRunnerOptions options;
  options.kv_cache.num_blocks = 4;
  options.quantization = Quantization::kW8A8;
  kernels::cpu::CpuBackendOptions avx2;
  avx2.simd_level = kernels::cpu::SimdLevel::kAvx2;
  Result<std::unique_ptr<ModelRunner>> refused =
      ModelRunner::create(MANIFOLD_SOURCE_DIR "/models/stories260K", options,
                          std::make_unique<kernels::cpu::CpuBackend>(avx2));
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(refused.status().message().find("quantization w8a8"), std::string::npos)
      << refused.status().toString();
  EXPECT_NE(refused.status().message().find("AVX-512 VNNI"), std::string::npos)
      << refused.status().toString();
  if (!testing_runner::haveInt8Matmul(Quantization::kW8A8)) {
    GTEST_SKIP() << "no W8A8 matmul on this CPU";
  }
  Result<std::unique_ptr<ModelRunner>> runner =
      ModelRunner::create(MANIFOLD_SOURCE_DIR "/models/stories260K", options);
  ASSERT_TRUE(runner.isOk()) << runner.status().toString();
  EXPECT_NE(
      (*runner)->summary().find("weights INT8 per channel, activations INT8 per token (from F32) "),
      std::string::npos)
      << (*runner)->summary();
}

using testing_runner::kW8a8Checkpoint;

// The W8A8 checkpoint edited (testing_runner::writeModifiedW8a8) into a fresh folder of its own.
fs::path writeModifiedW8a8(const std::function<void(std::vector<TensorView>&)>& edit,
                           const std::function<void(nlohmann::json&)>& edit_config = {}) {
  static int count = 0;  // folders of one test live side by side (freshDir() would clear them)
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::path(testing::TempDir()) / "model_runner_test" / info->name() /
                       ("w8a8-" + std::to_string(count++));
  testing_runner::writeModifiedW8a8(dir, edit, edit_config);
  return dir;
}

TensorView* findTensor(std::vector<TensorView>& tensors, const std::string& name) {
  for (TensorView& view : tensors) {
    if (view.name == name) return &view;
  }
  ADD_FAILURE() << "no tensor " << name;
  return &tensors.front();
}

// The checkpoint's quantization_config decides: W8A8 with no flag, and --quantization may only
// repeat it (W8A16 checkpoints: golden_logits_test). The LM head (ignored by the checkpoint, tied
// to the F32 embedding) stays float.
TEST(ModelRunner, CompressedTensorsCheckpointRunsItsOwnScheme) {
  if (!testing_runner::haveInt8Matmul(Quantization::kW8A8)) GTEST_SKIP() << "no W8A8 matmul";
  ModelRunnerOptions options;
  options.kv_cache.num_blocks = 4;
  Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(kW8a8Checkpoint, options);
  ASSERT_TRUE(runner.isOk()) << runner.status().toString();
  EXPECT_NE((*runner)->summary().find("weights INT8 per channel, activations INT8 per token "
                                      "(compressed-tensors checkpoint)"),
            std::string::npos)
      << (*runner)->summary();
  options.quantization = Quantization::kW8A8;
  EXPECT_TRUE(ModelRunner::create(kW8a8Checkpoint, options).isOk());
  options.quantization = Quantization::kInt8;
  Result<std::unique_ptr<ModelRunner>> refused = ModelRunner::create(kW8a8Checkpoint, options);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("--quantization int8 does not apply"),
            std::string::npos)
      << refused.status().toString();
}

// make-random-model --quantization w8a8 writes checkpoints this loader serves (the shape of the
// INT8 layers, GQA 4 and an untied float head; numerics: golden_logits_test's stories260K-w8a8).
TEST(ModelRunner, RandomCompressedTensorsCheckpointsLoadAndRun) {
  if (!testing_runner::haveInt8Matmul(Quantization::kW8A8)) GTEST_SKIP() << "no W8A8 matmul";
  RandomModelOptions random;
  random.config = *randomModelPreset("tiny-gqa4");
  random.config.checkpoint_quantization = Quantization::kW8A8;
  random.init_std = 0.25;
  random.out_dir = freshDir();
  ASSERT_TRUE(writeRandomModel(random).isOk());
  ModelRunnerOptions options;
  options.kv_cache.num_blocks = 8;
  Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(random.out_dir, options);
  ASSERT_TRUE(runner.isOk()) << runner.status().toString();
  EXPECT_NE((*runner)->summary().find("(compressed-tensors checkpoint)"), std::string::npos)
      << (*runner)->summary();
  Status status;
  const std::vector<float> logits = testing_runner::allPositionLogits(
      **runner, {1, 7, 42, 300, 5}, 5, testing_runner::iota(8), &status);
  ASSERT_TRUE(status.isOk()) << status.toString();
  ASSERT_EQ(logits.size(), 5u * 384);
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
}

// A per-tensor scale (strategy "tensor": shape [1] or []) is every row's: the same logits,
// bitwise, as that value repeated per row ([n, 1]).
TEST(ModelRunner, PerTensorScalesActAsTheSameScaleOnEveryRow) {
  if (!testing_runner::haveInt8Matmul(Quantization::kW8A8)) GTEST_SKIP() << "no W8A8 matmul";
  const std::string down = "model.layers.1.mlp.down_proj.weight_scale";
  const float scale = 0.0123f;
  const std::vector<float> per_row(64, scale);
  auto withScale = [&](std::vector<int64_t> shape) {
    return writeModifiedW8a8([&](std::vector<TensorView>& t) {
      TensorView* view = findTensor(t, down);
      view->shape = shape;
      view->data = per_row.data();
      view->nbytes = (shape.empty() ? 1 : shape[0]) * sizeof(float);
    });
  };
  ModelRunnerOptions options;
  options.kv_cache.num_blocks = 4;
  std::vector<std::vector<float>> logits;
  for (const fs::path& dir : {withScale({64, 1}), withScale({1}), withScale({})}) {
    Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(dir, options);
    ASSERT_TRUE(runner.isOk()) << runner.status().toString();
    Status status;
    logits.push_back(testing_runner::allPositionLogits(**runner, {1, 403, 261, 30}, 4,
                                                       testing_runner::iota(4), &status));
    ASSERT_TRUE(status.isOk()) << status.toString();
  }
  EXPECT_EQ(logits[1], logits[0]);
  EXPECT_EQ(logits[2], logits[0]);
}

// Damaged quantized checkpoints fail at load with the tensor named, never run.
TEST(ModelRunner, CorruptQuantizedCheckpointsAreClearErrors) {
  if (!testing_runner::haveInt8Matmul(Quantization::kW8A8)) GTEST_SKIP() << "no W8A8 matmul";
  ModelRunnerOptions options;
  options.kv_cache.num_blocks = 4;
  auto expectError = [&](const fs::path& dir, StatusCode code, const std::string& text) {
    Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(dir, options);
    ASSERT_FALSE(runner.isOk()) << text;
    EXPECT_EQ(runner.status().code(), code) << runner.status().toString();
    EXPECT_NE(runner.status().message().find(text), std::string::npos)
        << runner.status().toString();
  };
  const std::string down = "model.layers.2.mlp.down_proj.weight";
  expectError(writeModifiedW8a8([&](std::vector<TensorView>& t) {
                std::erase_if(t, [&](const TensorView& v) { return v.name == down + "_scale"; });
              }),
              StatusCode::kNotFound, "\"" + down + "_scale\" (the scale of the I8 weight");
  std::vector<float> scales(64, std::nanf(""));
  expectError(writeModifiedW8a8([&](std::vector<TensorView>& t) {
                TensorView* scale = findTensor(t, down + "_scale");
                scale->data = scales.data();
              }),
              StatusCode::kDataLoss, down + "_scale\": the scale of row 0");
  expectError(writeModifiedW8a8([&](std::vector<TensorView>& t) {
                TensorView* scale = findTensor(t, down + "_scale");
                scale->shape = {32, 2};
              }),
              StatusCode::kInvalidArgument, "must have shape [64, 1], [64], [1] or []");
  // An I8 tensor outside the quantized linear layers, and a fused pair half quantized.
  std::vector<int8_t> norm(64, 1);
  expectError(writeModifiedW8a8([&](std::vector<TensorView>& t) {
                TensorView* view = findTensor(t, "model.norm.weight");
                view->dtype = DType::kI8;
                view->data = norm.data();
                view->nbytes = norm.size();
              }),
              StatusCode::kInvalidArgument, "\"model.norm.weight\" is I8 where a float tensor");
  Result<std::unique_ptr<SafetensorsFile>> stories =
      SafetensorsFile::open(fs::path(kStories) / "model.safetensors");
  ASSERT_TRUE(stories.isOk());
  const std::string q = "model.layers.0.self_attn.q_proj.weight";
  expectError(writeModifiedW8a8(
                  [&](std::vector<TensorView>& t) { *findTensor(t, q) = *(*stories)->find(q); }),
              StatusCode::kInvalidArgument, "\"" + q + "\" is F32, but");
  // The checkpoint's quantization_config over stories260K's float weights: no I8 weight at all
  // (it loaded float and said INT8).
  const fs::path fake = freshDir();
  std::ifstream in(fs::path(testing_runner::kW8a8Checkpoint) / "config.json");
  writeModifiedStories(fake, "", std::string(std::istreambuf_iterator<char>(in), {}));
  expectError(fake, StatusCode::kInvalidArgument,
              "quantization_config declares INT8 (compressed-tensors) Linear weights, but no "
              "layer weight in the checkpoint is I8");
}

TEST(ModelRunner, NamesAMissingTensor) {
  const fs::path dir = freshDir();
  writeModifiedStories(dir, "model.layers.3.mlp.up_proj.weight", storiesConfigText());
  Status status = ModelRunner::create(dir, {}).status();
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("tensor \"model.layers.3.mlp.up_proj.weight\" is missing"),
            std::string::npos)
      << status.message();
}

TEST(ModelRunner, NamesATensorWhoseShapeDisagreesWithTheConfig) {
  const fs::path dir = freshDir();
  std::string config = storiesConfigText();
  const std::string field = "\"intermediate_size\": 172";
  config.replace(config.find(field), field.size(), "\"intermediate_size\": 170");
  writeModifiedStories(dir, "", config);
  Status status = ModelRunner::create(dir, {}).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(
      status.message().find("model.safetensors: tensor \"model.layers.0.mlp.gate_proj.weight\" "
                            "has shape [172, 64], expected [170, 64]"),
      std::string::npos)
      << status.message();
}

// A NaN in a checkpoint is a load error naming the tensor, not a model that samples token 0.
TEST(ModelRunner, RefusesACheckpointHoldingNan) {
  const fs::path dir = freshDir();
  Result<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::open(fs::path(kStories) / "model.safetensors");
  ASSERT_TRUE(file.isOk());
  std::vector<TensorView> tensors = (*file)->tensors();
  const auto down = std::find_if(tensors.begin(), tensors.end(), [](const TensorView& view) {
    return view.name == "model.layers.4.mlp.down_proj.weight";
  });
  ASSERT_NE(down, tensors.end());
  ASSERT_EQ(down->dtype, DType::kF32);
  std::vector<float> values(static_cast<size_t>(down->numel()));
  std::memcpy(values.data(), down->data, down->nbytes);
  values[3 * down->shape[1] + 7] = std::nanf("");
  down->data = values.data();
  ASSERT_TRUE(writeSafetensors(dir / "model.safetensors", tensors).isOk());
  std::ofstream(dir / "config.json") << storiesConfigText();
  Status status = ModelRunner::create(dir, {}).status();
  EXPECT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("tensor \"model.layers.4.mlp.down_proj.weight\" holds NaN at "
                                  "[3, 7]: the checkpoint is corrupt"),
            std::string::npos)
      << status.message();
}

// A weight past F16's range loads as F32 or BF16 but not as F16, where it would become inf. A
// norm weight past it is fine (norms stay F32), even as the only one.
TEST(ModelRunner, RefusesF16WeightsForValuesPastItsRange) {
  auto write = [](const fs::path& dir, const std::vector<std::pair<std::string, int64_t>>& edits) {
    Result<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::open(fs::path(kStories) / "model.safetensors");
    ASSERT_TRUE(file.isOk());
    std::vector<TensorView> tensors = (*file)->tensors();
    std::vector<std::vector<float>> copies;
    copies.reserve(edits.size());
    for (const auto& [name, index] : edits) {
      const auto it = std::find_if(tensors.begin(), tensors.end(),
                                   [&](const TensorView& view) { return view.name == name; });
      ASSERT_NE(it, tensors.end());
      std::vector<float>& values = copies.emplace_back(static_cast<size_t>(it->numel()));
      std::memcpy(values.data(), it->data, it->nbytes);
      values[static_cast<size_t>(index)] = 7e4f;
      it->data = values.data();
    }
    ASSERT_TRUE(writeSafetensors(dir / "model.safetensors", tensors).isOk());
    std::ofstream(dir / "config.json") << storiesConfigText();
  };
  ModelRunnerOptions options;
  options.kv_cache.num_blocks = 8;
  options.weight_dtype = DType::kF16;
  const fs::path norm_only = freshDir();
  write(norm_only, {{"model.layers.0.input_layernorm.weight", 5}});
  Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(norm_only, options);
  EXPECT_TRUE(runner.isOk()) << runner.status().toString();

  const fs::path dir = fs::path(norm_only.string() + "-matrix");
  fs::create_directories(dir);
  write(dir, {{"model.layers.0.input_layernorm.weight", 5},
              {"model.layers.1.self_attn.o_proj.weight", 2 * 64 + 9}});
  Status status = ModelRunner::create(dir, options).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("tensor \"model.layers.1.self_attn.o_proj.weight\" holds 70000 "
                                  "at [2, 9], beyond F16's range"),
            std::string::npos)
      << status.message();
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    options.weight_dtype = dtype;
    EXPECT_TRUE(ModelRunner::create(dir, options).isOk()) << dtypeName(dtype);
  }
}

// Weights are copied at load and the files closed: a checkpoint truncated (or rewritten) under
// a running engine changes nothing, where reading the mapping would fault with SIGBUS.
TEST(ModelRunner, KeepsRunningWhenItsCheckpointIsTruncated) {
  const fs::path dir = freshDir();
  writeModifiedStories(dir, "", storiesConfigText());
  ModelRunnerOptions options;
  options.kv_cache.num_blocks = 8;
  Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(dir, options);
  ASSERT_TRUE(runner.isOk()) << runner.status().toString();
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298};
  Status status;
  const std::vector<float> before =
      testing_runner::allPositionLogits(**runner, prompt, 16, {0}, &status);
  ASSERT_TRUE(status.isOk()) << status.toString();
  fs::resize_file(dir / "model.safetensors", 0);
  const std::vector<float> after =
      testing_runner::allPositionLogits(**runner, prompt, 16, {1}, &status);
  ASSERT_TRUE(status.isOk()) << status.toString();
  EXPECT_EQ(after, before);
}

// Whether `file` is mapped into this process (/proc/self/maps names mapped files).
bool isMapped(const fs::path& file) {
  std::ifstream maps("/proc/self/maps");
  const std::string name = fs::canonical(file).string();
  for (std::string line; std::getline(maps, line);) {
    if (line.size() >= name.size() &&
        line.compare(line.size() - name.size(), name.size(), name) == 0) {
      return true;
    }
  }
  return false;
}

// The checkpoint stays mapped only while a weight is read from it in place: with mmap_weights and
// weights of the file's dtype, not when every weight is converted (or, on CUDA, copied to the
// device), nor without mmap_weights.
TEST(ModelRunner, KeepsTheCheckpointMappedOnlyWhileAWeightIsReadInPlace) {
  const fs::path f32_dir = freshDir();
  writeModifiedStories(f32_dir, "", storiesConfigText());
  const fs::path f16_dir = fs::path(f32_dir.string() + "-f16");
  fs::create_directories(f16_dir);
  writeF16Stories(f16_dir);
  auto mapped = [&](const fs::path& dir, bool mmap_weights, std::optional<DType> dtype) {
    ModelRunnerOptions options;
    options.kv_cache.num_blocks = 4;
    options.mmap_weights = mmap_weights;
    options.weight_dtype = dtype;
    Result<std::unique_ptr<ModelRunner>> runner = ModelRunner::create(dir, options);
    EXPECT_TRUE(runner.isOk()) << runner.status().toString();
    return isMapped(dir / "model.safetensors");
  };
  EXPECT_TRUE(mapped(f32_dir, true, std::nullopt));
  EXPECT_FALSE(mapped(f32_dir, false, std::nullopt));
  EXPECT_FALSE(mapped(f16_dir, true, DType::kF32));       // every weight converted
  EXPECT_FALSE(isMapped(f32_dir / "model.safetensors"));  // the runners are gone
}

TEST(ModelRunner, RefusesShapesTheCpuAttentionKernelCannotHold) {
  const fs::path dir = freshDir();
  std::string config = storiesConfigText();
  const std::string field = "\"head_dim\": 8";
  config.replace(config.find(field), field.size(), "\"head_dim\": 512");
  std::ofstream(dir / "config.json") << config;
  Status status = ModelRunner::create(dir, {}).status();
  EXPECT_EQ(status.code(), StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("head_dim 512 is larger than"), std::string::npos)
      << status.message();
}

TEST(ModelRunner, RejectsBatchesThatReferToThingsOutOfRange) {
  auto runner = storiesRunner(4);
  ASSERT_TRUE(runner);
  std::vector<float> logits(512 * 4);
  const std::vector<int32_t> blocks = {0, 1, 2, 3};
  auto run = [&](std::vector<int32_t> tokens, int cached, std::vector<int32_t> table) {
    ForwardBatchBuilder builder(runner->blockSize());
    builder.addSequence(tokens, cached, table);
    return runner->forward(builder.view(), logits.data());
  };
  EXPECT_TRUE(run({1, 2}, 0, blocks).isOk());
  Status status = run({1, 512}, 0, blocks);  // vocab is 512
  EXPECT_NE(status.message().find("token id 512 is outside the vocabulary"), std::string::npos);
  status = run({1}, 0, {4});  // the pool has blocks 0..3
  EXPECT_NE(status.message().find("uses KV block 4 of 4"), std::string::npos) << status.message();
  std::vector<int32_t> long_table(32, 0);
  status = run({1}, 511, long_table);  // position 511 is the last; 512 tokens fit
  EXPECT_TRUE(status.isOk()) << status.toString();
  std::vector<int32_t> longer_table(33, 0);
  status = run({1}, 512, longer_table);  // past max_model_len 512
  EXPECT_NE(status.message().find("max_model_len 512"), std::string::npos) << status.message();
  EXPECT_EQ(runner->forward(ForwardBatch{}, logits.data()).code(), StatusCode::kInvalidArgument);
}

// A copied block holds the same K/V: decoding through [0, 5] after copying block 1 onto 5 gives
// the logits of decoding through [0, 1].
TEST(ModelRunner, CopiedBlockServesTheSameContextAsTheOriginal) {
  auto runner = storiesRunner(8);
  ASSERT_TRUE(runner);
  const std::vector<int32_t> prompt = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376,
                                       298, 315, 421, 395, 317, 426, 338, 401, 396, 267};
  std::vector<float> logits(512), via_original(512), via_copy(512);
  ForwardBatchBuilder builder(runner->blockSize());
  builder.addSequence(prompt, 0, std::vector<int32_t>{0, 1});
  ASSERT_TRUE(runner->forward(builder.view(), logits.data()).isOk());
  ASSERT_TRUE(runner->copyBlock(1, 5).isOk());
  const std::vector<int32_t> next = {337};
  builder.clear();
  builder.addSequence(next, static_cast<int>(prompt.size()), std::vector<int32_t>{0, 5});
  ASSERT_TRUE(runner->forward(builder.view(), via_copy.data()).isOk());
  builder.clear();
  builder.addSequence(next, static_cast<int>(prompt.size()), std::vector<int32_t>{0, 1});
  ASSERT_TRUE(runner->forward(builder.view(), via_original.data()).isOk());
  EXPECT_EQ(via_copy, via_original);
  // Without the copy, block 6 holds no context and the logits differ.
  builder.clear();
  builder.addSequence(next, static_cast<int>(prompt.size()), std::vector<int32_t>{0, 6});
  ASSERT_TRUE(runner->forward(builder.view(), logits.data()).isOk());
  EXPECT_NE(logits, via_original);
  EXPECT_EQ(runner->copyBlock(1, 8).code(), StatusCode::kInvalidArgument);
}

// A one-layer Mistral with a window of 4: the last position's logits over 13 tokens equal those
// of its last 4 tokens run alone, and differ from the same model without a window.
TEST(ModelRunner, SlidingWindowLimitsAttentionToTheLastWindowTokens) {
  const fs::path dir = freshDir();
  RandomModelOptions options;
  options.config = *randomModelPreset("tiny-llama");
  options.config.architecture = Architecture::kMistral;
  options.config.num_hidden_layers = 1;
  options.config.sliding_window = 4;
  options.dtype = DType::kF32;
  options.init_std = 0.25;
  options.seed = 5;
  options.out_dir = dir / "windowed";
  ASSERT_TRUE(writeRandomModel(options).isOk());
  options.config.sliding_window = 0;
  options.out_dir = dir / "full";
  ASSERT_TRUE(writeRandomModel(options).isOk());

  const std::vector<int32_t> tokens = {1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51};
  const std::vector<int32_t> last4(tokens.end() - 4, tokens.end());
  ModelRunnerOptions runner_options;
  runner_options.kv_cache.num_blocks = 4;
  auto windowed = ModelRunner::create(dir / "windowed", runner_options);
  auto full = ModelRunner::create(dir / "full", runner_options);
  ASSERT_TRUE(windowed.isOk() && full.isOk()) << windowed.status().toString();
  auto lastLogits = [&](ModelRunner& runner, const std::vector<int32_t>& ids) {
    std::vector<float> logits(runner.vocabSize());
    ForwardBatchBuilder builder(runner.blockSize());
    builder.addSequence(ids, 0, iota(4));
    EXPECT_TRUE(runner.forward(builder.view(), logits.data()).isOk());
    return logits;
  };
  const std::vector<float> window_all = lastLogits(**windowed, tokens);
  const std::vector<float> window_last4 = lastLogits(**windowed, last4);
  const std::vector<float> full_all = lastLogits(**full, tokens);
  double same = 0, differs = 0;
  for (size_t i = 0; i < window_all.size(); ++i) {
    same = std::max<double>(same, std::fabs(window_all[i] - window_last4[i]));
    differs = std::max<double>(differs, std::fabs(window_all[i] - full_all[i]));
  }
  EXPECT_LT(same, 1e-4);
  EXPECT_GT(differs, 1e-2);
}

}  // namespace
}  // namespace manifold
