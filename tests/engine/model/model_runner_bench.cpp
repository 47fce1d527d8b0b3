// Prefill and single-stream decode speed of the model runner on the CPU, in the shape of
// llama.cpp's llama-bench: pp<N> runs one N-token prompt as a single batch; tg<N> decodes N
// tokens one step at a time from an empty context (greedy argmax included). Counters report
// tokens per second. Models: the bundled stories260K, and random-weight SmolLM2-135M models
// (F32 and BF16) written once to $MANIFOLD_BENCH_MODELS (default /tmp/manifold-bench-models).
// "tok/s@1cpu" divides by the CPU time of all the process's threads instead of the wall time: the
// speed the work would have on one dedicated core. On a machine shared with other work, where
// the wall time mostly measures waiting for a core, it is a lower bound of the uncontended
// single-thread speed (workers that spin while waiting count too).
//
//   build-model/bench/model_runner_bench --benchmark_filter=smollm2
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/loader/random_model.h"
#include "engine/model/forward_batch.h"
#include "engine/model/model_runner.h"

namespace manifold {
namespace {

namespace fs = std::filesystem;

double processCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// Sets tok/s (wall time) and tok/s@1cpu (process CPU time) for `tokens` tokens per iteration.
void setCounters(benchmark::State& state, int tokens, double cpu_seconds) {
  state.counters["tok/s"] =
      benchmark::Counter(tokens, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tok/s@1cpu"] =
      static_cast<double>(tokens) * state.iterations() / std::max(cpu_seconds, 1e-9);
}

fs::path benchModelsDir() {
  const char* env = std::getenv("MANIFOLD_BENCH_MODELS");
  return env ? fs::path(env) : fs::path("/tmp/manifold-bench-models");
}

// "smollm2-135m-int8" and "-w8a8" are the BF16 model quantized at load with that scheme.
Quantization quantizationOf(const std::string& name) {
  if (name.ends_with("-int8")) return Quantization::kInt8;
  if (name.ends_with("-w8a8")) return Quantization::kW8A8;
  return Quantization::kNone;
}

// The model folder for `name`, writing the random SmolLM2 models on first use.
fs::path modelDir(std::string name) {
  if (name == "stories260K") return fs::path(MANIFOLD_SOURCE_DIR) / "models/stories260K";
  if (quantizationOf(name) != Quantization::kNone) name = "smollm2-135m-bf16";
  const fs::path dir = benchModelsDir() / name;
  if (fs::exists(dir / "model.safetensors")) return dir;
  RandomModelOptions options;
  options.config = randomModelPreset("smollm2-135m").value();
  options.dtype = name == "smollm2-135m-bf16" ? DType::kBF16 : DType::kF32;
  options.out_dir = dir;
  options.seed = 1;
  const Status status = writeRandomModel(options);
  if (!status.isOk()) std::fprintf(stderr, "%s\n", status.toString().c_str());
  return dir;
}

ModelRunner* runner(const std::string& name, int threads) {
  static std::map<std::pair<std::string, int>, std::unique_ptr<ModelRunner>> cache;
  auto& slot = cache[{name, threads}];
  if (!slot) {
    ModelRunnerOptions options;
    options.num_threads = threads;
    options.quantization = quantizationOf(name);
    // MANIFOLD_BENCH_BLAS_MIN_ROWS=N routes F32 matmuls of N+ rows to OpenBLAS (default: never).
    if (const char* blas = std::getenv("MANIFOLD_BENCH_BLAS_MIN_ROWS")) {
      options.cpu_blas_min_rows = std::atoi(blas);
    }
    // MANIFOLD_BENCH_KV_CACHE_DTYPE=bf16|f32 overrides the cache dtype (default: auto).
    if (const char* kv = std::getenv("MANIFOLD_BENCH_KV_CACHE_DTYPE")) {
      const std::string_view value(kv);
      if (value == "bf16") options.kv_cache.dtype = DType::kBF16;
      if (value == "f32") options.kv_cache.dtype = DType::kF32;
    }
    options.kv_cache.num_blocks = 64;  // 1024 tokens
    options.max_num_tokens = 512;
    Result<std::unique_ptr<ModelRunner>> created = ModelRunner::create(modelDir(name), options);
    if (!created.isOk()) {
      std::fprintf(stderr, "%s\n", created.status().toString().c_str());
      return nullptr;
    }
    slot = std::move(created).value();
    std::fprintf(stderr, "%s\n", slot->summary().c_str());
  }
  return slot.get();
}

std::vector<int32_t> blockTable(const ModelRunner& r) {
  std::vector<int32_t> table(r.numBlocks());
  for (int i = 0; i < r.numBlocks(); ++i) table[i] = i;
  return table;
}

// pp<N>: one forward over an N-token prompt, logits of its last token.
void prefill(benchmark::State& state, const std::string& model) {
  const int n = static_cast<int>(state.range(0));
  ModelRunner* r = runner(model, static_cast<int>(state.range(1)));
  if (r == nullptr) return state.SkipWithError("model did not load");
  std::vector<int32_t> prompt(n);
  for (int i = 0; i < n; ++i) prompt[i] = 1 + (i * 7919) % (r->vocabSize() - 1);
  const std::vector<int32_t> table = blockTable(*r);
  std::vector<float> logits(r->vocabSize());
  ForwardBatchBuilder builder(r->blockSize());
  builder.addSequence(prompt, 0, table);
  const ForwardBatch batch = builder.view();
  const double cpu_start = processCpuSeconds();
  for (auto _ : state) {
    if (!r->forward(batch, logits.data()).isOk()) return state.SkipWithError("forward failed");
    benchmark::DoNotOptimize(logits.data());
  }
  setCounters(state, n, processCpuSeconds() - cpu_start);
}

// tg<N>: N decode steps of one sequence from an empty cache, greedy.
void decode(benchmark::State& state, const std::string& model) {
  const int n = static_cast<int>(state.range(0));
  ModelRunner* r = runner(model, static_cast<int>(state.range(1)));
  if (r == nullptr) return state.SkipWithError("model did not load");
  const std::vector<int32_t> table = blockTable(*r);
  std::vector<float> logits(r->vocabSize());
  ForwardBatchBuilder builder(r->blockSize());
  const double cpu_start = processCpuSeconds();
  for (auto _ : state) {
    int32_t token = 1;
    for (int pos = 0; pos < n; ++pos) {
      builder.clear();
      builder.addSequence(std::span(&token, 1), pos, table);
      if (!r->forward(builder.view(), logits.data()).isOk()) {
        return state.SkipWithError("forward failed");
      }
      token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
  }
  setCounters(state, n, processCpuSeconds() - cpu_start);
}

void registerModel(const std::string& model) {
  benchmark::RegisterBenchmark(("pp/" + model).c_str(), prefill, model)
      ->ArgNames({"tokens", "threads"})
      ->Args({128, 2})
      ->Args({512, 2})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark(("tg/" + model).c_str(), decode, model)
      ->ArgNames({"tokens", "threads"})
      ->Args({128, 2})
      ->Args({128, 1})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

}  // namespace
}  // namespace manifold

int main(int argc, char** argv) {
  for (const char* model : {"stories260K", "smollm2-135m-f32", "smollm2-135m-bf16",
                            "smollm2-135m-int8", "smollm2-135m-w8a8"}) {
    manifold::registerModel(model);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
