// Randomized requests for gateway tests: valid bodies of every generating endpoint with one to
// three structural mutations each (a field's value replaced by one of another type or an extreme,
// a field removed, an unknown one added, a scalar wrapped in a list), and one time in five
// byte-level ones on top (bytes flipped, inserted, cut). Deterministic for a seed.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace manifold::testing {

using FuzzSeed = std::pair<std::string, nlohmann::json>;  // path, body

// Valid requests touching most fields each endpoint reads, so that mutations reach them: for
// /v1/completions, /tokenize and /detokenize on `model`, /v1/chat/completions (with tools, tool
// calls and results, logprobs) on `chat_model`.
[[nodiscard]] std::vector<FuzzSeed> fuzzSeedRequests(const std::string& model,
                                                     const std::string& chat_model);

struct FuzzTally {
  int successes = 0;  // answered 200
  int errors = 0;     // answered 4xx
};

// POSTs `rounds` mutated copies of each seed to the server on `port`. Each answer must be a 200
// (a JSON object, or a stream that ends with [DONE]) or a 4xx with an OpenAI error body; a 5xx or
// no answer fails the test and stops. Failures name the seed, the round and the body sent.
FuzzTally sendMutatedRequests(uint16_t port, const std::vector<FuzzSeed>& seeds, int rounds,
                              uint64_t seed_base);

}  // namespace manifold::testing
