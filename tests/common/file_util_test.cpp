#include "common/file_util.h"

#include <gtest/gtest.h>

#include <fstream>

namespace manifold {
namespace {

TEST(ReadFile, ReturnsTheBytesOfTheFile) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / "manifold_read_file_test.bin";
  const std::string bytes("a\0b\r\n\xff", 6);
  std::ofstream(path, std::ios::binary) << bytes;
  Result<std::string> read = readFile(path);
  ASSERT_TRUE(read.isOk()) << read.status().toString();
  EXPECT_EQ(read.value(), bytes);
  std::filesystem::remove(path);
}

TEST(ReadFile, NamesTheMissingPath) {
  Result<std::string> read = readFile("/nonexistent/dir/config.json");
  ASSERT_FALSE(read.isOk());
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
  EXPECT_NE(read.status().message().find("/nonexistent/dir/config.json"), std::string::npos);
}

// A directory opens as an empty stream; reading one where a file is expected (a config, a schema,
// a prompt file) is an error that says so, not an empty text.
TEST(ReadFile, RefusesADirectory) {
  Result<std::string> read = readFile(std::filesystem::temp_directory_path());
  ASSERT_FALSE(read.isOk());
  EXPECT_EQ(read.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(read.status().message().find("is a directory, not a file"), std::string::npos)
      << read.status().message();
}

}  // namespace
}  // namespace manifold
