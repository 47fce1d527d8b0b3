#include "gateway/bench/dataset.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

namespace manifold::bench {
namespace {

// Frequent English words; each is a single token (with its leading space) in the GPT-2, Llama
// and Qwen vocabularies.
constexpr const char* kWords[] = {
    "the",     "of",       "and",    "to",     "in",       "is",     "that",   "for",     "it",
    "as",      "was",      "with",   "be",     "by",       "on",     "not",    "he",      "this",
    "are",     "or",       "his",    "from",   "at",       "which",  "but",    "have",    "an",
    "had",     "they",     "you",    "were",   "their",    "one",    "all",    "we",      "can",
    "her",     "has",      "there",  "been",   "if",       "more",   "when",   "will",    "would",
    "who",     "so",       "no",     "time",   "people",   "year",   "way",    "day",     "man",
    "thing",   "woman",    "life",   "child",  "world",    "school", "state",  "family",  "group",
    "country", "problem",  "hand",   "part",   "place",    "case",   "week",   "company", "system",
    "program", "question", "work",   "number", "night",    "point",  "home",   "water",   "room",
    "mother",  "area",     "money",  "story",  "fact",     "month",  "lot",    "right",   "study",
    "book",    "eye",      "job",    "word",   "business", "issue",  "side",   "kind",    "head",
    "house",   "service",  "friend", "father", "power",    "hour",   "game",   "line",    "end",
    "member",  "law",      "car",    "city",   "name",     "team",   "minute", "idea",    "kid",
    "body",    "back",     "parent", "face",   "others",   "level",  "office", "door",    "health",
    "person"};

constexpr int kMaxCalibrationRounds = 12;
// vLLM's ShareGPT filters.
constexpr int kMinSequenceLen = 4;
constexpr int kMaxPromptLen = 1024;
constexpr int kMaxTotalLen = 2048;

std::string joinWords(const std::vector<int>& word_ids, size_t count) {
  std::string text;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) text += ' ';
    text += kWords[static_cast<size_t>(word_ids[i])];
  }
  return text;
}

}  // namespace

Result<int> ApproximateTokenCounter::countTokens(const std::string& text) {
  std::istringstream words(text);
  std::string word;
  int tokens = 0;
  while (words >> word) tokens += 1 + static_cast<int>((word.size() - 1) / 6);
  return tokens;
}

ServerTokenCounter::ServerTokenCounter(const BaseUrl& base, std::string model,
                                       RequestHeaders headers)
    : base_(base), model_(std::move(model)), headers_(std::move(headers)), session_(base) {}

Result<int> ServerTokenCounter::countTokens(const std::string& text) {
  HttpRequestSpec spec;
  spec.target = base_.path_prefix + "/tokenize";
  spec.body =
      nlohmann::json{{"model", model_}, {"prompt", text}, {"add_special_tokens", false}}.dump();
  spec.headers = headers_;
  spec.timeout = std::chrono::seconds(60);
  ASSIGN_OR_RETURN(HttpResponse response, session_.call(std::move(spec)));
  if (response.status != 200) {
    return unavailable("/tokenize answered HTTP " + std::to_string(response.status));
  }
  const auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    if (auto count = body.find("count"); count != body.end() && count->is_number_integer()) {
      return count->get<int>();
    }
    if (auto tokens = body.find("tokens"); tokens != body.end() && tokens->is_array()) {
      return static_cast<int>(tokens->size());
    }
  }
  return invalidArgument("/tokenize answer has neither count nor tokens");
}

std::unique_ptr<TokenCounter> makeTokenCounter(const BaseUrl& base, const std::string& model,
                                               const RequestHeaders& headers,
                                               std::string* fallback_reason) {
  auto server = std::make_unique<ServerTokenCounter>(base, model, headers);
  const Result<int> probe = server->countTokens("hello world");
  if (probe.isOk()) return server;
  *fallback_reason = probe.status().message();
  return std::make_unique<ApproximateTokenCounter>();
}

std::string randomWords(int num_words, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> pick(0, static_cast<int>(std::size(kWords)) - 1);
  std::vector<int> ids(static_cast<size_t>(std::max(num_words, 0)));
  for (int& id : ids) id = pick(rng);
  return joinWords(ids, ids.size());
}

Result<std::vector<SampleRequest>> sampleRandomDataset(const RandomDatasetOptions& options,
                                                       TokenCounter& counter,
                                                       std::mt19937_64& rng) {
  if (options.range_ratio < 0.0 || options.range_ratio >= 1.0) {
    return invalidArgument("--random-range-ratio must be in [0, 1)");
  }
  if (options.input_len < 1 || options.output_len < 1 || options.num_prompts < 1) {
    return invalidArgument(
        "--random-input-len, --random-output-len and --num-prompts must be >= 1");
  }
  auto bounds = [&](int len) {
    const int low = std::max(1, static_cast<int>(len * (1.0 - options.range_ratio)));
    const int high = std::max(low, static_cast<int>(len * (1.0 + options.range_ratio)));
    return std::uniform_int_distribution<int>(low, high);
  };
  auto input_dist = bounds(options.input_len);
  auto output_dist = bounds(options.output_len);
  std::uniform_int_distribution<int> pick(0, static_cast<int>(std::size(kWords)) - 1);

  std::vector<SampleRequest> samples;
  samples.reserve(static_cast<size_t>(options.num_prompts));
  for (int i = 0; i < options.num_prompts; ++i) {
    const int target = input_dist(rng);
    const int output_len = output_dist(rng);
    // Draw more words than needed once, then move the cut until the count matches.
    std::vector<int> ids(static_cast<size_t>(target) * 2 + 16);
    for (int& id : ids) id = pick(rng);
    size_t num_words = static_cast<size_t>(target);
    std::string text = joinWords(ids, num_words);
    ASSIGN_OR_RETURN(int tokens, counter.countTokens(text));
    // Secant steps on the measured tokens per word, then single words; keep the closest text
    // (an exact count may be impossible when every word is several tokens).
    std::string best_text = text;
    int best_tokens = tokens;
    for (int round = 0; round < kMaxCalibrationRounds && tokens != target; ++round) {
      const double tokens_per_word =
          std::max(1e-3, static_cast<double>(tokens) / static_cast<double>(num_words));
      long next = std::lround(static_cast<double>(num_words) + (target - tokens) / tokens_per_word);
      if (next == static_cast<long>(num_words)) next += target > tokens ? 1 : -1;
      num_words = static_cast<size_t>(std::clamp<long>(next, 1, static_cast<long>(ids.size())));
      text = joinWords(ids, num_words);
      ASSIGN_OR_RETURN(tokens, counter.countTokens(text));
      if (std::abs(tokens - target) < std::abs(best_tokens - target)) {
        best_text = text;
        best_tokens = tokens;
      }
    }
    text = std::move(best_text);
    tokens = best_tokens;
    samples.push_back(
        {.prompt = std::move(text), .prompt_len = tokens, .expected_output_len = output_len});
  }
  return samples;
}

Result<std::vector<SampleRequest>> sampleShareGptDataset(const ShareGptOptions& options,
                                                         TokenCounter& counter,
                                                         std::mt19937_64& rng) {
  std::ifstream in(options.path);
  if (!in) return notFound("cannot open ShareGPT file " + options.path);
  const auto data = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!data.is_array()) return invalidArgument(options.path + ": expected a JSON array");

  std::vector<std::pair<std::string, std::string>> pairs;  // (prompt, reply)
  for (const auto& entry : data) {
    if (!entry.is_object()) continue;
    auto conversations = entry.find("conversations");
    if (conversations == entry.end() || !conversations->is_array() || conversations->size() < 2) {
      continue;
    }
    const auto& first = (*conversations)[0];
    const auto& second = (*conversations)[1];
    if (!first.is_object() || !second.is_object() || !first.contains("value") ||
        !second.contains("value") || !first["value"].is_string() || !second["value"].is_string()) {
      continue;
    }
    pairs.emplace_back(first["value"].get<std::string>(), second["value"].get<std::string>());
  }
  std::shuffle(pairs.begin(), pairs.end(), rng);

  std::vector<SampleRequest> samples;
  for (auto& [prompt, reply] : pairs) {
    if (static_cast<int>(samples.size()) >= options.num_prompts) break;
    ASSIGN_OR_RETURN(int prompt_len, counter.countTokens(prompt));
    int output_len = 0;
    if (options.output_len) {
      output_len = *options.output_len;
    } else {
      ASSIGN_OR_RETURN(output_len, counter.countTokens(reply));
    }
    const bool too_short =
        prompt_len < kMinSequenceLen || (!options.output_len && output_len < kMinSequenceLen);
    if (too_short || prompt_len > kMaxPromptLen || prompt_len + output_len > kMaxTotalLen) {
      continue;
    }
    samples.push_back(
        {.prompt = std::move(prompt), .prompt_len = prompt_len, .expected_output_len = output_len});
  }
  if (samples.empty()) return invalidArgument(options.path + ": no usable conversation");
  return samples;
}

}  // namespace manifold::bench
