#include "gateway/config/server_config.h"

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "common/dtype.h"
#include "common/http_url.h"
#include "engine/kv_cache/cache_config.h"
#include "engine/model/model_runner.h"
#include "engine/scheduler/scheduler_config.h"
#include "gateway/api/tool_calls.h"
#include "routing/replica_policy.h"

namespace manifold::gateway {
namespace {

Status fieldError(const std::string& path, const std::string& message) {
  return invalidArgument(path + ": " + message);
}

constexpr double kMaxTimeoutSeconds = 365.0 * 24 * 3600;

// Timeouts become millisecond and nanosecond clocks: from a millisecond (0.0001 s would be 0 ms,
// and every wait would end at once) to a year (far inside the clocks' range).
Status checkTimeout(const std::string& path, double seconds) {
  if (!(seconds >= 0.001 && seconds <= kMaxTimeoutSeconds)) {
    return fieldError(path,
                      "must be from 0.001 s (they count milliseconds) to a year (31536000 s)");
  }
  return Status::ok();
}

Status validateEngine(const EngineSpec& e, const std::string& where) {
  if (e.model.empty()) return fieldError(where + ".model", "is required (a model directory)");
  if (!std::filesystem::is_directory(e.model)) {
    return fieldError(where + ".model", "`" + e.model + "` is not a directory");
  }
  for (const std::string& name : e.served_model_name) {
    if (name.empty()) return fieldError(where + ".served_model_name", "names must not be empty");
  }
  for (const std::string& name : e.aliases) {
    if (name.empty()) return fieldError(where + ".aliases", "names must not be empty");
  }
  auto device = parseDevice(e.device);
  if (!device.isOk()) return fieldError(where + ".device", device.status().message());
  if (device->kind == DeviceSpec::Kind::kCuda && !haveCudaBackend()) {
    return fieldError(where + ".device",
                      "`" + e.device +
                          "` needs the CUDA backend, which this build does not have "
                          "(rebuild with -DMANIFOLD_CUDA=ON on a machine with nvcc)");
  }
  if (e.threads < 0 || e.threads > ModelRunnerOptions::kMaxThreads) {
    return fieldError(where + ".threads", "must be in [0, " +
                                              std::to_string(ModelRunnerOptions::kMaxThreads) +
                                              "] (0: the cores split among the engines)");
  }
  if (e.max_model_len < 0) return fieldError(where + ".max_model_len", "must not be negative");
  // Sequences in one batch: each needs its own rows and KV blocks; a million is past any machine.
  if (e.max_num_seqs <= 0 || e.max_num_seqs > 1'000'000) {
    return fieldError(where + ".max_num_seqs", "must be from 1 to 1000000");
  }
  if (e.max_num_batched_tokens <= 0) {
    return fieldError(where + ".max_num_batched_tokens", "must be positive");
  }
  if (e.long_prefill_token_threshold < 0) {
    return fieldError(where + ".long_prefill_token_threshold", "must not be negative");
  }
  if (!parseSchedulingPolicy(e.scheduling_policy).isOk()) {
    return fieldError(where + ".scheduling_policy",
                      "must be fcfs or priority, got `" + e.scheduling_policy + "`");
  }
  if (e.kv_cache_space < 0) return fieldError(where + ".kv_cache_space", "must not be negative");
  if (e.block_size <= 0 || e.block_size > CacheConfig::kMaxBlockSize ||
      (e.block_size & (e.block_size - 1)) != 0) {
    return fieldError(where + ".block_size", "must be a power of two up to " +
                                                 std::to_string(CacheConfig::kMaxBlockSize));
  }
  if (Status dtype = parseDTypeChoice(e.dtype).status(); !dtype.isOk()) {
    return fieldError(where + ".dtype", dtype.message());
  }
  if (Status kv_dtype = parseKvCacheDTypeChoice(e.kv_cache_dtype).status(); !kv_dtype.isOk()) {
    return fieldError(where + ".kv_cache_dtype", kv_dtype.message());
  }
  if (Status quantization = parseQuantization(e.quantization).status(); !quantization.isOk()) {
    return fieldError(where + ".quantization", quantization.message());
  }
  if (!e.tool_call_parser.empty() && !toolCallFormatNamed(e.tool_call_parser)) {
    std::string known;
    for (std::string_view name : kToolCallFormatNames) {
      known += (known.empty() ? "" : ", ") + std::string(name);
    }
    return fieldError(where + ".tool_call_parser",
                      "unknown format `" + e.tool_call_parser + "` (known: " + known + ")");
  }
  if (e.enable_auto_tool_choice && e.tool_call_parser.empty()) {
    return fieldError(where + ".enable_auto_tool_choice", "needs tool_call_parser");
  }
  if (e.max_waiting_requests < 0 || e.max_waiting_requests > 1'000'000'000) {
    return fieldError(where + ".max_waiting_requests", "must be from 0 to 1000000000");
  }
  if (!e.chat_template.empty() && !std::filesystem::is_regular_file(e.chat_template)) {
    return fieldError(where + ".chat_template", "`" + e.chat_template + "` is not a file");
  }
  return Status::ok();
}

}  // namespace

Result<DeviceSpec> parseDevice(const std::string& text) {
  DeviceSpec spec;
  if (text == "cpu") return spec;
  if (text.rfind("cuda", 0) != 0) {
    return invalidArgument("`" + text + "` is not a device (cpu, cuda:0, cuda:0,1)");
  }
  spec.kind = DeviceSpec::Kind::kCuda;
  if (text == "cuda") {
    spec.cuda_ids = {0};
    return spec;
  }
  if (text.size() < 6 || text[4] != ':') {
    return invalidArgument("`" + text + "` is not a device (cpu, cuda:0, cuda:0,1)");
  }
  std::string list = text.substr(5);
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? comma : comma - start);
    if (item.empty() || item.size() > 3 ||
        item.find_first_not_of("0123456789") != std::string::npos) {
      return invalidArgument("`" + text + "` has a bad device ordinal `" + item + "`");
    }
    int id = std::stoi(item);
    for (int seen : spec.cuda_ids) {
      if (seen == id) return invalidArgument("`" + text + "` names device " + item + " twice");
    }
    spec.cuda_ids.push_back(id);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return spec;
}

bool haveCudaBackend() {
#if defined(MANIFOLD_GATEWAY_HAVE_CUDA) && MANIFOLD_GATEWAY_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

Status ServerConfig::validate() const {
  if (host.empty()) return fieldError("host", "must not be empty");
  if (port < 0 || port > 65535) return fieldError("port", "must be in [0, 65535]");
  if (io_threads < 1 || io_threads > 256) return fieldError("io_threads", "must be in [1, 256]");
  if (max_body_bytes <= 0) return fieldError("max_body_bytes", "must be positive");
  RETURN_IF_ERROR(checkTimeout("idle_timeout_s", idle_timeout_s));
  RETURN_IF_ERROR(checkTimeout("header_timeout_s", header_timeout_s));
  RETURN_IF_ERROR(checkTimeout("body_timeout_s", body_timeout_s));
  if (max_connections < 1) return fieldError("max_connections", "must be positive");
  if (!(drain_timeout_s >= 0 && drain_timeout_s <= kMaxTimeoutSeconds)) {
    return fieldError("drain_timeout_s", "must be from 0 to a year (31536000 s)");
  }
  if (!parseRoutingPolicy(routing_policy)) {
    return fieldError("routing_policy", "must be least_outstanding or prefix_affinity");
  }
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (kLevels.count(log_level) == 0) {
    return fieldError("log_level", "must be trace, debug, info, warn or error");
  }
  if (ssl_keyfile.empty() != ssl_certfile.empty()) {
    return fieldError(ssl_keyfile.empty() ? "ssl_keyfile" : "ssl_certfile",
                      "HTTPS needs both ssl_keyfile and ssl_certfile");
  }
  for (const char* key : {"ssl_keyfile", "ssl_certfile", "api_key_file"}) {
    const std::string& file = std::string(key) == "ssl_keyfile"    ? ssl_keyfile
                              : std::string(key) == "ssl_certfile" ? ssl_certfile
                                                                   : api_key_file;
    if (!file.empty() && !std::filesystem::is_regular_file(file)) {
      return fieldError(key, "`" + file + "` is not a file");
    }
  }
  if (engines.empty() && upstreams.empty()) {
    return fieldError("engines", "nothing to serve: give --model DIR or --config FILE");
  }
  // Names: engines sharing a served name are replicas and must serve the same model.
  std::map<std::string, std::string> owner;          // name -> "engines[i]" or "upstreams[i]"
  std::map<std::string, const EngineSpec*> primary;  // id -> first engine with it
  for (size_t i = 0; i < engines.size(); ++i) {
    const EngineSpec& e = engines[i];
    std::string where = "engines[" + std::to_string(i) + "]";
    RETURN_IF_ERROR(validateEngine(e, where));
    std::string id = e.served_model_name.empty() ? e.model : e.served_model_name.front();
    if (auto it = primary.find(id); it != primary.end()) {
      // A replica: clients see one model, so what they can see must agree.
      const EngineSpec& first = *it->second;
      auto normal = [](const std::string& path) {
        std::filesystem::path p = std::filesystem::path(path).lexically_normal();
        return p.has_filename() ? p : p.parent_path();  // "dir/" is "dir"
      };
      if (normal(first.model) != normal(e.model)) {
        return fieldError(where + ".served_model_name",
                          "`" + id + "` is already served from another model directory");
      }
      const char* differs = first.served_model_name != e.served_model_name ? "served_model_name"
                            : first.aliases != e.aliases                   ? "aliases"
                            : first.max_model_len != e.max_model_len       ? "max_model_len"
                            : first.chat_template != e.chat_template       ? "chat_template"
                            : first.enable_auto_tool_choice != e.enable_auto_tool_choice ||
                                    first.tool_call_parser != e.tool_call_parser
                                ? "tool calling"
                                : nullptr;
      if (differs != nullptr) {
        return fieldError(
            where + "." +
                (std::string(differs) == "tool calling" ? std::string("tool_call_parser")
                                                        : std::string(differs)),
            "replicas of `" + id + "` must agree on " + differs + " (clients see one model)");
      }
      continue;
    }
    primary[id] = &e;
    std::vector<std::string> names = {id};
    if (e.served_model_name.size() > 1) {
      names.insert(names.end(), e.served_model_name.begin() + 1, e.served_model_name.end());
    }
    names.insert(names.end(), e.aliases.begin(), e.aliases.end());
    for (const std::string& name : names) {
      if (!owner.emplace(name, where).second) {
        return fieldError(where + ".served_model_name",
                          "the name `" + name + "` is already used by " + owner[name]);
      }
    }
  }
  for (size_t i = 0; i < upstreams.size(); ++i) {
    const UpstreamSpec& u = upstreams[i];
    std::string where = "upstreams[" + std::to_string(i) + "]";
    if (u.name.empty()) return fieldError(where + ".name", "is required");
    if (u.base_url.rfind("http://", 0) != 0 && u.base_url.rfind("https://", 0) != 0) {
      return fieldError(where + ".base_url", "must start with http:// or https://");
    }
    if (!parseHttpUrl(u.base_url)) {
      return fieldError(where + ".base_url",
                        "`" + u.base_url + "` needs a host, and a port from 1 to 65535 if any");
    }
    RETURN_IF_ERROR(checkTimeout(where + ".connect_timeout_s", u.connect_timeout_s));
    RETURN_IF_ERROR(checkTimeout(where + ".read_timeout_s", u.read_timeout_s));
    std::vector<std::string> names = {u.name};
    names.insert(names.end(), u.aliases.begin(), u.aliases.end());
    for (const std::string& name : names) {
      if (name.empty()) return fieldError(where + ".aliases", "names must not be empty");
      if (!owner.emplace(name, where).second) {
        return fieldError(where + ".name",
                          "the name `" + name + "` is already used by " + owner[name]);
      }
    }
  }
  // A key restricted to a name nothing serves reaches nothing: a typo, as an unknown key is.
  for (size_t i = 0; i < api_keys.size(); ++i) {
    for (const std::string& model : api_keys[i].models) {
      if (owner.count(model) == 0) {
        return fieldError("api_keys[" + std::to_string(i) + "].models",
                          "no model is served as `" + model + "`");
      }
    }
  }
  return Status::ok();
}

}  // namespace manifold::gateway
