// Hermes-format tool calls (gateway/api/tool_calls.h): what vLLM's hermes parser returns for the
// same model text.
#include "gateway/api/tool_calls.h"

#include <gtest/gtest.h>

#include <string>

namespace manifold::gateway {
namespace {

TEST(HermesToolCalls, SplitsContentAndEveryCall) {
  const ParsedToolCalls parsed = parseHermesToolCalls(
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
      parseHermesToolCalls("<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"x\\\": 1}\"}");
  ASSERT_EQ(parsed.calls.size(), 1u);
  EXPECT_FALSE(parsed.content.has_value());
  EXPECT_EQ(parsed.calls[0].arguments, "{\"x\": 1}");  // a string stays as written
}

TEST(HermesToolCalls, TextWithoutCallsOrWithABrokenCallIsAllContent) {
  for (const char* text : {"Just text.", "<tool_call>{\"name\": 3}</tool_call>",
                           "Hi <tool_call>{not json}</tool_call>", "<tool_call>{\"name\": \"f\""}) {
    const ParsedToolCalls parsed = parseHermesToolCalls(text);
    EXPECT_TRUE(parsed.calls.empty()) << text;
    EXPECT_EQ(parsed.content, text);
  }
}

// Model output is not depth-checked on the way in: a call nested deeper than request bodies may
// be is not parsed (dumping it would recurse once per level).
TEST(HermesToolCalls, ADeeplyNestedCallIsContent) {
  const std::string text = "<tool_call>{\"name\": \"f\", \"arguments\": " +
                           std::string(1000, '[') + std::string(1000, ']') + "}</tool_call>";
  const ParsedToolCalls parsed = parseHermesToolCalls(text);
  EXPECT_TRUE(parsed.calls.empty());
  EXPECT_EQ(parsed.content, text);
}

TEST(HermesToolCalls, StreamingHoldsBackWhatMayStartACall) {
  EXPECT_EQ(hermesContentPrefix("Hello"), 5u);
  EXPECT_EQ(hermesContentPrefix("Hello <tool"), 6u);
  EXPECT_EQ(hermesContentPrefix("Hello <"), 6u);
  EXPECT_EQ(hermesContentPrefix("Hello <b>"), 9u);
  EXPECT_EQ(hermesContentPrefix("Hi<tool_call>{\"name\""), 2u);
  EXPECT_EQ(hermesContentPrefix(""), 0u);
}

}  // namespace
}  // namespace manifold::gateway
