// Read-only access to safetensors files through mmap.
//
// Format: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the byte after the
// header), an optional "__metadata__" string map, then the tensor bytes. Everything read from
// disk is validated before use: header length, JSON, dtypes, shape × dtype size == end - begin,
// offsets within the file and not overlapping. A malformed file is a DATA_LOSS Status naming the
// file and tensor, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/dtype.h"
#include "common/status.h"

namespace manifold {

// A tensor inside a mapped file. `data` points into the mapping and lives as long as the
// SafetensorsFile (or WeightStore) it came from. Row-major, little-endian.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;

  [[nodiscard]] int64_t numel() const;
};

// "[64, 512]", for messages.
std::string shapeToString(const std::vector<int64_t>& shape);

// A read-only memory mapping of a whole file. Thread-safe to read.
class MappedFile {
 public:
  [[nodiscard]] static Result<std::unique_ptr<MappedFile>> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  [[nodiscard]] const uint8_t* data() const { return data_; }
  [[nodiscard]] size_t size() const { return size_; }

 private:
  MappedFile(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  const uint8_t* data_;
  size_t size_;
};

// One parsed .safetensors file. Immutable after open(); thread-safe to read.
class SafetensorsFile {
 public:
  // Largest header accepted; real headers are well under 1 MB.
  static constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

  [[nodiscard]] static Result<std::unique_ptr<SafetensorsFile>> open(
      const std::filesystem::path& path);

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  // In file order (ascending offsets).
  [[nodiscard]] const std::vector<TensorView>& tensors() const { return tensors_; }
  // nullptr when absent.
  [[nodiscard]] const TensorView* find(std::string_view name) const;
  [[nodiscard]] const std::map<std::string, std::string>& metadata() const { return metadata_; }
  [[nodiscard]] size_t fileSize() const { return file_->size(); }

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  std::unique_ptr<MappedFile> file_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

// Every weight of a model directory: model.safetensors, or the shards listed by
// model.safetensors.index.json. Immutable after open(); thread-safe to read.
class WeightStore {
 public:
  [[nodiscard]] static Result<std::unique_ptr<WeightStore>> open(
      const std::filesystem::path& model_dir);

  // The float (F32, F16, BF16) tensor, checked to have exactly `expected_shape`. Errors name the
  // file and the tensor: NOT_FOUND when missing, INVALID_ARGUMENT on a shape mismatch or an I8
  // tensor.
  [[nodiscard]] Result<TensorView> get(std::string_view name,
                                       const std::vector<int64_t>& expected_shape) const;
  // The same for the I8 weight of a quantized checkpoint (INVALID_ARGUMENT when not I8).
  [[nodiscard]] Result<TensorView> getInt8(std::string_view name,
                                           const std::vector<int64_t>& expected_shape) const;
  // DATA_LOSS naming the file, the tensor and the first element when a float tensor holds a NaN
  // or an infinity (a corrupt checkpoint; no trained weight is either); OK for I8 tensors. With
  // `stored_as` F16, a wider tensor's values must also stay finite in F16: INVALID_ARGUMENT
  // naming the first that would not (the weights need BF16 or F32).
  [[nodiscard]] Status checkFinite(const TensorView& tensor,
                                   std::optional<DType> stored_as = std::nullopt) const;
  [[nodiscard]] bool contains(std::string_view name) const;
  [[nodiscard]] std::vector<std::string> names() const;
  [[nodiscard]] size_t totalBytes() const;  // sum of tensor bytes over all files
  [[nodiscard]] size_t numFiles() const { return files_.size(); }

 private:
  WeightStore() = default;
  [[nodiscard]] Result<TensorView> find(std::string_view name,
                                        const std::vector<int64_t>& expected_shape) const;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*, std::less<>> tensors_;
  std::map<std::string, std::string, std::less<>> tensor_file_;  // name -> file name, for messages
};

}  // namespace manifold
