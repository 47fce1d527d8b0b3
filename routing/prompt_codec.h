// Text <-> tokens for one served model, as the gateway needs it: prompts to token ids, chat
// messages through the model's chat template, ids back to text for echo, logprobs and
// /detokenize. An interface because serving uses the model's tokenizer and chat template while
// the gateway's tests use a small deterministic codec.
//
// Thread safety: implementations must allow every const method from many threads at once.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace manifold {

class PromptCodec {
 public:
  virtual ~PromptCodec() = default;

  [[nodiscard]] virtual std::vector<int32_t> encode(std::string_view text,
                                                    bool add_special_tokens) const = 0;
  [[nodiscard]] virtual std::string decode(std::span<const int32_t> ids,
                                           bool skip_special_tokens) const = 0;
  // The text of a single token, as reported in logprobs (`token`, `bytes`).
  [[nodiscard]] virtual std::string tokenText(int32_t id) const = 0;
  // The vocabulary entry of a token in the model's own alphabet, as Hugging Face's
  // convert_ids_to_tokens gives it ("▁Hello", "Ġworld", "<0xE6>"); empty when there is none.
  [[nodiscard]] virtual std::string tokenPiece(int32_t id) const = 0;
  [[nodiscard]] virtual int vocabSize() const = 0;

  // Renders `messages` (the OpenAI array, already validated) through the chat template.
  // `options` carries add_generation_prompt, continue_final_message, tools and
  // chat_template_kwargs. A template error is InvalidArgument with the template's message.
  // Both keep the request's key order, as Python dicts do, so that `tojson` in a template
  // renders the same prompt as Hugging Face transformers.
  [[nodiscard]] virtual Result<std::string> renderChat(
      const nlohmann::ordered_json& messages, const nlohmann::ordered_json& options) const = 0;
};

}  // namespace manifold
