// The `decoder` of tokenizer.json: turns the token strings of some ids back into text. As in HF,
// each step maps a list of strings to a list of strings and the results are concatenated.
// Supports ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip and Sequence.
//
// Thread safety: immutable after construction.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace manifold {

class Regex;

class Decoder {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Decoder>> fromJson(const nlohmann::json& json);

  ~Decoder();

  // The text of `tokens` (valid UTF-8: undecodable bytes become U+FFFD).
  [[nodiscard]] std::string decode(std::vector<std::string> tokens) const;
  // The bytes one token string adds in the middle of a text: the steps applied to it alone, as
  // a token that is not the text's first (Metaspace keeps its space, a Strip after Fuse does not
  // apply), and without replacing bytes that are not UTF-8 on their own.
  [[nodiscard]] std::string tokenBytes(const std::string& token) const;

 private:
  enum class Kind { kByteLevel, kMetaspace, kReplace, kByteFallback, kFuse, kStrip };
  struct Step {
    Kind kind;
    std::unique_ptr<Regex> pattern;  // kReplace
    std::string text;  // kReplace: replacement; kMetaspace: replacement; kStrip: content
    bool metaspace_strip_first = true;  // kMetaspace: prepend_scheme != never
    size_t strip_start = 0;             // kStrip
    size_t strip_stop = 0;              // kStrip
  };

  Decoder() = default;
  [[nodiscard]] Status addSteps(const nlohmann::json& json);

  std::vector<Step> steps_;
};

}  // namespace manifold
