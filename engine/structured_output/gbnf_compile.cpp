// Gbnf::compile: GBNF and Lark text into rules, their checks, and the depth each position
// needs to finish (gbnf.h). GbnfState, the recognizer, is in gbnf.cpp.
#include "engine/structured_output/gbnf.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <queue>
#include <string>

namespace manifold {

// Reads the text into rules of symbols, repetitions already expanded into helper rules, then
// lays them out as elements.
class Gbnf::Parser {
 public:
  Parser(std::string_view text, bool lark) : text_(text), lark_(lark) {}

  Result<std::shared_ptr<const Gbnf>> run() {
    skipSpace(true);
    while (pos_ < text_.size()) {
      RETURN_IF_ERROR(parseRule());
      skipSpace(true);
    }
    for (const auto& [name, id] : ids_) {
      if (!defined_[id]) return invalidArgument("rule `" + name + "` is used but not defined");
    }
    const std::string root_name = lark_ ? "start" : "root";
    auto root = ids_.find(root_name);
    if (root == ids_.end()) return invalidArgument("the grammar has no `" + root_name + "` rule");
    return layOut(root->second);
  }

 private:
  struct Symbol {
    Kind kind;  // kChars or kRule
    uint32_t value;
  };
  using Sequence = std::vector<Symbol>;

  Status error(const std::string& what) const {
    size_t line = 1;
    size_t column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return invalidArgument("line " + std::to_string(line) + ", column " + std::to_string(column) +
                           ": " + what);
  }

  [[nodiscard]] bool atEnd() const { return pos_ >= text_.size(); }
  [[nodiscard]] char peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  static bool isNameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  }

  // Spaces, tabs and comments; newlines too when `newlines`.
  void skipSpace(bool newlines) {
    while (!atEnd()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) {
        ++pos_;
      } else if (c == '#' || (lark_ && c == '/' && peek(1) == '/')) {
        while (!atEnd() && peek() != '\n' && peek() != '\r') ++pos_;
      } else {
        return;
      }
    }
  }

  std::string parseName() {
    const size_t start = pos_;
    while (!atEnd() && isNameChar(peek())) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  int ruleId(const std::string& name) {
    auto [it, added] = ids_.emplace(name, static_cast<int>(rules_.size()));
    if (added) {
      rules_.emplace_back();
      defined_.push_back(false);
    }
    return it->second;
  }

  int newRule(std::vector<Sequence> alternatives) {
    rules_.push_back(std::move(alternatives));
    defined_.push_back(true);
    return static_cast<int>(rules_.size()) - 1;
  }

  Status parseRule() {
    const size_t start = pos_;
    if (lark_ && (peek() == '?' || peek() == '!')) ++pos_;  // tree shaping only
    const std::string name = parseName();
    if (name.empty()) return error("expected a rule name");
    if (lark_ && peek() == '.') return error("rule priorities are not supported");
    skipSpace(false);
    if (lark_) {
      if (peek() != ':' || peek(1) == ':') return error("expected `:` after `" + name + "`");
      ++pos_;
    } else {
      if (text_.substr(pos_, 3) != "::=") return error("expected `::=` after `" + name + "`");
      pos_ += 3;
    }
    skipSpace(false);
    const int id = ruleId(name);
    if (defined_[id]) {
      pos_ = start;
      return error("rule `" + name + "` is defined twice");
    }
    defined_[id] = true;
    std::vector<Sequence> alternatives;
    RETURN_IF_ERROR(parseAlternatives(false, alternatives));
    rules_[static_cast<size_t>(id)] = std::move(alternatives);
    if (!atEnd() && peek() != '\n' && peek() != '\r') {
      return error(std::string("unexpected `") + peek() + "`");
    }
    return Status::ok();
  }

  Status parseAlternatives(bool nested, std::vector<Sequence>& alternatives) {
    alternatives.emplace_back();
    RETURN_IF_ERROR(parseSequence(nested, alternatives.back()));
    for (;;) {
      if (lark_ && !nested && peek() != '|') {
        // Lark continues a rule on a line that starts with `|`.
        const size_t end = pos_;
        skipSpace(true);
        if (peek() != '|') {
          pos_ = end;
          return Status::ok();
        }
      }
      if (peek() != '|') return Status::ok();
      ++pos_;
      skipSpace(true);
      alternatives.emplace_back();
      RETURN_IF_ERROR(parseSequence(nested, alternatives.back()));
    }
  }

  Status parseSequence(bool nested, Sequence& out) {
    size_t last_symbol = out.size();
    bool have_symbol = false;
    while (!atEnd()) {
      const char c = peek();
      if (c == '"' || (lark_ && c == '\'')) {
        last_symbol = out.size();
        RETURN_IF_ERROR(parseLiteral(out));
        have_symbol = true;
      } else if (lark_ && c == '[') {
        // Lark's [x]: x optional.
        last_symbol = out.size();
        RETURN_IF_ERROR(parseGroup(']', out));
        RETURN_IF_ERROR(repeat(out, last_symbol, 0, 1));
        have_symbol = true;
      } else if (lark_ && c == '/') {
        last_symbol = out.size();
        ASSIGN_OR_RETURN(uint32_t set, parseRegexTerminal());
        out.push_back({Kind::kChars, set});
        have_symbol = true;
      } else if (lark_ && c == '~') {
        if (!have_symbol) return error("`~` follows no symbol");
        ++pos_;
        skipSpace(false);
        ASSIGN_OR_RETURN(uint32_t min, parseCount());
        uint32_t max = min;
        if (peek() == '.' && peek(1) == '.') {
          pos_ += 2;
          ASSIGN_OR_RETURN(max, parseCount());
          if (max < min) return error("a repetition's maximum is below its minimum");
        }
        RETURN_IF_ERROR(repeat(out, last_symbol, min, max));
        have_symbol = false;
      } else if (lark_ && c == '-' && peek(1) == '>') {
        // An alias names the tree node; the text is the same.
        pos_ += 2;
        skipSpace(false);
        if (parseName().empty()) return error("expected a name after `->`");
      } else if (lark_ && c == '%') {
        return error("directives (%import, %ignore, ...) are not supported");
      } else if (c == '[') {
        ++pos_;
        last_symbol = out.size();
        ASSIGN_OR_RETURN(uint32_t set, parseClass());
        out.push_back({Kind::kChars, set});
        have_symbol = true;
      } else if (c == '.') {
        ++pos_;
        last_symbol = out.size();
        out.push_back({Kind::kChars, addSet({}, true)});
        have_symbol = true;
      } else if (isNameChar(c)) {
        last_symbol = out.size();
        const std::string name = parseName();
        out.push_back({Kind::kRule, static_cast<uint32_t>(ruleId(name))});
        have_symbol = true;
      } else if (c == '(') {
        last_symbol = out.size();
        RETURN_IF_ERROR(parseGroup(')', out));
        have_symbol = true;
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (!have_symbol) return error(std::string("`") + c + "` follows no symbol");
        ++pos_;
        uint32_t min = 0;
        uint32_t max = kUnbounded;
        if (c == '+') min = 1;
        if (c == '?') max = 1;
        if (c == '{') RETURN_IF_ERROR(parseBraces(min, max));
        RETURN_IF_ERROR(repeat(out, last_symbol, min, max));
        have_symbol = false;  // x** is an error, as in llama.cpp
      } else if (c == '<') {
        return error("token references (<...>) are not supported");
      } else {
        break;  // `|`, `)`, a newline or something the caller reports
      }
      if (++symbols_ > kMaxElements) return tooLarge();
      skipSpace(nested);
    }
    return Status::ok();
  }

  // A group of alternatives up to `close` (after its opening bracket), as a rule of its own.
  Status parseGroup(char close, Sequence& out) {
    // The parser recurses once per open group.
    if (depth_ >= kMaxGroupDepth) {
      return error("groups nested deeper than " + std::to_string(kMaxGroupDepth));
    }
    ++pos_;
    skipSpace(true);
    std::vector<Sequence> group;
    ++depth_;
    const Status parsed = parseAlternatives(true, group);
    --depth_;
    RETURN_IF_ERROR(parsed);
    if (peek() != close) return error(std::string("expected `") + close + "`");
    ++pos_;
    out.push_back({Kind::kRule, static_cast<uint32_t>(newRule(std::move(group)))});
    return Status::ok();
  }

  // A quoted literal; in Lark also a range of two one-character literals, "a".."z".
  Status parseLiteral(Sequence& out) {
    const char quote = peek();
    ++pos_;
    const size_t first = out.size();
    while (peek() != quote) {
      if (atEnd()) return error("unterminated literal");
      ASSIGN_OR_RETURN(uint32_t code_point, parseChar());
      out.push_back({Kind::kChars, addSet({{code_point, code_point}}, false)});
    }
    ++pos_;
    if (lark_ && peek() == 'i') return error("case-insensitive literals are not supported");
    if (!lark_ || peek() != '.' || peek(1) != '.') return Status::ok();
    pos_ += 2;
    if (out.size() != first + 1 || (peek() != '"' && peek() != '\'')) {
      return error("a range is two one-character literals, as \"a\"..\"z\"");
    }
    const uint32_t lo = sets_[out.back().value].ranges[0].first;
    out.pop_back();
    RETURN_IF_ERROR(parseLiteral(out));
    if (out.size() != first + 1) {
      return error("a range is two one-character literals, as \"a\"..\"z\"");
    }
    const uint32_t hi = sets_[out.back().value].ranges[0].first;
    if (hi < lo) return error("a character range runs backwards");
    out.back().value = addSet({{lo, hi}}, false);
    return Status::ok();
  }

  // Lark's /regex/ terminal, where it is one character: a class, or `.`.
  Result<uint32_t> parseRegexTerminal() {
    const size_t start = pos_;
    ++pos_;
    uint32_t set = 0;
    if (peek() == '[') {
      ++pos_;
      ASSIGN_OR_RETURN(set, parseClass());
    } else if (peek() == '.') {
      ++pos_;
      set = addSet({{'\n', '\n'}}, true);  // Python's `.`: anything but a newline
    }
    if (pos_ == start + 1 || peek() != '/') {
      pos_ = start;
      return error(
          "regular expression terminals other than one character class or `.` are not "
          "supported");
    }
    ++pos_;
    while (peek() >= 'a' && peek() <= 'z') {
      const char flag = peek();
      if (flag == 's') {
        if (text_[pos_ - 2] == '.' && text_[pos_ - 3] == '/') set = addSet({}, true);  // any
      } else if (flag != 'u') {
        return error(std::string("the regular expression flag `") + flag + "` is not supported");
      }
      ++pos_;
    }
    return set;
  }

  Status parseBraces(uint32_t& min, uint32_t& max) {
    skipSpace(false);
    ASSIGN_OR_RETURN(min, parseCount());
    skipSpace(false);
    if (peek() == '}') {
      max = min;
    } else {
      if (peek() != ',') return error("expected `,` or `}`");
      ++pos_;
      skipSpace(false);
      max = kUnbounded;
      if (peek() != '}') {
        ASSIGN_OR_RETURN(max, parseCount());
        skipSpace(false);
      }
      if (peek() != '}') return error("expected `}`");
    }
    ++pos_;
    if (max < min) return error("a repetition's maximum is below its minimum");
    return Status::ok();
  }

  Result<uint32_t> parseCount() {
    if (!(peek() >= '0' && peek() <= '9')) return error("expected a number");
    const size_t start = pos_;
    uint64_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      value = value * 10 + static_cast<uint64_t>(peek() - '0');
      if (value > kMaxRepeat) {
        pos_ = start;
        return error("repetition counts above " + std::to_string(kMaxRepeat) +
                     " are not supported");
      }
      ++pos_;
    }
    return static_cast<uint32_t>(value);
  }

  // out[from, end) repeated min to max times (kUnbounded: no maximum): min copies, then a rule
  // for the rest. Rules for the optional copies nest (x (x (x)?)?)? so that a parse holds one
  // of them at a time.
  Status repeat(Sequence& out, size_t from, uint32_t min, uint32_t max) {
    // Bounded before it is built: a long literal repeated 10000 times would not fit anyway.
    const uint64_t copies = uint64_t{min} + (max == kUnbounded ? 1 : max - min);
    symbols_ += (out.size() - from) * copies + copies;
    if (symbols_ > kMaxElements) return tooLarge();
    const Sequence item(out.begin() + static_cast<std::ptrdiff_t>(from), out.end());
    out.resize(from);
    for (uint32_t i = 0; i < min; ++i) out.insert(out.end(), item.begin(), item.end());
    if (max == kUnbounded) {
      // rest ::= item rest | (empty)
      const int rest = newRule({});
      Sequence again = item;
      again.push_back({Kind::kRule, static_cast<uint32_t>(rest)});
      rules_[static_cast<size_t>(rest)] = {again, {}};
      out.push_back({Kind::kRule, static_cast<uint32_t>(rest)});
      return Status::ok();
    }
    int tail = -1;
    for (uint32_t i = min; i < max; ++i) {
      // optional ::= item tail | (empty)
      Sequence body = item;
      if (tail >= 0) body.push_back({Kind::kRule, static_cast<uint32_t>(tail)});
      tail = newRule({body, {}});
    }
    if (tail >= 0) out.push_back({Kind::kRule, static_cast<uint32_t>(tail)});
    return Status::ok();
  }

  static Status tooLarge() {
    return invalidArgument("the grammar is too large: more than " + std::to_string(kMaxElements) +
                           " symbols once repetitions are expanded");
  }

  // One character of a literal or class: UTF-8 or an escape.
  Result<uint32_t> parseChar() {
    const auto byte = static_cast<uint8_t>(peek());
    if (byte == '\\') {
      ++pos_;
      const char e = peek();
      ++pos_;
      switch (e) {
        case 'n':
          return uint32_t{'\n'};
        case 'r':
          return uint32_t{'\r'};
        case 't':
          return uint32_t{'\t'};
        case '\\':
        case '"':
        case '\'':
        case '[':
        case ']':
        case '-':
        case '^':
        case '/':
          return static_cast<uint32_t>(e);
        case 'x':
          return parseHex(2);
        case 'u':
          return parseHex(4);
        case 'U':
          return parseHex(8);
        default:
          pos_ -= 2;
          return error(std::string("unknown escape `\\") + e + "`");
      }
    }
    // UTF-8, as the grammar's text is.
    int length = byte < 0x80         ? 1
                 : (byte >> 5) == 6  ? 2
                 : (byte >> 4) == 14 ? 3
                 : (byte >> 3) == 30 ? 4
                                     : 0;
    if (length == 0 || pos_ + length > text_.size()) return error("invalid UTF-8");
    uint32_t code_point = length == 1 ? byte : byte & (0x7F >> length);
    for (int i = 1; i < length; ++i) {
      const auto next = static_cast<uint8_t>(text_[pos_ + i]);
      if ((next & 0xC0) != 0x80) return error("invalid UTF-8");
      code_point = (code_point << 6) | (next & 0x3F);
    }
    pos_ += static_cast<size_t>(length);
    return code_point;
  }

  Result<uint32_t> parseHex(int digits) {
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      const char c = peek();
      int digit = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
      if (digit < 0) return error("expected " + std::to_string(digits) + " hex digits");
      value = value * 16 + static_cast<uint32_t>(digit);
      ++pos_;
    }
    if (value > kMaxCodePoint || (value >= 0xD800 && value <= 0xDFFF)) {
      return error("not a Unicode scalar value");
    }
    return value;
  }

  // After '[': the class up to ']'.
  Result<uint32_t> parseClass() {
    const bool negated = peek() == '^';
    if (negated) ++pos_;
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    while (peek() != ']') {
      if (atEnd()) return error("unterminated character class");
      ASSIGN_OR_RETURN(uint32_t first, parseChar());
      uint32_t last = first;
      if (peek() == '-' && peek(1) != ']' && pos_ + 1 < text_.size()) {
        ++pos_;
        ASSIGN_OR_RETURN(last, parseChar());
        if (last < first) return error("a character range runs backwards");
      }
      ranges.emplace_back(first, last);
    }
    ++pos_;
    const uint32_t set = addSet(std::move(ranges), negated);
    if (sets_[set].ranges.empty()) return error("the character class matches nothing");
    return set;
  }

  // The set of `ranges` (or of every scalar value outside them), normalized; its index.
  uint32_t addSet(std::vector<std::pair<uint32_t, uint32_t>> ranges, bool negated) {
    std::sort(ranges.begin(), ranges.end());
    std::vector<std::pair<uint32_t, uint32_t>> merged;
    for (const auto& range : ranges) {
      if (!merged.empty() && range.first <= merged.back().second + 1) {
        merged.back().second = std::max(merged.back().second, range.second);
      } else {
        merged.push_back(range);
      }
    }
    if (negated) {
      std::vector<std::pair<uint32_t, uint32_t>> complement;
      uint32_t next = 0;
      for (const auto& [first, last] : merged) {
        if (first > next) complement.emplace_back(next, first - 1);
        next = last + 1;
      }
      if (next <= kMaxCodePoint) complement.emplace_back(next, kMaxCodePoint);
      merged = std::move(complement);
    }
    // Surrogates are not characters: no UTF-8 text has them.
    std::vector<std::pair<uint32_t, uint32_t>> scalars;
    for (const auto& [first, last] : merged) {
      if (last < 0xD800 || first > 0xDFFF) {
        scalars.emplace_back(first, last);
        continue;
      }
      if (first < 0xD800) scalars.emplace_back(first, 0xD7FF);
      if (last > 0xDFFF) scalars.emplace_back(0xE000, last);
    }
    sets_.push_back({std::move(scalars)});
    return static_cast<uint32_t>(sets_.size()) - 1;
  }

  // Checks the rules, then lays them out: each alternative's symbols, then kEnd.
  Result<std::shared_ptr<const Gbnf>> layOut(int root) {
    const size_t n = rules_.size();
    // Rules that may derive the empty text, and rules that derive some text at all.
    std::vector<char> nullable(n, 0);
    std::vector<char> productive(n, 0);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        for (const Sequence& alternative : rules_[r]) {
          bool all_nullable = true;
          bool all_productive = true;
          for (const Symbol& s : alternative) {
            if (s.kind == Kind::kChars) {
              all_nullable = false;
            } else {
              all_nullable = all_nullable && nullable[s.value];
              all_productive = all_productive && productive[s.value];
            }
          }
          if (all_nullable && !nullable[r]) nullable[r] = changed = true;
          if (all_productive && !productive[r]) productive[r] = changed = true;
        }
      }
    }
    // Only the rules the root reaches count.
    std::vector<char> reached(n, 0);
    std::vector<int> todo = {root};
    reached[static_cast<size_t>(root)] = 1;
    while (!todo.empty()) {
      const int r = todo.back();
      todo.pop_back();
      for (const Sequence& alternative : rules_[static_cast<size_t>(r)]) {
        for (const Symbol& s : alternative) {
          if (s.kind == Kind::kRule && !reached[s.value]) {
            reached[s.value] = 1;
            todo.push_back(static_cast<int>(s.value));
          }
        }
      }
    }
    for (size_t r = 0; r < n; ++r) {
      if (reached[r] && !productive[r]) {
        return invalidArgument("rule `" + nameOf(static_cast<int>(r)) +
                               "` never ends: it derives no finite text");
      }
    }
    // Left recursion: a rule reaching itself through the first symbols of its alternatives,
    // past the ones that may be empty. The recognizer would expand it forever.
    std::vector<std::vector<int>> left(n);
    for (size_t r = 0; r < n; ++r) {
      for (const Sequence& alternative : rules_[r]) {
        for (const Symbol& s : alternative) {
          if (s.kind == Kind::kChars) break;
          left[r].push_back(static_cast<int>(s.value));
          if (!nullable[s.value]) break;
        }
      }
    }
    std::vector<uint8_t> mark(n, 0);  // 0 unseen, 1 on the path, 2 done
    for (size_t r = 0; r < n; ++r) {
      if (reached[r] && mark[r] == 0) {
        if (const int cycle = findCycle(static_cast<int>(r), left, mark); cycle >= 0) {
          return invalidArgument("rule `" + nameOf(cycle) +
                                 "` is left-recursive (or repeats something that may be empty)");
        }
      }
    }

    auto grammar = std::make_shared<Gbnf>();
    grammar->alternatives_.resize(n);
    for (size_t r = 0; r < n; ++r) {
      for (const Sequence& alternative : rules_[r]) {
        if (grammar->elements_.size() + alternative.size() + 1 > kMaxElements) return tooLarge();
        grammar->alternatives_[r].push_back(static_cast<uint16_t>(grammar->elements_.size()));
        for (const Symbol& s : alternative) grammar->elements_.push_back({s.kind, s.value});
        grammar->elements_.push_back({Kind::kEnd, 0});
      }
    }
    grammar->sets_ = std::move(sets_);
    grammar->root_ = root;
    grammar->computeDepthNeeds();
    static std::atomic<uint64_t> next_id{1};
    grammar->id_ = next_id.fetch_add(1, std::memory_order_relaxed);
    return std::shared_ptr<const Gbnf>(std::move(grammar));
  }

  // Depth-first search from `r` over `edges`; returns a rule on a cycle, or -1.
  static int findCycle(int r, const std::vector<std::vector<int>>& edges,
                       std::vector<uint8_t>& mark) {
    mark[static_cast<size_t>(r)] = 1;
    for (int next : edges[static_cast<size_t>(r)]) {
      if (mark[static_cast<size_t>(next)] == 1) return next;
      if (mark[static_cast<size_t>(next)] == 0) {
        if (const int cycle = findCycle(next, edges, mark); cycle >= 0) return cycle;
      }
    }
    mark[static_cast<size_t>(r)] = 2;
    return -1;
  }

  // A rule's name for errors: the named rule it was written in for helper rules.
  std::string nameOf(int rule) const {
    for (const auto& [name, id] : ids_) {
      if (id == rule) return name;
    }
    for (size_t r = 0; r < rules_.size(); ++r) {
      for (const Sequence& alternative : rules_[r]) {
        for (const Symbol& s : alternative) {
          if (s.kind == Kind::kRule && static_cast<int>(s.value) == rule &&
              static_cast<int>(r) != rule) {
            return nameOf(static_cast<int>(r));
          }
        }
      }
    }
    return "?";
  }

  static constexpr uint32_t kUnbounded = UINT32_MAX;

  std::string_view text_;
  const bool lark_;  // Lark's syntax (as vLLM converts it), not GBNF
  size_t pos_ = 0;
  uint64_t symbols_ = 0;  // symbols read and copied by repetitions, an upper bound of the layout
  static constexpr int kMaxGroupDepth = 100;
  int depth_ = 0;  // groups open at pos_
  std::map<std::string, int> ids_;
  std::vector<std::vector<Sequence>> rules_;
  std::vector<char> defined_;
  std::vector<CharSet> sets_;
};

bool Gbnf::looksLikeLark(std::string_view text) {
  // As vLLM tells them apart: a GBNF rule says `::=`; a Lark rule is a name and `:`.
  bool lark = false;
  size_t line_start = 0;
  while (line_start <= text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    std::string_view line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    if (line.find("::=") != std::string_view::npos) return false;
    size_t i = line.find_first_not_of(" \t");
    if (i == std::string_view::npos) continue;
    if (line[i] == '?' || line[i] == '!') ++i;
    const size_t name = i;
    while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) != 0 ||
                               line[i] == '_' || line[i] == '-')) {
      ++i;
    }
    if (i == name) continue;
    if (i < line.size() && line[i] == '.') {  // a priority, NAME.2
      ++i;
      while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i])) != 0) ++i;
    }
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i < line.size() && line[i] == ':') lark = true;
  }
  return lark;
}

void Gbnf::computeDepthNeeds() {
  // need[r]: the fewest parse entries above the one holding r's alternative that deriving some
  // text of r takes at its peak. Knuth's generalization of Dijkstra: a rule is settled at the
  // lowest value of an alternative whose rule references are all settled; an alternative costs
  // the most of its references' need, plus one for a reference whose alternative goes on after
  // it (the entry stays below while the rule runs; a last reference replaces it).
  constexpr uint32_t kUnknown = UINT32_MAX;
  const size_t rules = alternatives_.size();
  struct Alternative {
    int rule;
    uint32_t cost = 0;
    int pending = 0;
  };
  std::vector<Alternative> alts;
  std::vector<std::vector<std::pair<int, uint32_t>>> used_by(rules);  // rule -> (alt, +0/+1)
  using Item = std::pair<uint32_t, int>;                              // (need, rule)
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
  for (size_t r = 0; r < rules; ++r) {
    for (uint16_t start : alternatives_[r]) {
      const int a = static_cast<int>(alts.size());
      alts.push_back({static_cast<int>(r)});
      for (size_t p = start; elements_[p].kind != Kind::kEnd; ++p) {
        if (elements_[p].kind != Kind::kRule) continue;
        const uint32_t step = elements_[p + 1].kind == Kind::kEnd ? 0 : 1;
        used_by[elements_[p].value].emplace_back(a, step);
        ++alts.back().pending;
      }
      if (alts.back().pending == 0) queue.emplace(0, static_cast<int>(r));
    }
  }
  std::vector<uint32_t> need(rules, kUnknown);
  while (!queue.empty()) {
    const auto [value, r] = queue.top();
    queue.pop();
    if (need[static_cast<size_t>(r)] != kUnknown) continue;
    need[static_cast<size_t>(r)] = value;
    for (const auto& [a, step] : used_by[static_cast<size_t>(r)]) {
      Alternative& alt = alts[static_cast<size_t>(a)];
      alt.cost = std::max(alt.cost, value + step);
      if (--alt.pending == 0) queue.emplace(alt.cost, alt.rule);
    }
  }
  // need_from_[p]: the same from position p to the end of its alternative.
  need_from_.assign(elements_.size(), 0);
  for (size_t p = elements_.size(); p-- > 0;) {
    const Element& element = elements_[p];
    if (element.kind == Kind::kEnd) continue;
    uint32_t cost = 0;
    if (element.kind == Kind::kRule) {
      const uint32_t n = need[element.value];
      cost = n == kUnknown ? kUnknown : n + (elements_[p + 1].kind == Kind::kEnd ? 0 : 1);
    }
    need_from_[p] = std::max(cost, need_from_[p + 1]);
  }
}

Result<std::shared_ptr<const Gbnf>> Gbnf::compile(std::string_view text) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Gbnf> grammar, Parser(text, looksLikeLark(text)).run());
  // A grammar whose start lies past the recognizer's limits (a chain of thousands of rules, or
  // a root that derives no finite text) would constrain nothing: refuse it here.
  const GbnfState start(*grammar);
  if (start.parses() == 0 && !start.complete()) {
    return invalidArgument("the grammar's root derives no text the recognizer can follow (within " +
                           std::to_string(GbnfState::kMaxExpansions) +
                           " rule expansions per character and " +
                           std::to_string(GbnfState::kMaxDepth) + " nested rules per parse)");
  }
  return grammar;
}

}  // namespace manifold
