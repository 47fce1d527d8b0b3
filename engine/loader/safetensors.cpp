#include "engine/loader/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/file_util.h"

namespace manifold {

namespace {

using Json = nlohmann::json;

std::string errnoText() { return std::strerror(errno); }

// Parses one header entry into `view` (data not yet set). `data_size` is the byte count after the
// header. Offsets are returned through begin/end.
Status parseTensorEntry(const std::string& name, const Json& entry, uint64_t data_size,
                        TensorView& view, uint64_t& begin, uint64_t& end) {
  const std::string where = "tensor \"" + name + "\"";
  if (!entry.is_object()) return dataLoss(where + ": header entry is not an object");
  auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) {
    return dataLoss(where + ": missing \"dtype\"");
  }
  const std::string dtype_name = dtype_it->get<std::string>();
  std::optional<DType> dtype;
  if (dtype_name == "F32" || dtype_name == "F16" || dtype_name == "BF16") {
    dtype = parseDType(dtype_name);
  } else if (dtype_name == "I8") {
    dtype = DType::kI8;  // a quantized checkpoint's weights
  }
  if (!dtype) {
    return unimplemented(where + ": dtype \"" + dtype_name +
                         "\" is not supported (supported: F32, F16, BF16, I8)");
  }
  view.name = name;
  view.dtype = *dtype;

  auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) {
    return dataLoss(where + ": missing \"shape\"");
  }
  uint64_t numel = 1;
  for (const Json& dim : *shape_it) {
    if (!dim.is_number_integer() || dim.get<int64_t>() < 0) {
      return dataLoss(where + ": shape " + shape_it->dump() + " has a non-integer or negative dim");
    }
    const uint64_t d = dim.get<uint64_t>();
    if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / 8 / d) {
      return dataLoss(where + ": shape " + shape_it->dump() + " overflows");
    }
    numel *= d;
    view.shape.push_back(static_cast<int64_t>(d));
  }

  auto off_it = entry.find("data_offsets");
  if (off_it == entry.end() || !off_it->is_array() || off_it->size() != 2 ||
      !(*off_it)[0].is_number_unsigned() || !(*off_it)[1].is_number_unsigned()) {
    if (off_it != entry.end() && off_it->is_array() && off_it->size() == 2 &&
        (*off_it)[0].is_number_integer() && (*off_it)[1].is_number_integer()) {
      return dataLoss(where + ": data_offsets " + off_it->dump() + " are negative");
    }
    return dataLoss(where + ": \"data_offsets\" must be [begin, end]");
  }
  begin = (*off_it)[0].get<uint64_t>();
  end = (*off_it)[1].get<uint64_t>();
  if (begin > end) {
    return dataLoss(where + ": data_offsets [" + std::to_string(begin) + ", " +
                    std::to_string(end) + "] end before they begin");
  }
  if (end > data_size) {
    return dataLoss(where + ": data_offsets end " + std::to_string(end) +
                    " is past the end of the data (" + std::to_string(data_size) +
                    " bytes); the file is truncated or corrupt");
  }
  const uint64_t expected = numel * dtypeSize(*dtype);
  if (end - begin != expected) {
    return dataLoss(where + ": " + dtype_name + " " + shapeToString(view.shape) + " needs " +
                    std::to_string(expected) + " bytes but data_offsets span " +
                    std::to_string(end - begin));
  }
  view.nbytes = static_cast<size_t>(expected);
  return Status::ok();
}

}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shapeToString(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

Result<std::unique_ptr<MappedFile>> MappedFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const bool missing = errno == ENOENT;
    const std::string message = path.string() + ": cannot open: " + errnoText();
    return missing ? notFound(message) : dataLoss(message);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string message = path.string() + ": cannot stat: " + errnoText();
    ::close(fd);
    return dataLoss(message);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapped == MAP_FAILED) {
      const std::string message = path.string() + ": mmap failed: " + errnoText();
      ::close(fd);
      return dataLoss(message);
    }
    data = static_cast<const uint8_t*>(mapped);
  }
  ::close(fd);  // the mapping keeps the file alive
  return std::unique_ptr<MappedFile>(new MappedFile(data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::open(path));
  auto fail = [&](const Status& status) { return status.withContext(path.string()); };
  if (file->size() < 8) {
    return fail(dataLoss("file is " + std::to_string(file->size()) +
                         " bytes, shorter than the 8-byte header length"));
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file->data()[i];  // little-endian
  if (header_len > kMaxHeaderBytes) {
    return fail(dataLoss("header length " + std::to_string(header_len) + " exceeds the " +
                         std::to_string(kMaxHeaderBytes) + "-byte limit"));
  }
  if (header_len > file->size() - 8) {
    return fail(dataLoss("header length " + std::to_string(header_len) +
                         " is larger than the rest of the file (" +
                         std::to_string(file->size() - 8) + " bytes)"));
  }
  const char* header_begin = reinterpret_cast<const char*>(file->data() + 8);
  Json header = Json::parse(header_begin, header_begin + header_len, nullptr,
                            /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return fail(dataLoss("header is not a JSON object"));
  }

  std::unique_ptr<SafetensorsFile> st(new SafetensorsFile());
  st->path_ = path;
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = file->size() - data_start;
  struct Range {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Range> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) return fail(dataLoss("__metadata__ is not an object"));
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) return fail(dataLoss("__metadata__ values must be strings"));
        st->metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    TensorView view;
    uint64_t begin = 0, end = 0;
    RETURN_IF_ERROR(fail(parseTensorEntry(it.key(), *it, data_size, view, begin, end)));
    view.data = file->data() + data_start + begin;
    ranges.push_back({begin, end, st->tensors_.size()});
    st->tensors_.push_back(std::move(view));
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < ranges.size(); ++i) {
    const Range& prev = ranges[i - 1];
    const Range& cur = ranges[i];
    if (cur.begin < prev.end) {
      return fail(dataLoss("tensors \"" + st->tensors_[prev.index].name + "\" and \"" +
                           st->tensors_[cur.index].name + "\" overlap (bytes " +
                           std::to_string(cur.begin) + " to " +
                           std::to_string(std::min(prev.end, cur.end)) + ")"));
    }
  }
  // As the reference implementation requires: the tensors fill the data exactly, so a header
  // length that is off (every tensor shifted) or a truncated or padded file cannot pass.
  uint64_t expected_begin = 0;
  for (const Range& r : ranges) {
    if (r.begin != expected_begin) {
      return fail(dataLoss("tensor \"" + st->tensors_[r.index].name + "\" begins at byte " +
                           std::to_string(r.begin) + " of the data, not at " +
                           std::to_string(expected_begin) +
                           " where the one before it ends: the data must be contiguous"));
    }
    expected_begin = r.end;
  }
  if (expected_begin != data_size) {
    return fail(dataLoss("the tensors end at byte " + std::to_string(expected_begin) +
                         " of the data, but the file holds " + std::to_string(data_size) +
                         " bytes after its header (a wrong header length, or extra bytes)"));
  }
  // Reorder into file order so tensors() reads sequentially.
  std::vector<TensorView> ordered;
  ordered.reserve(ranges.size());
  for (const Range& r : ranges) ordered.push_back(std::move(st->tensors_[r.index]));
  st->tensors_ = std::move(ordered);
  for (size_t i = 0; i < st->tensors_.size(); ++i) st->index_[st->tensors_[i].name] = i;
  st->file_ = std::move(file);
  return st;
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Result<std::unique_ptr<WeightStore>> WeightStore::open(const std::filesystem::path& model_dir) {
  std::unique_ptr<WeightStore> store(new WeightStore());
  const std::filesystem::path index_path = model_dir / "model.safetensors.index.json";
  const std::filesystem::path single_path = model_dir / "model.safetensors";
  std::error_code ec;
  std::vector<std::string> file_names;
  std::map<std::string, std::string> weight_map;  // from the index, checked after loading
  if (std::filesystem::exists(index_path, ec)) {
    ASSIGN_OR_RETURN(std::string text, readFile(index_path));
    Json index = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") ||
        !index["weight_map"].is_object()) {
      return dataLoss(index_path.string() + ": not a JSON object with a \"weight_map\" object");
    }
    std::set<std::string> unique_files;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it->is_string()) {
        return dataLoss(index_path.string() + ": weight_map[\"" + it.key() +
                        "\"] is not a file name");
      }
      const std::string file = it->get<std::string>();
      if (file.find('/') != std::string::npos || file == ".." || file.empty()) {
        return dataLoss(index_path.string() + ": weight_map[\"" + it.key() + "\"] names \"" + file +
                        "\", which is not a file in the model folder");
      }
      weight_map[it.key()] = file;
      unique_files.insert(file);
    }
    file_names.assign(unique_files.begin(), unique_files.end());
  } else if (std::filesystem::exists(single_path, ec)) {
    file_names.push_back("model.safetensors");
  } else {
    return notFound(model_dir.string() + ": no model.safetensors or model.safetensors.index.json");
  }
  for (const std::string& name : file_names) {
    Result<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::open(model_dir / name);
    if (!file.isOk()) {
      if (!weight_map.empty() && file.status().code() == StatusCode::kNotFound) {
        return notFound(index_path.string() + " lists shard \"" + name +
                        "\", which is missing: " + file.status().message());
      }
      return file.status();
    }
    for (const TensorView& view : (*file)->tensors()) {
      if (store->tensors_.count(view.name)) {
        return dataLoss(model_dir.string() + ": tensor \"" + view.name + "\" is in both " +
                        store->tensor_file_[view.name] + " and " + name);
      }
      store->tensors_[view.name] = &view;
      store->tensor_file_[view.name] = name;
    }
    store->files_.push_back(std::move(file).value());
  }
  for (const auto& [tensor, file] : weight_map) {
    auto it = store->tensor_file_.find(tensor);
    if (it == store->tensor_file_.end() || it->second != file) {
      return dataLoss(index_path.string() + ": weight_map says tensor \"" + tensor + "\" is in " +
                      file + ", but it is not there");
    }
  }
  return store;
}

Result<TensorView> WeightStore::get(std::string_view name,
                                    const std::vector<int64_t>& expected_shape) const {
  ASSIGN_OR_RETURN(TensorView view, find(name, expected_shape));
  if (view.dtype == DType::kI8) {
    return invalidArgument(tensor_file_.find(name)->second + ": tensor \"" + view.name +
                           "\" is I8 where a float tensor is expected (a quantized weight "
                           "outside what the checkpoint's quantization_config covers)");
  }
  return view;
}

Result<TensorView> WeightStore::getInt8(std::string_view name,
                                        const std::vector<int64_t>& expected_shape) const {
  ASSIGN_OR_RETURN(TensorView view, find(name, expected_shape));
  if (view.dtype != DType::kI8) {
    return invalidArgument(tensor_file_.find(name)->second + ": tensor \"" + view.name + "\" is " +
                           std::string(dtypeName(view.dtype)) +
                           ", expected I8 (the checkpoint's quantization_config quantizes it)");
  }
  return view;
}

Result<TensorView> WeightStore::find(std::string_view name,
                                     const std::vector<int64_t>& expected_shape) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    std::string files;
    for (const auto& f : files_) {
      if (!files.empty()) files += ", ";
      files += f->path().string();
    }
    return notFound("tensor \"" + std::string(name) + "\" is missing from " + files);
  }
  const TensorView& view = *it->second;
  if (view.shape != expected_shape) {
    return invalidArgument(tensor_file_.find(name)->second + ": tensor \"" + view.name +
                           "\" has shape " + shapeToString(view.shape) + ", expected " +
                           shapeToString(expected_shape));
  }
  return view;
}

namespace {

// The index of the first of `n` values (bit patterns of width T, unaligned) whose magnitude bits
// (sign cleared) are at least `limit`, or -1: with `limit` the exponent bits, the first NaN or
// infinity. Chunks are counted as a whole first, in T-wide lanes (4,096 fit in 16 bits), which
// the compiler vectorizes: a healthy tensor is one fast read.
template <class T>
int64_t firstAtLeast(const void* data, size_t n, T limit) {
  constexpr size_t kChunk = 4096;
  constexpr T kMagnitude = std::numeric_limits<T>::max() >> 1;
  const auto* bytes = static_cast<const uint8_t*>(data);
  auto at = [&](size_t i) {
    T bits;
    std::memcpy(&bits, bytes + i * sizeof(T), sizeof(T));
    return static_cast<T>((bits & kMagnitude) >= limit);
  };
  for (size_t begin = 0; begin < n; begin += kChunk) {
    const size_t end = std::min(n, begin + kChunk);
    T count = 0;
    for (size_t i = begin; i < end; ++i) count += at(i);
    if (count == 0) continue;
    for (size_t i = begin; i < end; ++i) {
      if (at(i)) return static_cast<int64_t>(i);
    }
  }
  return -1;
}

}  // namespace

Status WeightStore::checkFinite(const TensorView& tensor, std::optional<DType> stored_as) const {
  const size_t n = static_cast<size_t>(tensor.numel());
  const DType to = stored_as.value_or(tensor.dtype);
  // The first element whose magnitude bits reach `f32`, `bf16` or `f16` (by the tensor's dtype).
  auto scan = [&](uint32_t f32, uint16_t bf16, uint16_t f16) -> int64_t {
    switch (tensor.dtype) {
      case DType::kF32:
        return firstAtLeast<uint32_t>(tensor.data, n, f32);
      case DType::kBF16:
        return firstAtLeast<uint16_t>(tensor.data, n, bf16);
      case DType::kF16:
        return firstAtLeast<uint16_t>(tensor.data, n, f16);
      case DType::kI8:
        break;
    }
    return -1;
  };
  // Narrowed, a value overflows to infinity from half-way past the narrower dtype's largest (the
  // conversions round to nearest even): for F16 (largest 65504) 65520 in F32 and 65536 in BF16
  // (whose next value below, 65280, is an F16 value); for BF16, 0x7f7f8000 (about 3.4e38) in F32.
  uint32_t f32_limit = 0x7f800000u;
  uint16_t bf16_limit = 0x7f80u;
  if (to == DType::kF16) {
    f32_limit = 0x477ff000u;
    bf16_limit = 0x4780u;
  } else if (to == DType::kBF16) {
    f32_limit = 0x7f7f8000u;
  }
  int64_t bad = scan(f32_limit, bf16_limit, 0x7c00u);
  if (bad < 0) return Status::ok();
  // The element's value, and its index per dimension for a message any reader can check.
  auto valueAt = [&](int64_t i) {
    const auto* at = static_cast<const uint8_t*>(tensor.data) + i * dtypeSize(tensor.dtype);
    float value = 0.0f;
    uint16_t half = 0;
    if (tensor.dtype == DType::kF32) {
      std::memcpy(&value, at, sizeof(value));
    } else {
      std::memcpy(&half, at, sizeof(half));
      value = tensor.dtype == DType::kBF16 ? bf16ToF32(half) : f16ToF32(half);
    }
    return value;
  };
  // A corrupt checkpoint is the first thing to know, even after an element that is only too wide.
  if (std::isfinite(valueAt(bad))) {
    const int64_t corrupt = scan(0x7f800000u, 0x7f80u, 0x7c00u);
    if (corrupt >= 0) bad = corrupt;
  }
  const float value = valueAt(bad);
  std::string index;
  int64_t rest = bad;
  for (auto dim = tensor.shape.rbegin(); dim != tensor.shape.rend(); ++dim) {
    index = std::to_string(rest % *dim) + (index.empty() ? "" : ", ") + index;
    rest /= *dim;
  }
  const auto file = tensor_file_.find(tensor.name);
  const std::string where = (file != tensor_file_.end() ? file->second + ": " : std::string()) +
                            "tensor \"" + tensor.name + "\" holds ";
  if (std::isfinite(value)) {
    char number[32];
    std::snprintf(number, sizeof(number), "%.9g", static_cast<double>(value));  // exact for F32
    const std::string name(dtypeName(to));
    return invalidArgument(where + number + " at [" + index + "], beyond " + name + "'s range (" +
                           (to == DType::kF16 ? "largest 65504" : "largest about 3.39e38") +
                           "): the model cannot be loaded with " + name + " weights (load it as " +
                           (to == DType::kF16 ? "BF16 or F32" : "F32") + ")");
  }
  return dataLoss(where +
                  (std::isnan(value) ? "NaN"
                   : value > 0       ? "inf"
                                     : "-inf") +
                  " at [" + index + "]: the checkpoint is corrupt");
}

bool WeightStore::contains(std::string_view name) const { return tensors_.count(name) != 0; }

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, view] : tensors_) out.push_back(name);
  return out;
}

size_t WeightStore::totalBytes() const {
  size_t total = 0;
  for (const auto& [name, view] : tensors_) total += view->nbytes;
  return total;
}

}  // namespace manifold
