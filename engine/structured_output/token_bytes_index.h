// The vocabulary as structured output sees it: the bytes each token adds to the text, sorted so
// that tokens sharing a prefix are tested against a grammar state once per shared byte.
//
// allowedTokens() walks the tokens in byte order, keeping the grammar state after each prefix
// byte of the previous token. A token resumes from the state at its common prefix with the
// previous one; one whose common prefix runs past a byte the grammar refused is refused without
// reading it. That is a depth-first walk of the vocabulary's byte trie without building the trie.
//
// Inside a string nearly every token is allowed, and walking them all costs milliseconds on a
// 128k vocabulary: tokens that are plain string text (whole characters, no quote, backslash or
// control character) are allowed there without a walk, and only the others are walked.
//
// The same walk serves GBNF grammars (GbnfState), without the string shortcut. Their masks are
// kept by state (GbnfState::key(), the last kCachedMasks per thread): a grammar's state inside
// a string, or between list items, recurs at every such step, and a mask over a large
// vocabulary costs milliseconds to walk and microseconds to copy.
//
// Tokens without bytes (special tokens, ids past the tokenizer, tokens that decode to nothing)
// are never allowed, except the end-of-sequence ids when the grammar is complete.
//
// Thread safety: immutable after construction.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/structured_output/output_grammar.h"

namespace manifold {

class Tokenizer;

class TokenBytesIndex {
 public:
  // bytes_by_id[id]: what token `id` adds to the text mid-output (Tokenizer::tokenBytes), or
  // nullopt. eos_ids: the ids that end the output.
  TokenBytesIndex(std::vector<std::optional<std::string>> bytes_by_id,
                  std::vector<int32_t> eos_ids);
  // The index of a model's vocabulary (vocab_size ids, which may run past the tokenizer's).
  [[nodiscard]] static std::unique_ptr<TokenBytesIndex> fromTokenizer(const Tokenizer& tokenizer,
                                                                      int vocab_size,
                                                                      std::vector<int32_t> eos_ids);

  static constexpr size_t kCachedMasks = 8;

  [[nodiscard]] int vocabSize() const { return static_cast<int>(bytes_.size()); }
  [[nodiscard]] bool isEos(int32_t id) const;

  // Whether `state` takes token `id`.
  [[nodiscard]] bool accepts(const OutputGrammar& state, int32_t id) const;
  [[nodiscard]] bool accepts(const JsonGrammar& state, int32_t id) const;
  [[nodiscard]] bool accepts(const GbnfState& state, int32_t id) const;
  // Advances `state` by token `id`; false (state unspecified) if it does not take it.
  [[nodiscard]] bool advance(OutputGrammar& state, int32_t id) const;
  [[nodiscard]] bool advance(JsonGrammar& state, int32_t id) const;
  [[nodiscard]] bool advance(GbnfState& state, int32_t id) const;
  // allowed[id] = accepts(state, id) for every id. REQUIRES: allowed.size() == vocabSize().
  void allowedTokens(const OutputGrammar& state, std::span<uint8_t> allowed) const;
  void allowedTokens(const JsonGrammar& state, std::span<uint8_t> allowed) const;
  void allowedTokens(const GbnfState& state, std::span<uint8_t> allowed) const;
  // Forgets this thread's cached GBNF masks (benchmarks of the walk itself).
  static void clearMaskCache();

 private:
  // Ids in byte order, and how many bytes each shares with the one before it.
  struct Walk {
    std::vector<int32_t> order;
    std::vector<uint32_t> common_prefix;
  };
  [[nodiscard]] Walk makeWalk(std::vector<int32_t> ids) const;
  template <class Grammar>
  [[nodiscard]] bool advanceBy(Grammar& state, int32_t id) const;
  template <class Grammar>
  void walk(const Walk& walk, const Grammar& state, std::span<uint8_t> allowed) const;
  // The end-of-sequence ids alone (done()), or added to a walk's mask (complete()).
  template <class Grammar>
  [[nodiscard]] bool onlyEos(const Grammar& state, std::span<uint8_t> allowed) const;
  template <class Grammar>
  void addEos(const Grammar& state, std::span<uint8_t> allowed) const;

  std::vector<std::string> bytes_;    // by id; empty: no bytes
  std::vector<uint8_t> eos_;          // by id
  std::vector<int32_t> eos_ids_;      // the ids eos_ marks
  std::vector<uint8_t> string_text_;  // by id: plain string text
  Walk all_;                          // every id with bytes
  Walk not_string_text_;              // the ids with bytes that are not plain string text
  size_t max_length_ = 0;
  uint64_t id_;  // distinct per index of the process (the mask cache's key, unlike `this`)
};

}  // namespace manifold
