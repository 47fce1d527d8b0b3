// Time to compute one grammar mask (TokenBytesIndex::allowedTokens) over a real vocabulary, the
// cost structured output adds to a sampled row (a greedy row pays it only when its argmax is
// refused), against testing every token on its own; the same for a GBNF grammar.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/structured_output/gbnf.h"
#include "engine/structured_output/token_bytes_index.h"
#include "engine/tokenizer/tokenizer.h"

namespace manifold {
namespace {

const char* const kTokenizers[] = {"llama2", "llama3-8b-instruct"};
// Where the mask is asked: before a value, inside a string, after a number.
const char* const kStates[] = {"{\"name\": ", "{\"name\": \"Pa", "{\"n\": 12"};

const TokenBytesIndex& index(int which) {
  static std::unique_ptr<TokenBytesIndex> indexes[2];
  if (!indexes[which]) {
    auto tokenizer = Tokenizer::fromDirectory(std::string(MANIFOLD_SOURCE_DIR) +
                                              "/tests/data/tokenizers/" + kTokenizers[which]);
    if (!tokenizer.isOk()) std::abort();
    indexes[which] = TokenBytesIndex::fromTokenizer(**tokenizer, (*tokenizer)->vocabSize(),
                                                    (*tokenizer)->eosIds());
  }
  return *indexes[which];
}

JsonGrammar stateAfter(const char* text) {
  JsonGrammar grammar;
  if (!grammar.advance(text)) std::abort();
  return grammar;
}

void BM_GrammarMask(benchmark::State& state) {
  const TokenBytesIndex& idx = index(static_cast<int>(state.range(0)));
  const JsonGrammar grammar = stateAfter(kStates[state.range(1)]);
  std::vector<uint8_t> allowed(static_cast<size_t>(idx.vocabSize()));
  for (auto _ : state) {
    idx.allowedTokens(grammar, allowed);
    benchmark::DoNotOptimize(allowed.data());
  }
  int count = 0;
  for (uint8_t a : allowed) count += a;
  state.SetLabel(std::string(kTokenizers[state.range(0)]) + " after '" + kStates[state.range(1)] +
                 "'");
  state.counters["allowed"] = count;
}

void BM_GrammarMaskTokenByToken(benchmark::State& state) {
  const TokenBytesIndex& idx = index(static_cast<int>(state.range(0)));
  const JsonGrammar grammar = stateAfter(kStates[state.range(1)]);
  std::vector<uint8_t> allowed(static_cast<size_t>(idx.vocabSize()));
  for (auto _ : state) {
    for (int32_t id = 0; id < idx.vocabSize(); ++id) allowed[id] = idx.accepts(grammar, id);
    benchmark::DoNotOptimize(allowed.data());
  }
  state.SetLabel(std::string(kTokenizers[state.range(0)]) + " after '" + kStates[state.range(1)] +
                 "'");
}

// The same states under a GBNF grammar of JSON objects (GbnfState): the walk without the string
// shortcut, with a stack machine per byte; and a state whose mask is cached.
constexpr const char* kJsonGbnf = R"(root ::= object
value ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ws (string ws ":" ws value ws ("," ws string ws ":" ws value ws)*)? "}"
array ::= "[" ws (value ws ("," ws value ws)*)? "]"
string ::= "\"" ([^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}))* "\""
number ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]+)? ([eE] [-+]? [0-9]+)?
ws ::= [ \t\n]{0,20})";

void BM_GbnfMask(benchmark::State& state) {
  const TokenBytesIndex& idx = index(static_cast<int>(state.range(0)));
  static const std::shared_ptr<const Gbnf> json = [] {
    auto compiled = Gbnf::compile(kJsonGbnf);
    if (!compiled.isOk()) std::abort();
    return *compiled;
  }();
  GbnfState grammar(*json);
  if (!grammar.advance(kStates[state.range(1)])) std::abort();
  std::vector<uint8_t> allowed(static_cast<size_t>(idx.vocabSize()));
  const bool cached = state.range(2) != 0;
  for (auto _ : state) {
    if (!cached) TokenBytesIndex::clearMaskCache();
    idx.allowedTokens(grammar, allowed);
    benchmark::DoNotOptimize(allowed.data());
  }
  int count = 0;
  for (uint8_t a : allowed) count += a;
  state.SetLabel(std::string(kTokenizers[state.range(0)]) + " after '" + kStates[state.range(1)] +
                 (cached ? "', state seen before" : "', walked"));
  state.counters["allowed"] = count;
}

BENCHMARK(BM_GrammarMask)->ArgsProduct({{0, 1}, {0, 1, 2}})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GbnfMask)->ArgsProduct({{0, 1}, {0, 1, 2}, {0, 1}})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GrammarMaskTokenByToken)
    ->ArgsProduct({{0, 1}, {0, 1, 2}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace manifold

BENCHMARK_MAIN();
