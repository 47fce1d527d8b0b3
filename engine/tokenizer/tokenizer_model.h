// The `model` of tokenizer.json: turns one pre-tokenized piece into ids. BPE is the one
// implementation today (byte-level and sentencepiece-style); WordPiece and Unigram would be others.
//
// Thread safety: implementations must allow concurrent const calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace manifold {

// The largest token id a vocabulary may use (2^24 - 1): ids index tables, and one past any real
// vocabulary (the largest have a few hundred thousand entries) would make them gigabytes.
inline constexpr int64_t kMaxTokenId = (int64_t{1} << 24) - 1;

class TokenizerModel {
 public:
  virtual ~TokenizerModel() = default;

  // Appends the ids of one piece. REQUIRES: `piece` is valid UTF-8 (or raw bytes for byte-level
  // models) and holds no added tokens.
  virtual void encodeWord(std::string_view piece, std::vector<int32_t>& ids) const = 0;

  // The id of a vocabulary entry spelled in the model's own alphabet ("Ġthe", "▁the").
  [[nodiscard]] virtual std::optional<int32_t> tokenToId(std::string_view token) const = 0;
  // The vocabulary entry of `id`, or nullptr when the model has no such id.
  [[nodiscard]] virtual const std::string* idToToken(int32_t id) const = 0;
  // Largest model id + 1.
  [[nodiscard]] virtual int32_t idLimit() const = 0;
};

}  // namespace manifold
