// Paths and loaders for the tokenizer fixtures bundled in the repository (tests/data/tokenizers,
// models/stories260K). Tests never read ../shared.
#pragma once

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/tokenizer/tokenizer.h"

namespace manifold::testing {

inline std::string tokenizerDir(const std::string& name) {
  return std::string(MANIFOLD_SOURCE_DIR) + "/tests/data/tokenizers/" + name;
}

inline std::string stories260kDir() {
  return std::string(MANIFOLD_SOURCE_DIR) + "/models/stories260K";
}

inline nlohmann::json readJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return nlohmann::json::parse(buffer.str());
}

struct TestVector {
  std::string text;
  std::vector<int32_t> ids;
};

// The cases of <dir>/testvectors.json: encode(text, add_special_tokens=false) == ids, from HF
// AutoTokenizer via llama.cpp's vocab test files.
inline std::vector<TestVector> loadTestVectors(const std::string& dir) {
  const nlohmann::json root = readJsonFile(dir + "/testvectors.json");
  std::vector<TestVector> cases;
  for (const auto& entry : root.at("cases")) {
    cases.push_back(
        {entry.at("text").get<std::string>(), entry.at("ids").get<std::vector<int32_t>>()});
  }
  return cases;
}

// A test name for a tokenizer folder parameter ("llama3-8b-instruct" -> "llama3_8b_instruct").
inline std::string tokenizerParamName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// Tokenizers are large (Llama-3's tokenizer.json is 9 MB): load each once per test binary.
inline const Tokenizer& sharedTokenizer(const std::string& dir) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto it = cache.find(dir);
  if (it == cache.end()) {
    auto loaded = Tokenizer::fromDirectory(dir);
    if (!loaded.isOk()) {
      ADD_FAILURE() << loaded.status().toString();
      std::abort();
    }
    it = cache.emplace(dir, std::move(loaded).value()).first;
  }
  return *it->second;
}

}  // namespace manifold::testing
