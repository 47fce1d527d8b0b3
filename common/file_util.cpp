#include "common/file_util.h"

#include <fstream>
#include <sstream>

namespace manifold {

Result<std::string> readFile(const std::filesystem::path& path) {
  // A directory opens as an empty stream: say what it is instead of reading nothing.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return invalidArgument(path.string() + ": is a directory, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return notFound(path.string() + ": cannot be opened (missing or unreadable)");
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return dataLoss(path.string() + ": read failed");
  return contents.str();
}

}  // namespace manifold
