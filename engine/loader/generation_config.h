// generation_config.json: the model author's default sampling settings and stop tokens. Optional;
// every field is optional and absent fields stay unset so callers can layer their own defaults.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace manifold {

struct GenerationConfig {
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<int> top_k;
  std::optional<float> min_p;
  std::optional<float> repetition_penalty;
  std::optional<bool> do_sample;
  std::optional<int> max_new_tokens;
  std::optional<int> max_length;  // prompt + new tokens
  std::optional<int32_t> bos_token_id;
  std::optional<int32_t> pad_token_id;
  std::vector<int32_t> eos_token_ids;  // int or list in the file

  // The stop ids must be the model's: INVALID_ARGUMENT naming the first that is not.
  [[nodiscard]] Status checkTokenIds(int64_t vocab_size) const;
};

// Every EOS id the model names, sorted and distinct: generation_config.json's, config.json's and
// the tokenizer's (vLLM adds the generation config's ids to the tokenizer's EOS).
[[nodiscard]] std::vector<int32_t> mergeEosIds(const GenerationConfig& generation,
                                               const std::vector<int32_t>& config_ids,
                                               const std::vector<int32_t>& tokenizer_ids);

[[nodiscard]] Result<GenerationConfig> parseGenerationConfig(std::string_view json_text);
// Reads <model_dir>/generation_config.json; a missing file gives an empty GenerationConfig.
[[nodiscard]] Result<GenerationConfig> loadGenerationConfig(const std::filesystem::path& model_dir);

}  // namespace manifold
