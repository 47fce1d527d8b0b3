#include "gateway/serving/serve.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <thread>

#include <spdlog/spdlog.h>

#include "engine/model/load_progress.h"
#include "gateway/api/api_error.h"
#include "gateway/api/openai_response.h"
#include "gateway/metrics/metrics_registry.h"
#include "gateway/metrics/stats_logger.h"
#include "gateway/server/gateway_server.h"
#include "gateway/serving/engine_factory.h"
#include "routing/replica_policy.h"

namespace manifold::gateway {
namespace {

// Engines that share a primary name: replicas of one served model.
struct ModelGroup {
  ServedModel* model = nullptr;
  std::vector<const EngineSpec*> specs;
};

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void onStopSignal(int sig) { g_stop_signal = sig; }

std::string primaryName(const EngineSpec& spec) {
  return spec.served_model_name.empty() ? spec.model : spec.served_model_name.front();
}

std::chrono::milliseconds seconds(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0));
}

// Loads every engine, one after the other; publishes each model when all its replicas are up.
// Returns false (after marking the model failed) on the first error.
bool loadEngines(std::vector<ModelGroup>& groups, int total_engines,
                 metrics::MetricsRegistry& metrics) {
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  int default_threads = std::max(1, static_cast<int>(cores) / std::max(1, total_engines));
  for (ModelGroup& group : groups) {
    std::vector<std::unique_ptr<EngineClient>> replicas;
    std::unique_ptr<PromptCodec> codec;
    for (const EngineSpec* spec : group.specs) {
      int threads = spec->threads > 0 ? spec->threads : default_threads;
      spdlog::info("loading model `{}` from {} (threads: {})", group.model->id(), spec->model,
                   threads);
      // A line a second while a large checkpoint loads, and one as each stage ends.
      LoadProgressLines lines(std::chrono::seconds(1));
      auto log_progress = [&](const LoadProgress& progress) {
        if (auto line = lines.next(progress, std::chrono::steady_clock::now())) {
          spdlog::info("model `{}`: {}", group.model->id(), *line);
        }
      };
      auto engine =
          makeEngine(*spec, threads, &metrics.observerFor(group.model->id()), log_progress);
      if (!engine.isOk()) {
        spdlog::error("model `{}`: {}", group.model->id(), engine.status().toString());
        group.model->setFailed(engine.status());
        return false;
      }
      if (!codec) {
        auto made = makeCodec(*spec, *engine.value());
        if (!made.isOk()) {
          spdlog::error("model `{}`: {}", group.model->id(), made.status().toString());
          group.model->setFailed(made.status());
          return false;
        }
        codec = std::move(made).value();
      }
      if (!engine.value()->info().summary.empty()) {
        spdlog::info("model `{}`: {}", group.model->id(), engine.value()->info().summary);
      }
      replicas.push_back(std::move(engine).value());
    }
    spdlog::info("model `{}` ready ({} replica{}, max_model_len {})", group.model->id(),
                 replicas.size(), replicas.size() == 1 ? "" : "s",
                 replicas.front()->info().max_model_len);
    group.model->setReady(std::move(replicas), std::move(codec));
  }
  return true;
}

}  // namespace

Result<std::vector<ApiKeyEntry>> readApiKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return notFound("api_key_file `" + path + "` cannot be read");
  std::vector<ApiKeyEntry> keys;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.pop_back();
    }
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    keys.push_back({line.substr(start), {}});
  }
  // An operator who names a key file means to require keys: an empty one (a secret that failed
  // to mount) must not leave the server open.
  if (keys.empty()) return invalidArgument("api_key_file `" + path + "` holds no key");
  return keys;
}

int runServer(const ServerConfig& config) {
  RoutingPolicy policy = parseRoutingPolicy(config.routing_policy).value();
  auto registry = std::make_unique<ModelRegistry>();
  std::vector<ModelGroup> groups;
  std::map<std::string, size_t> group_of;
  const int64_t now = unixNow();
  for (const EngineSpec& spec : config.engines) {
    std::string id = primaryName(spec);
    if (auto it = group_of.find(id); it != group_of.end()) {
      groups[it->second].specs.push_back(&spec);
      continue;
    }
    group_of[id] = groups.size();
    groups.push_back({nullptr, {&spec}});
  }
  for (ModelGroup& group : groups) {
    const EngineSpec& spec = *group.specs.front();
    ServedModelOptions options;
    options.id = primaryName(spec);
    if (spec.served_model_name.size() > 1) {
      options.aliases.assign(spec.served_model_name.begin() + 1, spec.served_model_name.end());
    }
    options.aliases.insert(options.aliases.end(), spec.aliases.begin(), spec.aliases.end());
    options.created = now;
    options.policy = policy;
    if (spec.enable_auto_tool_choice) options.tool_call_parser = spec.tool_call_parser;
    options.admission_capacity =
        spec.max_waiting_requests == 0
            ? 0
            : spec.max_num_seqs * static_cast<int>(group.specs.size()) + spec.max_waiting_requests;
    auto model = ServedModel::local(std::move(options));
    group.model = model.get();
    Status added = registry->add(std::move(model));
    if (!added.isOk()) {
      spdlog::error("{}", added.message());
      return 1;
    }
  }
  for (const UpstreamSpec& upstream : config.upstreams) {
    ServedModelOptions options;
    options.id = upstream.name;
    options.aliases = upstream.aliases;
    options.created = now;
    options.owned_by = "upstream";
    UpstreamTarget target{upstream.base_url, upstream.api_key,
                          upstream.model.empty() ? upstream.name : upstream.model};
    target.connect_timeout = seconds(upstream.connect_timeout_s);
    target.read_timeout = seconds(upstream.read_timeout_s);
    Status added = registry->add(ServedModel::remote(std::move(options), std::move(target)));
    if (!added.isOk()) {
      spdlog::error("{}", added.message());
      return 1;
    }
  }

  GatewayOptions options;
  options.http.host = config.host;
  options.http.port = static_cast<uint16_t>(config.port);
  options.http.io_threads = config.io_threads;
  options.http.max_body_bytes = static_cast<size_t>(config.max_body_bytes);
  options.http.idle_timeout = seconds(config.idle_timeout_s);
  options.http.header_timeout = seconds(config.header_timeout_s);
  options.http.body_timeout = seconds(config.body_timeout_s);
  options.http.max_connections = config.max_connections;
  options.http.ssl_certfile = config.ssl_certfile;
  options.http.ssl_keyfile = config.ssl_keyfile;
  options.api_keys = config.api_keys;
  if (!config.api_key_file.empty()) {
    auto more = readApiKeyFile(config.api_key_file);
    if (!more.isOk()) {
      spdlog::error("{}", more.status().message());
      return 1;
    }
    options.api_keys.insert(options.api_keys.end(), more->begin(), more->end());
  }

  // Whichever thread takes the signal only records it; the loop below acts on it.
  g_stop_signal = 0;
  struct sigaction action = {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  metrics::MetricsRegistry metrics;
  auto server = GatewayServer::create(std::move(options), std::move(registry));
  if (!server.isOk()) {
    spdlog::error("{}", server.status().message());
    return 1;
  }
  GatewayServer& gateway = *server.value();
  gateway.api().addRoute(
      "GET", "/metrics",
      [&metrics](const HttpRequest&) {
        HttpResponse response;
        response.content_type = metrics::MetricsRegistry::kContentType;
        response.body = metrics.scrape();
        return response;
      },
      /*authenticated=*/false);
  gateway.api().setRequestHooks(
      {[&metrics] { metrics.gateway().requestStarted(); },
       [&metrics](const AccessRecord& r) {
         double seconds =
             std::chrono::duration<double>(std::chrono::steady_clock::now() - r.start).count();
         metrics.gateway().recordHttpRequest(r.route, r.method, r.status.load(), r.request_bytes,
                                             r.response_bytes.load(), seconds);
         metrics.gateway().requestFinished();
       },
       [&metrics](const std::string& model, const std::string& reason) {
         metrics.gateway().recordAdmissionRejection(model, reason);
       },
       [&metrics](const std::string& model, const std::string& engine) {
         metrics.gateway().recordRoutingDecision(model, engine);
       },
       [&metrics](const std::string& upstream, const std::string& reason) {
         metrics.gateway().recordUpstreamError(upstream, reason);
       }});
  gateway.start();
  spdlog::info("listening on {}:{}{}", config.host, gateway.port(),
               config.ssl_certfile.empty() ? "" : " (https)");
  spdlog::default_logger()->flush();

  std::atomic<int> load_result{-1};  // -1 loading, 0 failed, 1 loaded
  std::thread loader([&] {
    load_result.store(loadEngines(groups, static_cast<int>(config.engines.size()), metrics) ? 1
                                                                                            : 0);
  });
  metrics::StatsLogger stats_logger(metrics, std::chrono::seconds(10));

  int exit_code = 0;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    int sig = g_stop_signal;
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("{}: draining (up to {:g} s), then exiting",
                   sig == SIGINT ? "SIGINT" : "SIGTERM", config.drain_timeout_s);
      break;
    }
    if (load_result.load() == 0) {
      spdlog::error("an engine failed to load; exiting");
      exit_code = 1;
      break;
    }
  }
  loader.join();
  bool drained = gateway.shutdown(seconds(config.drain_timeout_s));
  spdlog::info(drained ? "all requests finished; bye" : "drain timed out; closed what was left");
  return exit_code;
}

}  // namespace manifold::gateway
