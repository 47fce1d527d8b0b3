// Gbnf and GbnfState against Lark's Earley parser (tests/data/gbnf/cases.json, made by
// make_cases.py): every text the parser takes is taken byte by byte and complete, every other
// text is refused or incomplete. Then what no oracle says: no dead ends, the syntax's corners,
// the errors, the limits, and the vocabulary walk.
#include "engine/structured_output/gbnf.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/structured_output/json_schema.h"
#include "engine/structured_output/output_grammar.h"
#include "engine/structured_output/token_bytes_index.h"
#include "engine/tokenizer/tokenizer.h"

namespace manifold {
namespace {

std::shared_ptr<const Gbnf> compile(std::string_view text) {
  Result<std::shared_ptr<const Gbnf>> grammar = Gbnf::compile(text);
  EXPECT_TRUE(grammar.isOk()) << text << ": " << grammar.status().message();
  return grammar.isOk() ? *grammar : nullptr;
}

// Whether the grammar derives `text`.
bool derives(const Gbnf& grammar, std::string_view text) {
  GbnfState state(grammar);
  return state.advance(text) && state.complete();
}

// Whether `text` is a prefix of something the grammar derives.
bool takes(const Gbnf& grammar, std::string_view text) {
  GbnfState state(grammar);
  return state.advance(text);
}

std::string compileError(std::string_view text) {
  Result<std::shared_ptr<const Gbnf>> grammar = Gbnf::compile(text);
  return grammar.isOk() ? "(compiled)" : grammar.status().message();
}

nlohmann::json loadCases() {
  std::ifstream in(std::string(MANIFOLD_SOURCE_DIR) + "/tests/data/gbnf/cases.json");
  EXPECT_TRUE(in.good());
  return nlohmann::json::parse(in);
}

// Each grammar read from its GBNF and from its Lark text (vLLM's other syntax).
TEST(Gbnf, TakesExactlyWhatLarkParses) {
  const nlohmann::json cases = loadCases();
  ASSERT_GE(cases.size(), 9u);
  int valid = 0;
  int texts = 0;
  for (const nlohmann::json& c : cases) {
    for (const char* syntax : {"gbnf", "lark"}) {
      const std::string name = c["name"].get<std::string>() + " (" + syntax + ")";
      const std::string source = c[syntax];
      EXPECT_EQ(Gbnf::looksLikeLark(source), std::string_view(syntax) == "lark") << name;
      std::shared_ptr<const Gbnf> grammar = compile(source);
      ASSERT_NE(grammar, nullptr) << name;
      for (const nlohmann::json& t : c["texts"]) {
        const std::string text = t["text"];
        const bool expected = t["valid"];
        GbnfState state(*grammar);
        size_t taken = 0;
        while (taken < text.size() && state.advance(static_cast<uint8_t>(text[taken]))) ++taken;
        const bool got = taken == text.size() && state.complete();
        EXPECT_EQ(got, expected) << name << ": \"" << text << "\" (took " << taken << " of "
                                 << text.size() << " bytes)";
        valid += expected ? 1 : 0;
        ++texts;
      }
    }
  }
  EXPECT_GT(valid, 1400);
  EXPECT_GT(texts - valid, 1200);
}

// Random walks over the bytes each state takes: one is always left until the text is complete
// (no dead end, whatever the tokens split), and the JSON grammar's texts parse as JSON.
TEST(Gbnf, RandomWalksNeverReachADeadEnd) {
  const nlohmann::json cases = loadCases();
  std::mt19937 rng(7);
  for (const nlohmann::json& c : cases) {
    const std::string name = c["name"];
    std::shared_ptr<const Gbnf> grammar = compile(c["gbnf"].get<std::string>());
    ASSERT_NE(grammar, nullptr);
    int completed = 0;
    for (int walk = 0; walk < 100; ++walk) {
      GbnfState state(*grammar);
      std::string text;
      for (int step = 0; step < 400; ++step) {
        if (state.complete() && (state.done() || rng() % 8 == 0)) break;
        std::vector<uint8_t> next;
        for (int byte = 0; byte < 256; ++byte) {
          GbnfState copy = state;
          if (copy.advance(static_cast<uint8_t>(byte))) next.push_back(static_cast<uint8_t>(byte));
        }
        ASSERT_FALSE(next.empty()) << name << ": dead end after \"" << text << "\"";
        // Prefer closing bytes now and then so that walks of recursive grammars end.
        const uint8_t byte = next[rng() % next.size()];
        ASSERT_TRUE(state.advance(byte));
        text.push_back(static_cast<char>(byte));
      }
      if (!state.complete()) continue;
      ++completed;
      if (name == "json") {
        EXPECT_NO_THROW((void)nlohmann::json::parse(text)) << text;
      }
    }
    EXPECT_GT(completed, 0) << name;
  }
}

TEST(Gbnf, SyntaxOfLlamaCppGrammars) {
  // Comments, rules over several lines inside parentheses and after `|`, names with - and _.
  std::shared_ptr<const Gbnf> grammar = compile(R"(# a chess-like line
root ::= (
    # the first move
    "1. " move " " move "\n"
    ([1-9] [0-9]? ". " move " " move "\n")+   # then more
)
move ::= pawn | castle-move |
         piece_move
pawn ::= [a-h] [1-8]
castle-move ::= "O-O" "-O"?
piece_move ::= [NBKQR] [a-h] [1-8] [+#]?
)");
  ASSERT_NE(grammar, nullptr);
  EXPECT_TRUE(derives(*grammar, "1. e4 e5\n2. Nf3 O-O-O\n"));
  EXPECT_TRUE(derives(*grammar, "1. e4 e5\n10. Qh5# O-O\n"));
  EXPECT_FALSE(derives(*grammar, "1. e4 e5\n"));  // needs a second line
  EXPECT_FALSE(takes(*grammar, "1. e4 e5\n0"));   // [1-9]
  EXPECT_FALSE(takes(*grammar, "1. e9"));         // [1-8]
  EXPECT_TRUE(takes(*grammar, "1. O-O-"));

  // Escapes in literals and classes, and a literal repeated as a whole.
  grammar = compile(R"(root ::= "\x41\u00e9\U0001F600\t\"\\" [\]\-\^a]{2} "ab"{2} "")");
  ASSERT_NE(grammar, nullptr);
  EXPECT_TRUE(derives(*grammar, "A\xC3\xA9\xF0\x9F\x98\x80\t\"\\]^abab"));
  EXPECT_FALSE(derives(*grammar, "A\xC3\xA9\xF0\x9F\x98\x80\t\"\\]^abb"));

  // `.` is any character, newlines included; [^...] any character outside.
  grammar = compile("root ::= . [^a-z]");
  ASSERT_NE(grammar, nullptr);
  EXPECT_TRUE(derives(*grammar, "\n\n"));
  EXPECT_TRUE(derives(*grammar,
                      "\xE4\xB8\xAD"
                      "A"));
  EXPECT_FALSE(takes(*grammar, "xq"));

  // The empty text, if root allows it.
  grammar = compile("root ::= \"a\"?");
  ASSERT_NE(grammar, nullptr);
  EXPECT_TRUE(GbnfState(*grammar).complete());
  EXPECT_FALSE(GbnfState(*grammar).done());
  GbnfState state(*grammar);
  ASSERT_TRUE(state.advance("a"));
  EXPECT_TRUE(state.done());
  EXPECT_FALSE(state.advance('a'));
}

TEST(Gbnf, RefusesUtf8NoRuleTakesAtItsFirstByte) {
  std::shared_ptr<const Gbnf> grammar = compile("root ::= [a\\u00e9-\\u00ff] [\\u4e00-\\u4e0f]");
  ASSERT_NE(grammar, nullptr);
  GbnfState state(*grammar);
  // U+00C0..U+00E8 start with C3 too: the lead byte is taken, the continuation decides.
  ASSERT_TRUE(state.advance(static_cast<uint8_t>(0xC3)));
  GbnfState copy = state;
  EXPECT_FALSE(copy.advance(static_cast<uint8_t>(0xA8)));  // U+00E8
  ASSERT_TRUE(state.advance(static_cast<uint8_t>(0xA9)));  // U+00E9
  EXPECT_FALSE(state.complete());
  // U+4E00 is E4 B8 80: E5 begins nothing in the class, nor does E4 B9.
  copy = state;
  EXPECT_FALSE(copy.advance(static_cast<uint8_t>(0xE5)));
  copy = state;
  ASSERT_TRUE(copy.advance(static_cast<uint8_t>(0xE4)));
  EXPECT_FALSE(copy.advance(static_cast<uint8_t>(0xB9)));
  ASSERT_TRUE(state.advance("\xE4\xB8\x8F"));
  EXPECT_TRUE(state.done());
  // Invalid UTF-8 never: overlong forms, surrogates, stray continuation bytes.
  grammar = compile("root ::= .*");
  ASSERT_NE(grammar, nullptr);
  for (std::string_view bad : {"\xC0\x80", "\xED\xA0\x80", "\x80", "\xF4\x90\x80\x80", "\xFF"}) {
    EXPECT_FALSE(takes(*grammar, bad)) << testing::PrintToString(bad);
  }
}

// After any character of a string the parses are the same, whatever its bytes: the state
// compares equal (the walk's shortcut) and has the same key (the mask cache).
TEST(Gbnf, StatesAfterDifferentCharactersOfOneClassAreEqual) {
  std::shared_ptr<const Gbnf> grammar = compile("root ::= \"\\\"\" [^\"]* \"\\\"\"");
  ASSERT_NE(grammar, nullptr);
  GbnfState ascii(*grammar);
  GbnfState two_bytes(*grammar);
  GbnfState four_bytes(*grammar);
  ASSERT_TRUE(ascii.advance("\"a"));
  ASSERT_TRUE(two_bytes.advance("\"\xC3\xA9"));
  ASSERT_TRUE(four_bytes.advance("\"\xF0\x9F\x98\x80"));
  EXPECT_TRUE(ascii.sameAs(two_bytes));
  EXPECT_TRUE(ascii.sameAs(four_bytes));
  EXPECT_EQ(ascii.key(), two_bytes.key());
  GbnfState partial(*grammar);
  ASSERT_TRUE(partial.advance("\"\xC3"));
  EXPECT_FALSE(ascii.sameAs(partial));
  EXPECT_NE(ascii.key(), partial.key());
}

TEST(Gbnf, AmbiguousParsesMergeAndRightRecursionStaysFlat) {
  // Both parses stay open until the last byte decides.
  std::shared_ptr<const Gbnf> grammar = compile(R"(root ::= a | b
a ::= "x"* "y"
b ::= "x"+ "z")");
  ASSERT_NE(grammar, nullptr);
  GbnfState state(*grammar);
  ASSERT_TRUE(state.advance("xxxx"));
  EXPECT_EQ(state.parses(), 4);  // x or y after a's x*, x or z after b's x+
  EXPECT_TRUE(derives(*grammar, "xxxxz"));
  EXPECT_TRUE(derives(*grammar, "y"));
  EXPECT_FALSE(derives(*grammar, "z"));
  // Parses that double at every level (a repetition of something that may be empty) fill the
  // cells; the ones that fit are kept, and they can all still close.
  grammar = compile("root ::= item\nitem ::= (\"x(\" inner \")\" | \"a\")?\ninner ::= item{1,2}");
  ASSERT_NE(grammar, nullptr);
  state = GbnfState(*grammar);
  int open = 0;
  while (open < 60 && state.advance("x(")) ++open;
  EXPECT_GE(open, 20);
  for (int i = 0; i < open; ++i) ASSERT_TRUE(state.advance(')')) << i << " of " << open;
  EXPECT_TRUE(state.complete());
  // A long repetition keeps one parse of constant depth.
  grammar = compile("root ::= item+\nitem ::= [a-z] | \"(\" [0-9]* \")\"");
  ASSERT_NE(grammar, nullptr);
  std::string text;
  for (int i = 0; i < 5000; ++i) text += i % 7 == 0 ? "(12)" : "q";
  EXPECT_TRUE(derives(*grammar, text));
}

TEST(Gbnf, NestingPastTheDepthLimitIsRefusedNotOverrun) {
  std::shared_ptr<const Gbnf> grammar = compile("root ::= \"(\" root \")\" | \"x\"");
  ASSERT_NE(grammar, nullptr);
  const std::string deep = std::string(100, '(') + "x" + std::string(100, ')');
  EXPECT_TRUE(derives(*grammar, deep));
  GbnfState state(*grammar);
  int taken = 0;
  while (taken < 1000 && state.advance('(')) ++taken;
  EXPECT_GE(taken, 100);
  EXPECT_LT(taken, GbnfState::kMaxDepth);
  // What it took can still be closed.
  ASSERT_TRUE(state.advance('x'));
  for (int i = 0; i < taken; ++i) ASSERT_TRUE(state.advance(')')) << i;
  EXPECT_TRUE(state.done());
}

// What a request could use to overflow a stack, or to be left unconstrained, is refused at
// compile time: groups nested thousands deep (the parser recurses per group) and a chain of
// thousands of rules (the recognizer would lose the start past its limits).
TEST(Gbnf, DeepGroupsAndLongRuleChainsAreRefusedAtCompileTime) {
  auto nested = [](int n) {
    return "root ::= " + std::string(static_cast<size_t>(n), '(') + "\"a\"" +
           std::string(static_cast<size_t>(n), ')');
  };
  EXPECT_EQ(compileError(nested(20000)), "line 1, column 110: groups nested deeper than 100");
  ASSERT_EQ(compileError(nested(100)), "(compiled)");
  EXPECT_TRUE(derives(*compile(nested(100)), "a"));

  auto chain = [](int n) {
    std::string text = "root ::= r0\n";
    for (int i = 0; i < n; ++i) {
      text += "r" + std::to_string(i) + " ::= r" + std::to_string(i + 1) + "\n";
    }
    return text + "r" + std::to_string(n) + " ::= \"a\"\n";
  };
  for (int n : {20000, 3000}) {
    EXPECT_NE(compileError(chain(n)).find("the grammar's root derives no text the recognizer"),
              std::string::npos)
        << n;
  }
  ASSERT_EQ(compileError(chain(500)), "(compiled)");
  EXPECT_TRUE(derives(*compile(chain(500)), "a"));
}

TEST(Gbnf, ErrorsSayWhatAndWhere) {
  struct Case {
    std::string grammar;
    std::string error;
  };
  const Case cases[] = {
      {"root ::= \"a\" )", "line 1, column 14: unexpected `)`"},
      {"root ::= \"a\"\nx ::= [a-", "line 2, column 10: unterminated character class"},
      {"root ::= \"abc", "line 1, column 14: unterminated literal"},
      {"root ::= \"\\q\"", "line 1, column 11: unknown escape `\\q`"},
      {"root = \"a\"", "line 1, column 6: expected `::=` after `root`"},
      {"root ::= ( \"a\"", "line 1, column 15: expected `)`"},
      {"root ::= * \"a\"", "line 1, column 10: `*` follows no symbol"},
      {"root ::= \"a\"{3,1}", "line 1, column 18: a repetition's maximum is below its minimum"},
      {"root ::= \"a\"{99999}",
       "line 1, column 14: repetition counts above 10000 are not supported"},
      {"root ::= [\\uD800]", "line 1, column 17: not a Unicode scalar value"},
      {"root ::= [^\\x00-\\U0010FFFF]", "line 1, column 28: the character class matches nothing"},
      {"root ::= <think> \"a\"", "line 1, column 10: token references (<...>) are not supported"},
      {"root ::= \"a\"\nroot ::= \"b\"", "line 2, column 1: rule `root` is defined twice"},
      {"start ::= \"a\"", "the grammar has no `root` rule"},
      {"root ::= item+", "rule `item` is used but not defined"},
      {"", "the grammar has no `root` rule"},
      // What would let a model run forever or the recognizer loop.
      {"root ::= \"a\" root", "rule `root` never ends: it derives no finite text"},
      {"root ::= expr\nexpr ::= expr \"+\" \"1\" | \"1\"",
       "rule `expr` is left-recursive (or repeats something that may be empty)"},
      {"root ::= ws a\nws ::= \" \"*\na ::= ws root \"x\" | \"y\"",
       "rule `root` is left-recursive (or repeats something that may be empty)"},
  };
  for (const Case& c : cases) EXPECT_EQ(compileError(c.grammar), c.error) << c.grammar;
  EXPECT_NE(compileError("root ::= (\"a\"?)*").find("left-recursive"), std::string::npos);
  EXPECT_NE(compileError("root ::= \"abcdefgh\"{5000} \"abcdefgh\"{5000}").find("too large"),
            std::string::npos);
  // Bounded before it is built: a long literal repeated is refused, not expanded.
  EXPECT_NE(compileError("root ::= \"" + std::string(100000, 'a') + "\"{10000}").find("too large"),
            std::string::npos);
  // An unreachable rule may be anything that compiles.
  EXPECT_EQ(compileError("root ::= \"a\"\nunused ::= \"b\" unused"), "(compiled)");
}

// Lark's syntax, as vLLM takes it for guided_grammar.
TEST(Gbnf, LarkSyntax) {
  std::shared_ptr<const Gbnf> grammar = compile(R"(// a Lark grammar
?start: greeting (", " name)~1..2 "!" -> hello
greeting: 'hi' | "hello"
    | "hey"   // continued on the next line
name: UPPER LOWER+ [SUFFIX]
UPPER: "A".."Z"
LOWER: /[a-z]/
SUFFIX: /./ "." | DIGIT ~ 2
DIGIT: "0".."9")");
  ASSERT_NE(grammar, nullptr);
  EXPECT_TRUE(derives(*grammar, "hi, Ann!"));
  EXPECT_TRUE(derives(*grammar, "hey, Bo, Cyz.!"));  // SUFFIX: /./ "."
  EXPECT_TRUE(derives(*grammar, "hello, Dee42!"));
  EXPECT_FALSE(derives(*grammar, "hello, Dee4!"));
  EXPECT_FALSE(takes(*grammar, "hi, ann"));
  EXPECT_FALSE(takes(*grammar, "hi, A, B, C"));  // at most two names
  EXPECT_FALSE(takes(*grammar, "hi, Ab\n"));     // /./ is not a newline
  EXPECT_TRUE(derives(*compile("start: /./s"), "\n"));
  struct Case {
    std::string grammar;
    std::string error;
  };
  const Case cases[] = {
      {"start: item\n%import common.WS", "line 2, column 1: expected a rule name"},
      {"start: \"a\" %ignore",
       "line 1, column 12: directives (%import, %ignore, ...) are not supported"},
      {"start: /a+b/",
       "line 1, column 8: regular expression terminals other than one character "
       "class or `.` are not supported"},
      {"start: /[a]/i", "line 1, column 13: the regular expression flag `i` is not supported"},
      {"start: \"a\"i", "line 1, column 11: case-insensitive literals are not supported"},
      {"start: A\nA.2: \"a\"", "line 2, column 2: rule priorities are not supported"},
      {"start: \"ab\"..\"z\"",
       "line 1, column 14: a range is two one-character literals, as "
       "\"a\"..\"z\""},
      {"begin: \"a\"", "the grammar has no `start` rule"},
  };
  for (const Case& c : cases) EXPECT_EQ(compileError(c.grammar), c.error) << c.grammar;
  // Told apart as vLLM does: `::=` anywhere makes it GBNF.
  EXPECT_FALSE(Gbnf::looksLikeLark("root ::= a\na: \"x\""));
  EXPECT_TRUE(Gbnf::looksLikeLark("  ?value: \"x\""));
}

// Mutated grammars, GBNF and Lark (syntax characters dropped, doubled, inserted) either compile or
// fail with a message; the ones that compile take a random walk without a dead end.
TEST(Gbnf, MutatedGrammarsCompileOrFailCleanly) {
  const nlohmann::json cases = loadCases();
  std::mt19937 rng(11);
  const std::string syntax = "()[]{}|*+?\"\\.-^#:=\n ,0123456789abcxyz/~%>'";
  int compiled = 0;
  int failed = 0;
  for (int round = 0; round < 6000; ++round) {
    std::string text = cases[rng() % cases.size()][rng() % 2 == 0 ? "gbnf" : "lark"];
    for (int edits = 1 + static_cast<int>(rng() % 3); edits > 0; --edits) {
      const size_t at = rng() % (text.size() + 1);
      switch (rng() % 3) {
        case 0:
          if (at < text.size()) text.erase(at, 1);
          break;
        case 1:
          if (at < text.size()) text.insert(at, 1, text[at]);
          break;
        default:
          text.insert(at, 1, syntax[rng() % syntax.size()]);
      }
    }
    Result<std::shared_ptr<const Gbnf>> grammar = Gbnf::compile(text);
    if (!grammar.isOk()) {
      EXPECT_FALSE(grammar.status().message().empty());
      ++failed;
      continue;
    }
    ++compiled;
    GbnfState state(**grammar);
    std::string walked;
    for (int step = 0; step < 120 && !state.done(); ++step) {
      std::vector<uint8_t> next;
      for (int byte = 0; byte < 128; ++byte) {
        GbnfState copy = state;
        if (copy.advance(static_cast<uint8_t>(byte))) next.push_back(static_cast<uint8_t>(byte));
      }
      if (next.empty()) {
        // Only characters past ASCII may follow, or the text must end here: no dead end.
        bool any = false;
        for (int byte = 128; byte < 256 && !any; ++byte) {
          GbnfState copy = state;
          any = copy.advance(static_cast<uint8_t>(byte));
        }
        ASSERT_TRUE(any || state.complete())
            << testing::PrintToString(text) << "\nafter: " << testing::PrintToString(walked);
        break;
      }
      walked.push_back(static_cast<char>(next[rng() % next.size()]));
      ASSERT_TRUE(state.advance(static_cast<uint8_t>(walked.back())));
    }
  }
  EXPECT_GT(compiled, 600);
  EXPECT_GT(failed, 600);
}

// The vocabulary walk with a GbnfState: the mask is exactly the tokens accepts() takes, EOS
// when the text is complete, and only EOS once nothing may follow.
TEST(Gbnf, TokenMaskMatchesTokenByToken) {
  std::vector<std::optional<std::string>> bytes = {std::nullopt,
                                                   std::string("</s>"),
                                                   "1",
                                                   "12",
                                                   "+",
                                                   "+1",
                                                   "(",
                                                   "((",
                                                   "(1",
                                                   ")",
                                                   "))",
                                                   " ",
                                                   "2)",
                                                   "x",
                                                   "\xE4",
                                                   "\xB8\x80",
                                                   "\xE4\xB8\x80",
                                                   "-",
                                                   "3+",
                                                   "0"};
  const int32_t eos = 1;
  TokenBytesIndex index(bytes, {eos});
  std::shared_ptr<const Gbnf> grammar =
      compile("root ::= expr\nexpr ::= term (\"+\" term)*\nterm ::= [0-9]+ | \"(\" expr \")\"");
  ASSERT_NE(grammar, nullptr);
  std::vector<uint8_t> allowed(bytes.size());
  // Twice: walked, then from the mask cache.
  for (int pass = 0; pass < 2; ++pass) {
    for (std::string_view prefix : {"", "1", "(", "((1+2", "(1)", "1+"}) {
      GbnfState state(*grammar);
      ASSERT_TRUE(state.advance(prefix));
      index.allowedTokens(state, allowed);
      for (int32_t id = 0; id < static_cast<int32_t>(bytes.size()); ++id) {
        EXPECT_EQ(allowed[static_cast<size_t>(id)] != 0, index.accepts(state, id))
            << "after \"" << prefix << "\", token " << id << ", pass " << pass;
      }
      EXPECT_EQ(allowed[eos] != 0, state.complete()) << prefix;
    }
  }
  // A grammar laid out the same way, with other characters: its own masks, not the cached ones.
  std::shared_ptr<const Gbnf> letters =
      compile("root ::= expr\nexpr ::= term (\"+\" term)*\nterm ::= [x]+ | \"(\" expr \")\"");
  ASSERT_NE(letters, nullptr);
  index.allowedTokens(GbnfState(*letters), allowed);
  EXPECT_TRUE(allowed[13] && allowed[6] && !allowed[2] && !allowed[3]);
  GbnfState state(*grammar);
  index.allowedTokens(state, allowed);
  EXPECT_TRUE(allowed[2] && allowed[3] && allowed[6] && allowed[7] && allowed[8]);
  EXPECT_FALSE(allowed[4] || allowed[9] || allowed[11] || allowed[13] || allowed[14]);
  // Through OutputGrammar, as the sampler sees it; a grammar that is done allows only EOS.
  Result<std::shared_ptr<const JsonSchema>> schema = JsonSchema::grammar("root ::= \"1\"");
  ASSERT_TRUE(schema.isOk());
  OutputGrammar output(**schema);
  ASSERT_TRUE(index.advance(output, 2));
  EXPECT_TRUE(output.done());
  index.allowedTokens(output, allowed);
  for (size_t id = 0; id < allowed.size(); ++id) EXPECT_EQ(allowed[id] != 0, id == eos) << id;
}

// A real vocabulary (Llama 2's 32,000 tokens, byte fallback included) under a GBNF grammar of
// JSON: the walk's mask, with its shortcut for bytes that lead back to the start state, is
// exactly the tokens accepts() takes one by one, inside strings (ASCII and not) and between
// values.
TEST(Gbnf, RealVocabularyMaskMatchesTokenByToken) {
  Result<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::fromDirectory(std::string(MANIFOLD_SOURCE_DIR) + "/tests/data/tokenizers/llama2");
  ASSERT_TRUE(tokenizer.isOk()) << tokenizer.status().message();
  std::unique_ptr<TokenBytesIndex> index = TokenBytesIndex::fromTokenizer(
      **tokenizer, (*tokenizer)->vocabSize(), (*tokenizer)->eosIds());
  std::shared_ptr<const Gbnf> grammar = compile(R"(root ::= "{" ws (pair ("," ws pair)*)? "}"
pair ::= string ws ":" ws value ws
value ::= string | [0-9]+ | "[" ws (value ws ("," ws value ws)*)? "]" | root
string ::= "\"" ([^"\\\x00-\x1F] | "\\" ["\\nt])* "\""
ws ::= [ \n]*)");
  ASSERT_NE(grammar, nullptr);
  std::vector<uint8_t> allowed(static_cast<size_t>(index->vocabSize()));
  for (std::string_view prefix : {"", "{", "{\"na", "{\"n\": \"caf\xC3\xA9 ", "{\"n\": \"\xE4\xB8",
                                  "{\"n\": [1, ", "{\"a\": {\"b\": \"x\\"}) {
    GbnfState state(*grammar);
    ASSERT_TRUE(state.advance(prefix)) << prefix;
    TokenBytesIndex::clearMaskCache();
    index->allowedTokens(state, allowed);
    int count = 0;
    for (int32_t id = 0; id < index->vocabSize(); ++id) {
      ASSERT_EQ(allowed[static_cast<size_t>(id)] != 0, index->accepts(state, id))
          << "after \"" << prefix << "\", token " << id;
      count += allowed[static_cast<size_t>(id)];
    }
    EXPECT_GT(count, 0) << prefix;
  }
}

}  // namespace
}  // namespace manifold
