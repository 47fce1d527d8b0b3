#include "engine/loader/random_model.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "engine/loader/model_tensors.h"
#include "engine/loader/safetensors_writer.h"

namespace manifold {

namespace {

// Elements generated per write; bounds memory for multi-GB tensors.
constexpr size_t kChunkElements = 1 << 20;

// The tokenizer files a model folder may carry; whichever exist are copied.
constexpr const char* kTokenizerFiles[] = {"tokenizer.json",  "tokenizer_config.json",
                                           "tokenizer.model", "special_tokens_map.json",
                                           "vocab.json",      "merges.txt"};

uint64_t splitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// xoshiro256+ with Box-Muller normals: fast and identical on every platform, unlike
// std::normal_distribution whose algorithm is implementation-defined.
class NormalRng {
 public:
  explicit NormalRng(uint64_t seed) {
    for (uint64_t& s : s_) s = splitMix64(seed);
  }
  double uniform() {  // (0, 1)
    const uint64_t result = s_[0] + s_[3];
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = (s_[3] << 45) | (s_[3] >> 19);
    return (static_cast<double>(result >> 11) + 0.5) * 0x1.0p-53;
  }
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double theta = 2.0 * std::numbers::pi * uniform();
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
  }

 private:
  uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

bool isNormWeight(const std::string& name) { return name.find("norm.weight") != std::string::npos; }

// Generates `spec` chunk by chunk into `writer`.
Status writeRandomTensor(SafetensorsWriter& writer, const TensorSpec& spec, uint64_t seed,
                         double init_std) {
  NormalRng rng(seed);
  const size_t numel = spec.nbytes() / dtypeSize(spec.dtype);
  const bool ones = isNormWeight(spec.name);
  std::vector<float> f32(std::min(numel, kChunkElements));
  std::vector<uint16_t> half(spec.dtype == DType::kF32 ? 0 : f32.size());
  for (size_t done = 0; done < numel;) {
    const size_t n = std::min(kChunkElements, numel - done);
    for (size_t i = 0; i < n; ++i)
      f32[i] = ones ? 1.0f : static_cast<float>(rng.normal() * init_std);
    if (spec.dtype == DType::kF32) {
      RETURN_IF_ERROR(writer.append(spec.name, f32.data(), n * sizeof(float)));
    } else {
      for (size_t i = 0; i < n; ++i) {
        half[i] = spec.dtype == DType::kBF16 ? f32ToBf16(f32[i]) : f32ToF16(f32[i]);
      }
      RETURN_IF_ERROR(writer.append(spec.name, half.data(), n * sizeof(uint16_t)));
    }
    done += n;
  }
  if (numel == 0) RETURN_IF_ERROR(writer.append(spec.name, nullptr, 0));
  return Status::ok();
}

// A quantized checkpoint's linear weight (I8) or its scales (F32 "..._scale"): the normal
// weights of writeRandomTensor on one INT8 grid of +-4 std (rarer values clamp), every row's
// scale that grid's step.
Status writeRandomInt8Tensor(SafetensorsWriter& writer, const TensorSpec& spec, uint64_t seed,
                             double init_std) {
  const double step = init_std * 4.0 / 127.0;
  const size_t numel = spec.nbytes() / dtypeSize(spec.dtype);
  if (spec.dtype != DType::kI8) {
    const std::vector<float> scales(numel, static_cast<float>(step));
    return writer.append(spec.name, scales.data(), numel * sizeof(float));
  }
  NormalRng rng(seed);
  std::vector<int8_t> q(std::min(numel, kChunkElements));
  for (size_t done = 0; done < numel;) {
    const size_t n = std::min(kChunkElements, numel - done);
    for (size_t i = 0; i < n; ++i) {
      q[i] = static_cast<int8_t>(
          std::clamp(std::nearbyint(rng.normal() / 4.0 * 127.0), -127.0, 127.0));
    }
    RETURN_IF_ERROR(writer.append(spec.name, q.data(), n));
    done += n;
  }
  return Status::ok();
}

// Number of ids the tokenizer can produce: max over vocab and added tokens, plus one.
Result<int64_t> tokenizerVocabSize(const std::filesystem::path& tokenizer_json) {
  ASSIGN_OR_RETURN(std::string text, readFile(tokenizer_json));
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return invalidArgument(tokenizer_json.string() + ": not a JSON object");
  }
  int64_t max_id = -1;
  if (json.contains("model") && json["model"].contains("vocab")) {
    const nlohmann::json& vocab = json["model"]["vocab"];
    if (vocab.is_object()) {
      for (const auto& id : vocab) {
        if (id.is_number_integer()) max_id = std::max(max_id, id.get<int64_t>());
      }
    } else if (vocab.is_array()) {  // Unigram: [[piece, score], ...]
      max_id = static_cast<int64_t>(vocab.size()) - 1;
    }
  }
  if (json.contains("added_tokens") && json["added_tokens"].is_array()) {
    for (const auto& token : json["added_tokens"]) {
      if (token.contains("id") && token["id"].is_number_integer()) {
        max_id = std::max(max_id, token["id"].get<int64_t>());
      }
    }
  }
  return max_id + 1;
}

// The tokenizer in `from` can pair with a model of model_vocab_size ids.
Status checkTokenizer(const std::filesystem::path& from, int64_t model_vocab_size) {
  const std::filesystem::path tokenizer_json = from / "tokenizer.json";
  std::error_code ec;
  if (!std::filesystem::exists(tokenizer_json, ec)) {
    return notFound(from.string() + ": no tokenizer.json");
  }
  ASSIGN_OR_RETURN(int64_t vocab, tokenizerVocabSize(tokenizer_json));
  if (vocab > model_vocab_size) {
    return invalidArgument(tokenizer_json.string() + ": tokenizer has " + std::to_string(vocab) +
                           " token ids but the model's vocab_size is " +
                           std::to_string(model_vocab_size));
  }
  return Status::ok();
}

// Copies the tokenizer files that `from` has. REQUIRES: checkTokenizer passed.
Status copyTokenizer(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::error_code ec;
  for (const char* name : kTokenizerFiles) {
    if (!std::filesystem::exists(from / name, ec)) continue;
    std::filesystem::copy_file(from / name, to / name,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return internalError((to / name).string() + ": copy failed: " + ec.message());
  }
  return Status::ok();
}

Status writeTextFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return internalError(path.string() + ": write failed");
  return Status::ok();
}

std::string shardName(size_t index, size_t count) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "model-%05zu-of-%05zu.safetensors", index + 1, count);
  return buf;
}

ModelConfig llamaShape(int64_t hidden, int64_t intermediate, int64_t layers, int64_t heads,
                       int64_t kv_heads, int64_t vocab, bool tied, double rope_theta,
                       int64_t max_pos) {
  ModelConfig c;
  c.architecture = Architecture::kLlama;
  c.hidden_size = hidden;
  c.intermediate_size = intermediate;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.vocab_size = vocab;
  c.tie_word_embeddings = tied;
  c.rope_theta = rope_theta;
  c.max_position_embeddings = max_pos;
  c.rms_norm_eps = 1e-5;
  c.torch_dtype = DType::kBF16;
  return c;
}

}  // namespace

std::vector<std::string> randomModelPresetNames() {
  return {"smollm2-135m", "llama-3.2-1b", "llama-3-8b", "qwen2.5-0.5b",
          "tiny-llama",   "tiny-gqa4",    "tiny-qwen2", "tiny-llama3"};
}

Result<ModelConfig> randomModelPreset(std::string_view name) {
  ModelConfig c;
  if (name == "smollm2-135m") {
    c = llamaShape(576, 1536, 30, 9, 3, 49152, true, 100000.0, 8192);
    c.bos_token_id = 0;
    c.eos_token_ids = {0};
  } else if (name == "llama-3.2-1b") {
    c = llamaShape(2048, 8192, 16, 32, 8, 128256, true, 500000.0, 131072);
    c.rope_scaling = {RopeScalingType::kLlama3, 32.0, 1.0, 4.0, 8192};
    c.bos_token_id = 128000;
    c.eos_token_ids = {128001};
  } else if (name == "llama-3-8b") {
    c = llamaShape(4096, 14336, 32, 32, 8, 128256, false, 500000.0, 8192);
    c.bos_token_id = 128000;
    c.eos_token_ids = {128001};
  } else if (name == "qwen2.5-0.5b") {
    c = llamaShape(896, 4864, 24, 14, 2, 151936, true, 1000000.0, 32768);
    c.architecture = Architecture::kQwen2;
    c.qkv_bias = true;
    c.rms_norm_eps = 1e-6;
    c.bos_token_id = 151643;
    c.eos_token_ids = {151643};
  } else if (name == "tiny-llama") {
    // GQA ratio 1 (as many KV heads as query heads), tied head.
    c = llamaShape(64, 128, 2, 4, 4, 512, true, 10000.0, 512);
  } else if (name == "tiny-gqa4") {
    // 4 query heads per KV head, head_dim 8, separate head, an odd intermediate size.
    c = llamaShape(64, 96, 2, 8, 2, 384, false, 10000.0, 512);
  } else if (name == "tiny-qwen2") {
    c = llamaShape(64, 160, 2, 4, 2, 400, false, 1000000.0, 512);
    c.architecture = Architecture::kQwen2;
    c.qkv_bias = true;
    c.rms_norm_eps = 1e-6;
  } else if (name == "tiny-llama3") {
    // head_dim 16 puts RoPE frequencies in all three llama3 bands (scaled, smoothed, kept).
    c = llamaShape(64, 128, 2, 4, 2, 512, true, 500000.0, 2048);
    c.rope_scaling = {RopeScalingType::kLlama3, 32.0, 1.0, 4.0, 8192};
  } else {
    std::string names;
    for (const std::string& n : randomModelPresetNames()) names += (names.empty() ? "" : ", ") + n;
    return invalidArgument("unknown model shape \"" + std::string(name) + "\" (known: " + names +
                           ")");
  }
  if (name.starts_with("tiny-")) {
    c.bos_token_id = 1;
    c.eos_token_ids = {2};
  }
  RETURN_IF_ERROR(c.validate());
  return c;
}

Status writeRandomModel(const RandomModelOptions& options) {
  ModelConfig config = options.config;
  config.torch_dtype = options.dtype;
  RETURN_IF_ERROR(config.validate());
  // A weight std past 1 is no initialisation (and overflows F16 and BF16 activations at once).
  if (!(options.init_std > 0.0 && options.init_std <= 1.0)) {
    return invalidArgument("init_std must be in (0, 1]");
  }
  // Everything is checked before the folder is touched, and an existing model is never written
  // over: files of another model left beside the new ones (a tokenizer of another vocabulary)
  // would make a folder that loads and lies.
  if (options.tokenizer_dir) {
    RETURN_IF_ERROR(checkTokenizer(*options.tokenizer_dir, config.vocab_size));
  }
  std::error_code ec;
  if (std::filesystem::exists(options.out_dir, ec) &&
      !(std::filesystem::is_directory(options.out_dir, ec) &&
        std::filesystem::is_empty(options.out_dir, ec))) {
    return invalidArgument(options.out_dir.string() +
                           ": already exists and is not an empty folder; choose a new one");
  }
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) return internalError(options.out_dir.string() + ": cannot create: " + ec.message());
  if (options.tokenizer_dir) {
    RETURN_IF_ERROR(copyTokenizer(*options.tokenizer_dir, options.out_dir));
  }
  RETURN_IF_ERROR(writeTextFile(options.out_dir / "config.json", modelConfigToJson(config)));
  nlohmann::json generation;
  if (config.bos_token_id) generation["bos_token_id"] = *config.bos_token_id;
  if (!config.eos_token_ids.empty()) generation["eos_token_id"] = config.eos_token_ids;
  RETURN_IF_ERROR(
      writeTextFile(options.out_dir / "generation_config.json", generation.dump(2) + "\n"));

  const std::vector<TensorSpec> specs = expectedModelTensors(config, options.dtype);
  uint64_t total_bytes = 0;
  for (const TensorSpec& spec : specs) total_bytes += spec.nbytes();
  // Greedy split into shards in tensor order, each at most max_shard_bytes (or one tensor).
  std::vector<std::vector<size_t>> shards(1);
  uint64_t shard_bytes = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!shards.back().empty() && shard_bytes + specs[i].nbytes() > options.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(i);
    shard_bytes += specs[i].nbytes();
  }
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  size_t tensors_done = 0;
  uint64_t bytes_done = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string file_name =
        shards.size() == 1 ? std::string("model.safetensors") : shardName(s, shards.size());
    std::vector<TensorSpec> shard_specs;
    for (size_t i : shards[s]) shard_specs.push_back(specs[i]);
    ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsWriter> writer,
                     SafetensorsWriter::create(options.out_dir / file_name, shard_specs, metadata));
    for (size_t i : shards[s]) {
      uint64_t tensor_seed = options.seed ^ (0x9e3779b97f4a7c15ull * (i + 1));
      const bool int8 = specs[i].dtype == DType::kI8 || specs[i].name.ends_with("_scale");
      RETURN_IF_ERROR((int8 ? writeRandomInt8Tensor : writeRandomTensor)(
          *writer, specs[i], splitMix64(tensor_seed), options.init_std));
      weight_map[specs[i].name] = file_name;
      bytes_done += specs[i].nbytes();
      ++tensors_done;
      if (options.progress) options.progress(tensors_done, specs.size(), bytes_done, total_bytes);
    }
    RETURN_IF_ERROR(writer->finish());
  }
  if (shards.size() > 1) {
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", total_bytes}};
    index["weight_map"] = weight_map;
    RETURN_IF_ERROR(
        writeTextFile(options.out_dir / "model.safetensors.index.json", index.dump(2) + "\n"));
  } else {
    std::filesystem::remove(options.out_dir / "model.safetensors.index.json", ec);
  }
  return Status::ok();
}

}  // namespace manifold
