#include "engine/loader/generation_config.h"

#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/file_util.h"

namespace manifold {

namespace {

using Json = nlohmann::json;

template <typename T>
Status readNumber(const Json& json, const char* key, std::optional<T>& out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return Status::ok();
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) {
      return invalidArgument(std::string("field \"") + key + "\" must be a boolean");
    }
  } else if constexpr (std::is_integral_v<T>) {
    if (!it->is_number_integer()) {
      return invalidArgument(std::string("field \"") + key + "\" must be an integer");
    }
  } else {
    if (!it->is_number()) {
      return invalidArgument(std::string("field \"") + key + "\" must be a number");
    }
  }
  out = it->get<T>();
  return Status::ok();
}

}  // namespace

Result<GenerationConfig> parseGenerationConfig(std::string_view json_text) {
  Json json = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return invalidArgument("generation_config.json is not a JSON object");
  }
  GenerationConfig g;
  RETURN_IF_ERROR(readNumber(json, "temperature", g.temperature));
  RETURN_IF_ERROR(readNumber(json, "top_p", g.top_p));
  RETURN_IF_ERROR(readNumber(json, "top_k", g.top_k));
  RETURN_IF_ERROR(readNumber(json, "min_p", g.min_p));
  RETURN_IF_ERROR(readNumber(json, "repetition_penalty", g.repetition_penalty));
  RETURN_IF_ERROR(readNumber(json, "do_sample", g.do_sample));
  RETURN_IF_ERROR(readNumber(json, "max_new_tokens", g.max_new_tokens));
  RETURN_IF_ERROR(readNumber(json, "max_length", g.max_length));
  RETURN_IF_ERROR(readNumber(json, "bos_token_id", g.bos_token_id));
  RETURN_IF_ERROR(readNumber(json, "pad_token_id", g.pad_token_id));
  if (auto it = json.find("eos_token_id"); it != json.end() && !it->is_null()) {
    const Json ids = it->is_array() ? *it : Json::array({*it});
    for (const Json& id : ids) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
          id.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
        return invalidArgument(
            "field \"eos_token_id\" must be a token id (a non-negative integer) or a list of them");
      }
      g.eos_token_ids.push_back(id.get<int32_t>());
    }
  }
  return g;
}

std::vector<int32_t> mergeEosIds(const GenerationConfig& generation,
                                 const std::vector<int32_t>& config_ids,
                                 const std::vector<int32_t>& tokenizer_ids) {
  std::set<int32_t> ids(generation.eos_token_ids.begin(), generation.eos_token_ids.end());
  ids.insert(config_ids.begin(), config_ids.end());
  ids.insert(tokenizer_ids.begin(), tokenizer_ids.end());
  return std::vector<int32_t>(ids.begin(), ids.end());
}

Status GenerationConfig::checkTokenIds(int64_t vocab_size) const {
  for (int32_t id : eos_token_ids) {
    if (id >= vocab_size) {
      return invalidArgument("generation_config.json: eos_token_id " + std::to_string(id) +
                             " is not below vocab_size " + std::to_string(vocab_size));
    }
  }
  return Status::ok();
}

Result<GenerationConfig> loadGenerationConfig(const std::filesystem::path& model_dir) {
  const std::filesystem::path path = model_dir / "generation_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return GenerationConfig{};
  ASSIGN_OR_RETURN(std::string text, readFile(path));
  Result<GenerationConfig> config = parseGenerationConfig(text);
  if (!config.isOk()) return config.status().withContext(path.string());
  return config;
}

}  // namespace manifold
