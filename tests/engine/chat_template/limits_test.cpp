// RenderLimits stop hostile templates and inputs: loops, output size, recursion and nesting.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "engine/chat_template/chat_template.h"

namespace manifold {
namespace {

using ::testing::HasSubstr;

Status renderStatus(const std::string& source, const ChatTemplateLimits& limits = {}) {
  Result<ChatTemplate> chat_template = ChatTemplate::parse(source, limits);
  if (!chat_template.isOk()) return chat_template.status();
  Result<std::string> output = chat_template->render(nlohmann::ordered_json::object());
  return output.isOk() ? Status::ok() : output.status();
}

TEST(ChatTemplateLimits, NestedRangeLoopsHitTheIterationLimit) {
  const Status status = renderStatus(
      "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
      "{% endfor %}{% endfor %}{% endfor %}");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("loop iterations"));
}

TEST(ChatTemplateLimits, HugeRangeIsRefusedBeforeAllocating) {
  const Status status = renderStatus("{{ range(1000000000000) | length }}");
  EXPECT_THAT(status.message(), HasSubstr("loop iteration limit"));
}

// Integer arithmetic at int64's ends (from a model's template: a crash or an endless loop took
// the whole server down): the one quotient past int64 is an error, x % -1 is 0, and a range up to
// int64's maximum ends where it should.
TEST(ChatTemplateLimits, IntegerArithmeticAtInt64sEndsDoesNotTrapOrWrap) {
  auto render = [](const std::string& source) {
    Result<ChatTemplate> chat_template = ChatTemplate::parse(source);
    EXPECT_TRUE(chat_template.isOk()) << chat_template.status().toString();
    return chat_template->render(nlohmann::ordered_json::object());
  };
  const Result<std::string> quotient = render("{{ (-9223372036854775807 - 1) // -1 }}");
  ASSERT_FALSE(quotient.isOk());
  EXPECT_THAT(quotient.status().message(), HasSubstr("integer overflow"));
  EXPECT_EQ(render("{{ (-9223372036854775807 - 1) % -1 }}").value(), "0");
  EXPECT_EQ(render("{{ -7 // 2 }},{{ -7 % 2 }},{{ 7 % -2 }}").value(), "-4,1,-1");
  EXPECT_EQ(render("{% for i in range(9223372036854775800, 9223372036854775807, 5) %}"
                   "{{ i }};{% endfor %}")
                .value(),
            "9223372036854775800;9223372036854775805;");
  EXPECT_EQ(render("{{ range(-9223372036854775807 - 1, 9223372036854775807, "
                   "4611686018427387904) | list }}")
                .value(),
            "[-9223372036854775808, -4611686018427387904, 0, 4611686018427387904]");
}

TEST(ChatTemplateLimits, HugeOutputHitsTheOutputLimit) {
  ChatTemplateLimits limits;
  limits.max_output_bytes = 1 << 20;
  const Status status =
      renderStatus("{% for i in range(100000) %}{{ 'xxxxxxxxxxxxxxxxxxxx' }}{% endfor %}", limits);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("exceeds the limit of 1048576 bytes"));
}

TEST(ChatTemplateLimits, StringRepetitionCannotBuildAHugeString) {
  const Status status = renderStatus("{{ 'ab' * 1000000000000 }}");
  EXPECT_THAT(status.message(), HasSubstr("exceeds the limit"));
}

TEST(ChatTemplateLimits, DoublingAStringInALoopStops) {
  const Status status = renderStatus(
      "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
      "{% endfor %}");
  EXPECT_THAT(status.message(), HasSubstr("exceeds the limit"));
}

TEST(ChatTemplateLimits, InfiniteMacroRecursionHitsTheCallDepthLimit) {
  const Status status = renderStatus("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("nested deeper than 64"));
}

TEST(ChatTemplateLimits, DeeplyNestedSourceIsRejectedByTheParser) {
  const std::string source =
      "{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}";
  const Status status = renderStatus(source);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("nested too deeply"));
}

// A long chain of left-associative operators builds a tree as deep as it is long: each link
// counts as nesting, so twenty thousand `+` are a syntax error, not a stack overflow when the
// tree is evaluated (they crashed the process). Chains a template really writes still render.
TEST(ChatTemplateLimits, LongOperatorChainsAreRejectedByTheParser) {
  auto repeat = [](const std::string& piece, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) out += piece;
    return out;
  };
  for (const std::string& link :
       {std::string(" + 1"), std::string(" ~ 'a'"), std::string(" * 1"), std::string(" and 1"),
        std::string(" or 0"), std::string(" == 1"), std::string(" ** 1"), std::string("|string"),
        std::string(" is defined"), std::string(".a"), std::string("[0]"), std::string("()")}) {
    const Status status = renderStatus("{{ 1" + repeat(link, 20000) + " }}");
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << link;
    EXPECT_THAT(status.message(), HasSubstr("nested too deeply")) << link;
  }
  EXPECT_TRUE(renderStatus("{{ 1" + repeat(" + 1", 200) + " }}").isOk());
  EXPECT_TRUE(renderStatus("{{ 'a'" + repeat(" ~ 'a'", 200) + " }}").isOk());
}

TEST(ChatTemplateLimits, SelfReferencingContainersAreRefused) {
  EXPECT_THAT(renderStatus("{% set l = [] %}{{ l.append(l) }}").message(), HasSubstr("to itself"));
  EXPECT_THAT(renderStatus("{% set ns = namespace() %}{% set ns.me = ns %}").message(),
              HasSubstr("inside itself"));
}

TEST(ChatTemplateLimits, DeeplyNestedInputJsonIsRejected) {
  Result<ChatTemplate> chat_template = ChatTemplate::parse("{{ messages | length }}");
  ASSERT_TRUE(chat_template.isOk());
  const int depth = 100000;
  const nlohmann::ordered_json messages =
      nlohmann::ordered_json::parse(std::string(depth, '[') + std::string(depth, ']'));
  Result<std::string> output =
      applyChatTemplate(*chat_template, messages, nullptr, false, nlohmann::ordered_json::object());
  EXPECT_EQ(output.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(output.status().message(), HasSubstr("nested too deeply"));
}

// A million-deep chain of lists built by a loop is destroyed without recursing (which would
// overflow the stack), and printing it stops at the nesting limit.
TEST(ChatTemplateLimits, DeepChainsBuiltByTemplatesAreSafe) {
  const std::string build =
      "{% set root = [] %}{% set ns = namespace(cur=root) %}{% for i in range(1000000) %}"
      "{% set next = [] %}{{ ns.cur.append(next) or '' }}{% set ns.cur = next %}{% endfor %}";
  Result<ChatTemplate> chat_template = ChatTemplate::parse(build + "done");
  ASSERT_TRUE(chat_template.isOk());
  Result<std::string> output = chat_template->render(nlohmann::ordered_json::object());
  ASSERT_TRUE(output.isOk()) << output.status().toString();
  EXPECT_EQ(*output, "done");
  EXPECT_THAT(renderStatus(build + "{{ root }}").message(), HasSubstr("nested too deeply"));
}

TEST(ChatTemplateLimits, WorkWithinTheLimitsStillRenders) {
  EXPECT_TRUE(renderStatus("{% for i in range(1000) %}{{ i }}{% endfor %}").isOk());
}

}  // namespace
}  // namespace manifold
