// `manifold bench serve`: load-test any OpenAI-compatible server (manifold, vLLM, ...) the way
// `vllm bench serve` does, and print vLLM's result table.
//
//   manifold bench serve --base-url http://127.0.0.1:8000 --model qwen --dataset-name random
//       --random-input-len 512 --random-output-len 128 --num-prompts 200 --request-rate 8
//       --max-concurrency 32 --save-result out.json
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <memory>
#include <string>

#include "gateway/bench/bench_serve.h"
#include "gateway/cli/cli_checks.h"
#include "gateway/cli/commands.h"

namespace manifold::cli {
namespace {

// "inf" or a positive number of requests per second.
std::string parseRequestRate(const std::string& text, double& rate) {
  if (text == "inf" || text == "Inf" || text == "INF") {
    rate = std::numeric_limits<double>::infinity();
    return "";
  }
  char* end = nullptr;
  rate = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(rate > 0.0)) {
    return "--request-rate must be inf or a positive number, got '" + text + "'";
  }
  return "";
}

}  // namespace

void addBenchServeCommand(CLI::App& app) {
  auto config = std::make_shared<bench::BenchServeConfig>();
  auto request_rate = std::make_shared<std::string>("inf");
  auto sharegpt_output_len = std::make_shared<int>(0);
  CLI::App* cmd = benchGroup(app).add_subcommand(
      "serve", "Load-test an OpenAI-compatible server (like `vllm bench serve`)");
  cmd->add_option("--base-url", config->base_url, "Server root URL, http:// or https://")
      ->capture_default_str();
  cmd->add_option("--endpoint", config->endpoint, "/v1/completions or /v1/chat/completions")
      ->capture_default_str();
  cmd->add_option("--model", config->model, "Model name; default: first of GET /v1/models");
  cmd->add_option("--dataset-name", config->dataset_name, "random or sharegpt")
      ->check(CLI::IsMember({"random", "sharegpt"}))
      ->capture_default_str();
  cmd->add_option("--dataset-path", config->dataset_path, "ShareGPT JSON file");
  cmd->add_option("--random-input-len", config->random_input_len, "Prompt tokens (random)")
      ->capture_default_str();
  cmd->add_option("--random-output-len", config->random_output_len, "Max tokens (random)")
      ->capture_default_str();
  cmd->add_option("--random-range-ratio", config->random_range_ratio,
                  "Lengths drawn from [len*(1-r), len*(1+r)], r in [0, 1)")
      ->capture_default_str();
  cmd->add_option("--sharegpt-output-len", *sharegpt_output_len,
                  "Max tokens for every ShareGPT prompt (default: the reply's length)");
  cmd->add_option("--num-prompts", config->num_prompts, "Requests to send")->capture_default_str();
  cmd->add_option("--request-rate", *request_rate,
                  "Requests per second (Poisson/gamma arrivals), or inf for all at once")
      ->capture_default_str();
  cmd->add_option("--burstiness", config->burstiness,
                  "Gamma shape of arrival gaps: 1 Poisson, <1 burstier, >1 more uniform")
      ->capture_default_str();
  cmd->add_option("--max-concurrency", config->max_concurrency,
                  "Most requests in flight (0: no limit)")
      ->capture_default_str();
  cmd->add_flag("--ignore-eos", config->ignore_eos, "Send ignore_eos so outputs reach max tokens");
  cmd->add_option("--seed", config->seed, "Seed of prompts and arrivals")
      ->capture_default_str()
      ->check(unsigned64());
  cmd->add_option("--goodput", config->goodput, "SLOs in ms: ttft:MS tpot:MS e2el:MS");
  cmd->add_option("--num-warmups", config->num_warmups, "Warmup requests before measuring")
      ->capture_default_str();
  cmd->add_option("--save-result", config->save_result, "Write the results as JSON to FILE");
  cmd->add_option("--plot", config->plot, "Write latency CDFs and throughput to FILE.png");
  cmd->add_option("--metric-percentiles", config->metric_percentiles,
                  "Comma-separated percentiles to report, e.g. 50,90,99")
      ->capture_default_str();
  cmd->add_option("--api-key", config->api_key, "Bearer token (default: $OPENAI_API_KEY)");
  cmd->add_option("--header", config->headers,
                  "NAME=VALUE headers for every request, e.g. --header x-team=a x-run=3");
  // vllm bench serve's sampling options: sent as the request fields of the same names.
  bench::RequestSampling& sampling = config->sampling;
  cmd->add_option("--temperature", sampling.temperature,
                  "Sampling temperature (default 0, greedy)");
  cmd->add_option("--top-p", sampling.top_p, "top_p of every request");
  cmd->add_option("--top-k", sampling.top_k, "top_k of every request");
  cmd->add_option("--min-p", sampling.min_p, "min_p of every request");
  cmd->add_option("--frequency-penalty", sampling.frequency_penalty,
                  "frequency_penalty of every request");
  cmd->add_option("--presence-penalty", sampling.presence_penalty,
                  "presence_penalty of every request");
  cmd->add_option("--repetition-penalty", sampling.repetition_penalty,
                  "repetition_penalty of every request");
  cmd->add_flag("!--no-progress", config->show_progress, "No progress bar on stderr");

  cmd->callback([config, request_rate, sharegpt_output_len] {
    bench::BenchServeConfig run = *config;
    if (const std::string error = parseRequestRate(*request_rate, run.request_rate);
        !error.empty()) {
      std::cerr << "manifold bench serve: " << error << "\n";
      throw CLI::RuntimeError(2);
    }
    if (*sharegpt_output_len > 0) run.sharegpt_output_len = *sharegpt_output_len;
    if (run.api_key.empty()) {
      if (const char* key = std::getenv("OPENAI_API_KEY")) run.api_key = key;
    }
    auto result = bench::runBenchServe(run, std::cout);
    if (!result.isOk()) {
      std::cerr << "manifold bench serve: " << result.status().toString() << "\n";
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace manifold::cli
