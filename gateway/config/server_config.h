// What `manifold serve` runs: the server (listening, TLS, limits, keys) and its engines and remote
// upstreams. Every field can be set in a JSON config file, by a CLI flag and by an environment
// variable; all three come from one table (config_options.h). validate() is the one check.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "gateway/api/auth.h"

namespace manifold::gateway {

// Where an engine runs: the CPU, or one or more CUDA devices (tensor parallel).
struct DeviceSpec {
  enum class Kind { kCpu, kCuda };
  Kind kind = Kind::kCpu;
  std::vector<int> cuda_ids;  // kCuda: device ordinals, e.g. {0, 1} for "cuda:0,1"
};

// "cpu", "cuda", "cuda:0", "cuda:0,1". Errors say what is wrong with the text.
[[nodiscard]] Result<DeviceSpec> parseDevice(const std::string& text);

// Whether this binary was built with the CUDA backend.
[[nodiscard]] bool haveCudaBackend();

// One engine: one model on one device set. Entries with the same served name are replicas.
struct EngineSpec {
  std::vector<std::string> served_model_name;  // names clients use; the first is the id
  std::vector<std::string> aliases;            // more names, listed in /v1/models too
  std::string model;                           // model directory (HF layout)
  std::string device = "cpu";                  // cpu | cuda:N | cuda:N,M
  int threads = 0;                    // CPU worker threads; 0: the cores split among engines
  int max_model_len = 0;              // context length; 0: from the model's config.json
  int max_num_seqs = 16;              // sequences in one batch
  int max_num_batched_tokens = 2048;  // tokens in one step (chunked prefill budget)
  bool enable_chunked_prefill = true;  // split long prompts across steps
  int long_prefill_token_threshold = 0;  // > 0: prompt tokens per sequence per step, at most
  std::string scheduling_policy = "fcfs";  // fcfs | priority (requests' `priority`, lower first)
  bool enable_prefix_caching = true;  // reuse KV blocks of shared prompt prefixes
  double kv_cache_space = 0.0;        // GiB of KV cache; 0: sized for max_num_seqs full contexts
  int block_size = 16;                // tokens per KV block
  std::string dtype = "auto";         // weights: auto, f32, bf16 or f16 (docs/configuration.md)
  std::string kv_cache_dtype = "auto";  // auto (bf16 for 16-bit weights, else f32), f32, bf16
  std::string quantization = "none";    // none, or int8: matmul weights quantized at load
  std::string chat_template;          // a Jinja file overriding the model's chat template
  bool enable_auto_tool_choice = false;  // read chat answers for tool calls (tool_choice auto)
  std::string tool_call_parser;          // their format (gateway/api/tool_calls.h)
  int max_waiting_requests = 256;     // queued beyond max_num_seqs before answering 429
};

// A model served by another OpenAI-compatible server; requests for it are proxied.
struct UpstreamSpec {
  std::string name;                  // the name clients use here
  std::vector<std::string> aliases;  // more names
  std::string base_url;              // http(s)://host:port[/v1]
  std::string api_key;               // sent upstream as a Bearer token; empty: none
  std::string model;                 // the upstream's name for it; empty: same as `name`
  double connect_timeout_s = 10;     // resolve, connect and TLS handshake within this
  double read_timeout_s = 600;       // longest wait for its answer's next bytes
};

struct ServerConfig {
  std::string host = "127.0.0.1";     // address to listen on
  int port = 8000;                    // 0: any free port (logged as "listening on HOST:PORT")
  int io_threads = 2;                 // HTTP io threads
  std::vector<ApiKeyEntry> api_keys;  // empty: no authentication
  std::string api_key_file;           // more keys, one per line
  std::string ssl_keyfile;            // PEM private key; with ssl_certfile: HTTPS only
  std::string ssl_certfile;           // PEM certificate chain
  int64_t max_body_bytes = 32 << 20;  // larger bodies are answered 413
  double idle_timeout_s = 60;         // keep-alive connections idle this long are closed
  double header_timeout_s = 10;       // a request's headers must arrive within this
  double body_timeout_s = 60;         // and its body within this after them
  int max_connections = 1024;         // more are answered 503
  double drain_timeout_s = 30;        // on SIGTERM, wait this long for requests to finish
  std::string routing_policy = "least_outstanding";  // replicas: least_outstanding|prefix_affinity
  std::string log_level = "info";                    // trace|debug|info|warn|error
  std::vector<EngineSpec> engines;
  std::vector<UpstreamSpec> upstreams;
  std::string base_dir;  // relative model/template/key paths resolve against this

  // Checks ranges and names; errors name the key, e.g. "engines[1].max_num_seqs: must be
  // positive". Reads nothing from disk except to check that model directories exist.
  [[nodiscard]] Status validate() const;
};

}  // namespace manifold::gateway
