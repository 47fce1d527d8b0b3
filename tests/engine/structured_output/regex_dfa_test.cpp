// RegexDfa against Python's re module (tests/data/regex/cases.json, made by make_cases.py): every
// text matches here exactly when re.fullmatch (guided_regex) or re.search (JSON Schema's
// pattern) says so. Then what a finite automaton cannot do is refused by name, and no state the
// DFA can reach is a dead end.
#include "engine/structured_output/regex_dfa.h"

#include <cstdio>
#include <deque>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

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
  // In a class \b is a backspace; [] matches nothing and [^] any character.
  EXPECT_TRUE(compiled("[\\b]").matches("\b"));
  EXPECT_FALSE(compiled("a[]|b").matches("a"));
  EXPECT_TRUE(compiled("[^]+").matches("a\n\r\xE2\x80\xA8"));
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
      {"\\k<x>", "named backreference"},
      {"[\\1]", "octal"},
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

TEST(RegexDfa, CountsTheCharactersLeftToAMatch) {
  const RegexDfa dfa = compiled("ab{2,4}(c|d\u00e9f)");
  int state = dfa.start();
  EXPECT_EQ(dfa.minRemaining(state), 4u);  // "abbc"
  EXPECT_EQ(dfa.maxRemaining(state), 8u);  // "abbbbdéf"
  for (char c : std::string("abb")) state = dfa.next(state, static_cast<uint8_t>(c));
  EXPECT_EQ(dfa.minRemaining(state), 1u);
  EXPECT_EQ(dfa.maxRemaining(state), 5u);
  for (char c : std::string("d\xC3")) state = dfa.next(state, static_cast<uint8_t>(c));
  EXPECT_EQ(dfa.minRemaining(state), 1u) << "mid-character: 'é' is counted at its first byte";
  EXPECT_EQ(compiled("a+").maxRemaining(0), RegexDfa::kUnbounded);
  EXPECT_EQ(compiled("(ab)*c|d").maxRemaining(0), RegexDfa::kUnbounded);
  // What an escape may still become: the states one character of a range leads to.
  std::vector<int> after;
  dfa.afterCodePoints(dfa.start(), 0, 0x10FFFF, after);
  EXPECT_EQ(after.size(), 1u);  // only 'a'
  dfa.afterCodePoints(dfa.start(), 'b', 0x10FFFF, after);
  EXPECT_TRUE(after.empty());
}

// Bounded repeats build linear closures, so long ones compile; and the work count covers
// closures and edges, so patterns that used to take seconds to a minute are refused as too
// complex.
TEST(RegexDfa, PathologicalPatternsAreRefusedNotBuiltForMinutes) {
  EXPECT_TRUE(RegexDfa::compile("^.{0,400}$", Anchoring::kSearch).isOk());
  EXPECT_TRUE(RegexDfa::compile("[\\s\\S]{0,1000}", Anchoring::kFullMatch).isOk());
  std::string many_ranges = "(?:[";
  for (uint32_t c = 0x20000; c < 0x20000 + 3000 * 2; c += 2) {
    char escape[32];  // every other character from U+20000: 3000 separate ranges
    std::snprintf(escape, sizeof escape, "\\u%04X\\u%04X", 0xD800 + ((c - 0x10000) >> 10),
                  0xDC00 + ((c - 0x10000) & 0x3FF));
    many_ranges += escape;
  }
  many_ranges += "]|a|b)*a[ab]{13}";
  for (const std::string& pattern :
       {std::string("(?:a|b|c(?:(?:){1000}){60})*a[ab]{11}"),
        std::string("(?:a|b|c(?:(?:){1000}){60})*a[ab]{13}"), many_ranges,
        std::string("(\\w+\\s*){1000}"), std::string("(a?){1000}a{1000}"),
        std::string("(.{0,100}){0,10}")}) {
    for (const Anchoring anchoring : {Anchoring::kFullMatch, Anchoring::kSearch}) {
      Result<RegexDfa> dfa = RegexDfa::compile(pattern, anchoring);
      ASSERT_FALSE(dfa.isOk()) << pattern.substr(0, 60);
      EXPECT_NE(dfa.status().message().find("is too complex"), std::string::npos)
          << dfa.status().message();
    }
  }
  // A budget shared by several patterns: the second is refused once the first spent it.
  size_t budget = RegexDfa::kMaxWork;
  ASSERT_TRUE(RegexDfa::compile("\\w{50}", Anchoring::kSearch, &budget).isOk());
  EXPECT_LT(budget, RegexDfa::kMaxWork);
  budget = 1000;
  EXPECT_FALSE(RegexDfa::compile("\\w{50}", Anchoring::kSearch, &budget).isOk());
}

}  // namespace
}  // namespace manifold
