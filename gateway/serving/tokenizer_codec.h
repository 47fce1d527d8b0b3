// The PromptCodec of a served model: its Hugging Face tokenizer and chat template (the model's,
// the --chat-template file, or the fallback template for models that ship none).
//
// Thread safety: immutable after create(); every method may run on many threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "engine/chat_template/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "routing/prompt_codec.h"

namespace manifold::gateway {

class TokenizerCodec final : public PromptCodec {
 public:
  // `tokenizer` must outlive the codec (it is the engine's). `template_source`, when given,
  // replaces the model's chat template; otherwise model_dir's is used (see
  // loadModelChatTemplate). A template that does not parse is an error naming it.
  [[nodiscard]] static Result<std::unique_ptr<TokenizerCodec>> create(
      const Tokenizer& tokenizer, const std::string& model_dir,
      std::optional<std::string> template_source);

  [[nodiscard]] std::vector<int32_t> encode(std::string_view text,
                                            bool add_special_tokens) const override;
  [[nodiscard]] std::string decode(std::span<const int32_t> ids,
                                   bool skip_special_tokens) const override;
  [[nodiscard]] std::string tokenText(int32_t id) const override;
  [[nodiscard]] std::string tokenPiece(int32_t id) const override;
  [[nodiscard]] int vocabSize() const override { return tokenizer_.vocabSize(); }
  [[nodiscard]] Result<std::string> renderChat(
      const nlohmann::ordered_json& messages, const nlohmann::ordered_json& options) const override;

 private:
  TokenizerCodec(const Tokenizer& tokenizer, ChatTemplate chat_template,
                 std::optional<ChatTemplate> tool_template, nlohmann::ordered_json special_tokens)
      : tokenizer_(tokenizer),
        template_(std::move(chat_template)),
        tool_template_(std::move(tool_template)),
        special_tokens_(std::move(special_tokens)) {}

  // `rendered` cut right after the final message's content (continue_final_message).
  static Result<std::string> cutAfterFinalMessage(std::string rendered,
                                                  const nlohmann::ordered_json& message);

  const Tokenizer& tokenizer_;
  ChatTemplate template_;
  std::optional<ChatTemplate> tool_template_;  // for requests with tools, when the model has one
  nlohmann::ordered_json special_tokens_;
};

}  // namespace manifold::gateway
