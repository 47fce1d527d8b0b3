// The engine loop over a real model (stories260K, F32, CPU): prefix caching, batch invariance
// under preemption, abort, parallel samples and prompt logprobs. Every expectation compares the
// engine against an independent run of the same request (alone, cold cache, or a decode-path
// logprob), never against its own output.
#include "engine/core/local_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/core/offline_generate.h"
#include "engine/tokenizer/tokenizer.h"

namespace manifold {
namespace {

const std::string kModelDir = std::string(MANIFOLD_SOURCE_DIR) + "/models/stories260K";

EngineConfig engineConfig(int num_blocks, bool prefix_caching, int max_num_seqs = 64) {
  EngineConfig config;
  config.model_dir = kModelDir;
  config.cache.block_size = 16;
  config.cache.num_blocks = num_blocks;
  config.cache.enable_prefix_caching = prefix_caching;
  config.scheduler.max_num_seqs = max_num_seqs;
  config.scheduler.max_num_batched_tokens = 256;
  config.num_threads = 2;
  return config;
}

std::unique_ptr<LocalEngine> makeEngine(const EngineConfig& config) {
  Result<std::unique_ptr<LocalEngine>> engine = LocalEngine::create(config);
  EXPECT_TRUE(engine.isOk()) << engine.status().toString();
  return engine.isOk() ? std::move(engine).value() : nullptr;
}

// The stats snapshot is taken after the step that published the last output, so it may lag the
// streams by one step: wait for it (bounded) before checking it.
EngineStats statsWhenIdle(const EngineClient& engine) {
  EngineStats stats = engine.stats();
  for (int i = 0; i < 500 && stats.num_running + stats.num_waiting > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stats = engine.stats();
  }
  return stats;
}

std::vector<int32_t> randomPrompt(std::mt19937& rng, int length) {
  std::vector<int32_t> prompt(length);
  for (int32_t& t : prompt) t = std::uniform_int_distribution<int32_t>(3, 511)(rng);
  return prompt;
}

EngineRequest request(std::string id, std::vector<int32_t> prompt, int max_tokens,
                      float temperature = 0.0f, std::optional<uint64_t> seed = std::nullopt) {
  EngineRequest r;
  r.request_id = std::move(id);
  r.prompt_token_ids = std::move(prompt);
  r.params.max_tokens = max_tokens;
  r.params.temperature = temperature;
  r.params.seed = seed;
  r.params.ignore_eos = true;
  return r;
}

GenerationResult runOne(EngineClient& engine, EngineRequest r) {
  std::vector<EngineRequest> one;
  one.push_back(std::move(r));
  return std::move(generate(engine, std::move(one))[0]);
}

TEST(LocalEngineModel, PrefixCacheHitGivesTheOutputOfAColdRun) {
  std::mt19937 rng(1);
  const std::vector<int32_t> shared = randomPrompt(rng, 100);
  std::vector<int32_t> first = shared;
  std::vector<int32_t> second = shared;
  for (int32_t t : randomPrompt(rng, 7)) first.push_back(t);
  for (int32_t t : randomPrompt(rng, 9)) second.push_back(t);

  std::unique_ptr<LocalEngine> cold = makeEngine(engineConfig(64, /*prefix_caching=*/false));
  ASSERT_NE(cold, nullptr);
  const GenerationResult cold_result = runOne(*cold, request("second", second, 24));
  ASSERT_TRUE(cold_result.error.isOk());
  EXPECT_EQ(cold_result.num_cached_prompt_tokens, 0);

  std::unique_ptr<LocalEngine> warm = makeEngine(engineConfig(64, /*prefix_caching=*/true));
  ASSERT_NE(warm, nullptr);
  ASSERT_TRUE(runOne(*warm, request("first", first, 4)).error.isOk());
  const GenerationResult warm_result = runOne(*warm, request("second", second, 24));
  ASSERT_TRUE(warm_result.error.isOk());
  EXPECT_EQ(warm_result.num_cached_prompt_tokens, 96);  // 6 full blocks of the 100 shared
  EXPECT_EQ(warm_result.sequences[0].token_ids, cold_result.sequences[0].token_ids);
  EXPECT_EQ(warm_result.sequences[0].text, cold_result.sequences[0].text);
  EXPECT_GE(statsWhenIdle(*warm).prefix_cache_hits, 96);
}

class BatchInvariance : public ::testing::TestWithParam<bool> {};

// 64 concurrent requests through a KV pool of 40 blocks (640 tokens; together they need about
// 4000): the engine must preempt, and still every request gets exactly the tokens it gets alone.
TEST_P(BatchInvariance, SixtyFourConcurrentRequestsUnderPreemptionMatchTheirSoloRuns) {
  const bool seeded_sampling = GetParam();
  std::mt19937 rng(seeded_sampling ? 11 : 12);
  std::vector<EngineRequest> requests;
  for (int i = 0; i < 64; ++i) {
    const int prompt_len = std::uniform_int_distribution<int>(5, 40)(rng);
    const int max_tokens = std::uniform_int_distribution<int>(10, 40)(rng);
    requests.push_back(request("r" + std::to_string(i), randomPrompt(rng, prompt_len), max_tokens,
                               seeded_sampling ? 0.9f : 0.0f,
                               seeded_sampling ? std::optional<uint64_t>(1000 + i) : std::nullopt));
    if (seeded_sampling) requests.back().params.top_p = 0.95f;
  }
  std::unique_ptr<LocalEngine> batched = makeEngine(engineConfig(40, /*prefix_caching=*/true));
  ASSERT_NE(batched, nullptr);
  const std::vector<GenerationResult> together = generate(*batched, requests);
  const EngineStats batched_stats = statsWhenIdle(*batched);
  EXPECT_GT(batched_stats.num_preemptions, 0);
  EXPECT_EQ(batched_stats.kv_cache_usage, 0.0);

  std::unique_ptr<LocalEngine> solo = makeEngine(engineConfig(40, /*prefix_caching=*/false, 1));
  ASSERT_NE(solo, nullptr);
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(together[i].error.isOk()) << together[i].error.toString();
    const GenerationResult alone = runOne(*solo, requests[i]);
    ASSERT_TRUE(alone.error.isOk());
    EXPECT_EQ(together[i].sequences[0].token_ids, alone.sequences[0].token_ids) << "request " << i;
    EXPECT_EQ(together[i].sequences[0].token_ids.size(),
              static_cast<size_t>(*requests[i].params.max_tokens));
  }
  EXPECT_EQ(statsWhenIdle(*solo).num_preemptions, 0);
}

INSTANTIATE_TEST_SUITE_P(GreedyAndSeeded, BatchInvariance, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Seeded" : "Greedy"; });

constexpr const char* kPersonSchema = R"({"type": "object", "additionalProperties": false,
    "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"},
                   "ok": {"type": "boolean"}},
    "required": ["name", "age"]})";

// response_format json_object (and json_schema for every fourth request) on a real model, batched
// under preemption: each output is a JSON object (finish "stop", by nlohmann) or, cut by
// max_tokens, text that nlohmann can still continue; and each request gets the tokens it gets
// alone, so the grammar state follows every sequence through preemption and recomputation.
TEST(LocalEngineModel, JsonObjectOutputsAreObjectsAndBatchInvariant) {
  Result<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::fromDirectory(kModelDir);
  ASSERT_TRUE(tokenizer.isOk());
  // This story model fills any room it gets with newlines. Biasing the closing tokens up and
  // whitespace down lets some outputs finish well within max_tokens.
  std::vector<std::pair<int32_t, float>> closing_bias;
  for (int32_t id = 0; id < (*tokenizer)->vocabSize(); ++id) {
    const std::optional<std::string> bytes = (*tokenizer)->tokenBytes(id);
    if (bytes == "}" || bytes == "\"") closing_bias.emplace_back(id, *bytes == "}" ? 12.0f : 4.0f);
    if (bytes && !bytes->empty() && bytes->find_first_not_of(" \n") == std::string::npos) {
      closing_bias.emplace_back(id, -100.0f);
    }
  }
  ASSERT_FALSE(closing_bias.empty());

  std::mt19937 rng(21);
  std::vector<EngineRequest> requests;
  for (int i = 0; i < 24; ++i) {
    const bool sampled = i % 2 == 1;
    // Prompts of whole pieces: a prompt ending in a partial UTF-8 byte token would turn the
    // output's first bytes into U+FFFD when decoded together (as in HF).
    std::vector<int32_t> prompt = randomPrompt(rng, 5 + i);
    for (int32_t& t : prompt) t = 259 + t % (512 - 259);
    EngineRequest r =
        request("j" + std::to_string(i), std::move(prompt), 40 + 3 * i, sampled ? 1.0f : 0.0f,
                sampled ? std::optional<uint64_t>(500 + i) : std::nullopt);
    r.params.ignore_eos = false;
    r.params.json_object = true;
    if (i % 4 == 3) r.params.json_schema = kPersonSchema;
    if (i % 3 != 0 || !r.params.json_schema.empty()) r.params.logit_bias = closing_bias;
    if (i == 5) r.params.n = 2;
    requests.push_back(std::move(r));
  }
  std::unique_ptr<LocalEngine> batched = makeEngine(engineConfig(32, /*prefix_caching=*/true));
  ASSERT_NE(batched, nullptr);
  const std::vector<GenerationResult> together = generate(*batched, requests);
  EXPECT_GT(statsWhenIdle(*batched).num_preemptions, 0);
  EXPECT_EQ(statsWhenIdle(*batched).kv_cache_usage, 0.0);

  std::unique_ptr<LocalEngine> solo = makeEngine(engineConfig(32, /*prefix_caching=*/false, 2));
  ASSERT_NE(solo, nullptr);
  int complete = 0;
  int schema_complete = 0;
  int cut = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(together[i].error.isOk()) << together[i].error.toString();
    const GenerationResult alone = runOne(*solo, requests[i]);
    ASSERT_TRUE(alone.error.isOk());
    ASSERT_EQ(together[i].sequences.size(), alone.sequences.size());
    for (size_t k = 0; k < alone.sequences.size(); ++k) {
      const GeneratedSequence& seq = together[i].sequences[k];
      EXPECT_EQ(seq.token_ids, alone.sequences[k].token_ids) << "request " << i;
      ASSERT_TRUE(seq.finish_reason.has_value());
      if (*seq.finish_reason == FinishReason::kStop) {
        const nlohmann::json value = nlohmann::json::parse(seq.text, nullptr, false);
        EXPECT_TRUE(value.is_object()) << seq.text;
        if (!requests[i].params.json_schema.empty()) {
          // The schema, checked by hand: its keys only, the required ones, their types.
          ASSERT_TRUE(value.is_object()) << seq.text;
          for (const auto& [key, unused] : value.items()) {
            EXPECT_TRUE(key == "name" || key == "age" || key == "ok") << seq.text;
          }
          ASSERT_TRUE(value.contains("name") && value["name"].is_string()) << seq.text;
          int code_points = 0;
          for (unsigned char c : value["name"].get<std::string>())
            code_points += (c & 0xC0) != 0x80;
          EXPECT_LE(code_points, 12) << seq.text;
          // An integer (nlohmann reads one past int64 as a float, with no fraction).
          ASSERT_TRUE(value.contains("age") && value["age"].is_number()) << seq.text;
          EXPECT_EQ(std::floor(value["age"].get<double>()), value["age"].get<double>());
          if (value.contains("ok")) {
            EXPECT_TRUE(value["ok"].is_boolean()) << seq.text;
          }
          ++schema_complete;
        }
        ++complete;
      } else {
        EXPECT_EQ(*seq.finish_reason, FinishReason::kLength);
        try {
          [[maybe_unused]] const nlohmann::json parsed = nlohmann::json::parse(seq.text);
          ADD_FAILURE() << "a cut output parsed: " << seq.text;
        } catch (const nlohmann::json::parse_error& e) {
          EXPECT_GT(e.byte, seq.text.size()) << "not a prefix of a JSON object: " << seq.text;
        }
        ++cut;
      }
    }
  }
  EXPECT_GE(complete, 5);
  EXPECT_GE(schema_complete, 2);
  EXPECT_GE(cut, 3);
}

// Once the object is whole the grammar allows only EOS, and that EOS ends the output even when
// ignore_eos or min_tokens would let it go on (it would only draw EOS until max_tokens).
TEST(LocalEngineModel, AWholeJsonValueEndsTheOutputDespiteIgnoreEosAndMinTokens) {
  Result<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::fromDirectory(kModelDir);
  ASSERT_TRUE(tokenizer.isOk());
  std::vector<std::pair<int32_t, float>> close_now;
  for (int32_t id = 0; id < (*tokenizer)->vocabSize(); ++id) {
    if ((*tokenizer)->tokenBytes(id) == "}") close_now.emplace_back(id, 30.0f);
  }
  std::unique_ptr<LocalEngine> engine = makeEngine(engineConfig(64, /*prefix_caching=*/false));
  ASSERT_NE(engine, nullptr);
  for (const bool ignore_eos : {true, false}) {
    // An id of its own each time: the engine may not have retired the last one yet.
    EngineRequest r =
        request(ignore_eos ? "whole-ignore-eos" : "whole-min-tokens", {300, 301, 302, 303}, 100);
    r.params.json_object = true;
    r.params.ignore_eos = ignore_eos;
    r.params.min_tokens = ignore_eos ? 0 : 50;
    r.params.logit_bias = close_now;
    const GenerationResult result = runOne(*engine, r);
    ASSERT_TRUE(result.error.isOk()) << result.error.toString();
    const GeneratedSequence& seq = result.sequences[0];
    EXPECT_EQ(seq.finish_reason, FinishReason::kStop) << seq.text;
    EXPECT_EQ(nlohmann::json::parse(seq.text, nullptr, false), nlohmann::json::object())
        << seq.text;
    ASSERT_LE(seq.token_ids.size(), 4u) << "(space), '{', '}', EOS";
    EXPECT_EQ(seq.token_ids.back(), (*tokenizer)->eosIds().at(0));
  }
}

// Twelve requests of story-like random prompts, greedy and sampled in turn, that may end at
// EOS, with `constrain` setting their structured output.
std::vector<EngineRequest> constrainedRequests(
    const std::string& prefix, unsigned seed, int max_tokens,
    const std::function<void(SamplingParams&)>& constrain) {
  std::mt19937 rng(seed);
  std::vector<EngineRequest> requests;
  for (int i = 0; i < 12; ++i) {
    EngineRequest r = request(prefix + std::to_string(i), randomPrompt(rng, 6 + i), max_tokens,
                              i % 2 == 0 ? 0.0f : 1.5f, 900 + i);
    for (int32_t& t : r.prompt_token_ids) t = 259 + t % (512 - 259);
    r.params.ignore_eos = false;
    constrain(r.params);
    requests.push_back(std::move(r));
  }
  return requests;
}

// guided_choice: every answer, greedy or sampled, is one of the texts, and ends there.
TEST(LocalEngineModel, GuidedChoiceAnswersAreOneOfTheTexts) {
  std::unique_ptr<LocalEngine> engine = makeEngine(engineConfig(64, /*prefix_caching=*/true));
  ASSERT_NE(engine, nullptr);
  const std::vector<std::string> choices = {"yes", "no", "maybe", "Once upon a time"};
  std::vector<EngineRequest> requests =
      constrainedRequests("c", 5, 40, [&](SamplingParams& params) { params.choice = choices; });
  std::set<std::string> seen;
  for (const GenerationResult& result : generate(*engine, requests)) {
    ASSERT_TRUE(result.error.isOk()) << result.error.toString();
    const GeneratedSequence& seq = result.sequences[0];
    EXPECT_EQ(seq.finish_reason, FinishReason::kStop);
    EXPECT_NE(std::find(choices.begin(), choices.end(), seq.text), choices.end()) << seq.text;
    seen.insert(seq.text);
  }
  EXPECT_GE(seen.size(), 2u);  // the sampled answers do not all agree
  EXPECT_EQ(statsWhenIdle(*engine).kv_cache_usage, 0.0);
}

// Six constrained requests, greedy and sampled (constrainedRequests): every answer stops where
// the constraint ends and std::regex (ECMAScript) matches it as a whole, and they do not all
// agree.
void expectAnswersMatch(const std::string& id_prefix,
                        const std::function<void(SamplingParams&)>& constrain,
                        const std::string& oracle_pattern) {
  std::unique_ptr<LocalEngine> engine = makeEngine(engineConfig(64, /*prefix_caching=*/true));
  ASSERT_NE(engine, nullptr);
  const std::regex oracle(oracle_pattern, std::regex::ECMAScript);
  std::set<std::string> seen;
  for (const GenerationResult& result :
       generate(*engine, constrainedRequests(id_prefix, 6, 60, constrain))) {
    ASSERT_TRUE(result.error.isOk()) << result.error.toString();
    const GeneratedSequence& seq = result.sequences[0];
    EXPECT_EQ(seq.finish_reason, FinishReason::kStop) << seq.text;
    EXPECT_TRUE(std::regex_match(seq.text, oracle)) << seq.text;
    seen.insert(seq.text);
  }
  EXPECT_GE(seen.size(), 3u);
  EXPECT_EQ(statsWhenIdle(*engine).kv_cache_usage, 0.0);
}

// guided_regex: the pattern, as libstdc++'s std::regex reads it, matches every answer.
TEST(LocalEngineModel, GuidedRegexAnswersMatchThePattern) {
  const std::string pattern = "(Once|One day|The) [a-z]{1,8}( [a-z]{1,8}){0,3}\\.";
  expectAnswersMatch("r", [&](SamplingParams& params) { params.regex = pattern; }, pattern);
}

// guided_grammar (GBNF): every answer is a text the grammar derives. The grammar spells out a
// regular language with rules, alternatives, repetitions and nesting, so std::regex can judge
// it.
TEST(LocalEngineModel, GuidedGrammarAnswersFollowTheGrammar) {
  const std::string grammar = R"(root ::= opener " " words3 "."
opener ::= "Once" | "One day" | "The"   # how a story starts
words3 ::= word (" " words2)?
words2 ::= word (" " word)?
word ::= [a-z]{1,8})";
  expectAnswersMatch("g", [&](SamplingParams& params) { params.grammar = grammar; },
                     "(Once|One day|The) [a-z]{1,8}( [a-z]{1,8}( [a-z]{1,8})?)?\\.");
}

TEST(LocalEngineModel, AbortMidGenerationEndsTheStreamAndFreesEveryBlock) {
  std::unique_ptr<LocalEngine> engine = makeEngine(engineConfig(64, /*prefix_caching=*/true));
  ASSERT_NE(engine, nullptr);
  std::mt19937 rng(3);
  EngineRequest r = request("long", randomPrompt(rng, 30), 400);
  Result<std::shared_ptr<RequestStream>> stream = engine->submit(r);
  ASSERT_TRUE(stream.isOk());
  int received = 0;
  std::optional<FinishReason> reason;
  while (std::optional<RequestOutput> output = (*stream)->next()) {
    for (const SequenceDelta& delta : output->deltas) {
      received += static_cast<int>(delta.token_ids.size());
      if (delta.finish_reason) reason = delta.finish_reason;
    }
    if (received >= 5 && !reason) engine->abort("long");
    if (output->finished) break;
  }
  ASSERT_TRUE(reason.has_value());
  EXPECT_EQ(*reason, FinishReason::kAbort);
  EXPECT_LT(received, 400);
  const EngineStats stats = statsWhenIdle(*engine);
  EXPECT_EQ(stats.kv_cache_usage, 0.0);
  EXPECT_EQ(stats.num_running, 0);
  // The id is free again.
  EXPECT_TRUE(runOne(*engine, request("long", randomPrompt(rng, 5), 2)).error.isOk());
}

TEST(LocalEngineModel, ParallelSamplesEqualTheSameSamplesRequestedSeparately) {
  std::mt19937 rng(4);
  const std::vector<int32_t> prompt = randomPrompt(rng, 37);
  std::unique_ptr<LocalEngine> engine = makeEngine(engineConfig(64, /*prefix_caching=*/false));
  ASSERT_NE(engine, nullptr);
  EngineRequest parallel = request("n4", prompt, 20, 1.0f, 77);
  parallel.params.n = 4;
  const GenerationResult together = runOne(*engine, parallel);
  ASSERT_TRUE(together.error.isOk());
  ASSERT_EQ(together.sequences.size(), 4u);
  // Sample 0 of the n=4 request draws from (seed, sequence 0): exactly an n=1 request's draws.
  const GenerationResult single = runOne(*engine, request("n1", prompt, 20, 1.0f, 77));
  EXPECT_EQ(together.sequences[0].token_ids, single.sequences[0].token_ids);
  int distinct = 0;
  for (int k = 1; k < 4; ++k) {
    EXPECT_EQ(together.sequences[k].token_ids.size(), 20u);
    distinct += together.sequences[k].token_ids != together.sequences[0].token_ids ? 1 : 0;
  }
  EXPECT_GT(distinct, 0);
  EXPECT_EQ(statsWhenIdle(*engine).kv_cache_usage, 0.0);
}

// The n samples share the prompt's partial last block copy-on-write (the runner copies its KV);
// with block copies off, each sample recomputes that block instead. Both must give the same
// tokens for every sample.
TEST(LocalEngineModel, CopyOnWriteSamplesEqualSamplesThatRecomputeThePartialBlock) {
  std::mt19937 rng(8);
  const std::vector<int32_t> prompt = randomPrompt(rng, 45);  // 2 full blocks + 13 tokens
  EngineRequest parallel = request("n6", prompt, 16, 1.0f, 5);
  parallel.params.n = 6;
  std::unique_ptr<LocalEngine> copying = makeEngine(engineConfig(64, /*prefix_caching=*/false));
  ASSERT_NE(copying, nullptr);
  const GenerationResult copied = runOne(*copying, parallel);
  EngineConfig recompute_config = engineConfig(64, /*prefix_caching=*/false);
  recompute_config.scheduler.enable_block_copy = false;
  std::unique_ptr<LocalEngine> recomputing = makeEngine(recompute_config);
  ASSERT_NE(recomputing, nullptr);
  const GenerationResult recomputed = runOne(*recomputing, parallel);
  ASSERT_TRUE(copied.error.isOk());
  ASSERT_TRUE(recomputed.error.isOk());
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(copied.sequences[k].token_ids, recomputed.sequences[k].token_ids) << k;
  }
  EXPECT_EQ(statsWhenIdle(*copying).kv_cache_usage, 0.0);
}

TEST(LocalEngineModel, PromptLogprobsMatchTheDecodePathsLogprobs) {
  std::mt19937 rng(5);
  const std::vector<int32_t> prompt = randomPrompt(rng, 20);
  std::unique_ptr<LocalEngine> engine = makeEngine(engineConfig(64, /*prefix_caching=*/true));
  ASSERT_NE(engine, nullptr);
  // Greedy generation with logprobs: the decode path scores each generated token.
  EngineRequest generating = request("gen", prompt, 12);
  generating.params.logprobs = 2;
  const GenerationResult generated = runOne(*engine, generating);
  ASSERT_TRUE(generated.error.isOk());
  ASSERT_EQ(generated.sequences[0].logprobs.size(), 12u);
  // The same tokens as a prompt: prefill (in chunks of 16) scores them again.
  std::vector<int32_t> extended = prompt;
  extended.insert(extended.end(), generated.sequences[0].token_ids.begin(),
                  generated.sequences[0].token_ids.end());
  EngineRequest scoring = request("score", extended, 1);
  scoring.params.prompt_logprobs = 2;
  EngineConfig chunked = engineConfig(64, true);
  chunked.scheduler.max_num_batched_tokens = 16;
  std::unique_ptr<LocalEngine> small_batches = makeEngine(chunked);
  ASSERT_NE(small_batches, nullptr);
  const GenerationResult scored = runOne(*small_batches, scoring);
  ASSERT_TRUE(scored.error.isOk());
  ASSERT_EQ(scored.prompt_logprobs.size(), extended.size() - 1);
  for (size_t j = 0; j < 12; ++j) {
    const PositionLogprobs& decode = generated.sequences[0].logprobs[j];
    const PositionLogprobs& prefill = scored.prompt_logprobs[prompt.size() - 1 + j];
    EXPECT_EQ(prefill.chosen.token_id, decode.chosen.token_id);
    EXPECT_NEAR(prefill.chosen.logprob, decode.chosen.logprob, 1e-4) << j;
    ASSERT_EQ(prefill.top.size(), 2u);
    EXPECT_EQ(prefill.top[0].token_id, decode.top[0].token_id);
  }
}

// The engine stops at every EOS id the model names: config.json's as well as
// generation_config.json's (it used to take the generation config's alone, so `manifold serve`
// ran past an EOS that `manifold generate` stopped at); an id outside the vocabulary is a load
// error.
TEST(LocalEngineModel, StopsAtTheEosIdsOfConfigAndGenerationConfigAlike) {
  std::unique_ptr<LocalEngine> reference = makeEngine(engineConfig(64, false));
  ASSERT_NE(reference, nullptr);
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378, 432};
  const GenerationResult free_run = runOne(*reference, request("free", prompt, 12));
  ASSERT_TRUE(free_run.error.isOk()) << free_run.error.toString();
  const std::vector<int32_t>& tokens = free_run.sequences[0].token_ids;
  ASSERT_GE(tokens.size(), 6u);
  const int32_t stop = tokens[4];  // config.json's EOS in the copy below
  const auto first = std::find(tokens.begin(), tokens.end(), stop);
  ASSERT_NE(stop, 2);

  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "local_engine_two_eos";
  std::filesystem::remove_all(dir);
  std::filesystem::copy(kModelDir, dir, std::filesystem::copy_options::recursive);
  std::ifstream in(dir / "config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  in.close();
  config["eos_token_id"] = stop;
  std::ofstream(dir / "config.json") << config.dump();
  std::ofstream(dir / "generation_config.json") << R"({"eos_token_id": [2]})";
  EngineConfig engine_config = engineConfig(64, false);
  engine_config.model_dir = dir.string();
  std::unique_ptr<LocalEngine> engine = makeEngine(engine_config);
  ASSERT_NE(engine, nullptr);
  EngineRequest r = request("stops", prompt, 12);
  r.params.ignore_eos = false;
  const GenerationResult stopped = runOne(*engine, std::move(r));
  ASSERT_TRUE(stopped.error.isOk()) << stopped.error.toString();
  EXPECT_EQ(stopped.sequences[0].token_ids,
            std::vector<int32_t>(tokens.begin(), first + 1));  // up to config.json's EOS

  std::ofstream(dir / "generation_config.json") << R"({"eos_token_id": [2, 99999]})";
  const Status bad = LocalEngine::create(engine_config).status();
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("eos_token_id 99999 is not below vocab_size 512"), std::string::npos)
      << bad.message();
}

TEST(LocalEngineModel, RejectsPromptsThatLeaveNoRoomForOutput) {
  std::unique_ptr<LocalEngine> engine = makeEngine(engineConfig(64, true));
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->info().max_model_len, 512);
  std::mt19937 rng(6);
  const auto rejected = engine->submit(request("too-long", randomPrompt(rng, 512), 4));
  EXPECT_EQ(rejected.status().code(), StatusCode::kInvalidArgument);
  const auto bad_token = engine->submit(request("bad", {1, 2, 9999}, 4));
  EXPECT_EQ(bad_token.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace manifold
