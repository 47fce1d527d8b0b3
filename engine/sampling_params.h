// What a client asks of one request's generation: the OpenAI/vLLM sampling parameters after the
// gateway has parsed them. Validated once, by validate(), before the request reaches an engine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace manifold {

struct SamplingParams {
  int n = 1;                     // independent samples; they share the prompt's KV blocks
  float temperature = 1.0f;      // 0 means greedy
  float top_p = 1.0f;            // (0, 1]
  int top_k = 0;                 // 0 or -1: off
  float min_p = 0.0f;            // [0, 1]
  float presence_penalty = 0.0f;     // [-2, 2]
  float frequency_penalty = 0.0f;    // [-2, 2]
  float repetition_penalty = 1.0f;   // > 0; 1 is off
  std::optional<uint64_t> seed;      // same seed, same tokens, whatever else is in the batch
  std::optional<int> max_tokens;     // new tokens; nullopt: up to max_model_len
  int min_tokens = 0;                // EOS and stop tokens are masked until this many
  std::vector<std::string> stop;     // stop strings (never streamed partially)
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  bool include_stop_str_in_output = false;
  bool skip_special_tokens = true;
  std::optional<int> logprobs;         // top logprobs per sampled token, 0..20; 0: chosen only
  std::optional<int> prompt_logprobs;  // top logprobs per prompt token, 0..20
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> bias in [-100, 100]
  // vLLM's allowed_token_ids: only these may be drawn; empty: any.
  std::vector<int32_t> allowed_token_ids;
  // vLLM's bad_words, tokenized (each word with and without a leading space): the last token of
  // each is banned where the output so far ends with the rest of it.
  std::vector<std::vector<int32_t>> bad_words_token_ids;
  // Structured output (vLLM's StructuredOutputsParams json_object and json): only tokens that
  // keep the output a prefix of one JSON object, or of a value json_schema allows, may be drawn,
  // and the output ends when the value does (engine/structured_output/json_grammar.h).
  bool json_object = false;
  std::string json_schema;  // JSON Schema text; empty: none (json_schema.h says what is supported)
  std::vector<std::string> choice;  // vLLM's guided_choice: exactly one of these; empty: none
  std::string regex;  // vLLM's guided_regex: the whole output matches it (regex_dfa.h); empty: none
  // vLLM's guided_grammar, llama.cpp's grammar: a GBNF grammar the output follows (gbnf.h);
  // empty: none
  std::string grammar;

  [[nodiscard]] bool structuredOutput() const {
    return json_object || !json_schema.empty() || !choice.empty() || !regex.empty() ||
           !grammar.empty();
  }

  static constexpr int kMaxN = 128;
  static constexpr int kMaxLogprobs = 20;

  // Temperatures below vLLM's _SAMPLING_EPS are greedy (argmax): dividing by them would overflow.
  static constexpr float kGreedyTemperature = 1e-5f;
  [[nodiscard]] bool greedy() const { return temperature < kGreedyTemperature; }

  // Checks ranges; token ids against vocab_size. The message names the OpenAI field.
  [[nodiscard]] Status validate(int vocab_size) const;
};

}  // namespace manifold
