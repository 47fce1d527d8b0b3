#include "engine/tokenizer/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/utf8.h"
#include "engine/tokenizer/added_vocabulary.h"
#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/decoder.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/post_processor.h"
#include "engine/tokenizer/pre_tokenizer.h"

namespace manifold {
namespace {

bool present(const nlohmann::json& root, const char* key) {
  return root.contains(key) && !root[key].is_null();
}

// Tokenizer classes whose transformers fast implementation rebuilds the post-processor from
// add_bos_token (default true) and add_eos_token (default false), whatever tokenizer.json says.
bool rebuildsBosEosTemplate(const TokenizerConfig& config) {
  const auto it = config.raw.find("tokenizer_class");
  if (it == config.raw.end() || !it->is_string()) return false;
  const std::string name = it->get<std::string>();
  for (const char* family : {"LlamaTokenizer", "CodeLlamaTokenizer", "GemmaTokenizer"}) {
    if (name == family || name == std::string(family) + "Fast") return true;
  }
  return false;
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::fromDirectory(const std::string& dir) {
  const std::filesystem::path path = std::filesystem::path(dir) / "tokenizer.json";
  ASSIGN_OR_RETURN(std::string text, readFile(path));
  ASSIGN_OR_RETURN(TokenizerConfig config, loadTokenizerConfig(dir));
  Result<std::unique_ptr<Tokenizer>> tokenizer = fromJson(text, std::move(config));
  if (!tokenizer.isOk()) return tokenizer.status().withContext(path.string());
  return tokenizer;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::fromJson(std::string_view tokenizer_json,
                                                       TokenizerConfig config) {
  const nlohmann::json root =
      nlohmann::json::parse(tokenizer_json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return dataLoss("not valid JSON");
  if (!root.is_object()) return invalidArgument("top level must be a JSON object");
  if (!present(root, "model")) return invalidArgument("no \"model\"");

  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer());
  tokenizer->config_ = std::move(config);
  if (present(root, "normalizer")) {
    ASSIGN_OR_RETURN(tokenizer->normalizer_, Normalizer::fromJson(root["normalizer"]));
  }
  bool byte_level = false;
  if (present(root, "pre_tokenizer")) {
    ASSIGN_OR_RETURN(tokenizer->pre_tokenizer_, PreTokenizer::fromJson(root["pre_tokenizer"]));
    byte_level = tokenizer->pre_tokenizer_->isByteLevel();
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BpeModel> model, BpeModel::fromJson(root["model"], byte_level));
  tokenizer->model_ = std::move(model);
  if (present(root, "post_processor")) {
    ASSIGN_OR_RETURN(tokenizer->post_processor_, PostProcessor::fromJson(root["post_processor"]));
  }
  if (present(root, "decoder")) {
    ASSIGN_OR_RETURN(tokenizer->decoder_, Decoder::fromJson(root["decoder"]));
  }
  ASSIGN_OR_RETURN(tokenizer->added_,
                   AddedVocabulary::fromJson(
                       root.contains("added_tokens") ? root["added_tokens"] : nlohmann::json(),
                       tokenizer->normalizer_.get()));
  tokenizer->vocab_size_ = std::max(tokenizer->model_->idLimit(), tokenizer->added_->idLimit());

  const TokenizerConfig& cfg = tokenizer->config_;
  if (cfg.bos_token) tokenizer->bos_id_ = tokenizer->tokenToId(*cfg.bos_token);
  if (cfg.eos_token) {
    if (std::optional<int32_t> eos = tokenizer->tokenToId(*cfg.eos_token)) {
      tokenizer->eos_ids_.push_back(*eos);
    }
  }
  if (rebuildsBosEosTemplate(cfg)) {
    const bool add_bos = cfg.add_bos_token.value_or(true);
    const bool add_eos = cfg.add_eos_token.value_or(false);
    if (add_bos && !tokenizer->bos_id_) {
      return invalidArgument("add_bos_token is set but bos_token is missing from the vocabulary");
    }
    if (add_eos && tokenizer->eos_ids_.empty()) {
      return invalidArgument("add_eos_token is set but eos_token is missing from the vocabulary");
    }
    tokenizer->post_processor_ = PostProcessor::bosEos(
        add_bos ? tokenizer->bos_id_ : std::nullopt,
        add_eos ? std::optional<int32_t>(tokenizer->eos_ids_.front()) : std::nullopt);
  }
  return tokenizer;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::string repaired;
  if (!utf8::isValid(text)) {
    repaired = utf8::repairLossy(text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<TextSegment> segments;
  added_->splitRaw(text, segments);
  for (const TextSegment& segment : segments) {
    if (segment.token_id) {
      ids.push_back(*segment.token_id);
    } else {
      encodePlain(segment.text, segment.text.data() == text.data(), ids);
    }
  }
  if (add_special_tokens && post_processor_) return post_processor_->apply(std::move(ids));
  return ids;
}

void Tokenizer::encodePlain(std::string_view text, bool at_text_start,
                            std::vector<int32_t>& ids) const {
  std::string normalized;
  std::string_view view = text;
  if (normalizer_) {
    normalized = normalizer_->normalize(text);
    view = normalized;
  }
  if (!added_->hasNormalizedTokens()) {
    encodeNormalized(view, at_text_start, ids);
    return;
  }
  std::vector<TextSegment> segments;
  added_->splitNormalized(view, segments);
  for (const TextSegment& segment : segments) {
    if (segment.token_id) {
      ids.push_back(*segment.token_id);
    } else {
      encodeNormalized(segment.text, at_text_start && segment.text.data() == view.data(), ids);
    }
  }
}

void Tokenizer::encodeNormalized(std::string_view normalized, bool at_text_start,
                                 std::vector<int32_t>& ids) const {
  if (!pre_tokenizer_) {
    model_->encodeWord(normalized, ids);
    return;
  }
  PreTokens pieces;
  pre_tokenizer_->preTokenize(normalized, at_text_start, pieces);
  for (std::string_view piece : pieces.pieces) model_->encodeWord(piece, ids);
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (const AddedToken* added = added_->byId(id)) {
      if (!(skip_special_tokens && added->special)) tokens.push_back(added->content);
      continue;
    }
    if (const std::string* token = model_->idToToken(id)) tokens.push_back(*token);
  }
  if (decoder_) return decoder_->decode(std::move(tokens));
  // HF joins the tokens with spaces when there is no decoder.
  std::string text;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) text += ' ';
    text += tokens[i];
  }
  return utf8::repairLossy(text);
}

std::optional<std::string> Tokenizer::tokenBytes(int32_t id) const {
  if (isSpecial(id)) return std::nullopt;
  std::optional<std::string> token = idToToken(id);
  if (!token) return std::nullopt;
  // Without a decoder HF joins the tokens with spaces.
  return decoder_ ? decoder_->tokenBytes(*token) : " " + *token;
}

bool Tokenizer::isSpecial(int32_t id) const {
  const AddedToken* added = added_->byId(id);
  return added != nullptr && added->special;
}

std::optional<int32_t> Tokenizer::tokenToId(std::string_view piece) const {
  if (const AddedToken* added = added_->byContent(piece)) return added->id;
  return model_->tokenToId(piece);
}

std::optional<std::string> Tokenizer::idToToken(int32_t id) const {
  if (const AddedToken* added = added_->byId(id)) return added->content;
  if (const std::string* token = model_->idToToken(id)) return *token;
  return std::nullopt;
}

}  // namespace manifold
