// JsonGrammar against a parser nobody here wrote: nlohmann::json decides what is a JSON object
// and, from where its parse error lies, whether a text can still be continued into one.
#include "engine/structured_output/json_grammar.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace manifold {
namespace {

using nlohmann::json;

// How many bytes of `text` the grammar takes before refusing one (text.size() if none).
size_t acceptedPrefix(std::string_view text) {
  JsonGrammar grammar;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!grammar.advance(static_cast<uint8_t>(text[i]))) return i;
  }
  return text.size();
}

bool acceptsWhole(std::string_view text) {
  JsonGrammar grammar;
  return grammar.advance(text) && grammar.complete();
}

// The oracle's view of a prefix: kPrefix if some continuation makes it a JSON object, kComplete
// if it is one, kDead otherwise; kUnknown when nlohmann stops on a number it cannot represent.
enum class Oracle { kPrefix, kComplete, kDead, kUnknown };

Oracle oracle(const std::string& text) {
  const size_t start = text.find_first_not_of(" \t\n\r");
  // The grammar's own limit on leading whitespace (indentation in the documents stays far below
  // its limit on whitespace runs).
  if (std::min(start, text.size()) > JsonGrammar::kMaxLeadingWhitespace) return Oracle::kDead;
  if (start != std::string::npos && text[start] != '{') return Oracle::kDead;
  try {
    const json value = json::parse(text);
    // A parsed object is complete only if nothing, not even whitespace, follows it.
    return value.is_object() && text.back() == '}' ? Oracle::kComplete : Oracle::kDead;
  } catch (const json::parse_error& e) {
    return e.byte > text.size() ? Oracle::kPrefix : Oracle::kDead;
  } catch (const json::out_of_range&) {
    return Oracle::kUnknown;
  }
}

TEST(JsonGrammar, AcceptsObjects) {
  const char* documents[] = {
      "{}",
      "\n{ }",
      R"({"a":1})",
      R"({"a": [1, -0, 0.5, -12.25e-3, 1E+2, 3e7, 0], "b": {"c": [[], {}, [{}]]}})",
      R"({"t": true, "f": false, "n": null, "s": ""})",
      R"({"escapes": "\" \\ \/ \b \f \n \r \t \u0000 \u00e9 \uD83D\uDE00"})",
      "{\"raw\": \"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \x7F\"}",
      "{\"k\"\t:\r\n[ 1 ,2 ] }",
  };
  for (const char* text : documents) {
    EXPECT_TRUE(acceptsWhole(text)) << text;
    EXPECT_TRUE(json::accept(text)) << "the oracle disagrees: " << text;
  }
}

TEST(JsonGrammar, RefusesTheFirstByteThatNoObjectContinuesWith) {
  struct Case {
    std::string prefix;  // taken
    char refused;
  };
  const Case cases[] = {
      {"", '['},  // the top level is an object
      {"", '"'},
      {"{", '\''},
      {"{\"a\"", '}'},
      {"{\"a\":", '}'},
      {"{\"a\":1,", '}'},  // trailing comma
      {"{\"a\":[1,", ']'},
      {"{\"a\":[1", '}'},  // mismatched close
      {"{\"a\":{}", ']'},
      {"{\"a\":0", '1'},  // leading zero
      {"{\"a\":-", 'a'},
      {"{\"a\":1.", 'e'},
      {"{\"a\":1e", '.'},
      {"{\"a\":1.5", '.'},
      {"{\"a\":tr", 'e'},
      {"{\"a\":nul", 'm'},
      {"{\"a\":\"", '\n'},  // raw control character
      {"{\"a\":\"\\", 'x'},
      {"{\"a\":\"\\u12", 'g'},
      {"{\"a\":\"\\udc0", '0'},         // lone low surrogate
      {"{\"a\":\"\\ud800", '"'},        // high surrogate without its low half
      {"{\"a\":\"\\ud800\\u004", '1'},  // ... followed by a non-surrogate
      {"{\"a\":\"", '\xC0'},            // overlong lead byte
      {"{\"a\":\"\xE0", '\x80'},        // overlong 3-byte form
      {"{\"a\":\"\xED", '\xA0'},        // UTF-8 encoded surrogate
      {"{\"a\":\"\xF4", '\x90'},        // past U+10FFFF
      {"{\"a\":\"", '\xF5'},
      {"{\"a\":\"\xC3", 'a'},  // missing continuation byte
      {"{}", ' '},             // nothing after the object
      {"{}", '{'},
  };
  for (const Case& c : cases) {
    const std::string text = c.prefix + c.refused;
    EXPECT_EQ(acceptedPrefix(text), c.prefix.size()) << text;
    // The oracle: the prefix can still become an object, with the refused byte it cannot.
    EXPECT_NE(oracle(c.prefix), Oracle::kDead) << c.prefix;
    EXPECT_EQ(oracle(text), Oracle::kDead) << text;
  }
}

TEST(JsonGrammar, CompleteOnlyWhenTheObjectCloses) {
  JsonGrammar grammar;
  ASSERT_TRUE(grammar.advance(R"({"a": {"b": [1)"));
  EXPECT_FALSE(grammar.complete());
  ASSERT_TRUE(grammar.advance("]}"));
  EXPECT_FALSE(grammar.complete());
  ASSERT_TRUE(grammar.advance("}"));
  EXPECT_TRUE(grammar.complete());
  EXPECT_FALSE(grammar.advance('}'));
}

TEST(JsonGrammar, LimitsNestingAndWhitespaceRuns) {
  std::string deep = "{\"a\":";
  for (int d = 1; d < JsonGrammar::kMaxDepth; ++d) deep += '[';
  EXPECT_EQ(acceptedPrefix(deep + "["), deep.size());
  EXPECT_EQ(acceptedPrefix(deep + "1"), deep.size() + 1);

  EXPECT_EQ(acceptedPrefix(std::string(JsonGrammar::kMaxLeadingWhitespace + 1, '\n') + "{"),
            static_cast<size_t>(JsonGrammar::kMaxLeadingWhitespace));
  const std::string spaces(JsonGrammar::kMaxWhitespaceRun, ' ');
  EXPECT_EQ(acceptedPrefix("{" + spaces + " "), 1 + spaces.size());
  // A run ends at any other byte; whitespace inside strings is not counted.
  EXPECT_TRUE(acceptsWhole("{" + spaces + "\"" + spaces + spaces + "\"" + spaces + ":" + spaces +
                           "1" + spaces + "}"));
}

// Random JSON values, for the property tests below: nesting, every scalar type, strings with
// characters that need escapes and characters of every UTF-8 length.
class JsonGenerator {
 public:
  explicit JsonGenerator(uint32_t seed) : rng_(seed) {}

  json object(int depth) {
    json value = json::object();
    const int members = pick(0, 4);
    for (int i = 0; i < members; ++i) value[string()] = any(depth + 1);
    return value;
  }

  std::string text(const json& value) {
    return value.dump(pick(-1, 2), ' ', /*ensure_ascii=*/pick(0, 1) == 1);
  }

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  std::mt19937& rng() { return rng_; }

 private:
  json any(int depth) {
    switch (pick(0, depth >= 6 ? 5 : 7)) {
      case 0:
        return string();
      case 1:
        return std::uniform_int_distribution<int64_t>(-1'000'000'000'000, 1'000'000'000'000)(rng_);
      case 2:
        return std::uniform_real_distribution<double>(-1e6, 1e6)(rng_) *
               std::pow(10.0, pick(-20, 20));
      case 3:
        return pick(0, 1) == 1;
      case 4:
        return nullptr;
      case 5:
        return pick(0, 3);
      case 6: {
        json array = json::array();
        const int items = pick(0, 4);
        for (int i = 0; i < items; ++i) array.push_back(any(depth + 1));
        return array;
      }
      default:
        return object(depth);
    }
  }

  std::string string() {
    std::string out;
    const int length = pick(0, 8);
    for (int i = 0; i < length; ++i) {
      uint32_t cp = 0;
      switch (pick(0, 5)) {
        case 0:
          cp = static_cast<uint32_t>(pick(0, 0x1F));  // needs an escape
          break;
        case 1:
          cp = pick(0, 1) == 1 ? '"' : '\\';
          break;
        case 2:
          cp = static_cast<uint32_t>(pick(0x80, 0x7FF));
          break;
        case 3:
          do {
            cp = static_cast<uint32_t>(pick(0x800, 0xFFFF));
          } while (cp >= 0xD800 && cp <= 0xDFFF);
          break;
        case 4:
          cp = static_cast<uint32_t>(pick(0x10000, 0x10FFFF));
          break;
        default:
          cp = static_cast<uint32_t>(pick(0x20, 0x7E));
      }
      appendUtf8(cp, out);
    }
    return out;
  }

  static void appendUtf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::mt19937 rng_;
};

TEST(JsonGrammar, AcceptsEveryGeneratedObject) {
  JsonGenerator gen(7);
  for (int i = 0; i < 3000; ++i) {
    const std::string text = gen.text(gen.object(0));
    ASSERT_TRUE(acceptsWhole(text)) << text;
  }
}

// Mutated documents: the grammar calls complete exactly what nlohmann parses as an object, and
// nlohmann finds no error inside any prefix the grammar takes. (nlohmann judges syntax a whole
// token at a time, so a prefix that ends inside a misplaced token looks alive to it: the check
// that the grammar refuses no byte too early is the generated documents above and the table.)
TEST(JsonGrammar, AgreesWithNlohmannOnMutatedDocuments) {
  JsonGenerator gen(11);
  const std::string interesting = "{}[]\",:\\ \n0123456789-.eE+tfnrlusaxu\x7F\x01\xC3\xA9\xED\xF0";
  int checked = 0;
  int complete = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string text = gen.text(gen.object(0));
    const int mutations = gen.pick(1, 2);
    for (int m = 0; m < mutations && !text.empty(); ++m) {
      const size_t at = static_cast<size_t>(gen.pick(0, static_cast<int>(text.size()) - 1));
      const char byte =
          interesting[static_cast<size_t>(gen.pick(0, static_cast<int>(interesting.size()) - 1))];
      switch (gen.pick(0, 2)) {
        case 0:
          text[at] = byte;
          break;
        case 1:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), byte);
          break;
        default:
          text.erase(at, 1);
      }
    }
    const Oracle whole = oracle(text);
    if (whole == Oracle::kUnknown) continue;
    ASSERT_EQ(acceptsWhole(text), whole == Oracle::kComplete) << text;
    const size_t taken = acceptedPrefix(text);
    for (size_t n = 1; n <= taken; n = n < taken && n * 2 > taken ? taken : n * 2) {
      ASSERT_NE(oracle(text.substr(0, n)), Oracle::kDead) << text.substr(0, n);
    }
    ++checked;
    complete += whole == Oracle::kComplete;
  }
  EXPECT_GE(checked, 3900);
  EXPECT_GE(complete, 200);  // some mutations keep a valid object (a digit for a digit, ...)
}

}  // namespace
}  // namespace manifold
