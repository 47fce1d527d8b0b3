#include "engine/structured_output/token_bytes_index.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <type_traits>
#include <utility>

#include "engine/tokenizer/tokenizer.h"

namespace manifold {
namespace {

// GBNF masks by (index, state key), least recently used out first; per thread, so no lock.
struct CachedMask {
  uint64_t index = 0;  // TokenBytesIndex::id_; 0: empty
  std::string key;
  std::vector<uint8_t> mask;
  uint64_t last_use = 0;
};

struct MaskCache {
  std::array<CachedMask, TokenBytesIndex::kCachedMasks> entries;
  uint64_t clock = 0;

  const CachedMask* find(uint64_t index, const std::string& key) {
    for (CachedMask& entry : entries) {
      if (entry.index == index && entry.key == key) {
        entry.last_use = ++clock;
        return &entry;
      }
    }
    return nullptr;
  }
  void insert(uint64_t index, std::string key, std::span<const uint8_t> mask) {
    CachedMask* oldest = &entries[0];
    for (CachedMask& entry : entries) {
      if (entry.last_use < oldest->last_use) oldest = &entry;
    }
    oldest->index = index;
    oldest->key = std::move(key);
    oldest->mask.assign(mask.begin(), mask.end());
    oldest->last_use = ++clock;
  }
};

MaskCache& maskCache() {
  thread_local MaskCache cache;
  return cache;
}

uint64_t nextIndexId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

TokenBytesIndex::TokenBytesIndex(std::vector<std::optional<std::string>> bytes_by_id,
                                 std::vector<int32_t> eos_ids)
    : eos_(bytes_by_id.size(), 0), string_text_(bytes_by_id.size(), 0), id_(nextIndexId()) {
  for (int32_t id : eos_ids) {
    if (id >= 0 && static_cast<size_t>(id) < eos_.size() && eos_[id] == 0) {
      eos_[id] = 1;
      eos_ids_.push_back(id);
    }
  }
  JsonGrammar in_string;
  const bool started = in_string.advance("{\"");
  assert(started && in_string.betweenStringCharacters());
  (void)started;
  bytes_.resize(bytes_by_id.size());
  std::vector<int32_t> with_bytes;
  std::vector<int32_t> not_text;
  for (size_t id = 0; id < bytes_by_id.size(); ++id) {
    if (!bytes_by_id[id] || bytes_by_id[id]->empty()) continue;
    bytes_[id] = std::move(*bytes_by_id[id]);
    const std::string& bytes = bytes_[id];
    max_length_ = std::max(max_length_, bytes.size());
    with_bytes.push_back(static_cast<int32_t>(id));
    JsonGrammar state = in_string;
    string_text_[id] = eos_[id] == 0 && bytes.find_first_of("\"\\") == std::string::npos &&
                       state.advance(bytes) && state.betweenStringCharacters();
    if (string_text_[id] == 0) not_text.push_back(static_cast<int32_t>(id));
  }
  all_ = makeWalk(std::move(with_bytes));
  not_string_text_ = makeWalk(std::move(not_text));
}

std::unique_ptr<TokenBytesIndex> TokenBytesIndex::fromTokenizer(const Tokenizer& tokenizer,
                                                                int vocab_size,
                                                                std::vector<int32_t> eos_ids) {
  std::vector<std::optional<std::string>> bytes(static_cast<size_t>(vocab_size));
  for (size_t id = 0; id < bytes.size(); ++id) {
    bytes[id] = tokenizer.tokenBytes(static_cast<int32_t>(id));
  }
  return std::make_unique<TokenBytesIndex>(std::move(bytes), std::move(eos_ids));
}

TokenBytesIndex::Walk TokenBytesIndex::makeWalk(std::vector<int32_t> ids) const {
  Walk w;
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return bytes_[a] < bytes_[b]; });
  w.common_prefix.assign(ids.size(), 0);
  for (size_t i = 1; i < ids.size(); ++i) {
    const std::string& prev = bytes_[ids[i - 1]];
    const std::string& cur = bytes_[ids[i]];
    const size_t limit = std::min(prev.size(), cur.size());
    size_t n = 0;
    while (n < limit && prev[n] == cur[n]) ++n;
    w.common_prefix[i] = static_cast<uint32_t>(n);
  }
  w.order = std::move(ids);
  return w;
}

bool TokenBytesIndex::isEos(int32_t id) const {
  return id >= 0 && id < vocabSize() && eos_[id] != 0;
}

template <class Grammar>
bool TokenBytesIndex::advanceBy(Grammar& state, int32_t id) const {
  if (id < 0 || id >= vocabSize()) return false;
  if (eos_[id] != 0) return state.complete();
  return !bytes_[id].empty() && state.advance(bytes_[id]);
}

bool TokenBytesIndex::accepts(const OutputGrammar& state, int32_t id) const {
  return state.visit([&](const auto& s) { return accepts(s, id); });
}

bool TokenBytesIndex::accepts(const JsonGrammar& state, int32_t id) const {
  JsonGrammar copy = state;
  return advanceBy(copy, id);
}

bool TokenBytesIndex::accepts(const GbnfState& state, int32_t id) const {
  GbnfState copy = state;
  return advanceBy(copy, id);
}

bool TokenBytesIndex::advance(OutputGrammar& state, int32_t id) const {
  return state.visit([&](auto& s) { return advanceBy(s, id); });
}

bool TokenBytesIndex::advance(JsonGrammar& state, int32_t id) const { return advanceBy(state, id); }

bool TokenBytesIndex::advance(GbnfState& state, int32_t id) const { return advanceBy(state, id); }

template <class Grammar>
bool TokenBytesIndex::onlyEos(const Grammar& state, std::span<uint8_t> allowed) const {
  assert(allowed.size() == bytes_.size());
  if (!state.done()) return false;
  // Only the end may follow; no byte is taken.
  std::copy(eos_.begin(), eos_.end(), allowed.begin());
  return true;
}

template <class Grammar>
void TokenBytesIndex::addEos(const Grammar& state, std::span<uint8_t> allowed) const {
  if (state.complete()) {
    // A whole output that could also go on ("1" of "12").
    for (int32_t id : eos_ids_) allowed[id] = 1;
  }
}

void TokenBytesIndex::allowedTokens(const OutputGrammar& state, std::span<uint8_t> allowed) const {
  state.visit([&](const auto& s) { allowedTokens(s, allowed); });
}

void TokenBytesIndex::allowedTokens(const JsonGrammar& state, std::span<uint8_t> allowed) const {
  if (onlyEos(state, allowed)) return;
  if (state.betweenStringCharacters()) {
    std::copy(string_text_.begin(), string_text_.end(), allowed.begin());
    walk(not_string_text_, state, allowed);
  } else {
    std::fill(allowed.begin(), allowed.end(), 0);
    walk(all_, state, allowed);
  }
  addEos(state, allowed);
}

void TokenBytesIndex::allowedTokens(const GbnfState& state, std::span<uint8_t> allowed) const {
  if (onlyEos(state, allowed)) return;
  std::string key = state.key();
  if (const CachedMask* cached = maskCache().find(id_, key)) {
    std::copy(cached->mask.begin(), cached->mask.end(), allowed.begin());
    return;
  }
  std::fill(allowed.begin(), allowed.end(), 0);
  walk(all_, state, allowed);
  addEos(state, allowed);
  maskCache().insert(id_, std::move(key), allowed);
}

void TokenBytesIndex::clearMaskCache() { maskCache() = MaskCache(); }

template <class Grammar>
void TokenBytesIndex::walk(const Walk& walk, const Grammar& state,
                           std::span<uint8_t> allowed) const {
  // states[d]: the grammar after the first d bytes of the last token read, valid for d <= good.
  // Kept per thread: a mask per sampled row would otherwise allocate it each time.
  thread_local std::vector<Grammar> states;
  if (states.size() < max_length_ + 1) states.resize(max_length_ + 1, state);
  states[0] = state;
  // GBNF: the ASCII bytes that lead from `state` back to it (plain characters inside a string,
  // where nearly every token is allowed). at_start[d]: the state after d bytes is `state` itself,
  // and states[d] is not kept; such a byte then costs nothing.
  constexpr bool kLoops = std::is_same_v<Grammar, GbnfState>;
  std::array<bool, 128> loops{};
  thread_local std::vector<uint8_t> at_start;
  if constexpr (kLoops) {
    for (int byte = 0; byte < 128; ++byte) {
      Grammar next = state;
      loops[static_cast<size_t>(byte)] =
          next.advance(static_cast<uint8_t>(byte)) && next.sameAs(state);
    }
    // Entries past `good` are stale, as in `states`: each is written before it is read.
    if (at_start.size() < max_length_ + 1) at_start.resize(max_length_ + 1);
    at_start[0] = 1;
  }
  size_t good = 0;
  for (size_t i = 0; i < walk.order.size(); ++i) {
    const int32_t id = walk.order[i];
    const size_t shared = walk.common_prefix[i];
    if (shared > good) {  // shares a prefix the grammar refused
      allowed[id] = 0;
      continue;
    }
    const std::string& bytes = bytes_[id];
    size_t d = shared;
    for (; d < bytes.size(); ++d) {
      const auto byte = static_cast<uint8_t>(bytes[d]);
      if constexpr (kLoops) {
        if (at_start[d] != 0) {
          if (byte < 128 && loops[byte]) {
            at_start[d + 1] = 1;
            continue;
          }
          states[d + 1] = state;
        } else {
          states[d + 1] = states[d];
        }
        if (!states[d + 1].advance(byte)) break;
        // The end of a character past ASCII comes back too.
        at_start[d + 1] = states[d + 1].sameAs(state) ? 1 : 0;
      } else {
        states[d + 1] = states[d];
        if (!states[d + 1].advance(byte)) break;
      }
    }
    good = d;
    allowed[id] = d == bytes.size() && eos_[id] == 0;
  }
}

}  // namespace manifold
