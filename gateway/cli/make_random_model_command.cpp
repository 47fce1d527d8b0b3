// `manifold make-random-model`: writes a Hugging Face model folder with random weights and the
// shapes of a real model, for tests and benchmarks without downloading checkpoints.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "engine/loader/random_model.h"
#include "gateway/cli/cli_checks.h"
#include "gateway/cli/commands.h"

namespace manifold::cli {

namespace {

struct MakeRandomModelArgs {
  std::string like;
  std::string dtype = "bf16";
  std::string out;
  std::string tokenizer;
  uint64_t seed = 0;
  double init_std = 0.02;
  std::string quantization = "none";
};

int runMakeRandomModel(const MakeRandomModelArgs& args) {
  Result<ModelConfig> config = randomModelPreset(args.like);
  if (!config.isOk()) {
    std::cerr << "make-random-model: " << config.status().message() << "\n";
    return 2;
  }
  RandomModelOptions options;
  options.config = *config;
  if (args.dtype == "bf16") {
    options.dtype = DType::kBF16;
  } else if (args.dtype == "f32") {
    options.dtype = DType::kF32;
  } else if (args.dtype == "f16") {
    options.dtype = DType::kF16;
  } else {
    std::cerr << "make-random-model: --dtype must be bf16, f16 or f32, got \"" << args.dtype
              << "\"\n";
    return 2;
  }
  Result<Quantization> quantization = parseQuantization(args.quantization);
  if (!quantization.isOk()) {
    std::cerr << "make-random-model: --quantization " << quantization.status().message() << "\n";
    return 2;
  }
  options.config.checkpoint_quantization = *quantization;
  options.out_dir = args.out;
  if (!args.tokenizer.empty()) options.tokenizer_dir = args.tokenizer;
  options.seed = args.seed;
  options.init_std = args.init_std;
  int last_percent = -1;
  options.progress = [&](size_t tensors_done, size_t tensor_count, uint64_t bytes_done,
                         uint64_t total_bytes) {
    const int percent = total_bytes ? static_cast<int>(100 * bytes_done / total_bytes) : 100;
    if (percent / 5 == last_percent / 5 && tensors_done != tensor_count) return;
    last_percent = percent;
    std::fprintf(stderr, "\rwriting %s: %3d%% (%zu/%zu tensors, %.1f/%.1f MB)", args.out.c_str(),
                 percent, tensors_done, tensor_count, bytes_done / 1e6, total_bytes / 1e6);
    if (tensors_done == tensor_count) std::fprintf(stderr, "\n");
  };
  Status status = writeRandomModel(options);
  if (!status.isOk()) {
    std::cerr << "\nmake-random-model: " << status.message() << "\n";
    return 1;
  }
  std::cout << "wrote " << args.like << " (" << args.dtype
            << (*quantization == Quantization::kNone ? "" : ", " + args.quantization)
            << ", seed " << args.seed << ") to " << args.out << "\n";
  return 0;
}

}  // namespace

void addMakeRandomModelCommand(CLI::App& app) {
  auto args = std::make_shared<MakeRandomModelArgs>();
  CLI::App* cmd =
      app.add_subcommand("make-random-model",
                         "Write a model folder with random weights and the shapes of a real model");
  std::string presets;
  for (const std::string& name : randomModelPresetNames()) {
    presets += (presets.empty() ? "" : ", ") + name;
  }
  cmd->add_option("--like", args->like, "Model shape: " + presets)->required();
  cmd->add_option("--dtype", args->dtype, "Weight dtype: bf16, f16 or f32")->capture_default_str();
  cmd->add_option("--out", args->out, "Output folder (created)")->required();
  cmd->add_option("--tokenizer", args->tokenizer,
                  "Folder whose tokenizer files are copied (vocab must fit the model's)");
  cmd->add_option("--seed", args->seed, "RNG seed")->capture_default_str()->check(unsigned64());
  cmd->add_option("--init-std", args->init_std, "Std of the normal weights")->capture_default_str();
  cmd->add_option("--quantization", args->quantization,
                  "none; int8 or w8a8: write a compressed-tensors INT8 checkpoint (I8 linear "
                  "weights with per-row scales; w8a8 declares per-token INT8 activations)")
      ->capture_default_str();
  cmd->callback([args] {
    const int rc = runMakeRandomModel(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace manifold::cli
