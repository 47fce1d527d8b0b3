// `manifold bench throughput`: offline throughput of one local engine, like
// `vllm bench throughput` with its random dataset: N prompts of random token ids, I tokens in and
// exactly O tokens out each (ignore_eos), all submitted at once; reports requests/s, output
// tokens/s and total (prompt + output) tokens/s over the wall time from submission to the last
// result. It also reports the decode phase alone, as llama-batched-bench's S_TG does: tokens
// sampled in steps that ran no prompt tokens over those steps' wall time.
//
//   manifold bench throughput --model /tmp/smollm2-bf16 --num-prompts 64 --input-len 128
//       --output-len 128 --max-num-seqs 64 --threads 2 [--json]
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/local_engine.h"
#include "engine/core/offline_generate.h"
#include "engine/engine_observer.h"
#include "gateway/cli/cli_checks.h"
#include "gateway/cli/commands.h"

namespace manifold::cli {
namespace {

struct BenchThroughputArgs {
  std::string model_dir;
  int num_prompts = 64;
  int input_len = 128;
  int output_len = 128;
  int max_num_seqs = 256;
  int max_num_batched_tokens = 2048;
  int threads = 1;
  double kv_cache_space_gib = 4.0;
  int num_kv_blocks = 0;
  int block_size = 16;
  int max_model_len = 0;
  bool no_prefix_caching = false;
  std::string kv_cache_dtype = "auto";
  std::string dtype = "auto";
  std::string quantization = "none";
  uint64_t seed = 0;
  bool json = false;
};

// CPU seconds (user + system) this process has used so far, all threads.
double processCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Times the engine's steps: a step lasts from the end of the previous one (or the start) to its
// own onStep. Pure-decode steps (no prompt tokens) give the decode-phase rate.
class StepClock final : public EngineObserver {
 public:
  void start() {
    std::lock_guard<std::mutex> lock(mu_);
    last_ = std::chrono::steady_clock::now();
  }
  void onStep(const StepStats& stats) override {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    total_tokens_ += stats.num_generation_tokens;
    if (stats.num_prefill_tokens == 0) {
      decode_s_ += std::chrono::duration<double>(now - last_).count();
      decode_tokens_ += stats.num_generation_tokens;
      ++decode_steps_;
    }
    last_ = now;
  }
  void onState(const StepStats&) override {}
  void onRequestFinished(const FinishedRequestStats&) override {}

  struct Decode {
    double seconds = 0;
    int64_t tokens = 0;
    int64_t steps = 0;
  };
  // The engine reports a step after publishing its outputs, so the last step may arrive just
  // after the caller has every result: waits (up to a second) until `tokens` were reported.
  Decode decode(int64_t tokens) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (total_tokens_ >= tokens || std::chrono::steady_clock::now() > deadline) {
          return {decode_s_, decode_tokens_, decode_steps_};
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

 private:
  mutable std::mutex mu_;
  std::chrono::steady_clock::time_point last_;
  double decode_s_ = 0;
  int64_t decode_tokens_ = 0;
  int64_t decode_steps_ = 0;
  int64_t total_tokens_ = 0;
};

// The same request any run with these arguments makes: reproducible prompts and seeds.
std::vector<EngineRequest> makeRequests(const BenchThroughputArgs& args, int vocab_size) {
  std::mt19937_64 rng(args.seed);
  std::uniform_int_distribution<int32_t> token(0, vocab_size - 1);
  std::vector<EngineRequest> requests(args.num_prompts);
  for (int i = 0; i < args.num_prompts; ++i) {
    EngineRequest& r = requests[i];
    r.request_id = "bench-" + std::to_string(i);
    r.prompt_token_ids.resize(args.input_len);
    for (int32_t& t : r.prompt_token_ids) t = token(rng);
    r.params.temperature = 1.0f;
    r.params.max_tokens = args.output_len;
    r.params.ignore_eos = true;
    r.params.seed = args.seed + static_cast<uint64_t>(i);
  }
  return requests;
}

int run(const BenchThroughputArgs& args) {
  EngineConfig config;
  config.model_dir = args.model_dir;
  config.num_threads = args.threads;
  config.cache.kv_cache_space_gib = args.kv_cache_space_gib;
  config.cache.num_blocks = args.num_kv_blocks;
  config.cache.block_size = args.block_size;
  config.cache.enable_prefix_caching = !args.no_prefix_caching;
  config.kv_cache_dtype = parseDTypeChoice(args.kv_cache_dtype).value();  // CLI11 checked it
  config.weight_dtype = parseDTypeChoice(args.dtype).value();
  config.quantization = parseQuantization(args.quantization).value();  // CLI11 checked it
  config.scheduler.max_num_seqs = args.max_num_seqs;
  config.scheduler.max_num_batched_tokens = args.max_num_batched_tokens;
  config.max_model_len = args.max_model_len;
  StepClock clock;
  config.observer = &clock;
  Result<std::unique_ptr<LocalEngine>> engine = LocalEngine::create(config);
  if (!engine.isOk()) {
    std::cerr << "manifold bench throughput: " << engine.status().toString() << "\n";
    return 1;
  }
  if (static_cast<int64_t>(args.input_len) + args.output_len > (*engine)->info().max_model_len) {
    std::cerr << "manifold bench throughput: input-len + output-len exceeds max_model_len "
              << (*engine)->info().max_model_len << "\n";
    return 1;
  }
  std::vector<EngineRequest> requests = makeRequests(args, (*engine)->info().vocab_size);
  const auto start = std::chrono::steady_clock::now();
  clock.start();
  const double cpu_start_s = processCpuSeconds();
  const std::vector<GenerationResult> results = generate(**engine, std::move(requests));
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // On a shared machine the wall time includes waiting for a core; the CPU time does not.
  const double cpu_s = processCpuSeconds() - cpu_start_s;

  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  for (const GenerationResult& result : results) {
    if (!result.error.isOk()) {
      std::cerr << "manifold bench throughput: request " << result.request_id
                << " failed: " << result.error.toString() << "\n";
      return 1;
    }
    prompt_tokens += result.num_prompt_tokens;
    for (const GeneratedSequence& seq : result.sequences) output_tokens += seq.token_ids.size();
  }
  const EngineStats stats = (*engine)->stats();
  const double requests_per_s = static_cast<double>(results.size()) / elapsed_s;
  const double output_per_s = static_cast<double>(output_tokens) / elapsed_s;
  const double total_per_s = static_cast<double>(prompt_tokens + output_tokens) / elapsed_s;
  const StepClock::Decode decode = clock.decode(output_tokens);
  const double decode_per_s = decode.seconds > 0 ? decode.tokens / decode.seconds : 0.0;
  if (args.json) {
    nlohmann::json out;
    out["requests_per_s"] = requests_per_s;
    out["output_tokens_per_s"] = output_per_s;
    out["total_tokens_per_s"] = total_per_s;
    out["decode_tokens_per_s"] = decode_per_s;
    out["decode_steps"] = decode.steps;
    out["elapsed_s"] = elapsed_s;
    out["cpu_s"] = cpu_s;
    out["num_requests"] = results.size();
    out["prompt_tokens"] = prompt_tokens;
    out["output_tokens"] = output_tokens;
    out["num_preemptions"] = stats.num_preemptions;
    out["max_num_seqs"] = args.max_num_seqs;
    out["threads"] = args.threads;
    out["dtype"] = args.dtype;
    out["quantization"] = args.quantization;
    std::cout << out.dump() << "\n";
  } else {
    std::printf("Throughput: %.2f requests/s, %.2f total tokens/s, %.2f output tokens/s\n",
                requests_per_s, total_per_s, output_per_s);
    std::printf(
        "Requests: %zu, prompt tokens: %lld, output tokens: %lld, elapsed: %.2f s, "
        "CPU: %.2f s, preemptions: %lld\n",
        results.size(), static_cast<long long>(prompt_tokens),
        static_cast<long long>(output_tokens), elapsed_s, cpu_s,
        static_cast<long long>(stats.num_preemptions));
    std::printf("Decode phase (steps with no prompt tokens): %.2f output tokens/s over %lld steps\n",
                decode_per_s, static_cast<long long>(decode.steps));
  }
  return 0;
}

}  // namespace

void addBenchThroughputCommand(CLI::App& app) {
  auto args = std::make_shared<BenchThroughputArgs>();
  CLI::App* cmd = benchGroup(app).add_subcommand(
      "throughput", "Offline throughput of a local engine (like `vllm bench throughput`)");
  cmd->add_option("--model", args->model_dir, "Model folder (config.json, safetensors, tokenizer)")
      ->required();
  // Requests are built up front: their count and lengths are bounded so that a length past int's
  // range or a stray digit is an error, not an overflowed check and a 2^31-token prompt (the
  // context check bounds the lengths further).
  cmd->add_option("--num-prompts", args->num_prompts, "Requests")->check(CLI::Range(1, 1000000));
  cmd->add_option("--input-len", args->input_len, "Prompt tokens per request")
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--output-len", args->output_len, "Output tokens per request")
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--max-num-seqs", args->max_num_seqs, "Sequences per batch")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--max-num-batched-tokens", args->max_num_batched_tokens, "Tokens per batch")
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--threads", args->threads, "CPU threads")->check(CLI::Range(1, 1024));
  cmd->add_option("--kv-cache-space", args->kv_cache_space_gib, "KV cache memory in GiB");
  cmd->add_option("--num-kv-blocks", args->num_kv_blocks, "KV blocks (overrides the space)");
  cmd->add_option("--block-size", args->block_size, "Tokens per KV block")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-model-len", args->max_model_len,
                  "Context length the KV cache must hold; 0: the model's")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--dtype", args->dtype,
                  "Weights: auto (as stored; F16 as BF16 on CPUs with AVX-512 BF16), f32, bf16 "
                  "or f16 (converted at load)")
      ->check(CLI::IsMember({"auto", "f32", "bf16", "f16"}));
  cmd->add_option("--kv-cache-dtype", args->kv_cache_dtype,
                  "auto (bf16 for 16-bit weights, else f32), f32 or bf16")
      ->check(CLI::IsMember({"auto", "f32", "bf16"}));
  cmd->add_option("--quantization", args->quantization,
                  "none; int8: matmul weights quantized per output channel at load "
                  "(weight-only; CPUs with AVX-512 BF16); w8a8: activations too, per token "
                  "(CPUs with AVX-512 VNNI)")
      ->check(CLI::IsMember({"none", "int8", "w8a8"}));
  cmd->add_flag("--no-prefix-caching", args->no_prefix_caching, "Disable prefix caching");
  cmd->add_option("--seed", args->seed, "Seed of the random prompts and sampling")
      ->check(unsigned64());
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] {
    const int code = run(*args);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace manifold::cli
