// TokenBytesIndex: the prefix-sharing walk gives the same mask as testing every token on its own,
// on hand-made vocabularies and on the bundled real tokenizers' vocabularies.
#include "engine/structured_output/token_bytes_index.h"

#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/tokenizer/tokenizer.h"
#include "tests/engine/tokenizer/tokenizer_fixtures.h"

namespace manifold {
namespace {

std::vector<uint8_t> bruteForceMask(const TokenBytesIndex& index, const JsonGrammar& state) {
  std::vector<uint8_t> mask(static_cast<size_t>(index.vocabSize()));
  for (int32_t id = 0; id < index.vocabSize(); ++id) mask[id] = index.accepts(state, id);
  return mask;
}

std::vector<uint8_t> walkMask(const TokenBytesIndex& index, const JsonGrammar& state) {
  std::vector<uint8_t> mask(static_cast<size_t>(index.vocabSize()), 7);
  index.allowedTokens(state, mask);
  return mask;
}

JsonGrammar after(std::string_view text) {
  JsonGrammar grammar;
  EXPECT_TRUE(grammar.advance(text)) << text;
  return grammar;
}

TEST(TokenBytesIndex, MasksAHandMadeVocabulary) {
  // Shared prefixes in both directions, a refused prefix with longer tokens after it, a token
  // without bytes, an EOS id.
  std::vector<std::optional<std::string>> bytes = {
      "{",  "{\"", "{\"a", "{\"a\":", "{}",         "{}}", "}", "\"", "\"a", "\"a\"", "1",
      "12", "1x",  " ",    "  {",     std::nullopt, "",    "[", "x",  "xyz", "</s>"};
  const int32_t eos = static_cast<int32_t>(bytes.size()) - 1;
  TokenBytesIndex index(bytes, {eos});
  EXPECT_TRUE(index.isEos(eos));

  auto allowed = [&](const JsonGrammar& state) {
    std::vector<std::string> out;
    const std::vector<uint8_t> mask = walkMask(index, state);
    for (size_t id = 0; id < mask.size(); ++id) {
      if (mask[id] != 0) out.push_back(bytes[id] ? *bytes[id] : "<none>");
    }
    return out;
  };
  EXPECT_EQ(allowed(JsonGrammar()),
            (std::vector<std::string>{"{", "{\"", "{\"a", "{\"a\":", "{}", " "}));
  EXPECT_EQ(allowed(after("{")), (std::vector<std::string>{"}", "\"", "\"a", "\"a\"", " "}));
  EXPECT_EQ(allowed(after("{\"a\":")),
            (std::vector<std::string>{"{", "{\"", "{\"a", "{\"a\":", "{}", "{}}", "\"", "\"a",
                                      "\"a\"", "1", "12", " ", "  {", "["}));
  EXPECT_EQ(allowed(after("{\"a\":1")), (std::vector<std::string>{"}", "1", "12", " "}));
  // Complete: only the end.
  EXPECT_EQ(allowed(after("{}")), (std::vector<std::string>{"</s>"}));
  EXPECT_TRUE(index.accepts(after("{}"), eos));
  EXPECT_FALSE(index.accepts(JsonGrammar(), eos));
}

class RealVocabulary : public ::testing::TestWithParam<std::string> {};

TEST_P(RealVocabulary, WalkEqualsTestingEveryToken) {
  const Tokenizer& tokenizer = testing::sharedTokenizer(testing::tokenizerDir(GetParam()));
  // Five ids past the tokenizer, as a model's vocabulary may have.
  const std::unique_ptr<TokenBytesIndex> built =
      TokenBytesIndex::fromTokenizer(tokenizer, tokenizer.vocabSize() + 5, tokenizer.eosIds());
  const TokenBytesIndex& index = *built;
  const char* prefixes[] = {"",
                            " ",
                            "{",
                            "{\n  ",
                            "{\"",
                            "{\"na",
                            "{\"name\"",
                            "{\"name\": ",
                            "{\"name\": \"caf\xC3",
                            "{\"name\": \"x\\",
                            "{\"name\": \"x\\u00",
                            "{\"n\": -",
                            "{\"n\": 0",
                            "{\"n\": 12.5",
                            "{\"n\": 1e",
                            "{\"n\": [",
                            "{\"n\": [1, tr",
                            "{\"n\": [{}",
                            "{\"n\": 1}"};
  int allowed_somewhere = 0;
  for (const char* prefix : prefixes) {
    const JsonGrammar state = after(prefix);
    const std::vector<uint8_t> walked = walkMask(index, state);
    ASSERT_EQ(walked, bruteForceMask(index, state)) << "after \"" << prefix << "\"";
    for (uint8_t a : walked) allowed_somewhere += a;
  }
  EXPECT_GT(allowed_somewhere, 1000);

  // States of a schema: property keys and enum values (alternatives), a string with a length
  // limit (no fast path), an integer, a number at the top level (EOS allowed mid-value).
  auto schema = JsonSchema::compile(nlohmann::json::parse(R"({
      "type": "object", "required": ["name"],
      "properties": {"name": {"type": "string", "maxLength": 4},
                     "kind": {"enum": ["cat", "caterpillar", 12, null]},
                     "age": {"type": "integer"}, "tags": {"type": "array", "items": {}}}})"));
  ASSERT_TRUE(schema.isOk());
  const char* schema_prefixes[] = {"",
                                   "{",
                                   "{\"",
                                   "{\"na",
                                   "{\"name\":\"ab",
                                   "{\"kind\":",
                                   "{\"kind\":\"cat",
                                   "{\"age\":1",
                                   "{\"tags\":[",
                                   "{\"name\":\"x\","};
  for (const char* prefix : schema_prefixes) {
    JsonGrammar state(**schema);
    ASSERT_TRUE(state.advance(prefix)) << prefix;
    ASSERT_EQ(walkMask(index, state), bruteForceMask(index, state)) << "schema, after " << prefix;
  }
  auto choice = JsonSchema::choice({"Paris", "Parma", "London", "Lo"});
  ASSERT_TRUE(choice.isOk());
  for (const char* prefix : {"", "Par", "Lo"}) {
    JsonGrammar state(**choice);
    ASSERT_TRUE(state.advance(prefix)) << prefix;
    ASSERT_EQ(walkMask(index, state), bruteForceMask(index, state)) << "choice, after " << prefix;
  }
  // A pattern inside a string (no fast path, escapes decoded) and a raw regex (EOS where a
  // match ends).
  auto patterned = JsonSchema::compile(nlohmann::json::parse(
      R"({"type": "object", "properties": {"id": {"type": "string", "pattern": "^[A-Z]{2}-\\d+$"}}})"));
  ASSERT_TRUE(patterned.isOk());
  for (const char* prefix : {"{\"id\": \"", "{\"id\": \"AB", "{\"id\": \"AB-1"}) {
    JsonGrammar state(**patterned);
    ASSERT_TRUE(state.advance(prefix)) << prefix;
    ASSERT_EQ(walkMask(index, state), bruteForceMask(index, state)) << "pattern, after " << prefix;
  }
  auto regex = JsonSchema::regex("(?:[a-z]+ ){0,3}(cat|dog)\\.?");
  ASSERT_TRUE(regex.isOk());
  for (const char* prefix : {"", "the ", "a big ", "a big fat ", "dog"}) {
    JsonGrammar state(**regex);
    ASSERT_TRUE(state.advance(prefix)) << prefix;
    ASSERT_EQ(walkMask(index, state), bruteForceMask(index, state)) << "regex, after " << prefix;
  }
  auto number = JsonSchema::compile(nlohmann::json{{"type", "number"}});
  ASSERT_TRUE(number.isOk());
  JsonGrammar twelve(**number);
  ASSERT_TRUE(twelve.advance("12"));
  const std::vector<uint8_t> mask = walkMask(index, twelve);
  ASSERT_EQ(mask, bruteForceMask(index, twelve));
  for (int32_t eos : tokenizer.eosIds()) EXPECT_EQ(mask[eos], 1) << "EOS after a whole number";
}

INSTANTIATE_TEST_SUITE_P(Bundled, RealVocabulary,
                         ::testing::Values("gpt2", "llama2", "llama3-8b-instruct",
                                           "qwen2.5-instruct", "mistral-7b-v0.1"),
                         testing::tokenizerParamName);

}  // namespace
}  // namespace manifold
