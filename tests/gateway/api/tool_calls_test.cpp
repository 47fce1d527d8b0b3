// Tool calls in model answers (gateway/api/tool_calls.h): what vLLM's hermes, llama3_json and
// mistral parsers return for the same model text.
#include "gateway/api/tool_calls.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <string_view>
#include <utility>

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
// Streaming: (plain bytes, call started) of an answer of which nothing was sent yet.
std::pair<size_t, bool> split(ToolCallFormat format, std::string_view text, bool start = true) {
  const StreamSplit s = splitStreamedContent(format, text, start);
  return {s.plain, s.call_started};
}
using P = std::pair<size_t, bool>;

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
  EXPECT_EQ(split(f, "Hello"), P(5, false));
  EXPECT_EQ(split(f, "Hello <tool"), P(6, false));
  EXPECT_EQ(split(f, "Hello <"), P(6, false));
  EXPECT_EQ(split(f, "Hello <b>"), P(9, false));
  EXPECT_EQ(split(f, "Hi<tool_call>{\"name\""), P(2, true));
  EXPECT_EQ(split(f, ""), P(0, false));
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
  EXPECT_EQ(split(f, ""), P(0, false));
  EXPECT_EQ(split(f, " \n"), P(0, false));  // undecided: held
  EXPECT_EQ(split(f, " {\"na"), P(0, true));
  EXPECT_EQ(split(f, "<|python"), P(0, false));
  EXPECT_EQ(split(f, "<|python_tag|>{"), P(0, true));
  EXPECT_EQ(split(f, "\nSure"), P(5, false));
  EXPECT_EQ(split(f, "<b>"), P(3, false));
  // Once plain content went out, the answer is plain to its end, braces included.
  EXPECT_EQ(split(f, "{\"x\": 1}", /*start=*/false), P(8, false));
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
        "[TOOL_CALLS] [{\"name\": \"f\"}] trailing words", "[TOOL_CALLS] [{\"name\": \"f\",}]"}) {
    const ParsedToolCalls parsed = parseMistral(text);
    EXPECT_TRUE(parsed.calls.empty()) << text;
    EXPECT_EQ(parsed.content, text);
  }
}

TEST(MistralToolCalls, StreamingHoldsBackWhatMayStartTheTag) {
  const ToolCallFormat f = ToolCallFormat::kMistral;
  EXPECT_EQ(split(f, "Sure [TOOL"), P(5, false));
  EXPECT_EQ(split(f, "Sure [1]"), P(8, false));
  EXPECT_EQ(split(f, "Sure [TOOL_CALLS] [{"), P(5, true));
}

TEST(ToolCallIds, MistralIdsAreNineAlphanumerics) {
  const std::string mistral = newToolCallId(ToolCallFormat::kMistral);
  ASSERT_EQ(mistral.size(), 9u);
  for (char c : mistral) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << mistral;
  EXPECT_NE(newToolCallId(ToolCallFormat::kMistral), mistral);
  EXPECT_TRUE(newToolCallId(ToolCallFormat::kHermes).starts_with("chatcmpl-tool-"));
}

}  // namespace
}  // namespace manifold::gateway
