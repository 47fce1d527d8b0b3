// GBNF grammars (llama.cpp's grammar format, which vLLM's guided_grammar / structured_outputs
// grammar also takes through xgrammar): the output is a text the grammar's `root` rule derives.
//
// The syntax, as llama.cpp's grammars/README.md describes it:
//   name ::= alternative | alternative ...     one rule per definition; names [A-Za-z0-9_-]+
//   "literal"  [a-z0-9_]  [^\n"]  .            terminals are code points; `.` is any one
//   ( ... )  x*  x+  x?  x{m}  x{m,}  x{m,n}   groups and repetitions of the symbol before
//   # comment                                   to the end of the line
// Escapes in literals and classes: \n \r \t \\ \" \' \[ \] \- \^ \/ \xHH \uHHHH \UHHHHHHHH.
// A rule ends at the end of its line; inside parentheses, and after `|`, newlines continue it.
// llama.cpp's token references (<[id]>, <think>) are not supported (an error).
//
// Lark's EBNF, which vLLM's guided_grammar also takes (converting it to GBNF), is read when the
// text has no `::=` and defines a rule as `name:`: the start rule is `start`; `?name:` and
// `!name:` are plain rules; strings take either quote; "a".."z" is a range; [x] is x optional;
// x ~ n and x ~ m..n repeat; terminals /[...]/ and /./ (one character; /./s any) are classes;
// `-> alias` is ignored; comments are // or #. Other regular expressions, %import and %ignore,
// priorities, templates and case-insensitive literals are errors.
//
// Compiling checks what would let a model write forever or get stuck: every rule used must be
// defined, the grammar must have `root`, no rule may be left-recursive (directly or through rules
// that may be empty), and every rule must derive some finite text. Repetitions are expanded
// (x{2,4} is x x, then two optional x), so the compiled grammar is bounded: at most kMaxElements
// symbols.
//
// The recognizer (GbnfState) follows every parse the grammar allows at once, as llama.cpp's
// does: each parse is a stack of positions in the rules, whose top is the terminal it expects
// next. It reads UTF-8 one byte at a time and refuses a byte no parse can take, including the
// first byte of a character no parse's terminal contains, so a sampled token never leads to a
// dead end. Its storage is fixed: at most kMaxCells positions over all parses and kMaxDepth per
// parse. A parse that could not end within kMaxDepth (Gbnf::needFrom, the cheapest way to finish
// each open alternative) is dropped, so deep nesting closes instead of getting stuck: the output
// stays inside the grammar, nested at most about kMaxDepth entries deep. When the parses a byte
// leaves need more than kMaxCells, or more than kMaxExpansions expansions (a grammar ambiguous
// enough to double its parses at every level, as `item{1,2}` of an `item` that may be empty),
// the ones that fit are kept: every kept parse can end, so what may follow narrows but never
// reaches a dead end.
//
// Thread safety: Gbnf is immutable after compile(); a GbnfState is a value, one per sequence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace manifold {

class Gbnf {
 public:
  static constexpr size_t kMaxElements = 65535;  // positions are 16-bit
  // Repetition counts ({m,n}) above this are errors.
  static constexpr uint32_t kMaxRepeat = 10000;
  static constexpr uint32_t kMaxCodePoint = 0x10FFFF;

  enum class Kind : uint8_t {
    kChars,  // one code point of sets_[value]
    kRule,   // rule `value`
    kEnd,    // the end of an alternative
  };
  struct Element {
    Kind kind;
    uint32_t value;
  };
  // Code points as sorted, disjoint, non-empty ranges [first, last].
  struct CharSet {
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    [[nodiscard]] bool contains(uint32_t code_point) const;
    [[nodiscard]] bool intersects(uint32_t lo, uint32_t hi) const;
  };

  // Errors (kInvalidArgument) say what is wrong and where ("line 3, column 7: ...").
  // A text in Lark's syntax (looksLikeLark) is read as such.
  [[nodiscard]] static Result<std::shared_ptr<const Gbnf>> compile(std::string_view text);
  // No rule is written with `::=`, and one is written `name:` (vLLM's test, which sends such
  // grammars through its Lark-to-GBNF conversion).
  [[nodiscard]] static bool looksLikeLark(std::string_view text);

  [[nodiscard]] int root() const { return root_; }
  [[nodiscard]] const Element& element(int position) const {
    return elements_[static_cast<size_t>(position)];
  }
  // The first positions of rule `rule`'s alternatives.
  [[nodiscard]] std::span<const uint16_t> alternatives(int rule) const {
    return alternatives_[static_cast<size_t>(rule)];
  }
  [[nodiscard]] const CharSet& charSet(uint32_t index) const { return sets_[index]; }
  // The most parse entries above the one holding `position` that finishing its alternative from
  // there takes, by the cheapest derivation (GbnfState keeps only parses that fit kMaxDepth).
  [[nodiscard]] uint32_t needFrom(int position) const {
    return need_from_[static_cast<size_t>(position)];
  }
  // Distinct for every compiled grammar of the process, unlike its address, which a later one
  // may reuse: what caches of its states are keyed by.
  [[nodiscard]] uint64_t id() const { return id_; }

 private:
  class Parser;

  void computeDepthNeeds();

  std::vector<Element> elements_;
  std::vector<std::vector<uint16_t>> alternatives_;  // by rule
  std::vector<CharSet> sets_;
  std::vector<uint32_t> need_from_;  // by position
  int root_ = 0;
  uint64_t id_ = 0;
};

class GbnfState {
 public:
  static constexpr int kMaxCells = 2048;          // positions (and stack lengths) over all parses
  static constexpr int kMaxDepth = 128;           // positions in one parse
  static constexpr int kMaxExpansions = 1 << 14;  // rule expansions in one byte's advance

  // The start of `grammar`'s root; the grammar must outlive the state.
  explicit GbnfState(const Gbnf& grammar);
  // Copies move the header and the cells in use only.
  GbnfState(const GbnfState& other) { *this = other; }
  GbnfState& operator=(const GbnfState& other) {
    static_assert(
        offsetof(GbnfState, cells_) + sizeof(cells_) + alignof(GbnfState) > sizeof(GbnfState),
        "cells_ must be last");
    if (this == &other) return *this;
    std::memcpy(static_cast<void*>(this), &other, offsetof(GbnfState, cells_));
    std::memcpy(cells_, other.cells_, sizeof(uint16_t) * other.used_);
    return *this;
  }

  // Takes one byte; false if no parse continues with it (the state is then unspecified).
  [[nodiscard]] bool advance(uint8_t byte);
  [[nodiscard]] bool advance(std::string_view bytes);
  // The text read is one the grammar derives: the output may end here.
  [[nodiscard]] bool complete() const { return accepting_ && utf8_left_ == 0; }
  // Nothing may follow: the output must end.
  [[nodiscard]] bool done() const { return complete() && stacks_ == 0; }
  // The number of parses still open (tests).
  [[nodiscard]] int parses() const { return stacks_; }
  // The same parses of the same grammar at the same point of a character: what follows is the
  // same.
  [[nodiscard]] bool sameAs(const GbnfState& other) const {
    return grammar_ == other.grammar_ && code_point_ == other.code_point_ && used_ == other.used_ &&
           stacks_ == other.stacks_ && accepting_ == other.accepting_ &&
           utf8_left_ == other.utf8_left_ && utf8_lo_ == other.utf8_lo_ &&
           utf8_hi_ == other.utf8_hi_ &&
           std::memcmp(cells_, other.cells_, sizeof(uint16_t) * used_) == 0;
  }
  // All that decides what may follow, as bytes: the grammar's id, the character being read and
  // the parses. Equal keys take the same bytes (TokenBytesIndex caches masks by it).
  [[nodiscard]] std::string key() const;

 private:
  struct Builder;

  [[nodiscard]] bool advanceCodePoint(uint32_t code_point);
  // Some parse expects a code point in [lo, hi] next.
  [[nodiscard]] bool expects(uint32_t lo, uint32_t hi) const;

  const Gbnf* grammar_;
  uint32_t code_point_ = 0;  // the bits of the character being read
  uint16_t used_ = 0;        // cells in use
  uint16_t stacks_ = 0;      // open parses (stacks with a terminal on top)
  bool accepting_ = false;   // a parse has derived the whole root
  uint8_t utf8_left_ = 0;    // continuation bytes of the character being read
  uint8_t utf8_lo_ = 0;      // the range of the next continuation byte
  uint8_t utf8_hi_ = 0;
  // The parses: for each, its length then its positions, bottom first (the top is the terminal
  // it expects).
  uint16_t cells_[kMaxCells];  // must stay last (operator=)
};

}  // namespace manifold
