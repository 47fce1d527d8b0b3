#include "engine/structured_output/regex_dfa.h"

#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <utility>

namespace manifold {
namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr uint32_t kInfinite = UINT32_MAX;
// Bounds on what a pattern may expand to before it is a DFA: counted repeats, nesting (the parser
// recurses) and NFA states.
constexpr uint32_t kMaxRepeat = 1000;
constexpr int kMaxNesting = 100;
constexpr size_t kMaxNfaStates = 200000;

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;  // code points, inclusive

Ranges normalized(Ranges ranges) {
  std::sort(ranges.begin(), ranges.end());
  Ranges out;
  for (const auto& [lo, hi] : ranges) {
    if (!out.empty() && lo <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, hi);
    } else {
      out.emplace_back(lo, hi);
    }
  }
  return out;
}

Ranges complement(const Ranges& ranges) {
  Ranges out;
  uint32_t next = 0;
  for (const auto& [lo, hi] : normalized(ranges)) {
    if (lo > next) out.emplace_back(next, lo - 1);
    next = hi + 1;
  }
  if (next <= kMaxCodePoint) out.emplace_back(next, kMaxCodePoint);
  return out;
}

const Ranges kDigit = {{'0', '9'}};
const Ranges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
// ECMA-262's WhiteSpace and LineTerminator.
const Ranges kSpace = {{0x09, 0x0D},     {0x20, 0x20},     {0xA0, 0xA0},     {0x1680, 0x1680},
                       {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
                       {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
const Ranges kLineTerminators = {{0x0A, 0x0A}, {0x0D, 0x0D}, {0x2028, 0x2029}};

struct Ast {
  enum class Kind { kEmpty, kSet, kConcat, kAlternation, kRepeat } kind = Kind::kEmpty;
  Ranges set;                 // kSet
  std::vector<Ast> children;  // kConcat, kAlternation; kRepeat: one
  uint32_t min = 0;           // kRepeat
  uint32_t max = 0;

  static Ast codePoints(Ranges ranges) {
    Ast ast;
    ast.kind = Kind::kSet;
    ast.set = normalized(std::move(ranges));
    return ast;
  }
};

struct TopAlternative {
  Ast ast;
  bool anchored_start = false;
  bool anchored_end = false;
};

Status malformed(size_t at, const std::string& what) {
  return invalidArgument("at offset " + std::to_string(at) + ": " + what);
}

class Parser {
 public:
  explicit Parser(std::string_view pattern) : p_(pattern) {}

  Result<std::vector<TopAlternative>> parse() {
    std::vector<TopAlternative> alternatives;
    while (true) {
      TopAlternative alternative;
      if (peek('^')) {
        ++pos_;
        alternative.anchored_start = true;
      }
      ASSIGN_OR_RETURN(alternative.ast, sequence(0, &alternative.anchored_end));
      alternatives.push_back(std::move(alternative));
      if (atEnd()) return alternatives;
      if (peek(')')) return error("an unmatched ')'");
      ++pos_;  // '|'
    }
  }

 private:
  bool atEnd() const { return pos_ >= p_.size(); }
  bool peek(char c) const { return pos_ < p_.size() && p_[pos_] == c; }
  bool startsWith(std::string_view s) const { return p_.substr(pos_, s.size()) == s; }
  Status error(const std::string& what) const { return malformed(pos_, what); }
  Status unsupported(const std::string& what) const {
    return malformed(pos_, what + " is not supported");
  }

  // Alternatives up to ')' or the end.
  Result<Ast> alternation(int depth) {
    Ast alternation;
    alternation.kind = Ast::Kind::kAlternation;
    while (true) {
      ASSIGN_OR_RETURN(Ast branch, sequence(depth, nullptr));
      alternation.children.push_back(std::move(branch));
      if (!peek('|')) break;
      ++pos_;
    }
    if (alternation.children.size() == 1) return std::move(alternation.children[0]);
    return alternation;
  }

  // Quantified atoms up to '|', ')' or the end. At the top (anchored_end not null) a '$' before
  // one of those ends it.
  Result<Ast> sequence(int depth, bool* anchored_end) {
    Ast sequence;
    sequence.kind = Ast::Kind::kConcat;
    while (!atEnd() && !peek('|') && !peek(')')) {
      if (peek('$')) {
        ++pos_;
        if (anchored_end != nullptr && (atEnd() || peek('|'))) {
          *anchored_end = true;
          break;
        }
        --pos_;
        return unsupported(
            "'$' other than at the end of the pattern or of a top-level alternative");
      }
      if (peek('^')) {
        return unsupported(
            "'^' other than at the start of the pattern or of a top-level alternative");
      }
      ASSIGN_OR_RETURN(Ast atom, this->atom(depth));
      ASSIGN_OR_RETURN(Ast quantified, quantifiers(std::move(atom)));
      sequence.children.push_back(std::move(quantified));
    }
    if (sequence.children.size() == 1) return std::move(sequence.children[0]);
    return sequence;
  }

  // {n}, {n,} or {n,m} at pos_, consumed; false (nothing consumed) if it is not one.
  Result<bool> counted(uint32_t& min, uint32_t& max) {
    size_t at = pos_ + 1;
    auto number = [&](uint64_t& value) {
      const size_t begin = at;
      value = 0;
      while (at < p_.size() && p_[at] >= '0' && p_[at] <= '9') {
        value = std::min<uint64_t>(value * 10 + static_cast<uint64_t>(p_[at] - '0'), 1u << 30);
        ++at;
      }
      return at > begin;
    };
    uint64_t lo = 0;
    uint64_t hi = 0;
    if (!number(lo)) return false;
    hi = lo;
    if (at < p_.size() && p_[at] == ',') {
      ++at;
      if (!number(hi)) hi = kInfinite;
    }
    if (at >= p_.size() || p_[at] != '}') return false;
    if (hi != kInfinite && hi < lo) return error("a repeat count {n,m} with m < n");
    if (lo > kMaxRepeat || (hi != kInfinite && hi > kMaxRepeat)) {
      return error("a repeat count above " + std::to_string(kMaxRepeat));
    }
    min = static_cast<uint32_t>(lo);
    max = static_cast<uint32_t>(hi);
    pos_ = at + 1;
    return true;
  }

  Result<Ast> quantifiers(Ast atom) {
    bool quantified = false;
    while (!atEnd()) {
      uint32_t min = 0;
      uint32_t max = 0;
      const char c = p_[pos_];
      if (c == '*' || c == '+' || c == '?') {
        min = c == '+' ? 1 : 0;
        max = c == '?' ? 1 : kInfinite;
        ++pos_;
      } else if (c == '{') {
        ASSIGN_OR_RETURN(bool is_count, counted(min, max));
        if (!is_count) break;  // a literal '{'
      } else {
        break;
      }
      if (quantified) return error("a quantifier after a quantifier");
      quantified = true;
      if (peek('?')) ++pos_;  // lazy: the same texts match
      Ast repeat;
      repeat.kind = Ast::Kind::kRepeat;
      repeat.min = min;
      repeat.max = max;
      repeat.children.push_back(std::move(atom));
      atom = std::move(repeat);
    }
    return atom;
  }

  Result<Ast> atom(int depth) {
    const char c = p_[pos_];
    switch (c) {
      case '(':
        return group(depth);
      case '[':
        return characterClass();
      case '.':
        ++pos_;
        return Ast::codePoints(complement(kLineTerminators));
      case '\\': {
        ++pos_;
        ASSIGN_OR_RETURN(Ranges set, escape(/*in_class=*/false));
        return Ast::codePoints(std::move(set));
      }
      case '*':
      case '+':
      case '?':
        return error("nothing to repeat before '" + std::string(1, c) + "'");
      case '{': {
        uint32_t min = 0;
        uint32_t max = 0;
        const size_t at = pos_;
        ASSIGN_OR_RETURN(bool is_count, counted(min, max));
        if (is_count) {
          pos_ = at;
          return error("nothing to repeat before '{'");
        }
        break;
      }
      default:
        break;
    }
    ASSIGN_OR_RETURN(uint32_t code_point, literal());
    return Ast::codePoints({{code_point, code_point}});
  }

  Result<Ast> group(int depth) {
    if (depth >= kMaxNesting) return unsupported("nesting groups deeper than 100");
    const size_t open = pos_;
    ++pos_;
    if (peek('?')) {
      if (startsWith("?:")) {
        pos_ += 2;
      } else if (startsWith("?=") || startsWith("?!") || startsWith("?<=") || startsWith("?<!")) {
        return unsupported("lookaround");
      } else if (startsWith("?<") || startsWith("?P<")) {
        const size_t close = p_.find('>', pos_);
        if (close == std::string_view::npos) return error("an unterminated group name");
        pos_ = close + 1;
      } else {
        return unsupported("a group flag or extension '(?'");
      }
    }
    ASSIGN_OR_RETURN(Ast inner, alternation(depth + 1));
    if (!peek(')')) return malformed(open, "a '(' without its ')'");
    ++pos_;
    return inner;
  }

  Result<Ast> characterClass() {
    const size_t open = pos_;
    ++pos_;
    bool negated = false;
    if (peek('^')) {
      negated = true;
      ++pos_;
    }
    Ranges set;  // ECMA: [] matches nothing, [^] any character
    while (!peek(']')) {
      if (atEnd()) return malformed(open, "a '[' without its ']'");
      ASSIGN_OR_RETURN(Ranges first, classAtom());
      const bool single = first.size() == 1 && first[0].first == first[0].second;
      if (single && peek('-') && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
        ++pos_;
        ASSIGN_OR_RETURN(Ranges last, classAtom());
        if (last.size() != 1 || last[0].first != last[0].second) {
          return error("a class escape as the end of a range");
        }
        if (last[0].first < first[0].first) return error("a range out of order");
        set.emplace_back(first[0].first, last[0].first);
        continue;
      }
      if (!single && peek('-') && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
        return error("a class escape as the start of a range");
      }
      set.insert(set.end(), first.begin(), first.end());
    }
    ++pos_;
    return Ast::codePoints(negated ? complement(set) : set);
  }

  Result<Ranges> classAtom() {
    if (peek('\\')) {
      ++pos_;
      return escape(/*in_class=*/true);
    }
    ASSIGN_OR_RETURN(uint32_t code_point, literal());
    return Ranges{{code_point, code_point}};
  }

  // After a '\\'.
  Result<Ranges> escape(bool in_class) {
    if (atEnd()) return error("a '\\' at the end");
    const char c = p_[pos_++];
    auto one = [](uint32_t code_point) { return Ranges{{code_point, code_point}}; };
    switch (c) {
      case 'd':
        return kDigit;
      case 'D':
        return complement(kDigit);
      case 'w':
        return kWord;
      case 'W':
        return complement(kWord);
      case 's':
        return kSpace;
      case 'S':
        return complement(kSpace);
      case 't':
        return one('\t');
      case 'n':
        return one('\n');
      case 'r':
        return one('\r');
      case 'f':
        return one('\f');
      case 'v':
        return one('\v');
      case '0':
        if (!atEnd() && p_[pos_] >= '0' && p_[pos_] <= '9') {
          return unsupported("an octal escape");
        }
        return one(0);
      case 'b':
        if (in_class) return one('\b');
        --pos_;
        return unsupported("'\\b' (a word boundary)");
      case 'x': {
        ASSIGN_OR_RETURN(uint32_t value, hex(2));
        return one(value);
      }
      case 'u': {
        ASSIGN_OR_RETURN(uint32_t value, hex(4));
        if (value >= 0xD800 && value <= 0xDBFF && startsWith("\\u")) {
          const size_t at = pos_;
          pos_ += 2;
          ASSIGN_OR_RETURN(uint32_t low, hex(4));
          if (low >= 0xDC00 && low <= 0xDFFF) {
            return one(0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00));
          }
          pos_ = at;
        }
        if (value >= 0xD800 && value <= 0xDFFF) return error("a lone surrogate escape");
        return one(value);
      }
      default:
        break;
    }
    --pos_;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '1' && c <= '9')) {
      if (c >= '1' && c <= '9') {
        return in_class ? unsupported("an octal escape") : unsupported("a backreference");
      }
      if (c == 'k') return unsupported("a named backreference");
      if (c == 'B') return unsupported("'\\B'");
      if (c == 'p' || c == 'P') return unsupported("a Unicode property escape");
      return error(std::string("an unknown escape '\\") + c + "'");
    }
    ASSIGN_OR_RETURN(uint32_t code_point, literal());  // an escaped punctuation or other character
    return one(code_point);
  }

  Result<uint32_t> hex(int digits) {
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i, ++pos_) {
      if (atEnd()) return error("a short hex escape");
      const char c = p_[pos_];
      int digit = -1;
      if (c >= '0' && c <= '9') digit = c - '0';
      if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
      if (digit < 0) return error("a bad hex escape");
      value = value * 16 + static_cast<uint32_t>(digit);
    }
    return value;
  }

  // One UTF-8 encoded character of the pattern.
  Result<uint32_t> literal() {
    const auto lead = static_cast<uint8_t>(p_[pos_]);
    int extra = 0;
    uint32_t value = lead;
    if (lead >= 0xC2 && lead <= 0xDF) {
      extra = 1;
      value = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      extra = 2;
      value = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      extra = 3;
      value = lead & 0x07;
    } else if (lead >= 0x80) {
      return error("invalid UTF-8");
    }
    if (pos_ + static_cast<size_t>(extra) >= p_.size()) return error("invalid UTF-8");
    for (int i = 1; i <= extra; ++i) {
      const auto byte = static_cast<uint8_t>(p_[pos_ + static_cast<size_t>(i)]);
      if ((byte & 0xC0) != 0x80) return error("invalid UTF-8");
      value = (value << 6) | (byte & 0x3F);
    }
    static constexpr uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
    if (value < kMinimum[extra] || value > kMaxCodePoint || (value >= 0xD800 && value <= 0xDFFF)) {
      return error("invalid UTF-8");
    }
    pos_ += static_cast<size_t>(extra) + 1;
    return value;
  }

  std::string_view p_;
  size_t pos_ = 0;
};

void encodeUtf8(uint32_t code_point, int length, uint8_t* out) {
  if (length == 1) {
    out[0] = static_cast<uint8_t>(code_point);
    return;
  }
  static constexpr uint8_t kLead[] = {0, 0, 0xC0, 0xE0, 0xF0};
  for (int i = length - 1; i > 0; --i) {
    out[i] = static_cast<uint8_t>(0x80 | (code_point & 0x3F));
    code_point >>= 6;
  }
  out[0] = static_cast<uint8_t>(kLead[length] | code_point);
}

// The code points lo..hi (no surrogates among them) as byte-range sequences, `visit(low, high,
// length)` each: split where the encoded length changes, then until every byte position is a
// range (RE2's and Rust regex's utf8 ranges).
template <typename Visit>
void forEachUtf8Sequence(uint32_t lo, uint32_t hi, const Visit& visit) {
  for (uint32_t bound : {0x7Fu, 0x7FFu, 0xFFFFu}) {
    if (lo <= bound && hi > bound) {
      forEachUtf8Sequence(lo, bound, visit);
      forEachUtf8Sequence(bound + 1, hi, visit);
      return;
    }
  }
  const int length = hi <= 0x7F ? 1 : hi <= 0x7FF ? 2 : hi <= 0xFFFF ? 3 : 4;
  for (int i = 1; i < length; ++i) {
    const uint32_t mask = (1u << (6 * i)) - 1;
    if ((lo & ~mask) != (hi & ~mask)) {
      if ((lo & mask) != 0) {
        forEachUtf8Sequence(lo, lo | mask, visit);
        forEachUtf8Sequence((lo | mask) + 1, hi, visit);
        return;
      }
      if ((hi & mask) != mask) {
        forEachUtf8Sequence(lo, (hi & ~mask) - 1, visit);
        forEachUtf8Sequence(hi & ~mask, hi, visit);
        return;
      }
    }
  }
  uint8_t low[4];
  uint8_t high[4];
  encodeUtf8(lo, length, low);
  encodeUtf8(hi, length, high);
  visit(low, high, length);
}

// Thompson's construction over bytes: a character set becomes the UTF-8 byte-range sequences of
// its code points.
class Nfa {
 public:
  struct Edge {
    uint8_t lo;
    uint8_t hi;
    int to;
  };
  struct State {
    std::vector<int> epsilon;
    std::vector<Edge> edges;
  };

  int newState() {
    states_.emplace_back();
    return static_cast<int>(states_.size()) - 1;
  }
  void epsilon(int from, int to) { states_[static_cast<size_t>(from)].epsilon.push_back(to); }
  [[nodiscard]] bool tooLarge() const { return states_.size() > kMaxNfaStates; }
  [[nodiscard]] const std::vector<State>& states() const { return states_; }

  // States from a fresh entry reached from `from`, so that loops inside return only there; the
  // end state is returned.
  int build(const Ast& ast, int from) {
    if (tooLarge()) return from;
    const int entry = newState();
    epsilon(from, entry);
    switch (ast.kind) {
      case Ast::Kind::kEmpty:
        return entry;
      case Ast::Kind::kSet:
        return buildSet(ast.set, entry);
      case Ast::Kind::kConcat: {
        int at = entry;
        for (const Ast& child : ast.children) at = build(child, at);
        return at;
      }
      case Ast::Kind::kAlternation: {
        const int end = newState();
        for (const Ast& child : ast.children) epsilon(build(child, entry), end);
        return end;
      }
      case Ast::Kind::kRepeat: {
        const Ast& child = ast.children[0];
        int at = entry;
        for (uint32_t i = 0; i < ast.min && !tooLarge(); ++i) at = build(child, at);
        if (ast.max == kInfinite) {
          const int loop = newState();
          epsilon(at, loop);
          epsilon(build(child, loop), loop);
          return loop;
        }
        // Each optional copy may be skipped straight to one end (a?(a?...) nested, not chained:
        // a chain of skips would make every closure hold the rest of the chain).
        if (ast.max == ast.min) return at;
        const int end = newState();
        for (uint32_t i = ast.min; i < ast.max && !tooLarge(); ++i) {
          epsilon(at, end);
          at = build(child, at);
        }
        epsilon(at, end);
        return end;
      }
    }
    return entry;
  }

 private:
  void addEdge(int from, uint8_t lo, uint8_t hi, int to) {
    states_[static_cast<size_t>(from)].edges.push_back(Edge{lo, hi, to});
  }

  int buildSet(const Ranges& set, int entry) {
    const int end = newState();
    for (auto [lo, hi] : set) {
      // Surrogates are not characters: UTF-8 has no encoding of them.
      if (lo <= 0xDFFF && hi >= 0xD800) {
        if (lo < 0xD800) addCodePoints(lo, 0xD7FF, entry, end);
        if (hi > 0xDFFF) addCodePoints(0xE000, hi, entry, end);
      } else {
        addCodePoints(lo, hi, entry, end);
      }
    }
    return end;
  }

  void addCodePoints(uint32_t lo, uint32_t hi, int from, int to) {
    forEachUtf8Sequence(lo, hi, [&](const uint8_t* low, const uint8_t* high, int length) {
      int at = from;
      for (int i = 0; i < length; ++i) {
        const int next = i + 1 == length ? to : newState();
        addEdge(at, low[i], high[i], next);
        at = next;
      }
    });
  }

  std::vector<State> states_;
};

}  // namespace

Result<RegexDfa> RegexDfa::compile(std::string_view pattern, Anchoring anchoring, size_t* budget) {
  // Messages quote the pattern, cut short: it may be a request's 100 KB.
  const std::string quoted =
      "pattern \"" +
      (pattern.size() > 80 ? std::string(pattern.substr(0, 77)) + "..." : std::string(pattern)) +
      "\"";
  Result<std::vector<TopAlternative>> parsed = Parser(pattern).parse();
  if (!parsed.isOk()) return invalidArgument(quoted + " " + parsed.status().message());
  const std::vector<TopAlternative>& alternatives = *parsed;

  Nfa nfa;
  const int start = nfa.newState();
  const int accept = nfa.newState();
  Ast any_text;
  any_text.kind = Ast::Kind::kRepeat;
  any_text.max = kInfinite;
  any_text.children.push_back(Ast::codePoints({{0, kMaxCodePoint}}));
  for (const TopAlternative& alternative : alternatives) {
    int at = start;
    const bool search = anchoring == Anchoring::kSearch;
    if (search && !alternative.anchored_start) at = nfa.build(any_text, at);
    at = nfa.build(alternative.ast, at);
    if (search && !alternative.anchored_end) at = nfa.build(any_text, at);
    nfa.epsilon(at, accept);
  }
  if (nfa.tooLarge()) return invalidArgument(quoted + " is too large");
  const std::vector<Nfa::State>& states = nfa.states();

  RegexDfa dfa;
  // Byte classes: bytes no edge tells apart share a column.
  std::array<bool, 257> boundary{};
  boundary[0] = true;
  for (const Nfa::State& state : states) {
    for (const Nfa::Edge& edge : state.edges) {
      boundary[edge.lo] = true;
      boundary[static_cast<size_t>(edge.hi) + 1] = true;
    }
  }
  int classes = 0;
  for (size_t byte = 0; byte < 256; ++byte) {
    if (boundary[byte]) ++classes;
    dfa.byte_class_[byte] = static_cast<uint8_t>(classes - 1);
  }
  dfa.num_classes_ = static_cast<size_t>(classes);

  // Subset construction. `work` counts every NFA state and edge it touches, closures included,
  // against the budget: what a request's pattern may cost is bounded whatever its shape.
  const size_t limit = budget != nullptr ? std::min(*budget, kMaxWork) : kMaxWork;
  size_t work = 0;
  std::vector<uint8_t> mark(states.size(), 0);
  std::vector<int> stack;
  auto closure = [&](std::vector<int>& set) {
    stack = set;
    for (int s : set) mark[static_cast<size_t>(s)] = 1;
    while (!stack.empty()) {
      const int s = stack.back();
      stack.pop_back();
      const std::vector<int>& epsilon = states[static_cast<size_t>(s)].epsilon;
      work += epsilon.size() + 1;
      for (int t : epsilon) {
        if (mark[static_cast<size_t>(t)] == 0) {
          mark[static_cast<size_t>(t)] = 1;
          set.push_back(t);
          stack.push_back(t);
        }
      }
    }
    for (int s : set) mark[static_cast<size_t>(s)] = 0;
    std::sort(set.begin(), set.end());
  };
  std::map<std::vector<int>, int> ids;
  std::vector<const std::vector<int>*> sets;
  auto intern = [&](std::vector<int> set) -> int {
    const auto [it, inserted] = ids.emplace(std::move(set), static_cast<int>(sets.size()));
    if (inserted) sets.push_back(&it->first);
    return it->second;
  };
  std::vector<int> first = {start};
  closure(first);
  intern(std::move(first));
  std::vector<std::vector<int>> targets(dfa.num_classes_);
  for (size_t d = 0; d < sets.size(); ++d) {
    if (sets.size() > kMaxStates) {
      return invalidArgument(quoted + " needs more than " + std::to_string(kMaxStates) +
                             " automaton states");
    }
    const std::vector<int>& set = *sets[d];
    dfa.accepting_.push_back(std::binary_search(set.begin(), set.end(), accept) ? 1 : 0);
    for (std::vector<int>& t : targets) t.clear();
    for (int s : set) {
      for (const Nfa::Edge& edge : states[static_cast<size_t>(s)].edges) {
        const int last = dfa.byte_class_[edge.hi];
        for (int c = dfa.byte_class_[edge.lo]; c <= last; ++c) {
          targets[static_cast<size_t>(c)].push_back(edge.to);
        }
        work += static_cast<size_t>(last - dfa.byte_class_[edge.lo]) + 1;
      }
    }
    for (std::vector<int>& t : targets) {
      if (t.empty()) {
        dfa.transitions_.push_back(kDead);
        continue;
      }
      std::sort(t.begin(), t.end());
      t.erase(std::unique(t.begin(), t.end()), t.end());
      std::vector<int> next = t;
      closure(next);
      work += next.size();
      dfa.transitions_.push_back(intern(std::move(next)));
    }
    if (work > limit) return invalidArgument(quoted + " is too complex");
  }
  if (budget != nullptr) *budget -= std::min(*budget, work);
  if (Status status = dfa.finish(); !status.isOk()) {
    return invalidArgument(quoted + " " + status.message());
  }
  return dfa;
}

Status RegexDfa::finish() {
  const size_t n = accepting_.size();
  // Characters left to a match, counted at their first byte: the fewest by a 0-1 breadth-first
  // search back from the accepting states, over the transitions reversed. A state it never
  // reaches cannot reach a match (it is not live); the most are counted further down.
  std::array<uint8_t, 256> starts{};  // per class: its bytes start a character
  for (size_t byte = 0; byte < 256; ++byte) {
    if ((byte & 0xC0) != 0x80) starts[byte_class_[byte]] = 1;
  }
  std::vector<std::vector<std::pair<int, uint8_t>>> back(n);  // (from, weight)
  for (size_t d = 0; d < n; ++d) {
    for (size_t c = 0; c < num_classes_; ++c) {
      const int to = transitions_[d * num_classes_ + c];
      if (to != kDead) back[static_cast<size_t>(to)].emplace_back(static_cast<int>(d), starts[c]);
    }
  }
  min_remaining_.assign(n, kUnbounded);
  std::deque<int> queue;
  for (size_t d = 0; d < n; ++d) {
    if (accepting_[d] != 0) {
      min_remaining_[d] = 0;
      queue.push_back(static_cast<int>(d));
    }
  }
  while (!queue.empty()) {
    const int d = queue.front();
    queue.pop_front();
    for (const auto& [from, weight] : back[static_cast<size_t>(d)]) {
      const uint32_t through = min_remaining_[static_cast<size_t>(d)] + weight;
      if (through < min_remaining_[static_cast<size_t>(from)]) {
        min_remaining_[static_cast<size_t>(from)] = through;
        if (weight == 0) {
          queue.push_front(from);
        } else {
          queue.push_back(from);
        }
      }
    }
  }
  auto live = [&](size_t d) { return min_remaining_[d] != kUnbounded; };
  if (!live(0)) return invalidArgument("matches no text");
  has_next_.assign(n, 0);
  for (size_t d = 0; d < n; ++d) {
    for (size_t c = 0; c < num_classes_; ++c) {
      int32_t& to = transitions_[d * num_classes_ + c];
      if (to != kDead && !live(static_cast<size_t>(to))) to = kDead;
      if (to != kDead) has_next_[d] = 1;
    }
  }

  // Longest paths by an iterative depth-first search: 0 unvisited, 1 on the stack, 2 done.
  max_remaining_.assign(n, 0);
  std::vector<uint8_t> color(n, 0);
  std::vector<std::pair<int, size_t>> frames;  // (state, next class to visit)
  for (size_t root = 0; root < n; ++root) {
    if (color[root] != 0 || !live(root)) continue;
    frames.emplace_back(static_cast<int>(root), 0);
    color[root] = 1;
    while (!frames.empty()) {
      auto& [d, c] = frames.back();
      const size_t ds = static_cast<size_t>(d);
      if (c == num_classes_) {
        color[ds] = 2;
        frames.pop_back();
        if (!frames.empty()) {  // the parent took the class before its next one to get here
          const size_t parent = static_cast<size_t>(frames.back().first);
          const size_t via = frames.back().second - 1;
          if (max_remaining_[ds] == kUnbounded) {
            max_remaining_[parent] = kUnbounded;
          } else if (max_remaining_[parent] != kUnbounded) {
            max_remaining_[parent] =
                std::max(max_remaining_[parent], max_remaining_[ds] + starts[via]);
          }
        }
        continue;
      }
      const size_t cls = c++;
      const int to = transitions_[ds * num_classes_ + cls];
      if (to == kDead) continue;
      const size_t ts = static_cast<size_t>(to);
      if (color[ts] == 1) {
        max_remaining_[ds] = kUnbounded;  // a cycle; the states on the stack learn it below
      } else if (color[ts] == 0) {
        color[ts] = 1;
        frames.emplace_back(to, 0);
        continue;
      }
      if (color[ts] == 1 || max_remaining_[ts] == kUnbounded) {
        max_remaining_[ds] = kUnbounded;
      } else if (max_remaining_[ds] != kUnbounded) {
        max_remaining_[ds] = std::max(max_remaining_[ds], max_remaining_[ts] + starts[cls]);
      }
    }
  }
  // A state on a cycle is unbounded, and so is every state that reaches one: the search above
  // saw a cycle only from the state that closed it, so spread it backwards.
  std::vector<int> stack;
  for (size_t d = 0; d < n; ++d) {
    if (max_remaining_[d] == kUnbounded) stack.push_back(static_cast<int>(d));
  }
  while (!stack.empty()) {
    const int d = stack.back();
    stack.pop_back();
    for (const auto& [from, weight] : back[static_cast<size_t>(d)]) {
      if (max_remaining_[static_cast<size_t>(from)] != kUnbounded) {
        max_remaining_[static_cast<size_t>(from)] = kUnbounded;
        stack.push_back(from);
      }
    }
  }
  return Status::ok();
}

void RegexDfa::afterCodePoints(int state, uint32_t lo, uint32_t hi, std::vector<int>& out) const {
  out.clear();
  auto walk = [&](uint32_t from, uint32_t to) {
    if (from > to) return;
    forEachUtf8Sequence(from, to, [&](const uint8_t* low, const uint8_t* high, int length) {
      std::vector<int> at = {state};
      std::vector<int> next;
      for (int i = 0; i < length && !at.empty(); ++i) {
        next.clear();
        for (int s : at) {
          for (int byte = low[i]; byte <= high[i]; ++byte) {
            const int t = this->next(s, static_cast<uint8_t>(byte));
            if (t != kDead) next.push_back(t);
          }
        }
        std::sort(next.begin(), next.end());
        next.erase(std::unique(next.begin(), next.end()), next.end());
        at.swap(next);
      }
      out.insert(out.end(), at.begin(), at.end());
    });
  };
  hi = std::min(hi, kMaxCodePoint);
  walk(lo, std::min(hi, 0xD7FFu));
  walk(std::max(lo, 0xE000u), hi);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

bool RegexDfa::matches(std::string_view text) const {
  int state = start();
  for (char c : text) {
    state = next(state, static_cast<uint8_t>(c));
    if (state == kDead) return false;
  }
  return accepting(state);
}

}  // namespace manifold
