// `manifold tokenize`: encode text (or decode ids) with a model folder's tokenizer and print JSON.
//
//   manifold tokenize --model DIR --text "Hello"            -> {"ids": [1, 15043]}
//   manifold tokenize --model DIR --file prompt.txt --no-special
//   manifold tokenize --model DIR --decode 1,15043 [--skip-special]  -> {"text": "<s> Hello"}
//
// DIR needs only tokenizer.json (and optionally tokenizer_config.json).
#include <CLI/CLI.hpp>
#include <charconv>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/tokenizer.h"
#include "common/file_util.h"
#include "gateway/cli/commands.h"

namespace manifold::cli {
namespace {

struct TokenizeOptions {
  std::string model_dir;
  std::string text;
  std::string file;
  std::string decode_ids;
  bool no_special = false;
  bool skip_special = false;
};

// Parses "1,2, 3" into ids; errors name the offending item.
Result<std::vector<int32_t>> parseIds(const std::string& list) {
  std::vector<int32_t> ids;
  std::stringstream stream(list);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const size_t begin = item.find_first_not_of(" \t");
    const size_t end = item.find_last_not_of(" \t");
    if (begin == std::string::npos) {
      if (stream.eof() && !ids.empty()) break;  // a trailing comma
      return invalidArgument("--decode: empty id in \"" + list + "\"");
    }
    const std::string trimmed = item.substr(begin, end - begin + 1);
    int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), value);
    if (ec != std::errc() || ptr != trimmed.data() + trimmed.size() || value < INT32_MIN ||
        value > INT32_MAX) {
      return invalidArgument("--decode: \"" + trimmed + "\" is not an integer id");
    }
    ids.push_back(static_cast<int32_t>(value));
  }
  return ids;
}

Result<nlohmann::json> runTokenize(const TokenizeOptions& options, bool have_text, bool have_file,
                                   bool have_decode) {
  if (static_cast<int>(have_text) + static_cast<int>(have_file) + static_cast<int>(have_decode) !=
      1) {
    return invalidArgument("give exactly one of --text, --file or --decode");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer,
                   Tokenizer::fromDirectory(options.model_dir));
  if (have_decode) {
    ASSIGN_OR_RETURN(std::vector<int32_t> ids, parseIds(options.decode_ids));
    for (int32_t id : ids) {
      if (id < 0 || id >= tokenizer->vocabSize()) {
        return invalidArgument("--decode: token id " + std::to_string(id) +
                               " is outside the tokenizer's " +
                               std::to_string(tokenizer->vocabSize()) + " ids");
      }
    }
    return nlohmann::json{{"text", tokenizer->decode(ids, options.skip_special)}};
  }
  std::string text = options.text;
  if (have_file) {
    ASSIGN_OR_RETURN(text, readFile(options.file));
  }
  return nlohmann::json{{"ids", tokenizer->encode(text, !options.no_special)}};
}

}  // namespace

void addTokenizeCommand(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Encode text to token ids (or decode ids to text) with a model's tokenizer");
  cmd->add_option("--model", options->model_dir, "Folder with tokenizer.json")->required();
  CLI::Option* text = cmd->add_option("--text", options->text, "Text to encode");
  CLI::Option* file = cmd->add_option("--file", options->file, "File whose contents to encode");
  CLI::Option* decode =
      cmd->add_option("--decode", options->decode_ids, "Comma-separated ids to decode instead");
  cmd->add_flag("--no-special", options->no_special,
                "Encode with add_special_tokens=false (no BOS/EOS; special tokens written in the "
                "text are still recognised)");
  cmd->add_flag("--skip-special", options->skip_special,
                "With --decode, drop special tokens from the text");
  cmd->callback([options, text, file, decode] {
    Result<nlohmann::json> result =
        runTokenize(*options, text->count() > 0, file->count() > 0, decode->count() > 0);
    if (!result.isOk()) {
      std::cerr << "manifold tokenize: " << result.status().toString() << "\n";
      throw CLI::RuntimeError(1);
    }
    std::cout << result->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  });
}

}  // namespace manifold::cli
