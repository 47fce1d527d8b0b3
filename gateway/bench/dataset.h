// Prompts for `manifold bench serve`, after vLLM's benchmarks/datasets.py:
//   random:   prompts of uniformly drawn lengths in [len * (1 - r), len * (1 + r)] tokens.
//             vLLM draws random token ids and decodes them with the model's tokenizer; this
//             client has no tokenizer, so it draws common English words (about one token each
//             in BPE vocabularies) and, when the server offers /tokenize, adds or removes words
//             until the server counts exactly the requested number of tokens.
//   sharegpt: the first human turn of each conversation as the prompt and the first reply's
//             length as max tokens, shuffled by the seed, with vLLM's filters (prompt and reply
//             >= 4 tokens, prompt <= 1024, prompt + reply <= 2048).
#pragma once

#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"
#include "gateway/bench/bench_types.h"
#include "gateway/bench/http_client.h"

namespace manifold::bench {

class TokenCounter {
 public:
  virtual ~TokenCounter() = default;
  [[nodiscard]] virtual Result<int> countTokens(const std::string& text) = 0;
  // True when counts come from the served model's tokenizer.
  [[nodiscard]] virtual bool exact() const = 0;
};

// Without a tokenizer: one token per whitespace-separated word of up to 6 bytes, one more per
// further 6 bytes of a longer word. Good to within ~30% for English prose.
class ApproximateTokenCounter final : public TokenCounter {
 public:
  Result<int> countTokens(const std::string& text) override;
  bool exact() const override { return false; }
};

// Counts with the server's POST /tokenize (vLLM and manifold): {"model", "prompt",
// "add_special_tokens": false} -> {"count"} or {"tokens"}, over one kept connection.
class ServerTokenCounter final : public TokenCounter {
 public:
  ServerTokenCounter(const BaseUrl& base, std::string model, RequestHeaders headers);
  Result<int> countTokens(const std::string& text) override;
  bool exact() const override { return true; }
  [[nodiscard]] size_t connectionsOpened() const { return session_.connectionsOpened(); }

 private:
  BaseUrl base_;
  std::string model_;
  RequestHeaders headers_;
  HttpSession session_;
};

// The server's counter when /tokenize answers for `model`, else the approximate one, with why
// /tokenize could not serve in *fallback_reason.
[[nodiscard]] std::unique_ptr<TokenCounter> makeTokenCounter(const BaseUrl& base,
                                                             const std::string& model,
                                                             const RequestHeaders& headers,
                                                             std::string* fallback_reason);

struct RandomDatasetOptions {
  int num_prompts = 1000;
  int input_len = 1024;
  int output_len = 128;
  double range_ratio = 0.0;  // in [0, 1)
};

[[nodiscard]] Result<std::vector<SampleRequest>> sampleRandomDataset(
    const RandomDatasetOptions& options, TokenCounter& counter, std::mt19937_64& rng);

struct ShareGptOptions {
  std::string path;  // ShareGPT JSON: [{"conversations": [{"from", "value"}, ...]}, ...]
  int num_prompts = 1000;
  std::optional<int> output_len;  // overrides the reply's length
};

[[nodiscard]] Result<std::vector<SampleRequest>> sampleShareGptDataset(
    const ShareGptOptions& options, TokenCounter& counter, std::mt19937_64& rng);

// `num_words` words drawn from the built-in vocabulary, space separated.
[[nodiscard]] std::string randomWords(int num_words, std::mt19937_64& rng);

}  // namespace manifold::bench
