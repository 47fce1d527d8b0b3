// TokenizerCodec with real tokenizer files: continue_final_message cuts the render as
// transformers' apply_chat_template does, a model's "tool_use" template serves requests with
// tools (transformers' get_chat_template), and token pieces are the vocabulary entries
// (convert_ids_to_tokens), which vLLM's /tokenize returns as token_strs.
#include "gateway/serving/tokenizer_codec.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace manifold::gateway {
namespace {

using json = nlohmann::ordered_json;

const std::string kQwenDir = MANIFOLD_SOURCE_DIR "/tests/data/tokenizers/qwen2.5-instruct";

class TokenizerCodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tokenizer = Tokenizer::fromDirectory(kQwenDir);
    ASSERT_TRUE(tokenizer.isOk()) << tokenizer.status().toString();
    tokenizer_ = std::move(tokenizer).value();
  }

  std::unique_ptr<TokenizerCodec> codec(const std::string& dir,
                                        std::optional<std::string> source = std::nullopt) {
    auto made = TokenizerCodec::create(*tokenizer_, dir, std::move(source));
    EXPECT_TRUE(made.isOk()) << made.status().toString();
    return made.isOk() ? std::move(made).value() : nullptr;
  }

  std::unique_ptr<Tokenizer> tokenizer_;
};

json conversation(const std::string& last) {
  return json::array({{{"role", "user"}, {"content", "Tell me a story."}},
                      {{"role", "assistant"}, {"content", last}}});
}

// Qwen2.5's template closes every turn with "<|im_end|>\n"; continuing the final message leaves
// the turn open right after its content, trailing spaces included where the template kept them.
TEST_F(TokenizerCodecTest, ContinueFinalMessageEndsTheRenderAtTheMessagesContent) {
  auto qwen = codec(kQwenDir);
  ASSERT_NE(qwen, nullptr);
  const json closed = {{"add_generation_prompt", false}, {"continue_final_message", false}};
  const json open = {{"add_generation_prompt", false}, {"continue_final_message", true}};
  auto whole = qwen->renderChat(conversation("Once upon"), closed);
  ASSERT_TRUE(whole.isOk());
  EXPECT_TRUE(whole->ends_with("<|im_start|>assistant\nOnce upon<|im_end|>\n")) << *whole;
  auto continued = qwen->renderChat(conversation("Once upon"), open);
  ASSERT_TRUE(continued.isOk()) << continued.status().toString();
  EXPECT_EQ(*continued, whole->substr(0, whole->size() - std::string("<|im_end|>\n").size()));
  auto spaced = qwen->renderChat(conversation("Once upon "), open);
  ASSERT_TRUE(spaced.isOk());
  EXPECT_TRUE(spaced->ends_with("<|im_start|>assistant\nOnce upon ")) << *spaced;

  // A template that trims the message: the cut follows the trimmed text.
  auto trimming = codec(kQwenDir, "{% for m in messages %}[{{ m.content | trim }}]{% endfor %}");
  ASSERT_NE(trimming, nullptr);
  auto trimmed = trimming->renderChat(conversation("  Once upon \n"), open);
  ASSERT_TRUE(trimmed.isOk());
  EXPECT_EQ(*trimmed, "[Tell me a story.][Once upon");
  // A template that does not show the final message cannot be continued: an error, as in
  // transformers.
  auto hiding = codec(kQwenDir, "{% for m in messages %}{{ m.role }};{% endfor %}");
  ASSERT_NE(hiding, nullptr);
  auto refused = hiding->renderChat(conversation("Once upon"), open);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("continue_final_message"), std::string::npos);
}

TEST_F(TokenizerCodecTest, RequestsWithToolsUseTheModelsToolUseTemplate) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("manifold_codec_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer_config.json") << json{
      {"chat_template",
       json::array({{{"name", "default"}, {"template", "DEFAULT:{{ messages | length }}"}},
                    {{"name", "tool_use"}, {"template", "TOOLUSE:{{ tools | length }}"}}})}};
  auto named = codec(dir.string());
  auto overridden = codec(dir.string(), "FILE");
  std::filesystem::remove_all(dir);
  ASSERT_NE(named, nullptr);
  ASSERT_NE(overridden, nullptr);
  const json messages = json::array({{{"role", "user"}, {"content", "hi"}}});
  const json tools = json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
  EXPECT_EQ(named->renderChat(messages, json::object()).value(), "DEFAULT:1");
  EXPECT_EQ(named->renderChat(messages, {{"tools", tools}}).value(), "TOOLUSE:1");
  EXPECT_EQ(named->renderChat(messages, {{"tools", json::array()}}).value(), "TOOLUSE:0");
  EXPECT_EQ(overridden->renderChat(messages, {{"tools", tools}}).value(), "FILE");
}

TEST_F(TokenizerCodecTest, TokenPiecesAreVocabularyEntries) {
  auto qwen = codec(kQwenDir);
  ASSERT_NE(qwen, nullptr);
  const std::optional<int32_t> world = tokenizer_->tokenToId("Ġworld");
  ASSERT_TRUE(world.has_value());
  EXPECT_EQ(qwen->tokenPiece(*world), "Ġworld");
  EXPECT_EQ(qwen->tokenText(*world), " world");
  // A byte token's piece is its vocabulary entry, where its decoded text is not valid alone.
  const std::vector<int32_t> ids = qwen->encode("日本", false);
  std::string joined;
  for (int32_t id : ids) joined += qwen->tokenPiece(id);
  EXPECT_EQ(joined, "æĹ¥æľ¬");  // byte-level BPE's alphabet for E6 97 A5 E6 9C AC
  EXPECT_EQ(qwen->tokenPiece(-1), "");
  EXPECT_EQ(qwen->tokenPiece(1 << 30), "");
}

}  // namespace
}  // namespace manifold::gateway
