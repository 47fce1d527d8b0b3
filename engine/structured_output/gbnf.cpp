// GbnfState, the recognizer (gbnf.h); Gbnf::compile is in gbnf_compile.cpp.
#include "engine/structured_output/gbnf.h"

#include <algorithm>
#include <string>

namespace manifold {

bool Gbnf::CharSet::contains(uint32_t code_point) const {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), code_point,
                             [](uint32_t c, const auto& range) { return c < range.first; });
  return it != ranges.begin() && code_point <= std::prev(it)->second;
}

bool Gbnf::CharSet::intersects(uint32_t lo, uint32_t hi) const {
  for (const auto& [first, last] : ranges) {
    if (first > hi) return false;
    if (last >= lo) return true;
  }
  return false;
}

// Collects the parses an advance leaves, without duplicates.
struct GbnfState::Builder {
  const Gbnf* grammar;
  uint16_t* cells;
  int used = 0;
  int stacks = 0;
  bool accepting = false;
  // Expansions one advance may do: ambiguity that multiplies parses faster than they merge
  // stops growing here instead of stalling. Parses left out (this, or full cells) narrow what
  // may follow; those kept can all still end, so there is no dead end.
  int budget = kMaxExpansions;
  // Nested expand() calls: a chain of rules that each end in the next recurses once per rule
  // without growing the parse, so the chain's length is bounded here, as the parse's is by
  // kMaxDepth (what lies further is left out, as past the budget).
  int level = 0;
  static constexpr int kMaxLevel = 1024;

  void add(const uint16_t* positions, int depth) {
    if (depth == 0) {
      accepting = true;
      return;
    }
    // A parse that could not end within kMaxDepth entries is dropped, so that every parse kept
    // can still end: refusing its next byte later would be a dead end.
    for (int level = 0; level < depth; ++level) {
      if (level + 1 + static_cast<uint64_t>(grammar->needFrom(positions[level])) >
          static_cast<uint64_t>(kMaxDepth)) {
        return;
      }
    }
    for (int i = 0; i < used; i += cells[i] + 1) {
      if (cells[i] == depth && std::memcmp(cells + i + 1, positions,
                                           sizeof(uint16_t) * static_cast<size_t>(depth)) == 0) {
        return;
      }
    }
    if (used + depth + 1 > kMaxCells) return;
    cells[used] = static_cast<uint16_t>(depth);
    std::memcpy(cells + used + 1, positions, sizeof(uint16_t) * static_cast<size_t>(depth));
    used += depth + 1;
    ++stacks;
  }

  // Follows the parse `positions` until its top is a terminal: finished alternatives return to
  // the position after the rule that began them, rules begin each of their alternatives.
  void expand(const uint16_t* positions, int depth) {
    if (--budget < 0) return;
    uint16_t local[kMaxDepth];
    std::memcpy(local, positions, sizeof(uint16_t) * static_cast<size_t>(depth));
    for (;;) {
      if (depth == 0) {
        add(local, 0);
        return;
      }
      const uint16_t top = local[depth - 1];
      const Gbnf::Element& element = grammar->element(top);
      if (element.kind == Gbnf::Kind::kEnd) {
        --depth;
        continue;
      }
      if (element.kind == Gbnf::Kind::kChars) {
        add(local, depth);
        return;
      }
      // A rule: the parse continues after it, unless the rule ends its alternative (then the
      // parse returns straight past it, so that right recursion does not grow the stack).
      if (grammar->element(top + 1).kind == Gbnf::Kind::kEnd) {
        --depth;
      } else {
        local[depth - 1] = static_cast<uint16_t>(top + 1);
      }
      if (depth == kMaxDepth) return;  // this parse could not end within the limit
      if (level == kMaxLevel) return;
      ++level;
      for (uint16_t start : grammar->alternatives(static_cast<int>(element.value))) {
        local[depth] = start;
        expand(local, depth + 1);
        if (budget < 0) break;
      }
      --level;
      return;
    }
  }
};

GbnfState::GbnfState(const Gbnf& grammar) : grammar_(&grammar) {
  Builder builder{&grammar, cells_};
  for (uint16_t start : grammar.alternatives(grammar.root())) builder.expand(&start, 1);
  used_ = static_cast<uint16_t>(builder.used);
  stacks_ = static_cast<uint16_t>(builder.stacks);
  accepting_ = builder.accepting;
}

bool GbnfState::expects(uint32_t lo, uint32_t hi) const {
  for (int i = 0; i < used_; i += cells_[i] + 1) {
    const Gbnf::Element& top = grammar_->element(cells_[i + cells_[i]]);
    if (grammar_->charSet(top.value).intersects(lo, hi)) return true;
  }
  return false;
}

bool GbnfState::advanceCodePoint(uint32_t code_point) {
  uint16_t next[kMaxCells];
  Builder builder{grammar_, next};
  for (int i = 0; i < used_; i += cells_[i] + 1) {
    const int depth = cells_[i];
    uint16_t* positions = cells_ + i + 1;
    const uint16_t top = positions[depth - 1];
    if (!grammar_->charSet(grammar_->element(top).value).contains(code_point)) continue;
    positions[depth - 1] = static_cast<uint16_t>(top + 1);
    builder.expand(positions, depth);
    positions[depth - 1] = top;
  }
  if (builder.stacks == 0 && !builder.accepting) return false;
  std::memcpy(cells_, next, sizeof(uint16_t) * static_cast<size_t>(builder.used));
  used_ = static_cast<uint16_t>(builder.used);
  stacks_ = static_cast<uint16_t>(builder.stacks);
  accepting_ = builder.accepting;
  return true;
}

bool GbnfState::advance(uint8_t byte) {
  if (utf8_left_ > 0) {
    if (byte < utf8_lo_ || byte > utf8_hi_) return false;
    code_point_ = (code_point_ << 6) | (byte & 0x3Fu);
    utf8_lo_ = 0x80;
    utf8_hi_ = 0xBF;
    if (--utf8_left_ > 0) {
      const int shift = 6 * utf8_left_;
      if (!expects(code_point_ << shift, (code_point_ << shift) | ((1u << shift) - 1))) {
        return false;
      }
      return true;
    }
    // Cleared between characters, so that states differing only in the character last read
    // compare equal (sameAs, key).
    const uint32_t code_point = code_point_;
    code_point_ = 0;
    utf8_lo_ = 0;
    utf8_hi_ = 0;
    return advanceCodePoint(code_point);
  }
  if (byte < 0x80) return advanceCodePoint(byte);
  // A lead byte: the range of its next byte keeps out overlong forms, surrogates and values past
  // U+10FFFF (as JsonGrammar reads UTF-8).
  if (byte >= 0xC2 && byte <= 0xDF) {
    utf8_left_ = 1;
    code_point_ = byte & 0x1Fu;
    utf8_lo_ = 0x80;
    utf8_hi_ = 0xBF;
  } else if (byte >= 0xE0 && byte <= 0xEF) {
    utf8_left_ = 2;
    code_point_ = byte & 0x0Fu;
    utf8_lo_ = byte == 0xE0 ? 0xA0 : 0x80;
    utf8_hi_ = byte == 0xED ? 0x9F : 0xBF;
  } else if (byte >= 0xF0 && byte <= 0xF4) {
    utf8_left_ = 3;
    code_point_ = byte & 0x07u;
    utf8_lo_ = byte == 0xF0 ? 0x90 : 0x80;
    utf8_hi_ = byte == 0xF4 ? 0x8F : 0xBF;
  } else {
    return false;
  }
  // The characters this lead byte may begin: some parse must expect one of them.
  const int shift = 6 * utf8_left_;
  const int below = shift - 6;  // bits after the next byte
  const uint32_t lo = (code_point_ << shift) | ((utf8_lo_ & 0x3Fu) << below);
  const uint32_t hi = (code_point_ << shift) | ((utf8_hi_ & 0x3Fu) << below) | ((1u << below) - 1);
  return expects(lo, hi);
}

std::string GbnfState::key() const {
  std::string key;
  key.reserve(24 + sizeof(uint16_t) * used_);
  auto append = [&key](const auto& value) {
    key.append(reinterpret_cast<const char*>(&value), sizeof(value));
  };
  append(grammar_->id());
  append(code_point_);
  append(accepting_);
  append(utf8_left_);
  append(utf8_lo_);
  append(utf8_hi_);
  key.append(reinterpret_cast<const char*>(cells_), sizeof(uint16_t) * used_);
  return key;
}

bool GbnfState::advance(std::string_view bytes) {
  for (char c : bytes) {
    if (!advance(static_cast<uint8_t>(c))) return false;
  }
  return true;
}

}  // namespace manifold
