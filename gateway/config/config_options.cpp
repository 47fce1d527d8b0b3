#include "gateway/config/config_options.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>

#include "common/file_util.h"

namespace manifold::gateway {
namespace {

using json = nlohmann::json;

Status expect(const char* what) { return invalidArgument(std::string("must be ") + what); }

std::string resolvePath(const std::string& path, const std::string& base_dir) {
  if (path.empty() || base_dir.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

Status readValue(const json& v, std::string& out) {
  if (!v.is_string()) return expect("a string");
  out = v.get<std::string>();
  return Status::ok();
}
Status readValue(const json& v, bool& out) {
  if (!v.is_boolean()) return expect("true or false");
  out = v.get<bool>();
  return Status::ok();
}
Status readValue(const json& v, int64_t& out) {
  if (!v.is_number_integer()) return expect("an integer");
  if (v.is_number_unsigned() &&
      v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return expect("a smaller integer");
  }
  out = v.get<int64_t>();
  return Status::ok();
}
Status readValue(const json& v, int& out) {
  int64_t wide = 0;
  RETURN_IF_ERROR(readValue(v, wide));
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
    return expect("a 32-bit integer");
  }
  out = static_cast<int>(wide);
  return Status::ok();
}
Status readValue(const json& v, double& out) {
  if (!v.is_number() || !std::isfinite(v.get<double>())) return expect("a number");
  out = v.get<double>();
  return Status::ok();
}
// A list of strings; a single string is a list of one.
Status readValue(const json& v, std::vector<std::string>& out) {
  out.clear();
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
    return Status::ok();
  }
  if (!v.is_array()) return expect("a string or a list of strings");
  for (const json& item : v) {
    if (!item.is_string()) return expect("a string or a list of strings");
    out.push_back(item.get<std::string>());
  }
  return Status::ok();
}

template <class T>
constexpr OptionType typeOf() {
  if constexpr (std::is_same_v<T, std::string>) return OptionType::kString;
  if constexpr (std::is_same_v<T, bool>) return OptionType::kBool;
  if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) return OptionType::kInt;
  if constexpr (std::is_same_v<T, double>) return OptionType::kDouble;
  if constexpr (std::is_same_v<T, std::vector<std::string>>) return OptionType::kStringList;
}

template <class Owner>
Owner* ownerOf(const ConfigTarget& t) {
  if constexpr (std::is_same_v<Owner, ServerConfig>) return t.server;
  if constexpr (std::is_same_v<Owner, EngineSpec>) return t.engine;
  if constexpr (std::is_same_v<Owner, UpstreamSpec>) return t.upstream;
}

template <class Owner>
constexpr OptionScope scopeOf() {
  if constexpr (std::is_same_v<Owner, ServerConfig>) return OptionScope::kServer;
  if constexpr (std::is_same_v<Owner, EngineSpec>) return OptionScope::kEngine;
  return OptionScope::kUpstream;
}

// An option stored in one member. `path`: a file or directory, resolved against base_dir.
template <class Owner, class T>
ConfigOption member(std::string key, std::string flag, std::string env, T Owner::*field,
                    std::string help, bool path = false) {
  ConfigOption o;
  o.key = std::move(key);
  o.flag = std::move(flag);
  o.env = std::move(env);
  o.scope = scopeOf<Owner>();
  o.type = path ? OptionType::kPath : typeOf<T>();
  o.help = std::move(help);
  o.apply = [field, path](ConfigTarget& t, const json& v, const std::string& base_dir) -> Status {
    Owner* owner = ownerOf<Owner>(t);
    RETURN_IF_ERROR(readValue(v, owner->*field));
    if constexpr (std::is_same_v<T, std::string>) {
      if (path) owner->*field = resolvePath(owner->*field, base_dir);
    }
    return Status::ok();
  };
  o.get = [field](const ConfigTarget& t) -> json { return ownerOf<Owner>(t)->*field; };
  return o;
}

// api_keys: strings, or objects {"key": ..., "models": [...]} limiting a key to some models.
ConfigOption apiKeysOption() {
  ConfigOption o;
  o.key = "api_keys";
  o.flag = "--api-key";
  o.env = "MANIFOLD_API_KEY";
  o.scope = OptionScope::kServer;
  o.type = OptionType::kStringList;
  o.help =
      "API keys clients must send as `Authorization: Bearer <key>` (repeat the flag; comma-"
      "separated in the environment). In the file each entry is a string or "
      "`{\"key\": ..., \"models\": [names]}` to allow only some models. Empty: no auth.";
  o.apply = [](ConfigTarget& t, const json& v, const std::string&) -> Status {
    const char* kShape = "a list of keys (strings or {\"key\", \"models\"} objects)";
    json list = v.is_string() ? json::array({v}) : v;
    if (!list.is_array()) return expect(kShape);
    std::vector<ApiKeyEntry> keys;
    for (size_t i = 0; i < list.size(); ++i) {
      const json& item = list[i];
      ApiKeyEntry entry;
      if (item.is_string()) {
        entry.key = item.get<std::string>();
      } else if (item.is_object()) {
        for (const auto& [k, value] : item.items()) {
          if (k == "key") {
            RETURN_IF_ERROR(
                readValue(value, entry.key).withContext("[" + std::to_string(i) + "].key"));
          } else if (k == "models") {
            RETURN_IF_ERROR(
                readValue(value, entry.models).withContext("[" + std::to_string(i) + "].models"));
          } else {
            return invalidArgument("[" + std::to_string(i) + "]." + k + ": unknown key");
          }
        }
      } else {
        return expect(kShape);
      }
      if (entry.key.empty()) return invalidArgument("[" + std::to_string(i) + "]: empty key");
      keys.push_back(std::move(entry));
    }
    t.server->api_keys = std::move(keys);
    return Status::ok();
  };
  o.get = [](const ConfigTarget& t) -> json {
    json keys = json::array();
    for (const auto& k : t.server->api_keys) keys.push_back(k.key.empty() ? "" : "***");
    return keys;
  };
  return o;
}

std::vector<ConfigOption> buildOptions() {
  using S = ServerConfig;
  using E = EngineSpec;
  using U = UpstreamSpec;
  std::vector<ConfigOption> o;
  o.push_back(member<S>("host", "--host", "MANIFOLD_HOST", &S::host, "Address to listen on."));
  o.push_back(
      member<S>("port", "--port", "MANIFOLD_PORT", &S::port,
                "Port to listen on; 0 picks a free one (logged as `listening on HOST:PORT`)."));
  o.push_back(member<S>("io_threads", "--io-threads", "MANIFOLD_IO_THREADS", &S::io_threads,
                        "HTTP io threads."));
  o.push_back(apiKeysOption());
  o.push_back(member<S>("api_key_file", "--api-key-file", "MANIFOLD_API_KEY_FILE", &S::api_key_file,
                        "A file of API keys, one per line (# comments).", true));
  o.push_back(member<S>("ssl_keyfile", "--ssl-keyfile", "MANIFOLD_SSL_KEYFILE", &S::ssl_keyfile,
                        "PEM private key; with ssl_certfile the server speaks HTTPS only.", true));
  o.push_back(member<S>("ssl_certfile", "--ssl-certfile", "MANIFOLD_SSL_CERTFILE", &S::ssl_certfile,
                        "PEM certificate chain for HTTPS.", true));
  o.push_back(member<S>("max_body_bytes", "--max-body-bytes", "MANIFOLD_MAX_BODY_BYTES",
                        &S::max_body_bytes, "Largest request body; larger ones get 413."));
  o.push_back(member<S>("idle_timeout_s", "--idle-timeout", "MANIFOLD_IDLE_TIMEOUT",
                        &S::idle_timeout_s, "Seconds a keep-alive connection may sit idle."));
  o.push_back(member<S>("header_timeout_s", "--header-timeout", "MANIFOLD_HEADER_TIMEOUT",
                        &S::header_timeout_s,
                        "Seconds from a request's first byte to the end of its headers."));
  o.push_back(member<S>("body_timeout_s", "--body-timeout", "MANIFOLD_BODY_TIMEOUT",
                        &S::body_timeout_s, "Seconds to receive a request body."));
  o.push_back(member<S>("max_connections", "--max-connections", "MANIFOLD_MAX_CONNECTIONS",
                        &S::max_connections, "Open connections; more are answered 503."));
  o.push_back(member<S>("drain_timeout_s", "--drain-timeout", "MANIFOLD_DRAIN_TIMEOUT",
                        &S::drain_timeout_s,
                        "On SIGTERM/SIGINT, seconds to let in-flight requests finish."));
  o.push_back(member<S>("routing_policy", "--routing-policy", "MANIFOLD_ROUTING_POLICY",
                        &S::routing_policy,
                        "How a request picks among replicas of a model: `least_outstanding` or "
                        "`prefix_affinity`."));
  o.push_back(member<S>("log_level", "--log-level", "MANIFOLD_LOG_LEVEL", &S::log_level,
                        "trace, debug, info, warn or error."));

  o.push_back(member<E>("served_model_name", "--served-model-name", "MANIFOLD_SERVED_MODEL_NAME",
                        &E::served_model_name,
                        "Names clients use for the model (repeatable); the first is its id. "
                        "Default: the model path as given."));
  o.push_back(member<E>("aliases", "--alias", "MANIFOLD_ALIAS", &E::aliases,
                        "More names for the model, also listed in /v1/models."));
  o.push_back(member<E>("model", "--model", "MANIFOLD_MODEL", &E::model,
                        "Model directory (config.json, model.safetensors, tokenizer.json).", true));
  o.push_back(member<E>("device", "--device", "MANIFOLD_DEVICE", &E::device,
                        "`cpu`, `cuda:0` or `cuda:0,1` (tensor parallel)."));
  o.push_back(member<E>("threads", "--threads", "MANIFOLD_THREADS", &E::threads,
                        "CPU threads of the engine; 0 splits the cores among the engines."));
  o.push_back(member<E>("max_model_len", "--max-model-len", "MANIFOLD_MAX_MODEL_LEN",
                        &E::max_model_len, "Context length; 0 takes the model's."));
  o.push_back(member<E>("max_num_seqs", "--max-num-seqs", "MANIFOLD_MAX_NUM_SEQS", &E::max_num_seqs,
                        "Most sequences in one batch."));
  o.push_back(member<E>("max_num_batched_tokens", "--max-num-batched-tokens",
                        "MANIFOLD_MAX_NUM_BATCHED_TOKENS", &E::max_num_batched_tokens,
                        "Most tokens in one engine step (chunked prefill budget)."));
  o.push_back(member<E>("enable_chunked_prefill", "--enable-chunked-prefill",
                        "MANIFOLD_ENABLE_CHUNKED_PREFILL", &E::enable_chunked_prefill,
                        "Split long prompts across steps so decodes keep running "
                        "(`--no-enable-chunked-prefill`: a prompt is prefilled in one step, and "
                        "max_num_batched_tokens must cover max_model_len)."));
  o.push_back(member<E>("long_prefill_token_threshold", "--long-prefill-token-threshold",
                        "MANIFOLD_LONG_PREFILL_TOKEN_THRESHOLD", &E::long_prefill_token_threshold,
                        "With chunked prefill, at most this many prompt tokens per sequence per "
                        "step, so long prompts share steps; 0: up to the whole budget."));
  o.push_back(member<E>("scheduling_policy", "--scheduling-policy", "MANIFOLD_SCHEDULING_POLICY",
                        &E::scheduling_policy,
                        "`fcfs`, or `priority`: requests' `priority` field, lower first, ties by "
                        "arrival."));
  o.push_back(member<E>("enable_prefix_caching", "--enable-prefix-caching",
                        "MANIFOLD_ENABLE_PREFIX_CACHING", &E::enable_prefix_caching,
                        "Reuse KV blocks of shared prompt prefixes (`--no-enable-prefix-caching` "
                        "turns it off)."));
  o.push_back(member<E>("kv_cache_space", "--kv-cache-space", "MANIFOLD_KV_CACHE_SPACE",
                        &E::kv_cache_space,
                        "GiB of memory for the KV cache; 0 sizes it for max_num_seqs full "
                        "contexts."));
  o.push_back(member<E>("block_size", "--block-size", "MANIFOLD_BLOCK_SIZE", &E::block_size,
                        "Tokens per KV cache block."));
  o.push_back(member<E>(
      "dtype", "--dtype", "MANIFOLD_DTYPE", &E::dtype,
      "Weights: `auto` (as stored, except F16 checkpoints on CPUs with AVX-512 BF16, which "
      "load as BF16, the fast path there; vLLM's CPU backend casts float16 to bfloat16 too), "
      "or `f32`, `bf16`, `f16` (converted at load)."));
  o.push_back(member<E>("kv_cache_dtype", "--kv-cache-dtype", "MANIFOLD_KV_CACHE_DTYPE",
                        &E::kv_cache_dtype,
                        "KV cache: `auto` (bf16 for 16-bit weights, else f32), `f32` or `bf16`."));
  o.push_back(member<E>("quantization", "--quantization", "MANIFOLD_QUANTIZATION", &E::quantization,
                        "`none`; `int8`: every matmul weight (LM head included) quantized "
                        "per output channel at load, activations in BF16 (weight-only; half the "
                        "bytes of BF16 per decoded token; CPUs with AVX-512 BF16); `w8a8`: the "
                        "same weights, and each matmul's activations quantized per token to INT8 "
                        "(twice the multiply rate of BF16 for prefill and batched decode; CPUs "
                        "with AVX-512 VNNI). CPU backend only. A compressed-tensors INT8 "
                        "checkpoint runs its own scheme without it."));
  o.push_back(member<E>("chat_template", "--chat-template", "MANIFOLD_CHAT_TEMPLATE",
                        &E::chat_template,
                        "A Jinja chat template file used instead of the model's.", true));
  o.push_back(member<E>("enable_auto_tool_choice", "--enable-auto-tool-choice",
                        "MANIFOLD_ENABLE_AUTO_TOOL_CHOICE", &E::enable_auto_tool_choice,
                        "Read chat answers to requests with `tools` (tool_choice `auto`) for tool "
                        "calls, returned as `tool_calls`; needs tool_call_parser."));
  o.push_back(member<E>("tool_call_parser", "--tool-call-parser", "MANIFOLD_TOOL_CALL_PARSER",
                        &E::tool_call_parser,
                        "How the model writes tool calls: `hermes` (JSON objects with `name` and "
                        "`arguments` inside `<tool_call>` tags; Hermes, Qwen2.5), `llama3_json` "
                        "(the answer is JSON objects with `name` and `parameters`, joined by `;`; "
                        "Llama 3.1-3.3) or `mistral` (`[TOOL_CALLS]` and a JSON array of calls; "
                        "Mistral v0.3 tokenizers)."));
  o.push_back(member<E>("max_waiting_requests", "--max-waiting-requests",
                        "MANIFOLD_MAX_WAITING_REQUESTS", &E::max_waiting_requests,
                        "Requests that may wait beyond max_num_seqs per replica; more get 429 "
                        "with Retry-After. 0: unlimited."));

  o.push_back(member<U>("name", "", "", &U::name, "Upstream: the model name clients use here."));
  o.push_back(member<U>("aliases", "", "", &U::aliases, "Upstream: more names."));
  o.push_back(member<U>("base_url", "", "", &U::base_url,
                        "Upstream: `http(s)://host:port[/v1]` of the OpenAI-compatible server."));
  o.push_back(
      member<U>("api_key", "", "", &U::api_key, "Upstream: Bearer token sent to it; empty: none."));
  o.push_back(member<U>("model", "", "", &U::model,
                        "Upstream: its name for the model; empty: the same as `name`."));
  o.push_back(member<U>("connect_timeout_s", "", "", &U::connect_timeout_s,
                        "Upstream: seconds to connect and finish the TLS handshake, counted from "
                        "the name lookup (which itself cannot be cut short); past it the client "
                        "gets 504."));
  o.push_back(member<U>("read_timeout_s", "", "", &U::read_timeout_s,
                        "Upstream: the longest wait, in seconds, for the next bytes of its answer "
                        "(the headers after the request: a long prompt's prefill; then each "
                        "piece of the body: a stream's next token). Past it: 504 before the "
                        "headers, an error event and a cut stream after."));
  return o;
}

const ConfigOption* findOption(OptionScope scope, const std::string& key) {
  for (const ConfigOption& option : configOptions()) {
    if (option.scope == scope && option.key == key) return &option;
  }
  return nullptr;
}

Status applyObject(const json& object, OptionScope scope, ConfigTarget& target,
                   const std::string& base_dir, const std::string& where) {
  if (!object.is_object()) return invalidArgument(where + ": must be an object");
  for (const auto& [key, value] : object.items()) {
    std::string path = where.empty() ? key : where + "." + key;
    if (scope == OptionScope::kServer && (key == "engines" || key == "upstreams")) continue;
    const ConfigOption* option = findOption(scope, key);
    if (option == nullptr) return invalidArgument(path + ": unknown key");
    Status s = option->apply(target, value, base_dir);
    if (!s.isOk()) {
      std::string message = s.message();
      // Nested errors ("[0].key: ...") continue the path without a separator.
      if (!message.empty() && message[0] == '[') return invalidArgument(path + message);
      return invalidArgument(path + ": " + message);
    }
  }
  return Status::ok();
}

std::string jsonForDocs(const json& value) {
  if (value.is_string())
    return value.get<std::string>().empty() ? "\"\"" : value.get<std::string>();
  return value.dump();
}

}  // namespace

const std::vector<ConfigOption>& configOptions() {
  static const std::vector<ConfigOption> options = buildOptions();
  return options;
}

Result<json> optionValueFromStrings(const ConfigOption& option,
                                    const std::vector<std::string>& text) {
  if (text.empty()) return invalidArgument("needs a value");
  const std::string& s = text.back();
  switch (option.type) {
    case OptionType::kString:
    case OptionType::kPath:
      return json(s);
    case OptionType::kStringList: {
      json list = json::array();
      bool given = false;
      for (const std::string& item : text) {
        given = given || !item.empty();
        std::stringstream parts(item);
        std::string part;
        while (std::getline(parts, part, ',')) {
          if (!part.empty()) list.push_back(part);
        }
      }
      // Text that is only commas (`$A,$B` with both unset) is a mistake, not "none": for API
      // keys "none" would mean no authentication.
      if (given && list.empty()) return invalidArgument("`" + s + "` holds no values");
      return list;
    }
    case OptionType::kBool: {
      if (s == "1" || s == "true" || s == "yes" || s == "on") return json(true);
      if (s == "0" || s == "false" || s == "no" || s == "off") return json(false);
      return invalidArgument("`" + s + "` is not a boolean (true/false)");
    }
    case OptionType::kInt: {
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0' || errno == ERANGE) {
        return invalidArgument("`" + s + "` is not an integer");
      }
      return json(static_cast<int64_t>(v));
    }
    case OptionType::kDouble: {
      char* end = nullptr;
      double v = std::strtod(s.c_str(), &end);
      if (s.empty() || *end != '\0' || !std::isfinite(v)) {
        return invalidArgument("`" + s + "` is not a number");
      }
      return json(v);
    }
  }
  return invalidArgument("unsupported option type");
}

Result<ServerConfig> parseConfigJson(const json& root, const std::string& base_dir) {
  ServerConfig config;
  config.base_dir = base_dir;
  ConfigTarget target{&config, nullptr, nullptr};
  RETURN_IF_ERROR(applyObject(root, OptionScope::kServer, target, base_dir, ""));
  if (auto engines = root.find("engines"); engines != root.end()) {
    if (!engines->is_array()) return invalidArgument("engines: must be a list of objects");
    for (size_t i = 0; i < engines->size(); ++i) {
      EngineSpec engine;
      ConfigTarget t{&config, &engine, nullptr};
      RETURN_IF_ERROR(applyObject((*engines)[i], OptionScope::kEngine, t, base_dir,
                                  "engines[" + std::to_string(i) + "]"));
      config.engines.push_back(std::move(engine));
    }
  }
  if (auto upstreams = root.find("upstreams"); upstreams != root.end()) {
    if (!upstreams->is_array()) return invalidArgument("upstreams: must be a list of objects");
    for (size_t i = 0; i < upstreams->size(); ++i) {
      UpstreamSpec upstream;
      ConfigTarget t{&config, nullptr, &upstream};
      RETURN_IF_ERROR(applyObject((*upstreams)[i], OptionScope::kUpstream, t, base_dir,
                                  "upstreams[" + std::to_string(i) + "]"));
      config.upstreams.push_back(std::move(upstream));
    }
  }
  return config;
}

Result<ServerConfig> loadConfigFile(const std::string& path) {
  Result<std::string> text = readFile(path);
  if (!text.isOk()) return text.status().withContext("config file");
  json root;
  try {
    root = json::parse(text.value());
  } catch (const json::parse_error& e) {
    return invalidArgument("config file `" + path + "` is not valid JSON: " + e.what());
  }
  if (!root.is_object()) return invalidArgument("config file `" + path + "`: must be an object");
  std::string base_dir =
      std::filesystem::absolute(std::filesystem::path(path)).parent_path().string();
  auto config = parseConfigJson(root, base_dir);
  if (!config.isOk()) return config.status().withContext("config file `" + path + "`");
  return config;
}

Status applyOverride(ServerConfig& config, const ConfigOption& option, const json& value,
                     const std::string& source) {
  Status s;
  if (option.scope == OptionScope::kServer) {
    ConfigTarget target{&config, nullptr, nullptr};
    s = option.apply(target, value, "");
  } else if (option.scope == OptionScope::kEngine) {
    if (config.engines.empty()) config.engines.emplace_back();
    for (EngineSpec& engine : config.engines) {
      ConfigTarget target{&config, &engine, nullptr};
      s = option.apply(target, value, "");
      if (!s.isOk()) break;
    }
  } else {
    return invalidArgument(source + ": upstreams are configured in the config file only");
  }
  if (!s.isOk()) return invalidArgument(source + ": " + s.message());
  return Status::ok();
}

std::string configReferenceMarkdown() {
  ServerConfig server;
  EngineSpec engine;
  UpstreamSpec upstream;
  ConfigTarget defaults{&server, &engine, &upstream};
  std::string out;
  const std::pair<OptionScope, const char*> sections[] = {
      {OptionScope::kServer, "Server (top-level keys)"},
      {OptionScope::kEngine, "Engines (keys of each object in `engines`)"},
      {OptionScope::kUpstream, "Upstreams (keys of each object in `upstreams`, file only)"}};
  for (const auto& [scope, title] : sections) {
    out += std::string("### ") + title + "\n\n";
    out += "| key | flag | environment | default | description |\n|---|---|---|---|---|\n";
    for (const ConfigOption& o : configOptions()) {
      if (o.scope != scope) continue;
      out += "| `" + o.key + "` | " + (o.flag.empty() ? "" : "`" + o.flag + "`") + " | " +
             (o.env.empty() ? "" : "`" + o.env + "`") + " | `" + jsonForDocs(o.get(defaults)) +
             "` | " + o.help + " |\n";
    }
    out += "\n";
  }
  return out;
}

}  // namespace manifold::gateway
