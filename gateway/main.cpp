// The `manifold` executable: one binary, one subcommand per job (serve, generate, tokenize,
// chat-template, bench, make-random-model).
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <new>

#include "gateway/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"manifold: one process, one port, many models (OpenAI-compatible LLM server)"};
  app.require_subcommand(1);
  manifold::cli::addVersionCommand(app);
  manifold::cli::addServeCommand(app);
  manifold::cli::addMakeRandomModelCommand(app);
  manifold::cli::addTokenizeCommand(app);
  manifold::cli::addGenerateCommand(app);
  manifold::cli::addChatTemplateCommand(app);
  manifold::cli::addBenchServeCommand(app);
  manifold::cli::addBenchThroughputCommand(app);
  // A command that runs out of memory or meets an unexpected exception says so in one line and
  // exits 1, rather than aborting with a core dump.
  try {
    CLI11_PARSE(app, argc, argv);
  } catch (const std::bad_alloc&) {
    std::cerr << "manifold: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "manifold: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
