#include "gateway/api/api_server.h"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <random>

#include <spdlog/spdlog.h>

#include "gateway/api/access_log.h"
#include "gateway/api/api_error.h"
#include "gateway/api/handlers.h"
#include "gateway/api/openai_request.h"
#include "gateway/proxy/upstream_proxy.h"
#include "gateway/version.h"

namespace manifold::gateway {
namespace {

using json = nlohmann::json;

enum class Endpoint {
  kHealth,
  kVersion,
  kModels,
  kModel,
  kCompletions,
  kChatCompletions,
  kTokenize,
  kDetokenize,
  kEngines,
  kExtra,
  kUnknown
};

struct EndpointInfo {
  Endpoint endpoint = Endpoint::kUnknown;
  const char* method = "";
  bool authenticated = false;
  const char* route = "unmatched";  // for metrics labels: a fixed set
};

EndpointInfo classify(const std::string& path) {
  if (path == "/health") return {Endpoint::kHealth, "GET", false, "/health"};
  if (path == "/version") return {Endpoint::kVersion, "GET", false, "/version"};
  if (path == "/v1/models") return {Endpoint::kModels, "GET", true, "/v1/models"};
  if (path.rfind("/v1/models/", 0) == 0)
    return {Endpoint::kModel, "GET", true, "/v1/models/{model}"};
  if (path == "/v1/completions") return {Endpoint::kCompletions, "POST", true, "/v1/completions"};
  if (path == "/v1/chat/completions")
    return {Endpoint::kChatCompletions, "POST", true, "/v1/chat/completions"};
  if (path == "/tokenize") return {Endpoint::kTokenize, "POST", true, "/tokenize"};
  if (path == "/detokenize") return {Endpoint::kDetokenize, "POST", true, "/detokenize"};
  if (path == "/debug/engines") return {Endpoint::kEngines, "GET", true, "/debug/engines"};
  return {};
}

std::string requestId(const HttpRequest& request) {
  if (auto given = request.header("x-request-id");
      given && !given->empty() && given->size() < 128) {
    return std::string(*given);
  }
  thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[24];
  std::snprintf(buf, sizeof(buf), "req-%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

// The exchange handlers see: tags every answer with X-Request-Id and records its status for the
// access log, whichever path (handler, generation, proxy) answers.
class TrackedExchange final : public Exchange {
 public:
  TrackedExchange(std::shared_ptr<Exchange> inner, std::shared_ptr<AccessRecord> record)
      : inner_(std::move(inner)), record_(std::move(record)) {}

  void respond(HttpResponse response) override {
    response.headers.emplace_back("X-Request-Id", record_->request_id);
    record_->status.store(response.status);
    record_->response_bytes.fetch_add(response.body.size());
    inner_->respond(std::move(response));
  }
  void beginStream(int status, std::string content_type, HttpHeaders headers) override {
    headers.emplace_back("X-Request-Id", record_->request_id);
    record_->status.store(status);
    inner_->beginStream(status, std::move(content_type), std::move(headers));
  }
  void write(std::string data) override {
    record_->response_bytes.fetch_add(data.size());
    inner_->write(std::move(data));
  }
  void endStream() override { inner_->endStream(); }
  void abortStream() override { inner_->abortStream(); }
  void post(std::function<void()> fn) override { inner_->post(std::move(fn)); }
  void onCancel(std::function<void()> fn) override { inner_->onCancel(std::move(fn)); }
  bool cancelled() const override { return inner_->cancelled(); }

 private:
  std::shared_ptr<Exchange> inner_;
  std::shared_ptr<AccessRecord> record_;
};

void respond(RequestContext& ctx, HttpResponse response) {
  ctx.record->status.store(response.status);
  ctx.exchange->respond(std::move(response));
}

// Whether `principal` may use `model` under its id or any of its aliases.
bool allowsModel(const Principal& principal, const ServedModel& model) {
  if (principal.allows(model.id())) return true;
  const auto& aliases = model.options().aliases;
  return std::any_of(aliases.begin(), aliases.end(),
                     [&](const std::string& alias) { return principal.allows(alias); });
}

// An exchange driven from another thread (a prompt thread): every call is posted to the
// connection's strand, where the Exchange contract wants it, in the order it was made. Calls
// made later from the strand itself (a generation's drain) take the same way, so the order
// holds across both.
class StrandExchange final : public Exchange {
 public:
  explicit StrandExchange(std::shared_ptr<Exchange> inner) : inner_(std::move(inner)) {}

  void respond(HttpResponse response) override {
    inner_->post([inner = inner_, response = std::move(response)]() mutable {
      inner->respond(std::move(response));
    });
  }
  void beginStream(int status, std::string content_type, HttpHeaders headers) override {
    inner_->post([inner = inner_, status, content_type = std::move(content_type),
                  headers = std::move(headers)]() mutable {
      inner->beginStream(status, std::move(content_type), std::move(headers));
    });
  }
  void write(std::string data) override {
    inner_->post(
        [inner = inner_, data = std::move(data)]() mutable { inner->write(std::move(data)); });
  }
  void endStream() override {
    inner_->post([inner = inner_] { inner->endStream(); });
  }
  void abortStream() override {
    inner_->post([inner = inner_] { inner->abortStream(); });
  }
  void post(std::function<void()> fn) override { inner_->post(std::move(fn)); }
  void onCancel(std::function<void()> fn) override {
    // Registered on the strand; a client already gone runs it there at once.
    inner_->post(
        [inner = inner_, fn = std::move(fn)]() mutable { inner->onCancel(std::move(fn)); });
  }
  // Only meaningful on the strand; callers elsewhere learn of cancellation through onCancel.
  bool cancelled() const override { return inner_->cancelled(); }

 private:
  std::shared_ptr<Exchange> inner_;
};

// The requests that tokenize, handled on the prompt threads.
bool tokenizes(const HttpRequest& request) {
  return request.method == "POST" &&
         (request.path == "/v1/completions" || request.path == "/v1/chat/completions" ||
          request.path == "/tokenize" || request.path == "/detokenize");
}

constexpr int kPromptThreads = 2;

HttpResponse jsonResponse(const json& value, int status = 200) {
  HttpResponse response;
  response.status = status;
  response.body = dumpJson(value);
  return response;
}

}  // namespace

ApiServer::ApiServer(ModelRegistry& registry, std::vector<ApiKeyEntry> api_keys,
                     UpstreamProxy* proxy)
    : registry_(registry),
      auth_(api_keys),
      proxy_(proxy),
      prompt_threads_(std::make_unique<boost::asio::thread_pool>(kPromptThreads)) {}

ApiServer::~ApiServer() { prompt_threads_->join(); }

void ApiServer::addRoute(std::string method, std::string path, SimpleRoute route,
                         bool authenticated) {
  extra_routes_[{std::move(method), std::move(path)}] = Route{std::move(route), authenticated};
}

void ApiServer::handle(HttpRequest request, std::shared_ptr<Exchange> exchange) {
  if (!tokenizes(request)) return handleHere(std::move(request), std::move(exchange));
  boost::asio::post(*prompt_threads_,
                    [this, request = std::move(request),
                     exchange = std::make_shared<StrandExchange>(std::move(exchange))]() mutable {
                      handleHere(std::move(request), std::move(exchange));
                    });
}

void ApiServer::handleHere(HttpRequest request, std::shared_ptr<Exchange> exchange) {
  // No exception may reach a thread's run loop (it would end the process): whatever a handler
  // throws is logged and answered 500 (ignored if the answer has already begun).
  std::shared_ptr<Exchange> answer = exchange;
  std::string what = request.method + " " + request.path;
  try {
    dispatch(std::move(request), std::move(exchange));
  } catch (const std::exception& e) {
    spdlog::error("{}: unexpected exception: {}", what, e.what());
    answer->respond(errorResponse(internalError("The server failed to handle the request.")));
  } catch (...) {
    spdlog::error("{}: unexpected exception", what);
    answer->respond(errorResponse(internalError("The server failed to handle the request.")));
  }
}

void ApiServer::dispatch(HttpRequest request, std::shared_ptr<Exchange> exchange) {
  auto record = std::make_shared<AccessRecord>();
  record->request_id = requestId(request);
  record->request_bytes = request.body.size();
  record->on_finish = hooks_.finished;
  if (hooks_.started) hooks_.started();
  RequestContext ctx{std::make_shared<TrackedExchange>(std::move(exchange), record), record,
                     &hooks_};
  ctx.record->method = request.method;
  ctx.record->path = request.path;
  ctx.record->remote = request.remote_address;

  EndpointInfo info = classify(request.path);
  const Route* extra = nullptr;
  if (info.endpoint == Endpoint::kUnknown) {
    for (const auto& [key, route] : extra_routes_) {
      if (key.second == request.path) {
        extra = &route;
        info = {Endpoint::kExtra, key.first.c_str(), route.authenticated};
        if (key.first == request.method) break;
      }
    }
  }
  record->route = extra != nullptr ? request.path : info.route;
  if (info.endpoint == Endpoint::kUnknown) {
    return respond(ctx, errorResponse(404, "Not found: " + request.method + " " + request.path));
  }
  if (request.method != info.method) {
    HttpResponse response = errorResponse(405, "Method " + request.method + " is not allowed for " +
                                                   request.path + "; use " + info.method);
    response.headers.emplace_back("Allow", info.method);
    return respond(ctx, std::move(response));
  }
  Principal principal;
  if (info.authenticated) {
    auto who = auth_.authenticate(request.header("authorization"));
    if (!who.isOk()) return respond(ctx, errorResponse(who.status()));
    principal = who.value();
  }

  switch (info.endpoint) {
    case Endpoint::kHealth: {
      // Open to probes, but why a model is not ready (load errors name files and devices) is told
      // only to callers with a key for it.
      auto who = auth_.authenticate(request.header("authorization"));
      return respond(ctx, healthResponse(who.isOk() ? &who.value() : nullptr));
    }
    case Endpoint::kVersion:
      return respond(ctx, jsonResponse({{"version", kVersion}}));
    case Endpoint::kModels:
    case Endpoint::kModel:
      return respond(ctx, modelsResponse(request, principal));
    case Endpoint::kEngines:
      return respond(ctx, engineStatsResponse(principal));
    case Endpoint::kExtra:
      return respond(ctx, extra->fn(request));
    default:
      break;
  }

  // Model-bound endpoints.
  if (draining_.load()) {
    return respond(ctx, errorResponse(unavailable("The server is shutting down.")));
  }
  auto body = parseJsonBody(request.body);
  if (!body.isOk()) return respond(ctx, errorResponse(body.status()));
  auto model_field = body->find("model");
  if (model_field == body->end() || model_field->is_null()) {
    return respond(ctx, errorResponse(invalidArgument("`model` is required")));
  }
  if (!model_field->is_string()) {
    return respond(ctx, errorResponse(invalidArgument("`model` must be a string")));
  }
  const std::string name = model_field->get<std::string>();
  ctx.record->model = name;
  auto model = registry_.resolve(name);
  if (!model.isOk() || !principal.allows(name)) {
    // A key limited to other models does not learn which models exist.
    return respond(ctx, errorResponse(notFound("The model `" + name + "` does not exist.")));
  }
  ServedModel& served = *model.value();
  Status available = served.availability();
  if (!available.isOk()) return respond(ctx, errorResponse(available));

  if (served.isRemote()) {
    if (proxy_ == nullptr) {
      return respond(ctx, errorResponse(internalError("no upstream proxy is configured")));
    }
    json forwarded(body.value());
    forwarded["model"] = served.upstream().model;
    if (hooks_.routed) hooks_.routed(served.id(), "upstream");
    if (hooks_.upstream_error) {
      ctx.record->on_upstream_error = [hook = hooks_.upstream_error, id = served.id()](
                                          const std::string& reason) { hook(id, reason); };
    }
    proxy_->forward(served.upstream(), request.method, request.target, dumpJson(forwarded),
                    ctx.exchange, ctx.record);
    return;
  }
  switch (info.endpoint) {
    case Endpoint::kCompletions:
      return handleCompletions(ctx, body.value(), served);
    case Endpoint::kChatCompletions:
      return handleChatCompletions(ctx, body.value(), served);
    case Endpoint::kTokenize:
      return handleTokenize(ctx, body.value(), served);
    case Endpoint::kDetokenize:
      return handleDetokenize(ctx, body.value(), served);
    default:
      break;
  }
  respond(ctx, errorResponse(internalError("unrouted endpoint " + request.path)));
}

HttpResponse ApiServer::modelCard(const ServedModel& model, const std::string& name) const {
  json card = {{"id", name},
               {"object", "model"},
               {"created", model.options().created},
               {"owned_by", model.options().owned_by},
               {"root", name == model.id() ? name : model.id()},
               {"parent", name == model.id() ? json(nullptr) : json(model.id())},
               {"permission", json::array()}};
  if (!model.isRemote() && model.state() == ServedModel::State::kReady) {
    card["max_model_len"] = model.info().max_model_len;
  }
  return jsonResponse(card);
}

HttpResponse ApiServer::modelsResponse(const HttpRequest& request,
                                       const Principal& principal) const {
  if (request.path != "/v1/models") {
    std::string name = request.path.substr(std::string("/v1/models/").size());
    ServedModel* model = registry_.find(name);
    if (model == nullptr || !principal.allows(name)) {
      return errorResponse(notFound("The model `" + name + "` does not exist."));
    }
    return modelCard(*model, name);
  }
  json data = json::array();
  for (const auto& model : registry_.models()) {
    std::vector<std::string> names = {model->id()};
    names.insert(names.end(), model->options().aliases.begin(), model->options().aliases.end());
    for (const std::string& name : names) {
      if (!principal.allows(name)) continue;
      data.push_back(json::parse(modelCard(*model, name).body));
    }
  }
  return jsonResponse({{"object", "list"}, {"data", std::move(data)}});
}

HttpResponse ApiServer::healthResponse(const Principal* caller) const {
  if (draining_.load()) return errorResponse(unavailable("The server is shutting down."));
  for (const auto& model : registry_.models()) {
    Status available = model->availability();
    if (available.isOk()) continue;
    if (caller != nullptr && allowsModel(*caller, *model)) return errorResponse(available);
    return errorResponse(unavailable("A model is not ready."));
  }
  return jsonResponse({{"status", "ok"}});
}

HttpResponse ApiServer::engineStatsResponse(const Principal& principal) const {
  json models = json::array();
  for (const auto& model : registry_.models()) {
    if (!allowsModel(principal, *model)) continue;
    json entry = {{"id", model->id()},
                  {"remote", model->isRemote()},
                  {"ready", model->state() == ServedModel::State::kReady},
                  {"in_flight", model->admission().inFlight()}};
    json replicas = json::array();
    if (!model->isRemote() && model->state() == ServedModel::State::kReady) {
      for (size_t i = 0; i < model->numReplicas(); ++i) {
        EngineStats s = model->replica(i).stats();
        replicas.push_back({{"num_running", s.num_running},
                            {"num_waiting", s.num_waiting},
                            {"outstanding_tokens", s.outstanding_tokens},
                            {"kv_cache_usage", s.kv_cache_usage},
                            {"num_kv_blocks", s.num_kv_blocks},
                            {"prefix_cache_queries", s.prefix_cache_queries},
                            {"prefix_cache_hits", s.prefix_cache_hits},
                            {"num_preemptions", s.num_preemptions},
                            {"prompt_tokens", s.prompt_tokens},
                            {"generation_tokens", s.generation_tokens}});
      }
    }
    entry["replicas"] = std::move(replicas);
    models.push_back(std::move(entry));
  }
  return jsonResponse({{"models", std::move(models)}});
}

}  // namespace manifold::gateway
