// Bad input from outside the process: missing or corrupt files, invalid UTF-8, stray ids.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "engine/tokenizer/tokenizer.h"
#include "tests/engine/tokenizer/tokenizer_fixtures.h"

namespace manifold {
namespace {

using testing::loadTestVectors;
using testing::sharedTokenizer;
using testing::tokenizerDir;

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("manifold_tokenizer_test_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  void write(const std::string& name, const std::string& contents) const {
    std::ofstream(path_ / name, std::ios::binary) << contents;
  }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(TokenizerErrors, MissingTokenizerJsonIsNotFoundNamingTheFile) {
  TempDir dir;
  auto tokenizer = Tokenizer::fromDirectory(dir.path());
  ASSERT_FALSE(tokenizer.isOk());
  EXPECT_EQ(tokenizer.status().code(), StatusCode::kNotFound);
  EXPECT_NE(tokenizer.status().message().find(dir.path() + "/tokenizer.json"), std::string::npos);
}

TEST(TokenizerErrors, CorruptTokenizerJsonIsAnErrorNamingTheFile) {
  TempDir dir;
  dir.write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {");
  auto tokenizer = Tokenizer::fromDirectory(dir.path());
  ASSERT_FALSE(tokenizer.isOk());
  EXPECT_NE(tokenizer.status().message().find("tokenizer.json"), std::string::npos);
  EXPECT_NE(tokenizer.status().message().find("not valid JSON"), std::string::npos);
}

// A vocabulary id far past any real vocabulary sized a table by it (a billion entries: the
// process aborted on bad_alloc); ids above 2^24 - 1 are errors naming the token.
TEST(TokenizerErrors, ImplausiblyLargeIdsAreRefusedNotAllocated) {
  TempDir dir;
  dir.write("tokenizer.json",
            R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1000000000}, "merges": []}})");
  auto tokenizer = Tokenizer::fromDirectory(dir.path());
  ASSERT_FALSE(tokenizer.isOk());
  EXPECT_NE(tokenizer.status().message().find("model.vocab[\"b\"] must be an integer id from 0 "
                                              "to 16777215, got 1000000000"),
            std::string::npos)
      << tokenizer.status().message();
  dir.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},)"
                              R"( "added_tokens": [{"id": 99999999, "content": "<x>"}]})");
  auto added = Tokenizer::fromDirectory(dir.path());
  ASSERT_FALSE(added.isOk());
  EXPECT_NE(added.status().message().find("from 0 to 16777215"), std::string::npos)
      << added.status().message();
}

TEST(TokenizerErrors, UnsupportedModelTypeIsUnimplemented) {
  TempDir dir;
  dir.write("tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})");
  auto tokenizer = Tokenizer::fromDirectory(dir.path());
  ASSERT_FALSE(tokenizer.isOk());
  EXPECT_EQ(tokenizer.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(tokenizer.status().message().find("Unigram"), std::string::npos);
}

TEST(TokenizerErrors, CorruptTokenizerConfigIsAnErrorNamingTheFile) {
  TempDir dir;
  dir.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  dir.write("tokenizer_config.json", R"({"bos_token": 5})");
  auto tokenizer = Tokenizer::fromDirectory(dir.path());
  ASSERT_FALSE(tokenizer.isOk());
  EXPECT_NE(tokenizer.status().message().find("tokenizer_config.json"), std::string::npos);
  EXPECT_NE(tokenizer.status().message().find("bos_token"), std::string::npos);
}

TEST(TokenizerErrors, FolderWithOnlyTokenizerJsonLoadsWithDefaultConfig) {
  TempDir dir;
  dir.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
                                  "merges": ["a b"]}})");
  auto tokenizer = Tokenizer::fromDirectory(dir.path());
  ASSERT_TRUE(tokenizer.isOk()) << tokenizer.status().toString();
  EXPECT_EQ((*tokenizer)->encode("abab", true), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ((*tokenizer)->bosId(), std::nullopt);
  EXPECT_TRUE((*tokenizer)->eosIds().empty());
  EXPECT_TRUE((*tokenizer)->config().chat_templates.empty());
}

// Invalid bytes are replaced by U+FFFD before tokenizing, so the ids equal those of the repaired
// text (whose ids are checked against HF: "\xEF\xBF\xBD" is an ordinary character).
TEST(TokenizerErrors, InvalidUtf8InputIsTokenizedAsReplacementCharacters) {
  for (const char* name : {"gpt2", "llama2", "llama3-8b-instruct", "qwen2.5-instruct"}) {
    const Tokenizer& tokenizer = sharedTokenizer(tokenizerDir(name));
    EXPECT_EQ(tokenizer.encode("a\xFF"
                               "b \xE4\xB8",
                               false),
              tokenizer.encode("a\xEF\xBF\xBD"
                               "b \xEF\xBF\xBD",
                               false))
        << name;
    const std::string all_bytes = [] {
      std::string bytes;
      for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
      return bytes;
    }();
    EXPECT_FALSE(tokenizer.encode(all_bytes, true).empty()) << name;
  }
}

TEST(TokenizerErrors, IdsOutsideTheVocabularyDecodeToNothing) {
  const Tokenizer& tokenizer = sharedTokenizer(tokenizerDir("llama3-8b-instruct"));
  const std::vector<int32_t> ids = {9906, 128256, -1, 1917, 2000000000};
  EXPECT_EQ(tokenizer.decode(ids, false), "Hello world");
  EXPECT_EQ(tokenizer.idToToken(128256), std::nullopt);
  EXPECT_FALSE(tokenizer.isSpecial(-3));
}

// Pathological inputs for the regexes and the merge loop: long whitespace runs, a long word, a
// long run of one CJK character. Byte-level BPE must give the text back exactly.
TEST(TokenizerErrors, HugeRunsStillRoundTrip) {
  std::string cjk_run;
  for (int i = 0; i < 20000; ++i) cjk_run += "\xE4\xB8\xAD";
  const std::vector<std::string> texts = {std::string(300000, ' ') + "x", std::string(100000, 'a'),
                                          cjk_run, std::string(50000, '\n') + "end"};
  for (const char* name : {"gpt2", "llama3-8b-instruct", "qwen2.5-instruct", "llama2"}) {
    const Tokenizer& tokenizer = sharedTokenizer(tokenizerDir(name));
    for (const std::string& text : texts) {
      EXPECT_EQ(tokenizer.decode(tokenizer.encode(text, false), false), text)
          << name << " length " << text.size();
    }
  }
}

// Many threads encoding at once (sharing the word cache) still produce the HF ids.
TEST(TokenizerThreads, ConcurrentEncodesMatchHuggingFaceIds) {
  const std::string dir = tokenizerDir("llama3-8b-instruct");
  const Tokenizer& tokenizer = sharedTokenizer(dir);
  const auto cases = loadTestVectors(dir);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (size_t i = 0; i < cases.size(); ++i) {
          const auto& test_case = cases[(i + static_cast<size_t>(t) * 7) % cases.size()];
          if (tokenizer.encode(test_case.text, false) != test_case.ids) ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace manifold
