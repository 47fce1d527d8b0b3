#include "gateway/api/openai_response.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "common/utf8.h"
#include "gateway/api/api_error.h"

namespace manifold::gateway {
namespace {

using json = nlohmann::ordered_json;

// JSON has no -inf; vLLM reports impossible tokens as -9999.0 too.
double finiteLogprob(float logprob) {
  return std::isfinite(logprob) ? static_cast<double>(logprob) : -9999.0;
}

json bytesOf(const std::string& text) {
  json bytes = json::array();
  for (unsigned char c : text) bytes.push_back(static_cast<int>(c));
  return bytes;
}

// Ids of context kept when decoding one token: enough for a sentencepiece space or a character
// split over byte tokens.
constexpr size_t kContextIds = 4;

}  // namespace

std::string tokenTextInContext(const PromptCodec& codec, std::span<const int32_t> previous,
                               int32_t id) {
  size_t keep = std::min(previous.size(), kContextIds);
  std::vector<int32_t> ids(previous.end() - static_cast<std::ptrdiff_t>(keep), previous.end());
  std::string before = codec.decode(ids, /*skip_special_tokens=*/false);
  ids.push_back(id);
  std::string after = codec.decode(ids, /*skip_special_tokens=*/false);
  if (after.size() >= before.size() && after.compare(0, before.size(), before) == 0) {
    return after.substr(before.size());
  }
  return codec.tokenText(id);
}

namespace {

// A token as logprobs name it: its text in context, or "token_id:N".
std::string tokenName(const PromptCodec& codec, std::span<const int32_t> previous, int32_t id,
                      bool as_id) {
  return as_id ? "token_id:" + std::to_string(id) : tokenTextInContext(codec, previous, id);
}

}  // namespace

std::string newId(std::string_view prefix) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* kHex = "0123456789abcdef";
  std::string id(prefix);
  for (int i = 0; i < 2; ++i) {
    uint64_t bits = rng();
    for (int j = 0; j < 16; ++j) id += kHex[(bits >> (4 * j)) & 0xf];
  }
  return id;
}

std::string newResponseId(ApiKind kind) {
  return newId(kind == ApiKind::kChat ? "chatcmpl-" : "cmpl-");
}

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json envelope(const ResponseHeader& header, bool chunk) {
  const char* object = header.kind == ApiKind::kCompletion ? "text_completion"
                       : chunk                             ? "chat.completion.chunk"
                                                           : "chat.completion";
  return {{"id", header.id},
          {"object", object},
          {"created", header.created},
          {"model", header.model},
          {"choices", json::array()}};
}

json usageJson(int prompt_tokens, int completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

json completionLogprobs(const PromptCodec& codec, std::span<const int32_t> context,
                        const std::vector<int32_t>& token_ids,
                        const std::vector<PositionLogprobs>& logprobs,
                        const std::vector<bool>& has_logprob, size_t text_offset_start,
                        bool tokens_as_ids) {
  const auto spell = [&](std::span<const int32_t> previous, int32_t id) {
    return tokenName(codec, previous, id, tokens_as_ids);
  };
  json tokens = json::array(), token_logprobs = json::array(), top = json::array(),
       offsets = json::array();
  size_t offset = text_offset_start;
  std::vector<int32_t> previous(context.begin(), context.end());
  for (size_t i = 0; i < token_ids.size(); ++i) {
    std::string text = spell(previous, token_ids[i]);
    tokens.push_back(text);
    offsets.push_back(offset);
    offset += utf8::codePointCount(text);
    if (i >= logprobs.size() || !has_logprob[i]) {
      token_logprobs.push_back(nullptr);
      top.push_back(nullptr);
      previous.push_back(token_ids[i]);
      continue;
    }
    token_logprobs.push_back(finiteLogprob(logprobs[i].chosen.logprob));
    // The chosen token is always among them (OpenAI: "up to logprobs+1 elements"; vLLM too).
    json alternatives = json::object();
    alternatives[text] = finiteLogprob(logprobs[i].chosen.logprob);
    for (const TokenLogprob& alt : logprobs[i].top) {
      alternatives[spell(previous, alt.token_id)] = finiteLogprob(alt.logprob);
    }
    top.push_back(std::move(alternatives));
    previous.push_back(token_ids[i]);
  }
  return {{"tokens", std::move(tokens)},
          {"token_logprobs", std::move(token_logprobs)},
          {"top_logprobs", std::move(top)},
          {"text_offset", std::move(offsets)}};
}

json chatLogprobs(const PromptCodec& codec, std::span<const int32_t> context,
                  const std::vector<PositionLogprobs>& logprobs, bool tokens_as_ids) {
  const auto spell = [&](std::span<const int32_t> previous, int32_t id) {
    return tokenName(codec, previous, id, tokens_as_ids);
  };
  json content = json::array();
  std::vector<int32_t> previous(context.begin(), context.end());
  for (const PositionLogprobs& position : logprobs) {
    std::string text = spell(previous, position.chosen.token_id);
    json top = json::array();
    for (const TokenLogprob& alt : position.top) {
      std::string alt_text = spell(previous, alt.token_id);
      top.push_back({{"token", alt_text},
                     {"logprob", finiteLogprob(alt.logprob)},
                     {"bytes", bytesOf(alt_text)}});
    }
    content.push_back({{"token", text},
                       {"logprob", finiteLogprob(position.chosen.logprob)},
                       {"bytes", bytesOf(text)},
                       {"top_logprobs", std::move(top)}});
    previous.push_back(position.chosen.token_id);
  }
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

json promptLogprobsJson(const PromptCodec& codec, std::span<const int32_t> prompt_ids,
                        const std::vector<PositionLogprobs>& logprobs) {
  json out = json::array();
  const size_t missing =
      prompt_ids.size() > logprobs.size() ? prompt_ids.size() - logprobs.size() : 0;
  for (size_t i = 0; i < prompt_ids.size(); ++i) {
    if (i == 0 || i < missing) {
      out.push_back(nullptr);
      continue;
    }
    const PositionLogprobs& position = logprobs[i - missing];
    const std::span<const int32_t> previous = prompt_ids.first(i);
    auto entry = [&](int32_t id, float logprob, int32_t rank) {
      return json{{"logprob", finiteLogprob(logprob)},
                  {"rank", rank},
                  {"decoded_token", tokenTextInContext(codec, previous, id)}};
    };
    json tokens = json::object();
    tokens[std::to_string(position.chosen.token_id)] =
        entry(position.chosen.token_id, position.chosen.logprob, position.chosen_rank);
    for (size_t k = 0; k < position.top.size(); ++k) {
      const TokenLogprob& alt = position.top[k];
      if (alt.token_id == position.chosen.token_id) continue;
      tokens[std::to_string(alt.token_id)] =
          entry(alt.token_id, alt.logprob, static_cast<int32_t>(k) + 1);
    }
    out.push_back(std::move(tokens));
  }
  return out;
}

const char* finishReasonText(FinishReason reason) { return finishReasonName(reason); }

std::string sseEvent(const json& value) { return "data: " + dumpJson(value) + "\n\n"; }

}  // namespace manifold::gateway
