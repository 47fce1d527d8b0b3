// `manifold generate`: one prompt, one completion, on the CPU, without a server. Tokenizes with
// the model's tokenizer.json, prefills in chunks, decodes one token per step through the paged KV
// cache and samples with the engine's sampler; prints the text, or JSON with token ids and speeds.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "engine/loader/generation_config.h"
#include "engine/model/forward_batch.h"
#include "engine/model/load_progress.h"
#include "engine/model/model_runner.h"
#include "engine/sampler/philox.h"
#include "engine/sampler/sampler.h"
#include "engine/sampling_params.h"
#include "engine/structured_output/json_schema.h"
#include "engine/structured_output/output_grammar.h"
#include "engine/structured_output/token_bytes_index.h"
#include "engine/tokenizer/incremental_detokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "gateway/cli/cli_checks.h"
#include "gateway/cli/commands.h"

namespace manifold::cli {

namespace {

using Seconds = std::chrono::duration<double>;

struct GenerateArgs {
  std::string model;
  std::string prompt;
  int max_tokens = 128;
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<int> top_k;
  std::optional<float> min_p;
  std::optional<uint64_t> seed;
  int threads = 1;
  std::string dtype = "auto";
  std::string kv_cache_dtype = "auto";
  std::string quantization = "none";
  bool ignore_eos = false;
  bool json_object = false;                     // structured output: one JSON object
  std::optional<std::string> json_schema;       // ... or a value of this JSON Schema (text)
  std::optional<std::string> json_schema_file;  // ... read from this file
  std::optional<std::string> regex;             // ... or text matching this regex as a whole
  std::optional<std::string> grammar;           // ... or text this GBNF grammar derives
  std::optional<std::string> grammar_file;      // ... read from this file
  bool json = false;
  bool verbose = false;
};

struct GenerateResult {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> token_ids;
  std::string text;
  FinishReason finish_reason = FinishReason::kLength;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

Result<std::optional<DType>> parseDTypeFlag(const std::string& name, const char* flag) {
  Result<std::optional<DType>> dtype = parseDTypeChoice(name);
  if (!dtype.isOk()) return dtype.status().withContext(flag);
  return dtype;
}

// The sampling values generation_config.json sets that no flag overrides, over the OpenAI
// defaults.
SamplingParams fileDefaults(const GenerateArgs& args, const GenerationConfig& file) {
  SamplingParams params;
  if (!args.temperature && file.temperature) params.temperature = *file.temperature;
  if (!args.top_p && file.top_p) params.top_p = *file.top_p;
  if (!args.top_k && file.top_k) params.top_k = *file.top_k;
  if (!args.min_p && file.min_p) params.min_p = *file.min_p;
  return params;
}

// Flags override generation_config.json, which overrides the OpenAI defaults.
SamplingParams samplingParams(const GenerateArgs& args, const GenerationConfig& file) {
  SamplingParams params = fileDefaults(args, file);
  if (args.temperature) params.temperature = *args.temperature;
  if (args.top_p) params.top_p = *args.top_p;
  if (args.top_k) params.top_k = *args.top_k;
  if (args.min_p) params.min_p = *args.min_p;
  params.seed = args.seed;
  params.max_tokens = args.max_tokens;
  params.ignore_eos = args.ignore_eos;
  return params;
}

// --json-object, --json-schema(-file), --regex or --grammar(-file) into `params`, as a server
// request's response_format, guided_regex or guided_grammar would set them. Returns the flag
// given (errors compiling its text name it), or "" for none or --json-object.
Result<std::string> setStructuredOutput(const GenerateArgs& args, SamplingParams& params) {
  struct TextFlag {
    const char* name;
    const std::optional<std::string>* value;
    bool file;         // the value is a path to the text
    const char* what;  // the text, in an error
    std::string SamplingParams::*target;
  };
  const TextFlag flags[] = {
      {"--json-schema", &args.json_schema, false, "schema", &SamplingParams::json_schema},
      {"--json-schema-file", &args.json_schema_file, true, "schema", &SamplingParams::json_schema},
      {"--regex", &args.regex, false, "pattern", &SamplingParams::regex},
      {"--grammar", &args.grammar, false, "grammar", &SamplingParams::grammar},
      {"--grammar-file", &args.grammar_file, true, "grammar", &SamplingParams::grammar},
  };
  const TextFlag* given = nullptr;
  int count = args.json_object ? 1 : 0;
  for (const TextFlag& flag : flags) {
    if (flag.value->has_value()) {
      given = &flag;
      ++count;
    }
  }
  if (count > 1) {
    return invalidArgument(
        "give one of --json-object, --json-schema, --json-schema-file, --regex, --grammar and "
        "--grammar-file");
  }
  params.json_object = args.json_object;
  if (given == nullptr) return std::string();
  std::string text = **given->value;
  if (given->file) {
    Result<std::string> read = readFile(text);
    if (!read.isOk())
      return invalidArgument(std::string(given->name) + ": " + read.status().message());
    text = std::move(read).value();
  }
  // forParams() reads an empty text as none; a flag given empty is a mistake.
  if (text.empty()) {
    return invalidArgument(std::string(given->name) + ": the " + given->what + " is empty");
  }
  params.*(given->target) = std::move(text);
  return std::string(given->name);
}

Result<GenerateResult> generate(const GenerateArgs& args) {
  if (args.prompt.empty()) return invalidArgument("--prompt is empty");
  if (args.max_tokens < 1) {
    return invalidArgument("--max-tokens must be at least 1, got " +
                           std::to_string(args.max_tokens));
  }
  ASSIGN_OR_RETURN(std::optional<DType> weight_dtype, parseDTypeFlag(args.dtype, "--dtype"));
  Result<std::optional<DType>> kv_dtype_choice = parseKvCacheDTypeChoice(args.kv_cache_dtype);
  if (!kv_dtype_choice.isOk()) return kv_dtype_choice.status().withContext("--kv-cache-dtype");
  const std::optional<DType> kv_dtype = *kv_dtype_choice;
  Result<Quantization> quantization = parseQuantization(args.quantization);
  if (!quantization.isOk()) return quantization.status().withContext("--quantization");
  ASSIGN_OR_RETURN(ModelConfig config, loadModelConfig(args.model));
  ASSIGN_OR_RETURN(GenerationConfig generation, loadGenerationConfig(args.model));
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, Tokenizer::fromDirectory(args.model));

  GenerateResult result;
  result.prompt_ids = tokenizer->encode(args.prompt, /*add_special_tokens=*/true);
  if (result.prompt_ids.empty()) return invalidArgument("the prompt encodes to no tokens");
  const int prompt_len = static_cast<int>(result.prompt_ids.size());
  const int max_len = static_cast<int>(config.max_position_embeddings);
  if (prompt_len >= max_len) {
    return invalidArgument("the prompt is " + std::to_string(prompt_len) +
                           " tokens; the model's max_position_embeddings is " +
                           std::to_string(max_len) + ", which leaves no room for a new token");
  }
  RETURN_IF_ERROR(generation.checkTokenIds(config.vocab_size).withContext(args.model));
  // The defaults generation_config.json sets and no flag overrides are checked on their own
  // first, so that a bad one is blamed on the file, not on a flag that was never given.
  RETURN_IF_ERROR(
      fileDefaults(args, generation)
          .validate(static_cast<int>(config.vocab_size))
          .withContext((std::filesystem::path(args.model) / "generation_config.json").string()));
  SamplingParams params = samplingParams(args, generation);
  RETURN_IF_ERROR(params.validate(static_cast<int>(config.vocab_size)));
  ASSIGN_OR_RETURN(const std::string flag, setStructuredOutput(args, params));
  Result<std::shared_ptr<const JsonSchema>> compiled = JsonSchema::forParams(params);
  if (!compiled.isOk()) return compiled.status().withContext(flag);
  const std::shared_ptr<const JsonSchema> schema = std::move(compiled).value();
  const int max_new = std::min(args.max_tokens, max_len - prompt_len);

  ModelRunnerOptions options;
  options.num_threads = args.threads;
  options.weight_dtype = weight_dtype;
  options.quantization = *quantization;
  options.kv_cache.dtype = kv_dtype;
  const int block_size = options.kv_cache.block_size;
  const int total_len = prompt_len + max_new;
  options.kv_cache.num_blocks = (total_len + block_size - 1) / block_size;
  options.max_num_tokens = std::min(prompt_len, 2048);
  options.max_num_seqs = 1;
  // On a terminal, the load's progress redrawn in place; the summary line replaces it.
  const bool terminal = isatty(STDERR_FILENO) != 0;
  LoadProgressLines progress_lines(std::chrono::milliseconds(0));
  if (terminal) {
    options.on_load_progress = [&](const LoadProgress& progress) {
      if (auto line = progress_lines.next(progress, std::chrono::steady_clock::now())) {
        std::fprintf(stderr, "\rloading %s\033[K", line->c_str());
      }
    };
  }
  auto created = ModelRunner::create(args.model, options);
  if (terminal) std::fprintf(stderr, "\r\033[K");
  ASSIGN_OR_RETURN(std::unique_ptr<ModelRunner> runner, std::move(created));
  std::cerr << runner->summary() << "\n";

  const std::vector<int32_t> eos_list =
      mergeEosIds(generation, config.eos_token_ids, tokenizer->eosIds());
  const std::set<int32_t> eos_ids(eos_list.begin(), eos_list.end());
  Sampler sampler(runner->vocabSize(), eos_list);
  const uint64_t seed = params.seed.value_or(drawRandomSeed());
  // Structured output: the grammar of the output so far, advanced by each token.
  std::unique_ptr<TokenBytesIndex> token_index;
  std::optional<OutputGrammar> grammar;
  if (schema) {
    token_index = TokenBytesIndex::fromTokenizer(*tokenizer, runner->vocabSize(), eos_list);
    grammar.emplace(*schema);
  }

  std::vector<int32_t> block_table(options.kv_cache.num_blocks);
  for (size_t i = 0; i < block_table.size(); ++i) block_table[i] = static_cast<int32_t>(i);
  std::vector<int32_t> tokens = result.prompt_ids;
  std::vector<float> logits(runner->vocabSize());
  ForwardBatchBuilder builder(block_size);
  int cached = 0;
  auto start = std::chrono::steady_clock::now();
  while (static_cast<int>(result.token_ids.size()) < max_new) {
    // Prefill in chunks of max_num_tokens, then one token per step.
    const int n = std::min(static_cast<int>(tokens.size()) - cached, options.max_num_tokens);
    builder.clear();
    builder.addSequence(std::span(tokens).subspan(cached, n), cached, block_table);
    RETURN_IF_ERROR(runner->forward(builder.view(), logits.data()));
    cached += n;
    if (cached < static_cast<int>(tokens.size())) continue;  // more prompt chunks to go
    SamplingRow row;
    row.logits = logits;
    row.params = &params;
    row.seed = seed;
    row.prompt_token_ids = result.prompt_ids;
    row.output_token_ids = result.token_ids;
    if (grammar) {
      row.token_index = token_index.get();
      row.grammar = &*grammar;
    }
    const int32_t next = sampler.sampleRow(row).token_id;
    // An EOS after a whole value ends the output even with --ignore-eos (nothing else may follow).
    const bool value_done = grammar && token_index->isEos(next) && grammar->complete();
    if (grammar && !token_index->advance(*grammar, next)) grammar.reset();
    result.token_ids.push_back(next);
    tokens.push_back(next);
    if (result.token_ids.size() == 1) {
      const auto now = std::chrono::steady_clock::now();
      result.prefill_seconds = Seconds(now - start).count();
      start = now;
    }
    if ((!args.ignore_eos && eos_ids.count(next)) || value_done) {
      result.finish_reason = FinishReason::kStop;
      break;
    }
  }
  result.decode_seconds = Seconds(std::chrono::steady_clock::now() - start).count();
  // Decoded after the prompt, as a server streams it: a leading space of the first token stays.
  IncrementalDetokenizer detokenizer(*tokenizer, /*skip_special_tokens=*/true, result.prompt_ids);
  size_t num_text_tokens = result.token_ids.size();
  if (result.finish_reason == FinishReason::kStop) --num_text_tokens;  // not the EOS itself
  for (size_t i = 0; i < num_text_tokens; ++i)
    result.text += detokenizer.append(result.token_ids[i]);
  result.text += detokenizer.flush();
  return result;
}

int runGenerate(const GenerateArgs& args) {
  Result<GenerateResult> result = generate(args);
  if (!result.isOk()) {
    std::cerr << "generate: " << result.status().message() << "\n";
    return result.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  const int decode_tokens = static_cast<int>(result->token_ids.size()) - 1;
  const double prefill_tps = result->prompt_ids.size() / std::max(result->prefill_seconds, 1e-9);
  const double decode_tps =
      decode_tokens > 0 ? decode_tokens / std::max(result->decode_seconds, 1e-9) : 0.0;
  if (args.json) {
    nlohmann::ordered_json out;
    out["prompt_token_ids"] = result->prompt_ids;
    out["token_ids"] = result->token_ids;
    out["text"] = result->text;
    out["finish_reason"] = finishReasonName(result->finish_reason);
    out["prefill_tokens_per_s"] = prefill_tps;
    out["decode_tokens_per_s"] = decode_tps;
    std::cout << out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  } else {
    std::cout << result->text << "\n";  // the completion (the prompt is the caller's)
    if (args.verbose) {
      std::fprintf(stderr, "prefill %zu tokens: %.1f tok/s; decode %d tokens: %.1f tok/s\n",
                   result->prompt_ids.size(), prefill_tps, decode_tokens, decode_tps);
    }
  }
  return 0;
}

}  // namespace

void addGenerateCommand(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd =
      app.add_subcommand("generate", "Generate one completion for a prompt (CPU, no server)");
  cmd->add_option("--model", args->model, "Model folder (config.json, safetensors, tokenizer)")
      ->required();
  cmd->add_option("--prompt", args->prompt, "Prompt text")->required();
  cmd->add_option("--max-tokens", args->max_tokens, "New tokens at most")->capture_default_str();
  cmd->add_option("--temperature", args->temperature,
                  "0: greedy (default: generation_config.json, else 1)");
  cmd->add_option("--top-p", args->top_p, "Nucleus sampling mass in (0, 1]");
  cmd->add_option("--top-k", args->top_k, "Keep the k most likely tokens (0: off)");
  cmd->add_option("--min-p", args->min_p, "Drop tokens below min_p x the top probability");
  cmd->add_option("--seed", args->seed, "Sampling seed (default: random)")->check(unsigned64());
  cmd->add_option("--threads", args->threads, "CPU threads")->capture_default_str();
  cmd->add_option(
         "--dtype", args->dtype,
         "Weight dtype: auto (the file's; F16 as BF16 on CPUs with AVX-512 BF16), f32, bf16, f16")
      ->capture_default_str();
  cmd->add_option("--kv-cache-dtype", args->kv_cache_dtype,
                  "KV cache dtype: auto (bf16 for 16-bit weights, else f32), f32 or bf16")
      ->capture_default_str();
  cmd->add_option("--quantization", args->quantization,
                  "none; int8: matmul weights quantized per output channel at load "
                  "(weight-only; CPUs with AVX-512 BF16); w8a8: activations too, per token "
                  "(CPUs with AVX-512 VNNI)")
      ->capture_default_str();
  cmd->add_flag("--ignore-eos", args->ignore_eos, "Keep generating past EOS (benchmarks)");
  cmd->add_flag("--json-object", args->json_object, "Constrain the output to one JSON object");
  cmd->add_option("--json-schema", args->json_schema,
                  "Constrain the output to a value of this JSON Schema (docs/api.md: the subset)");
  cmd->add_option("--json-schema-file", args->json_schema_file,
                  "Constrain the output to a value of the JSON Schema in this file");
  cmd->add_option("--regex", args->regex,
                  "Constrain the whole output to match this regular expression (guided_regex)");
  cmd->add_option("--grammar", args->grammar,
                  "Constrain the output to a text this GBNF grammar derives (guided_grammar)");
  cmd->add_option("--grammar-file", args->grammar_file,
                  "Constrain the output to the GBNF grammar in this file (llama.cpp's .gbnf)");
  cmd->add_flag("--json", args->json,
                "Print JSON: prompt_token_ids, token_ids, text, finish_reason, speeds");
  cmd->add_flag("-v,--verbose", args->verbose, "Print the speeds to stderr");
  cmd->callback([args] {
    const int rc = runGenerate(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace manifold::cli
