// A deterministic EngineClient for gateway tests: no model, real stories260K tokenizer (the
// interface hands it out), one worker thread that emits one token per sequence per step.
//
// Output rule (tests compute expectations from it, independently of the gateway): sequence s of a
// request with seed `seed` (0 when none) emits at step t the letter
//   'a' + (seed + t + (temperature > 0 ? 7 * s : 0)) % 26
// as the byte-fallback token id 3 + letter. Stop strings end a sequence (text held back so a stop
// string is never emitted partially); max_tokens ends it with "length".
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_client.h"
#include "engine/tokenizer/tokenizer.h"

namespace manifold::testing {

struct FakeEngineOptions {
  int max_model_len = 256;
  int max_num_seqs = 0;                      // > 0: requests with a larger n are refused
  int refuse_submits_from = -1;              // >= 0: the submits from this (0-based) one fail
  std::chrono::milliseconds token_delay{0};  // between steps
  bool start_held = false;                   // no steps until release()
  // Non-empty: every sequence writes this text instead of letters, one byte-fallback token
  // (3 + byte) per byte, repeating it if max_tokens asks for more.
  std::string script;
};

class FakeEngine final : public EngineClient {
 public:
  explicit FakeEngine(FakeEngineOptions options = {});
  ~FakeEngine() override;

  Result<std::shared_ptr<RequestStream>> submit(EngineRequest request) override;
  void abort(const std::string& request_id) override;
  void abortAll() override;
  EngineStats stats() const override;
  const EngineInfo& info() const override { return info_; }
  const Tokenizer& tokenizer() const override { return *tokenizer_; }

  // Test hooks.
  void hold();     // pause generation (requests stay running)
  void release();  // resume
  [[nodiscard]] std::vector<std::string> abortedIds() const;
  [[nodiscard]] std::vector<EngineRequest> submitted() const;
  [[nodiscard]] int numActive() const;

  // The token the rule above emits.
  static int32_t tokenFor(uint64_t seed, int step, int seq, bool random);

  // The stories260K tokenizer the fake hands out (loaded once per process).
  static const Tokenizer& sharedTokenizer();

 private:
  struct Sequence {
    std::string text;    // all text generated (before the stop cut)
    size_t emitted = 0;  // bytes of text already sent
    int generated = 0;
    bool finished = false;
  };
  struct Active {
    EngineRequest request;
    std::shared_ptr<RequestStream> stream;
    std::vector<Sequence> seqs;
    bool first_output = true;
    bool aborted = false;
  };

  void loop();
  void step(Active& active);  // REQUIRES: mu_ held

  FakeEngineOptions options_;
  EngineInfo info_;
  const Tokenizer* tokenizer_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, Active> active_;  // GUARDED_BY(mu_)
  std::vector<std::string> aborted_;      // GUARDED_BY(mu_)
  std::vector<EngineRequest> submitted_;  // GUARDED_BY(mu_)
  bool held_ = false;                     // GUARDED_BY(mu_)
  bool stopping_ = false;                 // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace manifold::testing
