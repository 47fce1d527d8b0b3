// Every malformed input here is built byte by byte in the test, independently of the writer.
#include "engine/loader/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace manifold {
namespace {

// Value i of an F32 tensor. Safetensors data need not be 4-byte aligned (the header's length
// decides), so it is read by copy, as the loader does.
float floatAt(const void* data, size_t i) {
  float value;
  std::memcpy(&value, static_cast<const char*>(data) + i * sizeof(float), sizeof(float));
  return value;
}

namespace fs = std::filesystem;

fs::path freshDir() {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(testing::TempDir()) / "safetensors_test" /
                 (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string lengthPrefix(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

// 8-byte length, the header text verbatim, then `data`.
std::string fileBytes(const std::string& header, const std::string& data) {
  return lengthPrefix(header.size()) + header + data;
}

std::string floatBytes(const std::vector<float>& values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

void writeFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

Status openStatus(const std::string& bytes) {
  fs::path path = freshDir() / "model.safetensors";
  writeFile(path, bytes);
  return SafetensorsFile::open(path).status();
}

void expectDataLoss(const std::string& bytes, const std::string& text,
                    StatusCode code = StatusCode::kDataLoss) {
  Status status = openStatus(bytes);
  EXPECT_EQ(status.code(), code) << status.toString();
  EXPECT_NE(status.message().find(text), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("model.safetensors"), std::string::npos) << status.message();
}

// Two F32 tensors: a [2, 3] = 0..5 and b [4] = 10..13, plus metadata.
std::string validFile() {
  const std::string header = R"({"__metadata__":{"format":"pt"},)"
                             R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                             R"("b":{"dtype":"F32","shape":[4],"data_offsets":[24,40]}})";
  return fileBytes(header, floatBytes({0, 1, 2, 3, 4, 5, 10, 11, 12, 13}));
}

TEST(SafetensorsFile, ReadsTensorsAndMetadataOfAValidFile) {
  fs::path path = freshDir() / "model.safetensors";
  writeFile(path, validFile());
  Result<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::open(path);
  ASSERT_TRUE(file.isOk()) << file.status().toString();
  ASSERT_EQ((*file)->tensors().size(), 2u);
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  const TensorView* a = (*file)->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::kF32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->nbytes, 24u);
  EXPECT_EQ(floatAt(a->data, 5), 5.0f);
  const TensorView* b = (*file)->find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(floatAt(b->data, 0), 10.0f);
  EXPECT_EQ(floatAt(b->data, 3), 13.0f);
  EXPECT_EQ((*file)->find("c"), nullptr);
}

TEST(SafetensorsFile, AcceptsBf16AndF16Tensors) {
  const std::string header = R"({"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},)"
                             R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}})";
  std::string data = {'\x00', '\x3c', '\x80', '\x3f'};  // f16 1.0, bf16 1.0
  fs::path path = freshDir() / "model.safetensors";
  writeFile(path, fileBytes(header, data));
  Result<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::open(path);
  ASSERT_TRUE(file.isOk()) << file.status().toString();
  const TensorView* h = (*file)->find("h");
  const TensorView* b = (*file)->find("b");
  EXPECT_EQ(h->dtype, DType::kF16);
  EXPECT_EQ(f16ToF32(*static_cast<const uint16_t*>(h->data)), 1.0f);
  EXPECT_EQ(b->dtype, DType::kBF16);
  EXPECT_EQ(bf16ToF32(*static_cast<const uint16_t*>(b->data)), 1.0f);
}

TEST(SafetensorsFile, RejectsAFileShorterThanTheLengthPrefix) {
  expectDataLoss("abc", "shorter than the 8-byte header length");
}

TEST(SafetensorsFile, RejectsAHeaderLengthLargerThanTheFile) {
  expectDataLoss(lengthPrefix(1000) + "{}", "header length 1000 is larger than the rest");
}

TEST(SafetensorsFile, RejectsAHeaderLengthAboveTheLimit) {
  expectDataLoss(lengthPrefix(200ull << 20) + "{}", "exceeds");
}

TEST(SafetensorsFile, RejectsAHeaderThatIsNotJson) {
  expectDataLoss(fileBytes("{\"a\": [1, 2", ""), "header is not a JSON object");
  expectDataLoss(fileBytes("[1, 2]", ""), "header is not a JSON object");
}

TEST(SafetensorsFile, RejectsATruncatedFileNamingTheTensor) {
  std::string bytes = validFile();
  bytes.resize(bytes.size() - 4);  // b ends past the data
  expectDataLoss(bytes, "tensor \"b\": data_offsets end 40 is past the end of the data (36 bytes)");
}

TEST(SafetensorsFile, RejectsOffsetsThatEndBeforeTheyBegin) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})";
  expectDataLoss(fileBytes(header, std::string(8, '\0')), "tensor \"a\": data_offsets [8, 4]");
}

TEST(SafetensorsFile, RejectsNegativeOffsets) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})";
  expectDataLoss(fileBytes(header, std::string(8, '\0')), "are negative");
}

TEST(SafetensorsFile, RejectsOverlappingTensors) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                             R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})";
  expectDataLoss(fileBytes(header, std::string(24, '\0')), "\"a\" and \"b\" overlap");
}

// The reference implementation's rule: the tensors fill the data exactly. A gap, bytes past the
// last tensor, or a header length off by one (every tensor read one byte off: it loaded and
// generated garbage) are errors.
TEST(SafetensorsFile, RejectsGapsTrailingBytesAndAHeaderLengthThatIsOff) {
  const std::string gap = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  expectDataLoss(fileBytes(gap, std::string(12, '\0')),
                 "tensor \"b\" begins at byte 8 of the data, not at 4");
  const std::string late = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  expectDataLoss(fileBytes(late, std::string(8, '\0')), "tensor \"a\" begins at byte 4");
  expectDataLoss(validFile() + "x",
                 "the tensors end at byte 40 of the data, but the file holds 41 bytes");
  // The length prefix one short of a header padded with a space (as writers pad it): still
  // JSON, and the pad byte is read as the first byte of the data.
  const std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} )";
  std::string off = fileBytes(header, std::string(4, '\0'));
  off[0] = static_cast<char>(off[0] - 1);
  expectDataLoss(off, "the tensors end at byte 4 of the data, but the file holds 5 bytes");
}

TEST(SafetensorsFile, RejectsUnsupportedDtypesNamingTheTensor) {
  const std::string header = R"({"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})";
  expectDataLoss(fileBytes(header, std::string(8, '\0')),
                 "tensor \"ids\": dtype \"I64\" is not supported", StatusCode::kUnimplemented);
}

TEST(SafetensorsFile, RejectsAShapeThatDisagreesWithTheByteCount) {
  const std::string header = R"({"w":{"dtype":"BF16","shape":[3,3],"data_offsets":[0,16]}})";
  expectDataLoss(fileBytes(header, std::string(16, '\0')),
                 "tensor \"w\": BF16 [3, 3] needs 18 bytes but data_offsets span 16");
}

TEST(SafetensorsFile, RejectsNegativeOrNonIntegerDims) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]}})";
  expectDataLoss(fileBytes(header, std::string(16, '\0')), "non-integer or negative dim");
  const std::string header2 = R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})";
  expectDataLoss(fileBytes(header2, std::string(4, '\0')), "non-integer or negative dim");
}

TEST(SafetensorsFile, RejectsEntriesWithoutOffsets) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[1]}})";
  expectDataLoss(fileBytes(header, std::string(4, '\0')), "\"data_offsets\" must be [begin, end]");
}

TEST(SafetensorsFile, RejectsNonStringMetadata) {
  const std::string header = R"({"__metadata__":{"format":3}})";
  expectDataLoss(fileBytes(header, ""), "__metadata__ values must be strings");
}

TEST(SafetensorsFile, MissingFileIsNotFound) {
  Status status = SafetensorsFile::open("/nonexistent/model.safetensors").status();
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("/nonexistent/model.safetensors"), std::string::npos);
}

TEST(WeightStore, ChecksPresenceAndShapeOfEachTensor) {
  fs::path dir = freshDir();
  writeFile(dir / "model.safetensors", validFile());
  Result<std::unique_ptr<WeightStore>> store = WeightStore::open(dir);
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  EXPECT_EQ((*store)->totalBytes(), 40u);
  Result<TensorView> a = (*store)->get("a", {2, 3});
  ASSERT_TRUE(a.isOk());
  EXPECT_EQ(floatAt(a->data, 1), 1.0f);

  Status missing = (*store)->get("lm_head.weight", {4}).status();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("tensor \"lm_head.weight\" is missing"), std::string::npos);
  EXPECT_NE(missing.message().find("model.safetensors"), std::string::npos);

  Status shape = (*store)->get("a", {3, 2}).status();
  EXPECT_EQ(shape.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(
      shape.message().find("model.safetensors: tensor \"a\" has shape [2, 3], expected [3, 2]"),
      std::string::npos)
      << shape.message();
}

// I8 (a quantized checkpoint's weights) is read, one byte a value; get() keeps to float tensors
// and getInt8() to I8 ones, so neither reads the other's bytes as its own.
TEST(WeightStore, ReadsI8WeightsOnlyWhereAskedFor) {
  fs::path dir = freshDir();
  // In the reference writer's order (wider dtypes first), which keeps every tensor aligned.
  const std::string header = R"({"s":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},)"
                             R"("q":{"dtype":"I8","shape":[2,3],"data_offsets":[8,14]}})";
  writeFile(dir / "model.safetensors",
            fileBytes(header, std::string(8, '\0') + std::string("\x01\x80\x7f\xff\x00\x02", 6)));
  Result<std::unique_ptr<WeightStore>> store = WeightStore::open(dir);
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  Result<TensorView> q = (*store)->getInt8("q", {2, 3});
  ASSERT_TRUE(q.isOk()) << q.status().toString();
  EXPECT_EQ(q->dtype, DType::kI8);
  EXPECT_EQ(q->nbytes, 6u);
  EXPECT_EQ(static_cast<const int8_t*>(q->data)[1], -128);
  EXPECT_EQ(static_cast<const int8_t*>(q->data)[3], -1);
  Status as_float = (*store)->get("q", {2, 3}).status();
  EXPECT_EQ(as_float.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(as_float.message().find("tensor \"q\" is I8 where a float tensor is expected"),
            std::string::npos)
      << as_float.message();
  Status as_int8 = (*store)->getInt8("s", {2, 1}).status();
  EXPECT_EQ(as_int8.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(as_int8.message().find("tensor \"s\" is F32, expected I8"), std::string::npos)
      << as_int8.message();
  EXPECT_TRUE((*store)->get("s", {2, 1}).isOk());
}

// NaN and infinities in each float dtype, past the scan's first chunk, in a file whose odd header
// length leaves every tensor unaligned; the largest finite values pass.
TEST(WeightStore, ChecksFloatTensorsForNanAndInfinity) {
  const fs::path dir = freshDir();
  std::vector<float> f32(3 * 5000, 0.5f);
  f32[2 * 5000 + 17] = std::numeric_limits<float>::quiet_NaN();
  f32[5] = std::numeric_limits<float>::max();
  std::string bf16(2 * 4, '\0');
  bf16[2] = '\x7f';  // element 1: 0x7f7f, the largest finite BF16
  bf16[3] = '\x7f';
  bf16[6] = '\x80';  // element 3: 0x7f80, +inf
  bf16[7] = '\x7f';
  std::string f16(2 * 3, '\0');
  f16[0] = '\xff';  // element 0: 0x7bff, the largest finite F16
  f16[1] = '\x7b';
  f16[5] = '\xfc';  // element 2: 0xfc00, -inf
  std::string healthy = floatBytes({1.0f, -2.0f, 0.0f, -0.0f});
  std::string header = R"({"f32":{"dtype":"F32","shape":[3,5000],"data_offsets":[0,60000]},)"
                       R"("ok":{"dtype":"F32","shape":[4],"data_offsets":[60000,60016]},)"
                       R"("bf16":{"dtype":"BF16","shape":[2,2],"data_offsets":[60016,60024]},)"
                       R"("f16":{"dtype":"F16","shape":[3],"data_offsets":[60024,60030]},)"
                       R"("q":{"dtype":"I8","shape":[2],"data_offsets":[60030,60032]}})";
  if (header.size() % 2 == 0) header += " ";
  writeFile(dir / "model.safetensors",
            fileBytes(header, floatBytes(f32) + healthy + bf16 + f16 + "\xff\x7f"));
  Result<std::unique_ptr<WeightStore>> store = WeightStore::open(dir);
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  auto expectCorrupt = [&](const std::string& name, std::vector<int64_t> shape,
                           const std::string& text) {
    Result<TensorView> view = (*store)->get(name, shape);
    ASSERT_TRUE(view.isOk()) << view.status().toString();
    Status status = (*store)->checkFinite(*view);
    EXPECT_EQ(status.code(), StatusCode::kDataLoss) << name;
    EXPECT_NE(status.message().find("model.safetensors: tensor \"" + name + "\" holds " + text +
                                    ": the checkpoint is corrupt"),
              std::string::npos)
        << status.message();
  };
  expectCorrupt("f32", {3, 5000}, "NaN at [2, 17]");
  expectCorrupt("bf16", {2, 2}, "inf at [1, 1]");
  expectCorrupt("f16", {3}, "-inf at [2]");
  EXPECT_TRUE((*store)->checkFinite((*store)->get("ok", {4}).value()).isOk());
  EXPECT_TRUE((*store)->checkFinite((*store)->getInt8("q", {2}).value()).isOk());
}

// Narrowed, values must stay finite. As F16 (largest 65504) a value from half-way past it (65520)
// rounds to inf; as BF16, an F32 value from 0x7f7f8000 (FLT_MAX among them). NaN and inf are
// still the checkpoint's corruption, reported first wherever they are.
TEST(WeightStore, ChecksThatNarrowedValuesStayFinite) {
  const fs::path dir = freshDir();
  const float kLastToFit = std::nextafter(65520.0f, 0.0f);
  ASSERT_TRUE(std::isfinite(f16ToF32(f32ToF16(kLastToFit))));
  ASSERT_TRUE(std::isinf(f16ToF32(f32ToF16(65520.0f))));
  float below_bf16_overflow;
  const uint32_t below_bits = 0x7f7f7fffu;
  std::memcpy(&below_bf16_overflow, &below_bits, sizeof(below_bits));
  ASSERT_TRUE(std::isfinite(bf16ToF32(f32ToBf16(below_bf16_overflow))));
  ASSERT_TRUE(std::isinf(bf16ToF32(f32ToBf16(std::numeric_limits<float>::max()))));
  const float kNan = std::numeric_limits<float>::quiet_NaN();
  std::map<std::string, std::string> f32 = {
      {"fits", floatBytes({65504.0f, -kLastToFit, 1e-9f, 0.0f})},
      {"wide", floatBytes({1.0f, 2.0f, 3.0f, -65520.0f})},
      {"wider", floatBytes({131071.99f, 0.0f})},
      {"nan", floatBytes({1.0f, kNan})},
      {"wide_then_nan", floatBytes({1e6f, 1.0f, 2.0f, kNan})},
      {"huge", floatBytes({below_bf16_overflow, -std::numeric_limits<float>::max()})}};
  std::string header = "{";
  std::string data;
  for (const auto& [name, bytes] : f32) {
    header += "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(bytes.size() / 4) +
              "],\"data_offsets\":[" + std::to_string(data.size()) + "," +
              std::to_string(data.size() + bytes.size()) + "]},";
    data += bytes;
  }
  // BF16 0x477f (65280) fits F16, 0x4780 (65536) does not.
  header += "\"bf16_fits\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[" +
            std::to_string(data.size()) + "," + std::to_string(data.size() + 4) + "]},";
  data += std::string("\x7f\x47\x7f\xc7", 4);
  header += "\"bf16_wide\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[" +
            std::to_string(data.size()) + "," + std::to_string(data.size() + 4) + "]}}";
  data += std::string("\x00\x3f\x80\x47", 4);
  writeFile(dir / "model.safetensors", fileBytes(header, data));
  Result<std::unique_ptr<WeightStore>> store = WeightStore::open(dir);
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  auto check = [&](const std::string& name, DType as) {
    Result<TensorView> view = (*store)->get(
        name, {name.rfind("bf16", 0) == 0 ? 2 : static_cast<int64_t>(f32[name].size() / 4)});
    EXPECT_TRUE(view.isOk()) << view.status().toString();
    return view.isOk() ? (*store)->checkFinite(*view, as) : view.status();
  };
  auto expectTooWide = [&](const std::string& name, DType as, const std::string& text) {
    const Status status = check(name, as);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_NE(status.message().find("model.safetensors: tensor \"" + name + "\" holds " + text),
              std::string::npos)
        << status.message();
  };
  EXPECT_TRUE(check("fits", DType::kF16).isOk()) << check("fits", DType::kF16).toString();
  EXPECT_TRUE(check("bf16_fits", DType::kF16).isOk());
  expectTooWide("wide", DType::kF16, "-65520 at [3], beyond F16's range (largest 65504)");
  expectTooWide("wider", DType::kF16, "131071.992 at [0]");  // the stored value, not rounded
  expectTooWide("bf16_wide", DType::kF16, "65536 at [1]");
  expectTooWide("huge", DType::kBF16, "-3.40282347e+38 at [1], beyond BF16's range");
  EXPECT_TRUE(check("wide", DType::kBF16).isOk());
  EXPECT_TRUE(check("wide", DType::kF32).isOk());
  EXPECT_TRUE(check("huge", DType::kF32).isOk());
  EXPECT_EQ(check("nan", DType::kF16).code(), StatusCode::kDataLoss);
  const Status corrupt = check("wide_then_nan", DType::kF16);
  EXPECT_EQ(corrupt.code(), StatusCode::kDataLoss);
  EXPECT_NE(corrupt.message().find("holds NaN at [3]"), std::string::npos) << corrupt.message();
}

TEST(WeightStore, ReportsAFolderWithoutWeights) {
  Status status = WeightStore::open(freshDir()).status();
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("no model.safetensors"), std::string::npos);
}

std::string shardBytes(const std::string& name, float value) {
  return fileBytes(R"({")" + name + R"(":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                   floatBytes({value}));
}

TEST(WeightStore, LoadsEveryShardListedInTheIndex) {
  fs::path dir = freshDir();
  writeFile(dir / "model-00001-of-00002.safetensors", shardBytes("x", 1.0f));
  writeFile(dir / "model-00002-of-00002.safetensors", shardBytes("y", 2.0f));
  writeFile(dir / "model.safetensors.index.json",
            R"({"metadata":{"total_size":8},"weight_map":{)"
            R"("x":"model-00001-of-00002.safetensors","y":"model-00002-of-00002.safetensors"}})");
  Result<std::unique_ptr<WeightStore>> store = WeightStore::open(dir);
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  EXPECT_EQ((*store)->numFiles(), 2u);
  EXPECT_EQ(floatAt((*store)->get("x", {1})->data, 0), 1.0f);
  EXPECT_EQ(floatAt((*store)->get("y", {1})->data, 0), 2.0f);
}

TEST(WeightStore, ReportsAShardTheIndexNamesButIsMissing) {
  fs::path dir = freshDir();
  writeFile(dir / "model-00001-of-00002.safetensors", shardBytes("x", 1.0f));
  writeFile(dir / "model.safetensors.index.json",
            R"({"weight_map":{"x":"model-00001-of-00002.safetensors",)"
            R"("y":"model-00002-of-00002.safetensors"}})");
  Status status = WeightStore::open(dir).status();
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("lists shard \"model-00002-of-00002.safetensors\""),
            std::string::npos)
      << status.message();
}

TEST(WeightStore, ReportsAnIndexThatPlacesATensorInTheWrongShard) {
  fs::path dir = freshDir();
  writeFile(dir / "a.safetensors", shardBytes("x", 1.0f));
  writeFile(dir / "b.safetensors", shardBytes("y", 2.0f));
  writeFile(dir / "model.safetensors.index.json",
            R"({"weight_map":{"x":"b.safetensors","y":"a.safetensors"}})");
  Status status = WeightStore::open(dir).status();
  EXPECT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("weight_map says tensor"), std::string::npos);
}

TEST(WeightStore, ReportsATensorDuplicatedAcrossShards) {
  fs::path dir = freshDir();
  writeFile(dir / "a.safetensors", shardBytes("x", 1.0f));
  writeFile(dir / "b.safetensors", shardBytes("x", 2.0f));
  writeFile(dir / "model.safetensors.index.json",
            R"({"weight_map":{"x":"a.safetensors","z":"b.safetensors"}})");
  Status status = WeightStore::open(dir).status();
  EXPECT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("tensor \"x\" is in both"), std::string::npos);
}

TEST(WeightStore, RejectsIndexEntriesOutsideTheModelFolder) {
  fs::path dir = freshDir();
  writeFile(dir / "model.safetensors.index.json", R"({"weight_map":{"x":"../../etc/passwd"}})");
  Status status = WeightStore::open(dir).status();
  EXPECT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("not a file in the model folder"), std::string::npos);
}

TEST(WeightStore, RejectsAnIndexThatIsNotJson) {
  fs::path dir = freshDir();
  writeFile(dir / "model.safetensors.index.json", "weight_map: x");
  Status status = WeightStore::open(dir).status();
  EXPECT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("model.safetensors.index.json"), std::string::npos);
}

}  // namespace
}  // namespace manifold
