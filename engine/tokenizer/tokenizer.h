// A Hugging Face `tokenizers` compatible tokenizer loaded from tokenizer.json (+
// tokenizer_config.json).
//
// Pipeline of encode, as in HF: split the text on added tokens (special tokens are recognised in
// the text even with add_special_tokens=false) → normalizer → pre-tokenizer → model (BPE) →
// post-processor (BOS/EOS from TemplateProcessing, only when add_special_tokens). decode maps ids
// to token strings and runs the decoder chain.
//
// As transformers does for Llama/CodeLlama/Gemma tokenizer classes, tokenizer_config's
// add_bos_token (default true) and add_eos_token (default false) then decide the special tokens
// that add_special_tokens puts around the text, instead of tokenizer.json's post-processor.
//
// Supported: BPE models (byte-level as in GPT-2 / Llama-3 / Qwen2, and sentencepiece-style with
// byte_fallback as in Llama-2 / Mistral); normalizers NFC/NFKC/NFD/NFKD, Prepend, Replace,
// Lowercase, Strip, Sequence; pre-tokenizers Split, ByteLevel, Metaspace, Digits, Sequence;
// post-processors TemplateProcessing, ByteLevel, Bert/Roberta, Sequence; decoders ByteLevel,
// Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence. Anything else is an Unimplemented error
// at load time, never a silent mis-tokenization.
//
// Thread safety: all const methods may be called from many threads at once (the word cache inside
// is internally synchronised).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/tokenizer/tokenizer_config.h"

namespace manifold {

class AddedVocabulary;
class Decoder;
class Normalizer;
class PostProcessor;
class PreTokenizer;
class TokenizerModel;

class Tokenizer {
 public:
  // Loads <dir>/tokenizer.json (required) and <dir>/tokenizer_config.json (optional). Errors name
  // the file and what is wrong with it.
  [[nodiscard]] static Result<std::unique_ptr<Tokenizer>> fromDirectory(const std::string& dir);

  // Builds a tokenizer from the text of tokenizer.json and an already loaded config.
  [[nodiscard]] static Result<std::unique_ptr<Tokenizer>> fromJson(std::string_view tokenizer_json,
                                                                   TokenizerConfig config);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of `text`. With add_special_tokens the post-processor adds BOS/EOS as tokenizer.json
  // says. Invalid UTF-8 in `text` is replaced by U+FFFD before tokenizing.
  [[nodiscard]] std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;

  // Text of `ids` (valid UTF-8; undecodable bytes become U+FFFD). Ids outside [0, vocabSize())
  // decode to nothing. With skip_special_tokens, added tokens marked special are dropped.
  // Decodes as the `tokenizers` library (and vLLM's streaming detokenizer) do: transformers'
  // clean_up_tokenization_spaces (" ." -> ".") is not applied, so byte-level text round-trips.
  [[nodiscard]] std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const;

  // The bytes token `id` adds to an output after its first token (the decoder run on it alone,
  // bytes not yet valid UTF-8 kept as they are), or nullopt for special tokens and ids outside
  // the vocabulary. What structured output checks a grammar against.
  [[nodiscard]] std::optional<std::string> tokenBytes(int32_t id) const;

  // Largest id + 1, counting added tokens.
  [[nodiscard]] int vocabSize() const { return vocab_size_; }
  // The id of tokenizer_config's bos_token, if it has one that is in the vocabulary.
  [[nodiscard]] std::optional<int32_t> bosId() const { return bos_id_; }
  // The id of tokenizer_config's eos_token (empty if none). A vector because generation configs
  // commonly add more stop ids; callers merge those in.
  [[nodiscard]] const std::vector<int32_t>& eosIds() const { return eos_ids_; }
  // True for added tokens marked "special" (the ones skip_special_tokens drops).
  [[nodiscard]] bool isSpecial(int32_t id) const;
  // The id of an exact token string: an added token's content or a model vocabulary entry (in the
  // model's own alphabet, e.g. "Ġthe" or "▁the").
  [[nodiscard]] std::optional<int32_t> tokenToId(std::string_view piece) const;
  // The token string of `id` in the model's alphabet, or nullopt when out of range.
  [[nodiscard]] std::optional<std::string> idToToken(int32_t id) const;
  [[nodiscard]] const TokenizerConfig& config() const { return config_; }

 private:
  Tokenizer();
  // Encodes one piece of text that holds no added tokens: normalizer, pre-tokenizer, model.
  // `at_text_start`: the piece begins the whole input (Metaspace prepend_scheme "first").
  void encodePlain(std::string_view text, bool at_text_start, std::vector<int32_t>& ids) const;
  void encodeNormalized(std::string_view normalized, bool at_text_start,
                        std::vector<int32_t>& ids) const;

  TokenizerConfig config_;
  std::unique_ptr<Normalizer> normalizer_;         // null when tokenizer.json has none
  std::unique_ptr<PreTokenizer> pre_tokenizer_;    // null when tokenizer.json has none
  std::unique_ptr<TokenizerModel> model_;          // never null
  std::unique_ptr<PostProcessor> post_processor_;  // null when tokenizer.json has none
  std::unique_ptr<Decoder> decoder_;               // null: tokens are joined with " " as in HF
  std::unique_ptr<AddedVocabulary> added_;         // never null
  int vocab_size_ = 0;
  std::optional<int32_t> bos_id_;
  std::vector<int32_t> eos_ids_;
};

}  // namespace manifold
