// JsonSchema and JsonGrammar following it, against python-jsonschema: tests/data/json_schema/
// cases.json holds schemas and documents judged valid or not by Draft202012Validator
// (make_cases.py); the grammar must take exactly the valid ones, whole.
#include "engine/structured_output/json_schema.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/structured_output/json_grammar.h"

namespace manifold {
namespace {

using nlohmann::json;

json loadCases() {
  std::ifstream in(std::string(MANIFOLD_SOURCE_DIR) + "/tests/data/json_schema/cases.json");
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

bool acceptsWhole(const JsonSchema& schema, std::string_view text) {
  JsonGrammar grammar(schema);
  return grammar.advance(text) && grammar.complete();
}

// Writes up to `steps` random bytes the grammar of `schema_text` allows (one of `favoured`, when
// allowed, a third of the time each), stopping at times where the output may end: at every step
// some byte or the end must be allowed. Returns what was written.
std::string randomWalk(const std::string& schema_text, std::string_view favoured, std::mt19937& rng,
                       int steps = 60) {
  auto schema = JsonSchema::compile(json::parse(schema_text));
  EXPECT_TRUE(schema.isOk()) << schema_text << ": " << schema.status().toString();
  if (!schema.isOk()) return "";
  JsonGrammar grammar(**schema);
  std::string written;
  for (int step = 0; step < steps && !grammar.done(); ++step) {
    std::vector<uint8_t> allowed;
    for (int byte = 0; byte < 256; ++byte) {
      JsonGrammar next = grammar;
      if (next.advance(static_cast<uint8_t>(byte))) allowed.push_back(static_cast<uint8_t>(byte));
    }
    EXPECT_TRUE(!allowed.empty() || grammar.complete()) << schema_text << " after " << written;
    if (allowed.empty() || (grammar.complete() && rng() % 8 == 0)) break;
    uint8_t byte = allowed[rng() % allowed.size()];
    for (char f : favoured) {
      if (std::find(allowed.begin(), allowed.end(), static_cast<uint8_t>(f)) != allowed.end() &&
          rng() % 3 == 0) {
        byte = static_cast<uint8_t>(f);
      }
    }
    EXPECT_TRUE(grammar.advance(byte));
    written += static_cast<char>(byte);
  }
  return written;
}

TEST(JsonSchema, GrammarTakesExactlyWhatPythonJsonschemaValidates) {
  const json root = loadCases();
  ASSERT_GE(root.at("cases").size(), 10u);
  int valid = 0;
  int invalid = 0;
  for (const json& c : root.at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    Result<std::shared_ptr<const JsonSchema>> schema = JsonSchema::compile(c.at("schema"));
    ASSERT_TRUE(schema.isOk()) << name << ": " << schema.status().toString();
    for (const json& doc : c.at("documents")) {
      const std::string text = doc.at("text").get<std::string>();
      const bool expected = doc.at("valid").get<bool>();
      EXPECT_EQ(acceptsWhole(**schema, text), expected) << name << ": " << text;
      (expected ? valid : invalid) += 1;
    }
  }
  EXPECT_GE(valid, 150);
  EXPECT_GE(invalid, 350);
}

TEST(JsonSchema, ObjectsKeepToTheirPropertiesOnceEachAndCloseOnlyWithTheRequiredOnes) {
  const json schema = {{"type", "object"},
                       {"properties", {{"a", {{"type", "integer"}}}, {"ab", {{"type", "string"}}}}},
                       {"required", {"ab"}}};
  auto compiled = JsonSchema::compile(schema);
  ASSERT_TRUE(compiled.isOk());
  const JsonSchema& s = **compiled;
  EXPECT_TRUE(acceptsWhole(s, R"({"ab":"x"})"));
  EXPECT_TRUE(acceptsWhole(s, R"({"a":1,"ab":"x"})"));
  EXPECT_TRUE(acceptsWhole(s, R"({ "ab" : "x" , "a" : 2 })"));
  EXPECT_FALSE(acceptsWhole(s, R"({"a":1})"));              // "ab" is required
  EXPECT_FALSE(acceptsWhole(s, R"({"ab":"x","ab":"y"})"));  // once each
  EXPECT_FALSE(acceptsWhole(s, R"({"ab":"x","c":1})"));
  EXPECT_FALSE(acceptsWhole(s, R"({"a":1.5,"ab":"x"})"));  // an integer
  EXPECT_FALSE(acceptsWhole(s, R"({"ab":"x",})"));         // every property written: no ','
  JsonGrammar grammar(s);
  ASSERT_TRUE(grammar.advance(R"({"a":1,"ab":"x")"));
  EXPECT_FALSE(JsonGrammar(grammar).advance(','));
}

TEST(JsonSchema, TopLevelScalarsAreCompleteWhereTheyMayEnd) {
  auto number = JsonSchema::compile(json{{"type", "number"}});
  ASSERT_TRUE(number.isOk());
  JsonGrammar grammar(**number);
  ASSERT_TRUE(grammar.advance("12"));
  EXPECT_TRUE(grammar.complete());
  EXPECT_FALSE(grammar.done());
  ASSERT_TRUE(grammar.advance("."));
  EXPECT_FALSE(grammar.complete());
  auto literals = JsonSchema::compile(json{{"enum", {1, 12, "x"}}});
  ASSERT_TRUE(literals.isOk());
  JsonGrammar one(**literals);
  ASSERT_TRUE(one.advance("1"));
  EXPECT_TRUE(one.complete());  // "1", or "12" to come
  ASSERT_TRUE(one.advance("2"));
  EXPECT_TRUE(one.done());
  JsonGrammar text(**literals);
  ASSERT_TRUE(text.advance("\"x\""));
  EXPECT_TRUE(text.done());
}

TEST(JsonSchema, RefusesWhatTheGrammarCouldNotKeepNamingIt) {
  const struct {
    json schema;
    const char* message;
  } cases[] = {
      {{{"type", "string"}, {"pattern", "^(a)\\1$"}},
       "schema: pattern \"^(a)\\1$\" at offset 5: a backreference"},
      {{{"type", "string"}, {"pattern", 3}}, "schema.pattern must be a string"},
      {{{"type", "string"}, {"format", "hostname"}}, "the format \"hostname\""},
      {{{"type", "string"}, {"format", "uuid"}, {"pattern", "a"}}, "pattern beside format"},
      {{{"type", "string"}, {"pattern", "^\\d{2}$"}, {"minLength", 3}},
       "no string of 3 to any number of characters matches the pattern"},
      {{{"type", "string"}, {"pattern", "^\\d+$"}, {"maxLength", 0}},
       "no string of 0 to 0 characters matches the pattern"},
      {{{"type", "string"}, {"pattern", "^a$"}, {"enum", {"b"}}}, "no enum or const value"},
      {{{"type", "integer"}, {"multipleOf", 2}}, "\"multipleOf\""},
      {{{"type", "integer"}, {"minimum", "0"}}, "schema.minimum must be a number"},
      {{{"type", "number"}, {"exclusiveMaximum", json::array()}},
       "schema.exclusiveMaximum must be a number"},
      {{{"type", "integer"}, {"minimum", 1.5}, {"exclusiveMaximum", 2}},
       "schema: no integer lies within the bounds"},
      {{{"type", "number"}, {"minimum", 1}, {"maximum", 1}, {"exclusiveMaximum", true}},
       "schema: no number lies within the bounds"},
      {{{"type", "number"}, {"maximum", 1e-30}}, "more than 18 digits"},
      {{{"type", "integer"}, {"maximum", 3}, {"enum", {4, 5}}}, "no enum or const value"},
      {{{"allOf", json::array({json::object(), json::object()})}}, "allOf of more than one"},
      {{{"allOf", json::array({json::object()})}, {"type", "string"}}, "\"type\" beside allOf"},
      {{{"allOf", json::array()}}, "schema.allOf must be a non-empty list"},
      {{{"not", json::object()}}, "\"not\""},
      {{{"type", "array"},
        {"prefixItems", json::array({json::object()})},
        {"items", json::array({json::object()})}},
       "a list beside prefixItems"},
      {{{"type", "array"}, {"additionalItems", false}}, "additionalItems without a list"},
      {{{"type", "array"}, {"prefixItems", json::object()}}, "schema.prefixItems must be a list"},
      {{{"anyOf", {{{"type", "integer"}}, {{"type", "number"}}}}}, "the same type"},
      {{{"anyOf", {{{"type", "object"}}, {{"type", "object"}}}}}, "telling them apart"},
      {{{"anyOf", {{{"enum", {1}}}, {{"type", "string"}}}}}, "beside other types"},
      {{{"type", "integer"}, {"const", "x"}}, "no enum or const value is allowed"},
      {{{"enum", {1}}, {"items", {{"type", "integer"}}}}, "enum or const beside"},
      {{{"$ref", "#/$defs/missing"}}, "names no definition"},
      {{{"$ref", "http://example.com/s.json"}}, "names no definition"},
      {{{"type", "object"}, {"properties", {{"a", json::object()}}}, {"required", {"b"}}},
       "not among its properties"},
      {{{"type", "strange"}}, "unknown type"},
      {{{"type", "string"}, {"minLength", 5}, {"maxLength", 2}}, "minimum above its maximum"},
      {{{"type", "array"}, {"minItems", -1}}, "non-negative integer"},
      {false, "the schema false"},
      {{{"$defs", {{"a", {{"$ref", "#/$defs/a"}}}}}, {"$ref", "#/$defs/a"}}, "refers to itself"},
  };
  for (const auto& c : cases) {
    Result<std::shared_ptr<const JsonSchema>> compiled = JsonSchema::compile(c.schema);
    ASSERT_FALSE(compiled.isOk()) << c.schema.dump();
    EXPECT_NE(compiled.status().message().find(c.message), std::string::npos)
        << c.schema.dump() << " -> " << compiled.status().message();
  }
  EXPECT_FALSE(JsonSchema::compileText("{not json").isOk());
}

// Objects told apart by a required const property (pydantic's discriminated unions): the
// discriminator comes first and its value picks the branch whose other keys may follow.
TEST(JsonSchema, DiscriminatedUnionsPickTheirBranchByTheFirstKey) {
  const json schema = json::parse(R"({"anyOf": [
      {"type": "object", "properties": {"t": {"const": "a"}, "x": {"type": "integer"}},
       "required": ["t", "x"]},
      {"type": "object", "properties": {"t": {"enum": ["b"]}, "y": {"type": "string"}},
       "required": ["t"]},
      {"type": "string"}]})");
  auto compiled = JsonSchema::compile(schema);
  ASSERT_TRUE(compiled.isOk()) << compiled.status().toString();
  const JsonSchema& s = **compiled;
  EXPECT_TRUE(acceptsWhole(s, R"({"t":"a","x":1})"));
  EXPECT_TRUE(acceptsWhole(s, R"({"t":"b"})"));
  EXPECT_TRUE(acceptsWhole(s, R"({ "t" : "b" , "y" : "z" })"));
  EXPECT_TRUE(acceptsWhole(s, R"("text")"));
  EXPECT_FALSE(acceptsWhole(s, R"({"t":"a"})"));          // branch a requires x
  EXPECT_FALSE(acceptsWhole(s, R"({"t":"a","y":"z"})"));  // y is branch b's
  EXPECT_FALSE(acceptsWhole(s, R"({"t":"c"})"));
  EXPECT_FALSE(acceptsWhole(s, R"({"x":1,"t":"a"})"));  // the discriminator first
  EXPECT_FALSE(acceptsWhole(s, R"({})"));
  // Without a distinct const in every branch there is nothing to tell them apart by.
  for (const char* bad : {
           R"({"anyOf": [{"type": "object", "properties": {"t": {"const": "a"}}, "required": ["t"]},
                         {"type": "object", "properties": {"t": {"const": "a"}}, "required": ["t"]}]})",
           R"({"anyOf": [{"type": "object", "properties": {"t": {"const": "a"}}},
                         {"type": "object", "properties": {"t": {"const": "b"}}, "required": ["t"]}]})",
           R"({"anyOf": [{"type": "object", "properties": {"t": {"const": 1}}, "required": ["t"]},
                         {"type": "object", "properties": {"t": {"const": 2}}, "required": ["t"]}]})"}) {
    EXPECT_FALSE(JsonSchema::compile(json::parse(bad)).isOk()) << bad;
  }
}

// Keywords that narrow an object or an enum are kept, not dropped.
TEST(JsonSchema, ClosedObjectsAndEnumsBesideOtherKeywords) {
  auto compile = [](const char* text) {
    auto compiled = JsonSchema::compile(json::parse(text));
    EXPECT_TRUE(compiled.isOk()) << text << ": " << compiled.status().toString();
    return compiled.isOk() ? std::move(compiled).value() : nullptr;
  };
  // A function without arguments, as OpenAI's strict mode writes it: only {}.
  for (const char* closed : {R"({"type": "object", "additionalProperties": false})",
                             R"({"type": "object", "properties": {}})"}) {
    auto s = compile(closed);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(acceptsWhole(*s, "{}"));
    EXPECT_TRUE(acceptsWhole(*s, "{ }"));
    EXPECT_FALSE(acceptsWhole(*s, R"({"a":1})")) << closed;
  }
  auto open = compile(
      R"({"type": "object", "properties": {}, "additionalProperties": {"type": "integer"}})");
  ASSERT_NE(open, nullptr);
  EXPECT_TRUE(acceptsWhole(*open, R"({"a":1,"b":2})"));
  EXPECT_FALSE(acceptsWhole(*open, R"({"a":"x"})"));
  auto typed = compile(R"({"type": "string", "enum": ["a", 1, "bc"], "maxLength": 1})");
  ASSERT_NE(typed, nullptr);
  EXPECT_TRUE(acceptsWhole(*typed, R"("a")"));
  EXPECT_FALSE(acceptsWhole(*typed, "1"));
  EXPECT_FALSE(acceptsWhole(*typed, R"("bc")"));
  // Optional[Enum]: the enum's values and null.
  auto optional = compile(R"({"$defs": {"e": {"enum": ["x", "y"]}},
                              "anyOf": [{"$ref": "#/$defs/e"}, {"type": "null"}]})");
  ASSERT_NE(optional, nullptr);
  EXPECT_TRUE(acceptsWhole(*optional, R"("y")"));
  EXPECT_TRUE(acceptsWhole(*optional, "null"));
  EXPECT_FALSE(acceptsWhole(*optional, R"("z")"));
}

// guided_choice: exactly one of the texts, as written, nothing before or after it.
TEST(JsonSchema, ChoiceTakesExactlyOneOfItsTexts) {
  auto choice = JsonSchema::choice({"positive", "negative", "pos", "n/a \"x\""});
  ASSERT_TRUE(choice.isOk());
  const JsonSchema& s = **choice;
  for (const char* text : {"positive", "negative", "pos", "n/a \"x\""}) {
    EXPECT_TRUE(acceptsWhole(s, text)) << text;
  }
  for (const char* text : {"", "po", " pos", "\"pos\"", "positive ", "posit", "neutral"}) {
    EXPECT_FALSE(acceptsWhole(s, text)) << text;
  }
  JsonGrammar grammar(s);
  ASSERT_TRUE(grammar.advance("pos"));
  EXPECT_TRUE(grammar.complete());  // "pos", or "positive" to come
  EXPECT_FALSE(grammar.done());
  ASSERT_TRUE(grammar.advance("itive"));
  EXPECT_TRUE(grammar.done());
  EXPECT_FALSE(JsonSchema::choice({}).isOk());
  EXPECT_FALSE(JsonSchema::choice({"a", ""}).isOk());
  EXPECT_FALSE(JsonSchema::choice(std::vector<std::string>(65, "a")).isOk());
}

// guided_regex: the whole output matches; complete where a match ends, done where nothing more
// can follow.
TEST(JsonSchema, RegexTakesWholeMatchesOnly) {
  auto regex = JsonSchema::regex("(yes|no)!?");
  ASSERT_TRUE(regex.isOk());
  const JsonSchema& s = **regex;
  for (const char* text : {"yes", "no!", "yes!"}) EXPECT_TRUE(acceptsWhole(s, text)) << text;
  for (const char* text : {"", "ye", " yes", "yes!!", "\"yes\"", "maybe"}) {
    EXPECT_FALSE(acceptsWhole(s, text)) << text;
  }
  JsonGrammar grammar(s);
  EXPECT_FALSE(grammar.complete());
  ASSERT_TRUE(grammar.advance("no"));
  EXPECT_TRUE(grammar.complete());
  EXPECT_FALSE(grammar.done());
  ASSERT_TRUE(grammar.advance("!"));
  EXPECT_TRUE(grammar.done());
  EXPECT_FALSE(grammar.advance("!"));
  // A pattern that matches the empty text is complete before any byte.
  auto optional = JsonSchema::regex("a*");
  ASSERT_TRUE(optional.isOk());
  EXPECT_TRUE(JsonGrammar(**optional).complete());
  EXPECT_FALSE(JsonSchema::regex("(a").isOk());
}

// A string's pattern reads the characters the JSON text stands for: escapes decoded, surrogate
// pairs joined. Its lengths are folded in, so a string is never left where it cannot close.
TEST(JsonSchema, PatternsReadTheDecodedString) {
  auto schema = JsonSchema::compile(json::parse(
      R"({"type": "object", "properties": {"s": {"type": "string", "pattern": "^(é|\\n|\"|😀)+$"}},
          "required": ["s"]})"));
  ASSERT_TRUE(schema.isOk()) << schema.status().toString();
  for (const char* text : {R"({"s":"é"})", R"({"s":"\u00e9"})", R"({"s":"\u00E9\n\""})",
                           R"({"s":"\ud83d\ude00é"})", "{\"s\":\"\xF0\x9F\x98\x80\"}"}) {
    EXPECT_TRUE(acceptsWhole(**schema, text)) << text;
  }
  for (const char* text : {R"({"s":""})", R"({"s":"e"})", R"({"s":"\u00e8"})", R"({"s":"\t"})",
                           R"({"s":"\ud83d\ude01"})", R"({"s":"\/"})"}) {
    EXPECT_FALSE(acceptsWhole(**schema, text)) << text;
  }
  auto limited = JsonSchema::compile(
      json::parse(R"({"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 3})"));
  ASSERT_TRUE(limited.isOk());
  EXPECT_FALSE(acceptsWhole(**limited, R"("a")"));
  EXPECT_TRUE(acceptsWhole(**limited, R"("ab")"));
  EXPECT_TRUE(acceptsWhole(**limited, R"("abc")"));
  JsonGrammar three(**limited);
  ASSERT_TRUE(three.advance(R"("abc)"));
  JsonGrammar fourth = three;
  EXPECT_FALSE(fourth.advance("d"));  // refused where it is written, not at the quote
  EXPECT_TRUE(three.advance("\""));
  EXPECT_TRUE(three.done());
  // Formats read as patterns.
  auto day = JsonSchema::compile(json::parse(R"({"type": "string", "format": "date"})"));
  ASSERT_TRUE(day.isOk());
  EXPECT_TRUE(acceptsWhole(**day, R"("2024-02-28")"));
  EXPECT_FALSE(acceptsWhole(**day, R"("2024-02-30")"));
  // An enum beside a pattern keeps the values it matches.
  auto kept = JsonSchema::compile(json::parse(R"({"enum": ["ab", "b", 3], "pattern": "^a"})"));
  ASSERT_TRUE(kept.isOk());
  EXPECT_TRUE(acceptsWhole(**kept, R"("ab")"));
  EXPECT_TRUE(acceptsWhole(**kept, "3"));
  EXPECT_FALSE(acceptsWhole(**kept, R"("b")"));
  // A free string's fast path is off under a pattern.
  JsonGrammar inside(**limited);
  ASSERT_TRUE(inside.advance("\"a"));
  EXPECT_FALSE(inside.betweenStringCharacters());
}

// Found by a review: a string with a pattern took an escape's backslash or hex digits that no
// character the pattern allows could complete, and was left with neither a byte nor the end to
// write. Random walks over the allowed bytes, escapes favoured, must always find one or the other.
TEST(JsonSchema, PatternStringsNeverReachADeadEnd) {
  const char* schemas[] = {
      R"({"type": "string", "pattern": "^a$"})",
      R"({"type": "string", "pattern": "^\\d+$", "maxLength": 4})",
      R"({"type": "string", "format": "date"})",
      R"({"type": "string", "pattern": "^(é|😀|x)+$", "minLength": 2, "maxLength": 3})",
      R"({"type": "string", "pattern": "\u00ff\u0100$"})",
      R"({"type": "string", "pattern": "^[^a-z]{0,3}$", "minLength": 1})",
      R"({"type": "string", "format": "email", "maxLength": 254})",
  };
  // The reviewer's prefixes: each must be refused where it goes wrong.
  auto pattern_a = JsonSchema::compile(json::parse(schemas[0]));
  ASSERT_TRUE(pattern_a.isOk());
  EXPECT_FALSE(JsonGrammar(**pattern_a).advance(R"("a\)"));
  EXPECT_FALSE(JsonGrammar(**pattern_a).advance(R"("\u000)"));
  EXPECT_FALSE(JsonGrammar(**pattern_a).advance(R"("\ud83d)"));
  EXPECT_TRUE(acceptsWhole(**pattern_a, R"("\u0061")"));
  std::mt19937 rng(17);
  for (const char* text : schemas) {
    for (int walk = 0; walk < 300; ++walk) randomWalk(text, "\\ud0", rng);
  }
}

// Numbers with minimum, maximum and their exclusive forms: random walks over the allowed bytes
// always find a byte or the end, and every whole document they write keeps the bounds.
TEST(JsonSchema, BoundedNumbersKeepTheirBoundsAndNeverReachADeadEnd) {
  const json schema = json::parse(R"({
      "type": "object",
      "properties": {
        "n": {"type": "integer", "minimum": -3, "maximum": 12},
        "p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "t": {"type": ["number", "null"], "minimum": -273.15, "exclusiveMaximum": 1e3},
        "k": {"type": "array", "items": {"type": "integer", "exclusiveMinimum": 99}},
        "d": {"type": "integer", "minimum": 0, "maximum": 100, "exclusiveMaximum": true}
      },
      "required": ["n", "p", "t", "k", "d"],
      "additionalProperties": false})");
  std::mt19937 rng(5);
  int checked = 0;
  for (int walk = 0; walk < 400; ++walk) {
    const std::string written = randomWalk(schema.dump(), "-.0123456789e", rng, 400);
    const json doc = json::parse(written, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) continue;  // the walk stopped before the end
    ASSERT_TRUE(doc.is_object()) << written;
    ++checked;
    EXPECT_TRUE(doc["n"].is_number_integer() && doc["n"] >= -3 && doc["n"] <= 12) << written;
    EXPECT_TRUE(doc["p"].get<double>() > 0 && doc["p"].get<double>() <= 1) << written;
    EXPECT_TRUE(doc["t"].is_null() ||
                (doc["t"].get<double>() >= -273.15 && doc["t"].get<double>() < 1e3))
        << written;
    for (const json& k : doc["k"]) {  // integers have no length limit: past int64 a double
      EXPECT_TRUE(k.get<double>() > 99 && (k.is_number_integer() || k.get<double>() > 9.2e18))
          << written;
    }
    EXPECT_TRUE(doc["d"].is_number_integer() && doc["d"] >= 0 && doc["d"] < 100) << written;
  }
  EXPECT_GT(checked, 100);
  // At the top level a bounded number is complete once it is within bounds, and done when no
  // digit could follow.
  auto top =
      JsonSchema::compile(json::parse(R"({"type": "integer", "minimum": 10, "maximum": 19})"));
  ASSERT_TRUE(top.isOk());
  JsonGrammar grammar(**top);
  ASSERT_TRUE(grammar.advance("1"));
  EXPECT_FALSE(grammar.complete());
  EXPECT_FALSE(JsonGrammar(grammar).advance("0."));
  ASSERT_TRUE(grammar.advance("9"));
  EXPECT_TRUE(grammar.complete());
  EXPECT_TRUE(grammar.done());
  EXPECT_FALSE(acceptsWhole(**top, "20"));
  EXPECT_FALSE(acceptsWhole(**top, "-15"));
  // enum values beside bounds: only those within them.
  auto in_range = JsonSchema::compile(json::parse(R"({"enum": [1, 5, 9.5, "x"], "maximum": 6})"));
  ASSERT_TRUE(in_range.isOk());
  EXPECT_TRUE(acceptsWhole(**in_range, "5"));
  EXPECT_TRUE(acceptsWhole(**in_range, "\"x\""));
  EXPECT_FALSE(acceptsWhole(**in_range, "9.5"));
}

// Found by a review: each of these used to let an output break its schema, or refused a
// schema pydantic writes.
TEST(JsonSchema, ReviewedCornersKeepTheirConstraints) {
  // Choices that start with whitespace.
  auto spaced = JsonSchema::choice({" yes", "\nno", "maybe"});
  ASSERT_TRUE(spaced.isOk());
  EXPECT_TRUE(acceptsWhole(**spaced, " yes"));
  EXPECT_TRUE(acceptsWhole(**spaced, "\nno"));
  EXPECT_FALSE(acceptsWhole(**spaced, " maybe"));
  // A keyword beside anyOf is refused, not dropped.
  EXPECT_FALSE(
      JsonSchema::compile(
          json::parse(R"({"anyOf": [{"type": "array"}, {"type": "null"}], "maxItems": 1})"))
          .isOk());
  // An enum of objects under additionalProperties false keeps only {}.
  auto closed = JsonSchema::compile(
      json::parse(R"({"enum": [{"a": 1}, {}], "additionalProperties": false})"));
  ASSERT_TRUE(closed.isOk());
  EXPECT_TRUE(acceptsWhole(**closed, "{}"));
  EXPECT_FALSE(acceptsWhole(**closed, R"({"a":1})"));
  EXPECT_FALSE(
      JsonSchema::compile(json::parse(R"({"enum": [{"a": 1}], "additionalProperties": false})"))
          .isOk());
  // pydantic's Field(discriminator=...): a oneOf with OpenAPI's discriminator hint, whose
  // branches' consts may themselves be written as a one-branch anyOf.
  auto pets = JsonSchema::compile(json::parse(R"({
      "oneOf": [{"type": "object", "properties": {"pet": {"anyOf": [{"const": "cat"}]},
                                                  "meows": {"type": "boolean"}},
                 "required": ["pet"]},
                {"type": "object", "properties": {"pet": {"const": "dog"},
                                                  "barks": {"type": "boolean"}},
                 "required": ["pet"]}],
      "discriminator": {"propertyName": "pet"}})"));
  ASSERT_TRUE(pets.isOk()) << pets.status().toString();
  EXPECT_TRUE(acceptsWhole(**pets, R"({"pet":"cat","meows":true})"));
  EXPECT_FALSE(acceptsWhole(**pets, R"({"pet":"cat","barks":true})"));
  // Large integral floats in an integer enum.
  EXPECT_TRUE(JsonSchema::compile(json::parse(R"({"type": "integer", "enum": [1e20]})")).isOk());
  // Draft 4's tuples: a list of items, and additionalItems for the rest (false: none).
  auto pair = JsonSchema::compile(json::parse(
      R"({"type": "array", "items": [{"type": "string"}, {"type": "integer"}],
          "additionalItems": false})"));
  ASSERT_TRUE(pair.isOk()) << pair.status().toString();
  EXPECT_TRUE(acceptsWhole(**pair, R"(["a",1])"));
  EXPECT_TRUE(acceptsWhole(**pair, R"(["a"])"));
  EXPECT_FALSE(acceptsWhole(**pair, R"(["a",1,2])"));
  EXPECT_FALSE(acceptsWhole(**pair, R"([1,"a"])"));
  auto rest = JsonSchema::compile(json::parse(
      R"({"type": "array", "items": [{"type": "string"}], "additionalItems": {"type": "null"}})"));
  ASSERT_TRUE(rest.isOk()) << rest.status().toString();
  EXPECT_TRUE(acceptsWhole(**rest, R"(["a",null,null])"));
  EXPECT_FALSE(acceptsWhole(**rest, R"(["a","b"])"));
  // A recursive tagged union: a branch's property is the union itself.
  auto list = JsonSchema::compile(json::parse(R"({
      "$defs": {"item": {"anyOf": [
          {"type": "object", "properties": {"k": {"const": "end"}}, "required": ["k"]},
          {"type": "object", "properties": {"k": {"const": "cons"}, "next": {"$ref": "#/$defs/item"}},
           "required": ["k", "next"]}]}},
      "$ref": "#/$defs/item"})"));
  ASSERT_TRUE(list.isOk()) << list.status().toString();
  EXPECT_TRUE(acceptsWhole(**list, R"({"k":"cons","next":{"k":"cons","next":{"k":"end"}}})"));
  EXPECT_FALSE(acceptsWhole(**list, R"({"k":"cons","next":{"k":"cons"}})"));
}

TEST(JsonSchema, FollowsRecursiveReferencesAndOptionalUnions) {
  const json schema = json::parse(R"({
    "$defs": {"list": {"anyOf": [{"type": "null"},
                                 {"type": "object",
                                  "properties": {"head": {"type": "integer"},
                                                 "tail": {"$ref": "#/$defs/list"}},
                                  "required": ["head", "tail"]}]}},
    "$ref": "#/$defs/list"})");
  auto compiled = JsonSchema::compile(schema);
  ASSERT_TRUE(compiled.isOk()) << compiled.status().toString();
  EXPECT_TRUE(acceptsWhole(**compiled, "null"));
  EXPECT_TRUE(acceptsWhole(**compiled, R"({"head":1,"tail":{"tail":null,"head":2}})"));
  EXPECT_FALSE(acceptsWhole(**compiled, R"({"head":1,"tail":{"head":2}})"));
  EXPECT_FALSE(acceptsWhole(**compiled, R"({"head":1,"tail":3})"));
  // "#" is the whole schema.
  auto self = JsonSchema::compile(json::parse(
      R"({"type": "array", "items": {"anyOf": [{"type": "integer"}, {"$ref": "#"}]}})"));
  ASSERT_TRUE(self.isOk()) << self.status().toString();
  EXPECT_TRUE(acceptsWhole(**self, "[1,[2,[]],[[3]]]"));
  EXPECT_FALSE(acceptsWhole(**self, "[1,[\"x\"]]"));
}

// What a request could use to overflow the compiler's stack is refused: a chain of thousands of
// $refs (each hop one level deeper), and schema text nested thousands of levels deep. Depths
// within the limits compile.
TEST(JsonSchema, DeepSchemasAndRefChainsAreRefusedNotRecursedInto) {
  auto refChain = [](int n) {
    json defs = json::object();
    for (int i = 0; i < n; ++i) {
      defs["a" + std::to_string(i)] = {{"$ref", "#/$defs/a" + std::to_string(i + 1)}};
    }
    defs["a" + std::to_string(n)] = {{"type", "integer"}};
    return json{{"$defs", defs}, {"$ref", "#/$defs/a0"}};
  };
  auto chain = JsonSchema::compile(refChain(10000));
  ASSERT_FALSE(chain.isOk());
  EXPECT_EQ(chain.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(chain.status().message().find("nested deeper than 64 levels"), std::string::npos)
      << chain.status().message();
  auto short_chain = JsonSchema::compile(refChain(40));
  ASSERT_TRUE(short_chain.isOk()) << short_chain.status().toString();
  EXPECT_TRUE(acceptsWhole(**short_chain, "12"));

  auto nestedItems = [](int n) {
    std::string text;
    for (int i = 0; i < n; ++i) text += R"({"type": "array", "items": )";
    text += R"({"type": "integer"})";
    return text + std::string(static_cast<size_t>(n), '}');
  };
  auto deep_text = JsonSchema::compileText(nestedItems(20000));
  ASSERT_FALSE(deep_text.isOk());
  EXPECT_EQ(deep_text.status().message(),
            "the schema nests arrays and objects deeper than 64 levels");
  auto deep = JsonSchema::compile(json::parse(nestedItems(100)));  // text within no check
  ASSERT_FALSE(deep.isOk());
  EXPECT_NE(deep.status().message().find("nested deeper than 64 levels"), std::string::npos)
      << deep.status().message();
  auto ok = JsonSchema::compileText(nestedItems(30));
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
  EXPECT_TRUE(acceptsWhole(**ok, std::string(30, '[') + "1" + std::string(30, ']')));
  // Deep enum values (copied recursively by the json library) are refused in the text.
  auto deep_enum = JsonSchema::compileText(R"({"enum": )" + std::string(20000, '[') +
                                           std::string(20000, ']') + "}");
  EXPECT_FALSE(deep_enum.isOk());
}

}  // namespace
}  // namespace manifold
