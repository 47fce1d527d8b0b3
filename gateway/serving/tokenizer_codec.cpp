#include "gateway/serving/tokenizer_codec.h"

#include <string_view>
#include <utility>

namespace manifold::gateway {

Result<std::unique_ptr<TokenizerCodec>> TokenizerCodec::create(
    const Tokenizer& tokenizer, const std::string& model_dir,
    std::optional<std::string> template_source) {
  ASSIGN_OR_RETURN(ModelChatTemplate model_template,
                   loadModelChatTemplate(model_dir, /*has_tools=*/false));
  // A model may ship a second template for requests with tools ("tool_use", as transformers
  // picks it); a --chat-template file serves every request.
  std::optional<ChatTemplate> tool_template;
  if (!template_source) {
    ASSIGN_OR_RETURN(ModelChatTemplate with_tools,
                     loadModelChatTemplate(model_dir, /*has_tools=*/true));
    if (with_tools.source != model_template.source) {
      auto parsed = ChatTemplate::parse(std::move(with_tools.source));
      if (!parsed.isOk()) return parsed.status().withContext("tool_use chat template");
      tool_template = std::move(parsed).value();
    }
  }
  std::string source = template_source ? std::move(*template_source) : model_template.source;
  auto parsed = ChatTemplate::parse(std::move(source));
  if (!parsed.isOk()) return parsed.status().withContext("chat template");
  return std::unique_ptr<TokenizerCodec>(
      new TokenizerCodec(tokenizer, std::move(parsed).value(), std::move(tool_template),
                         std::move(model_template.special_tokens)));
}

std::vector<int32_t> TokenizerCodec::encode(std::string_view text, bool add_special_tokens) const {
  return tokenizer_.encode(text, add_special_tokens);
}

std::string TokenizerCodec::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  return tokenizer_.decode(ids, skip_special_tokens);
}

std::string TokenizerCodec::tokenText(int32_t id) const {
  const int32_t ids[] = {id};
  return tokenizer_.decode(ids, /*skip_special_tokens=*/false);
}

std::string TokenizerCodec::tokenPiece(int32_t id) const {
  return tokenizer_.idToToken(id).value_or("");
}

Result<std::string> TokenizerCodec::renderChat(const nlohmann::ordered_json& messages,
                                               const nlohmann::ordered_json& options) const {
  auto tools = options.find("tools");
  const nlohmann::ordered_json* tools_ptr = tools != options.end() ? &*tools : nullptr;
  auto extra = options.find("chat_template_kwargs");
  const nlohmann::ordered_json* extra_ptr = extra != options.end() ? &*extra : nullptr;
  bool add_generation_prompt = options.value("add_generation_prompt", true);
  // As transformers' get_chat_template: "tool_use" whenever tools are given (even an empty list).
  const ChatTemplate& chat_template =
      tools_ptr != nullptr && tool_template_ ? *tool_template_ : template_;
  auto rendered = applyChatTemplate(chat_template, messages, tools_ptr, add_generation_prompt,
                                    special_tokens_, extra_ptr);
  if (!rendered.isOk()) {
    return invalidArgument("The chat template failed: " + rendered.status().message());
  }
  if (options.value("continue_final_message", false) && !messages.empty()) {
    return cutAfterFinalMessage(std::move(rendered).value(), messages.back());
  }
  return rendered;
}

Result<std::string> TokenizerCodec::cutAfterFinalMessage(std::string rendered,
                                                         const nlohmann::ordered_json& message) {
  // As transformers' apply_chat_template(continue_final_message=True): the render ends where
  // the final message's content does, so the model continues it instead of a closed turn.
  const auto content = message.find("content");
  if (content == message.end() || !content->is_string()) return rendered;
  const std::string& text = content->get_ref<const std::string&>();
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t first = text.find_first_not_of(kSpace);
  const std::string_view left_stripped =
      first == std::string::npos ? std::string_view() : std::string_view(text).substr(first);
  const std::string_view stripped =
      left_stripped.substr(0, left_stripped.find_last_not_of(kSpace) + 1);
  const size_t at = rendered.rfind(stripped);
  if (at == std::string::npos) {
    return invalidArgument(
        "continue_final_message is set but the final message does not appear in the chat after "
        "applying the chat template");
  }
  // Where the template kept the message's trailing spaces, they stay; else they were trimmed.
  const bool kept = rendered.compare(at, left_stripped.size(), text) == 0;
  rendered.resize(at + (kept ? left_stripped.size() : stripped.size()));
  return rendered;
}

}  // namespace manifold::gateway
