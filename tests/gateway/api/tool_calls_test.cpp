// Tool calls in model answers (gateway/api/tool_calls.h): what vLLM's hermes, llama3_json and
// mistral parsers return for the same model text, and the few places, listed in tool_calls.h,
// where these read more or less than vLLM's.
#include "gateway/api/tool_calls.h"

#include <gtest/gtest.h>

#include <cctype>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/api/openai_request.h"

namespace manifold::gateway {
namespace {

ParsedToolCalls parseHermes(std::string_view text) {
  return parseToolCalls(ToolCallFormat::kHermes, text);
}
ParsedToolCalls parseLlama3(std::string_view text) {
  return parseToolCalls(ToolCallFormat::kLlama3Json, text);
}
ParsedToolCalls parseMistral(std::string_view text) {
  return parseToolCalls(ToolCallFormat::kMistral, text);
}
// Streaming: the content sent after each of `deltas`.
std::vector<std::string> streamed(ToolCallFormat format, const std::vector<std::string>& deltas) {
  ToolCallStream stream(format);
  std::vector<std::string> sent;
  for (const std::string& delta : deltas) sent.push_back(stream.append(delta));
  return sent;
}
using Sent = std::vector<std::string>;

TEST(ToolCallFormats, NamesAreVllmsParserNames) {
  EXPECT_EQ(toolCallFormatNamed("hermes"), ToolCallFormat::kHermes);
  EXPECT_EQ(toolCallFormatNamed("llama3_json"), ToolCallFormat::kLlama3Json);
  EXPECT_EQ(toolCallFormatNamed("mistral"), ToolCallFormat::kMistral);
  EXPECT_EQ(toolCallFormatNamed("llama3"), std::nullopt);
  EXPECT_EQ(toolCallFormatNamed(""), std::nullopt);
}

TEST(HermesToolCalls, SplitsContentAndEveryCall) {
  const ParsedToolCalls parsed = parseHermes(
      "Checking both.<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
      "</tool_call>\n<tool_call>{\"name\": \"time\", \"arguments\": {}}</tool_call>");
  ASSERT_EQ(parsed.calls.size(), 2u);
  EXPECT_EQ(parsed.content, "Checking both.");
  EXPECT_EQ(parsed.calls[0].name, "weather");
  EXPECT_EQ(parsed.calls[0].arguments, "{\"city\":\"Paris\"}");
  EXPECT_EQ(parsed.calls[1].name, "time");
  EXPECT_EQ(parsed.calls[1].arguments, "{}");
}

TEST(HermesToolCalls, CallsAloneHaveNoContentAndAnUnclosedLastCallCounts) {
  const ParsedToolCalls parsed =
      parseHermes("<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"x\\\": 1}\"}");
  ASSERT_EQ(parsed.calls.size(), 1u);
  EXPECT_FALSE(parsed.content.has_value());
  EXPECT_EQ(parsed.calls[0].arguments, "{\"x\": 1}");  // a string stays as written
}

TEST(HermesToolCalls, TextWithoutCallsOrWithABrokenCallIsAllContent) {
  for (const char* text : {"Just text.", "<tool_call>{\"name\": 3}</tool_call>",
                           "Hi <tool_call>{not json}</tool_call>", "<tool_call>{\"name\": \"f\""}) {
    const ParsedToolCalls parsed = parseHermes(text);
    EXPECT_TRUE(parsed.calls.empty()) << text;
    EXPECT_EQ(parsed.content, text);
  }
}

// Model output is not depth-checked on the way in: a call nested deeper than request bodies may
// be is not parsed (dumping it would recurse once per level).
TEST(HermesToolCalls, ADeeplyNestedCallIsContent) {
  const std::string text = "<tool_call>{\"name\": \"f\", \"arguments\": " +
                           std::string(1000, '[') + std::string(1000, ']') + "}</tool_call>";
  const ParsedToolCalls parsed = parseHermes(text);
  EXPECT_TRUE(parsed.calls.empty());
  EXPECT_EQ(parsed.content, text);
}

TEST(HermesToolCalls, StreamingHoldsBackWhatMayStartACall) {
  const ToolCallFormat f = ToolCallFormat::kHermes;
  EXPECT_EQ(streamed(f, {"Hello", " <tool", "box>", " <", "tool_call>{\"na", "me\""}),
            (Sent{"Hello", " ", "<toolbox>", " ", "", ""}));
  EXPECT_EQ(streamed(f, {"", "Hi<tool_call>{\"name\"", "</tool_call> after"}),
            (Sent{"", "Hi", ""}));
}

// Llama 3.1's JSON tool calling: the answer is the call, {"name", "parameters"}.
TEST(Llama3JsonToolCalls, TheWholeAnswerIsOneOrMoreCalls) {
  ParsedToolCalls parsed = parseLlama3(
      "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": [1, 2]}}");
  ASSERT_EQ(parsed.calls.size(), 1u);
  EXPECT_FALSE(parsed.content.has_value());
  EXPECT_EQ(parsed.calls[0].name, "get_weather");
  EXPECT_EQ(parsed.calls[0].arguments, "{\"city\":\"Paris\",\"days\":[1,2]}");

  // Llama 3.2 joins parallel calls with "; "; <|python_tag|> (kept when special tokens are) and
  // surrounding whitespace are allowed; "arguments" is read as well as "parameters"; a brace
  // inside a string does not end the object.
  parsed = parseLlama3(
      "<|python_tag|> {\"name\": \"a\", \"parameters\": {\"s\": \"}{\\\"\"}}; "
      "{\"name\": \"b\", \"arguments\": {}}\n");
  ASSERT_EQ(parsed.calls.size(), 2u);
  EXPECT_EQ(parsed.calls[0].name, "a");
  EXPECT_EQ(parsed.calls[0].arguments, "{\"s\":\"}{\\\"\"}");
  EXPECT_EQ(parsed.calls[1].name, "b");
  EXPECT_EQ(parsed.calls[1].arguments, "{}");
}

TEST(Llama3JsonToolCalls, AnythingElseIsAllContent) {
  for (const char* text :
       {"The weather is fine.", "Here: {\"name\": \"f\", \"parameters\": {}}",
        "{\"name\": \"f\", \"parameters\": {}} and more", "{\"name\": \"f\", \"parameters\": {",
        "{\"parameters\": {}}", "{\"name\": \"f\"}; oops", "{not json}", ""}) {
    const ParsedToolCalls parsed = parseLlama3(text);
    EXPECT_TRUE(parsed.calls.empty()) << text;
    EXPECT_EQ(parsed.content, text);
  }
}

TEST(Llama3JsonToolCalls, StreamingDecidesOnTheFirstNonSpaceText) {
  const ToolCallFormat f = ToolCallFormat::kLlama3Json;
  // Leading space is held until the first other text decides; once plain content went out, the
  // answer is plain to its end, braces included.
  EXPECT_EQ(streamed(f, {"", " \n", "Sure", " {\"x\": 1}"}),
            (Sent{"", "", " \nSure", " {\"x\": 1}"}));
  EXPECT_EQ(streamed(f, {" ", "{\"na", "me\": \"f\"}"}), (Sent{"", "", ""}));
  EXPECT_EQ(streamed(f, {"<|python", "_tag|>", "{"}), (Sent{"", "", ""}));
  EXPECT_EQ(streamed(f, {"<|py", "thon>"}), (Sent{"", "<|python>"}));
  EXPECT_EQ(streamed(f, {"<b>"}), (Sent{"<b>"}));
}

// Mistral v0.3: [TOOL_CALLS] and a JSON array of {"name", "arguments"}.
TEST(MistralToolCalls, SplitsContentAndEveryCall) {
  ParsedToolCalls parsed = parseMistral(
      "Let me check.[TOOL_CALLS] [{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\"}}, "
      "{\"name\": \"time\", \"arguments\": {\"tz\": \"]\"}}]");
  ASSERT_EQ(parsed.calls.size(), 2u);
  EXPECT_EQ(parsed.content, "Let me check.");
  EXPECT_EQ(parsed.calls[0].name, "weather");
  EXPECT_EQ(parsed.calls[0].arguments, "{\"city\":\"Paris\"}");
  EXPECT_EQ(parsed.calls[1].arguments, "{\"tz\":\"]\"}");

  // Calls alone have no content; a single object and a repeated tag are read too.
  parsed = parseMistral(
      "[TOOL_CALLS]{\"name\": \"a\", \"arguments\": {}}[TOOL_CALLS][{\"name\": \"b\"}]");
  ASSERT_EQ(parsed.calls.size(), 2u);
  EXPECT_FALSE(parsed.content.has_value());
  EXPECT_EQ(parsed.calls[0].name, "a");
  EXPECT_EQ(parsed.calls[1].name, "b");
  EXPECT_EQ(parsed.calls[1].arguments, "{}");
}

TEST(MistralToolCalls, TextWithoutCallsOrWithBrokenCallsIsAllContent) {
  for (const char* text :
       {"No tools needed.", "[TOOL_CALLS]", "[TOOL_CALLS] []", "[TOOL_CALLS] [{\"name\": 1}]",
        "[TOOL_CALLS] [{\"name\": \"f\", \"arguments\": {}}", "[TOOL_CALLS] \"f\"",
        "[TOOL_CALLS] [{\"name\": \"f\", \"arguments\": {}}] trailing words",
        "[TOOL_CALLS] [{\"name\": \"f\",}]"}) {
    const ParsedToolCalls parsed = parseMistral(text);
    EXPECT_TRUE(parsed.calls.empty()) << text;
    // The special-token tags are taken out of such content (vLLM's tool_content).
    std::string expected = text;
    for (size_t at; (at = expected.find("[TOOL_CALLS]")) != std::string::npos;) {
      expected.erase(at, 12);
    }
    EXPECT_EQ(parsed.content, expected);
  }
}

TEST(MistralToolCalls, StreamingHoldsBackWhatMayStartTheTag) {
  const ToolCallFormat f = ToolCallFormat::kMistral;
  EXPECT_EQ(streamed(f, {"Sure [TOOL", "S]", " [1]", " [TOOL_CALLS] [{"}),
            (Sent{"Sure ", "[TOOLS]", " [1]", " "}));
  ToolCallStream broken(f);
  EXPECT_EQ(broken.append("Hm [TOOL_CALLS] nothing"), "Hm ");
  EXPECT_EQ(broken.finish().content, " nothing");  // the tag taken out
}

// Where vLLM's parsers raise and fall back to plain content, these read the call (tool_calls.h).
TEST(ToolCallFormats, ArgumentsAbsentOrNullAreAnEmptyObject) {
  for (const auto& [format, text] : std::vector<std::pair<ToolCallFormat, std::string>>{
           {ToolCallFormat::kHermes, "<tool_call>{\"name\": \"f\"}</tool_call>"},
           {ToolCallFormat::kHermes,
            "<tool_call>{\"name\": \"f\", \"arguments\": null}</tool_call>"},
           {ToolCallFormat::kLlama3Json, "{\"name\": \"f\"}"},
           {ToolCallFormat::kLlama3Json, "{\"name\": \"f\", \"parameters\": null}"},
           {ToolCallFormat::kMistral, "[TOOL_CALLS] [{\"name\": \"f\"}]"}}) {
    const ParsedToolCalls parsed = parseToolCalls(format, text);
    ASSERT_EQ(parsed.calls.size(), 1u) << text;
    EXPECT_EQ(parsed.calls[0].arguments, "{}") << text;
  }
}

// Whatever the text and however it arrives, the content streamed plus finish()'s equals the
// parsed content, and the calls are the parsed calls: nothing is lost and nothing of a call
// leaks into the content. Texts are random joins of fragments of all three formats.
TEST(ToolCallStream, StreamedContentEqualsTheParsedContentForAnyChunking) {
  const std::vector<std::string> fragments = {"Hi",
                                              " ",
                                              "\n",
                                              "<tool_call>",
                                              "</tool_call>",
                                              "<tool",
                                              "_call>",
                                              "[TOOL_CALLS]",
                                              "[TOOL",
                                              "<|python_tag|>",
                                              "{",
                                              "}",
                                              "[",
                                              "]",
                                              "\"name\"",
                                              ":",
                                              "\"f\"",
                                              ",",
                                              "\"arguments\"",
                                              "\"parameters\"",
                                              "{\"name\": \"g\", \"arguments\": {\"x\": 1}}",
                                              ";",
                                              "\"",
                                              "\\",
                                              "<tool_call>{\"name\": \"h\"}</tool_call>",
                                              "[TOOL_CALLS][{\"name\": \"m\"}]"};
  std::mt19937 rng(2024);
  int with_calls = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    for (int n = std::uniform_int_distribution<int>(0, 8)(rng); n > 0; --n) {
      text += fragments[std::uniform_int_distribution<size_t>(0, fragments.size() - 1)(rng)];
    }
    for (ToolCallFormat format :
         {ToolCallFormat::kHermes, ToolCallFormat::kLlama3Json, ToolCallFormat::kMistral}) {
      ToolCallStream stream(format);
      std::string sent;
      for (size_t at = 0; at < text.size();) {
        const size_t len = std::uniform_int_distribution<size_t>(0, 6)(rng);
        sent += stream.append(std::string_view(text).substr(at, len));
        at += len;
      }
      const ParsedToolCalls end = stream.finish();
      const ParsedToolCalls whole = parseToolCalls(format, text);
      ASSERT_EQ(end.calls.size(), whole.calls.size()) << text;
      for (size_t c = 0; c < whole.calls.size(); ++c) {
        EXPECT_EQ(end.calls[c].name, whole.calls[c].name) << text;
        EXPECT_EQ(end.calls[c].arguments, whole.calls[c].arguments) << text;
      }
      if (whole.calls.empty()) {
        EXPECT_EQ(sent + end.content.value_or(""), whole.content.value_or("")) << text;
      } else {
        ++with_calls;
        EXPECT_FALSE(end.content.has_value()) << text;
        EXPECT_EQ(sent, whole.content.value_or("")) << text;
      }
    }
  }
  EXPECT_GT(with_calls, 500);  // the texts do reach calls
}

// The bracket scanner under the depth check and the llama3_json / mistral parsers.
TEST(JsonBrackets, FindTheClosingBracketOutsideStringsAndTheDepth) {
  EXPECT_EQ(scanJsonBrackets(R"({"a": [1, {"b": "]}"}], "c": "\\"} tail)", 0, true).end, 34u);
  EXPECT_EQ(scanJsonBrackets(R"({"a": [1, {"b": "]}"}], "c": "\\"} tail)", 0, true).max_depth, 3);
  EXPECT_EQ(scanJsonBrackets(R"(x {"s": "\"}"} y)", 2, true).end, 14u);  // an escaped quote
  EXPECT_EQ(scanJsonBrackets(R"({"open": [)", 0, true).end, std::string_view::npos);
  EXPECT_EQ(scanJsonBrackets(R"({"s": "unterminated})", 0, true).end, std::string_view::npos);
  EXPECT_EQ(scanJsonBrackets("]] [", 0, true).end, std::string_view::npos);  // never back to 0
  EXPECT_EQ(scanJsonBrackets("[[]] [[[]]]", 0, false).max_depth, 3);         // scans it all
  EXPECT_TRUE(nestedTooDeep(std::string(kMaxJsonDepth + 1, '[')));
  EXPECT_FALSE(nestedTooDeep(std::string(kMaxJsonDepth, '[')));
  EXPECT_FALSE(nestedTooDeep("\"" + std::string(100, '[') + "\""));
}

TEST(ToolCallIds, MistralIdsAreNineAlphanumerics) {
  const std::string mistral = newToolCallId(ToolCallFormat::kMistral);
  ASSERT_EQ(mistral.size(), 9u);
  for (char c : mistral) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << mistral;
  EXPECT_NE(newToolCallId(ToolCallFormat::kMistral), mistral);
  EXPECT_TRUE(newToolCallId(ToolCallFormat::kHermes).starts_with("chatcmpl-tool-"));
}

// tool_choice "required": the array's calls, their arguments in the model's key order; anything
// that is not such an array is no calls.
TEST(RequiredToolCalls, ReadTheArrayOfCalls) {
  const auto calls = parseRequiredToolCalls(
      R"([{"name":"f","parameters":{"b":1,"a":[2]}},{"name":"g","parameters":{}}])");
  ASSERT_TRUE(calls.has_value());
  ASSERT_EQ(calls->size(), 2u);
  EXPECT_EQ((*calls)[0].name, "f");
  EXPECT_EQ((*calls)[0].arguments, R"({"b":1,"a":[2]})");
  EXPECT_EQ((*calls)[1].arguments, "{}");
  for (const char* text : {"", "[]", R"([{"name":"f")", R"({"name":"f","parameters":{}})",
                           R"([{"parameters":{}}])", R"([{"name":1,"parameters":{}}])"}) {
    EXPECT_FALSE(parseRequiredToolCalls(text).has_value()) << text;
  }
}

TEST(RequiredToolCalls, SchemaIsAUnionOfTheFunctionsWithTheirDefsOnTop) {
  const auto tools = nlohmann::ordered_json::parse(R"([
      {"type": "function", "function": {"name": "f", "parameters": {
          "type": "object", "properties": {"p": {"$ref": "#/$defs/P"}},
          "$defs": {"P": {"type": "integer"}}}}},
      {"type": "function", "function": {"name": "g"}}])");
  const auto schema = requiredToolCallsSchema(tools);
  ASSERT_TRUE(schema.isOk()) << schema.status().toString();
  EXPECT_EQ((*schema)["$defs"]["P"]["type"], "integer");
  EXPECT_EQ((*schema)["items"]["anyOf"][1]["properties"]["name"]["const"], "g");
  EXPECT_FALSE((*schema)["items"]["anyOf"][0]["properties"]["parameters"].contains("$defs"));
  auto self = tools;
  self[0]["function"]["parameters"]["properties"]["p"] = {{"$ref", "#"}};
  EXPECT_FALSE(requiredToolCallsSchema(self).isOk());
}

}  // namespace
}  // namespace manifold::gateway
