// RegexDfa against Python's re module (tests/data/regex/cases.json, made by make_cases.py): every
// text matches here exactly when re.fullmatch (guided_regex) or re.search (JSON Schema's
// pattern) says so. Then what a finite automaton cannot do is refused by name, and no state the
// DFA can reach is a dead end.
#include "engine/structured_output/regex_dfa.h"

#include <deque>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace manifold {
namespace {

using nlohmann::json;
using Anchoring = RegexDfa::Anchoring;

json loadCases() {
  std::ifstream in(std::string(MANIFOLD_SOURCE_DIR) + "/tests/data/regex/cases.json");
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

RegexDfa compiled(std::string_view pattern, Anchoring anchoring = Anchoring::kFullMatch) {
  Result<RegexDfa> dfa = RegexDfa::compile(pattern, anchoring);
  EXPECT_TRUE(dfa.isOk()) << pattern << ": " << dfa.status().toString();
  return dfa.isOk() ? std::move(dfa).value() : RegexDfa::compile("a", anchoring).value();
}

// Every state reachable from the start can still reach a match: next() never leads into a state
// from which only refusals follow.
void expectNoDeadEnds(const RegexDfa& dfa, std::string_view pattern) {
  std::set<int> seen = {dfa.start()};
  std::deque<int> queue = {dfa.start()};
  while (!queue.empty()) {
    const int state = queue.front();
    queue.pop_front();
    std::set<int> reach = {state};
    std::deque<int> inner = {state};
    bool accepting = false;
    while (!inner.empty() && !accepting) {
      const int s = inner.front();
      inner.pop_front();
      accepting = dfa.accepting(s);
      for (int byte = 0; byte < 256; ++byte) {
        const int next = dfa.next(s, static_cast<uint8_t>(byte));
        if (next != RegexDfa::kDead && reach.insert(next).second) inner.push_back(next);
      }
    }
    EXPECT_TRUE(accepting) << pattern << ": state " << state << " is a dead end";
    bool any_next = false;
    for (int byte = 0; byte < 256; ++byte) {
      const int next = dfa.next(state, static_cast<uint8_t>(byte));
      any_next |= next != RegexDfa::kDead;
      if (next != RegexDfa::kDead && seen.insert(next).second) queue.push_back(next);
    }
    EXPECT_EQ(dfa.hasNext(state), any_next) << pattern;
  }
}

TEST(RegexDfa, AgreesWithPythonRe) {
  const json root = loadCases();
  ASSERT_GE(root.at("cases").size(), 50u);
  int matched = 0;
  int refused = 0;
  for (const json& c : root.at("cases")) {
    const std::string pattern = c.at("pattern").get<std::string>();
    for (const auto& [key, anchoring] : {std::pair{"full_match", Anchoring::kFullMatch},
                                         std::pair{"search", Anchoring::kSearch}}) {
      const RegexDfa dfa = compiled(pattern, anchoring);
      for (const json& text_and_match : c.at(key)) {
        const std::string text = text_and_match[0].get<std::string>();
        const bool expected = text_and_match[1].get<bool>();
        EXPECT_EQ(dfa.matches(text), expected)
            << key << " /" << pattern << "/ on \"" << text << "\"";
        (expected ? matched : refused) += 1;
      }
      expectNoDeadEnds(dfa, pattern);
    }
  }
  EXPECT_GE(matched, 5000);
  EXPECT_GE(refused, 10000);
}

TEST(RegexDfa, ReadsWhatPythonCannotJudge) {
  // ECMA's named groups and UTF-16 surrogate pairs, which Python's re reads otherwise.
  EXPECT_TRUE(compiled("(?<year>\\d{4})-x").matches("2024-x"));
  EXPECT_TRUE(compiled("\\uD83D\\uDE00+").matches("\xF0\x9F\x98\x80\xF0\x9F\x98\x80"));
  // '.' refuses line terminators, ECMA's four.
  const RegexDfa dot = compiled(".");
  EXPECT_TRUE(dot.matches("\xE2\x82\xAC"));  // U+20AC
  for (const char* terminator : {"\n", "\r", "\xE2\x80\xA8", "\xE2\x80\xA9"}) {
    EXPECT_FALSE(dot.matches(terminator)) << terminator;
  }
  // \s takes ECMA's whitespace beyond ASCII; \S refuses it.
  EXPECT_TRUE(compiled("\\s").matches("\xC2\xA0"));       // U+00A0
  EXPECT_TRUE(compiled("\\s").matches("\xEF\xBB\xBF"));   // U+FEFF
  EXPECT_FALSE(compiled("\\S").matches("\xE3\x80\x80"));  // U+3000
  // In a class \b is a backspace.
  EXPECT_TRUE(compiled("[\\b]").matches("\b"));
}

TEST(RegexDfa, TakesOnlyValidUtf8) {
  // A negated class spans every code point but no surrogate, overlong form or byte past U+10FFFF.
  const RegexDfa any = compiled("[^a]*");
  EXPECT_TRUE(any.matches("\xF4\x8F\xBF\xBF"));   // U+10FFFF
  EXPECT_TRUE(any.matches("\xED\x9F\xBF"));       // U+D7FF
  EXPECT_TRUE(any.matches("\xEE\x80\x80"));       // U+E000
  EXPECT_FALSE(any.matches("\xED\xA0\x80"));      // a surrogate, U+D800
  EXPECT_FALSE(any.matches("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(any.matches("\xE0\x80\xAF"));      // overlong '/'
  EXPECT_FALSE(any.matches("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(any.matches("\xF5\x80\x80\x80"));
  EXPECT_FALSE(any.matches("\x80"));  // a lone continuation byte
  EXPECT_FALSE(any.matches("\xC3"));  // a cut character
  // Ranges across encoded lengths.
  const RegexDfa wide = compiled("[\\x7F-\\u0800]+");
  EXPECT_TRUE(wide.matches("\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80"));
  EXPECT_FALSE(wide.matches("\xE0\xA0\x81"));  // U+0801
  EXPECT_FALSE(wide.matches("~"));
}

TEST(RegexDfa, RefusesWhatAnAutomatonCannotDoNamingIt) {
  const struct {
    const char* pattern;
    const char* message;
  } cases[] = {
      {"(a)\\1", "backreference"},
      {"(?=a)a", "lookaround"},
      {"(?<!a)b", "lookaround"},
      {"a\\b", "word boundary"},
      {"\\Ba", "'\\B'"},
      {"\\p{L}", "Unicode property"},
      {"(?i)a", "group flag"},
      {"a$b", "'$'"},
      {"a^b", "'^'"},
      {"(^a)", "'^'"},
      {"a**", "a quantifier after a quantifier"},
      {"*a", "nothing to repeat"},
      {"a|+", "nothing to repeat"},
      {"{2}", "nothing to repeat"},
      {"[b-a]", "out of order"},
      {"[\\d-z]", "class escape"},
      {"(a", "without its ')'"},
      {"a)", "unmatched ')'"},
      {"[a", "without its ']'"},
      {"[]", "empty class"},
      {"a{3,2}", "m < n"},
      {"a{1001}", "above 1000"},
      {"a\\", "at the end"},
      {"\\q", "unknown escape"},
      {"\\x4", "hex escape"},
      {"\\uDC00", "lone surrogate"},
      {"\\07", "octal"},
      {"[a&&b]x{0}[^\\s\\S]", "matches no text"},
      {"(?:(?:(?:(?:(?:(?:(?:(?:(?:(?:a)))))))))){1000}(?:b{1000}){1000}", "too"},
      {"[ab]*a[ab]{20}", "automaton states"},
  };
  for (const auto& c : cases) {
    Result<RegexDfa> dfa = RegexDfa::compile(c.pattern, Anchoring::kFullMatch);
    ASSERT_FALSE(dfa.isOk()) << c.pattern;
    EXPECT_EQ(dfa.status().code(), StatusCode::kInvalidArgument) << c.pattern;
    EXPECT_NE(dfa.status().message().find(c.message), std::string::npos)
        << c.pattern << ": " << dfa.status().message();
  }
  // Deep nesting is an error, not a stack overflow.
  EXPECT_FALSE(
      RegexDfa::compile(std::string(5000, '(') + std::string(5000, ')'), Anchoring::kFullMatch)
          .isOk());
}

TEST(RegexDfa, IntersectionTakesTextsBothMatch) {
  const RegexDfa digits = compiled("\\d+");
  const RegexDfa three_to_four = compiled("[\\s\\S]{3,4}");
  Result<RegexDfa> both = RegexDfa::intersect(digits, three_to_four);
  ASSERT_TRUE(both.isOk());
  EXPECT_FALSE(both->matches("12"));
  EXPECT_TRUE(both->matches("123"));
  EXPECT_TRUE(both->matches("1234"));
  EXPECT_FALSE(both->matches("12345"));
  EXPECT_FALSE(both->matches("12a"));
  // After four digits only the end is left: the fifth is refused where it is written.
  int state = both->start();
  for (char c : std::string("1234")) state = both->next(state, static_cast<uint8_t>(c));
  EXPECT_FALSE(both->hasNext(state));
  expectNoDeadEnds(*both, "\\d+ & .{3,4}");
  // Nothing matches both.
  EXPECT_FALSE(RegexDfa::intersect(compiled("\\d{2}"), three_to_four).isOk());
}

}  // namespace
}  // namespace manifold
