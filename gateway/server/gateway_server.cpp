#include "gateway/server/gateway_server.h"

#include "gateway/api/api_error.h"
#include "gateway/proxy/upstream_proxy.h"

namespace manifold::gateway {
namespace {

// After a drain timed out: how long aborted streams get to send their last chunks.
constexpr std::chrono::milliseconds kAbortGrace{2000};

}  // namespace

Result<std::unique_ptr<GatewayServer>> GatewayServer::create(
    GatewayOptions options, std::unique_ptr<ModelRegistry> registry) {
  std::unique_ptr<GatewayServer> server(new GatewayServer());
  server->registry_ = std::move(registry);
  bool any_remote = false;
  for (const auto& model : server->registry_->models()) any_remote |= model->isRemote();
  if (any_remote) server->proxy_ = std::make_unique<UpstreamProxy>();
  server->api_ = std::make_unique<ApiServer>(*server->registry_, std::move(options.api_keys),
                                             server->proxy_.get());
  ApiServer* api = server->api_.get();
  ASSIGN_OR_RETURN(
      server->http_,
      HttpServer::create(
          std::move(options.http),
          [api](HttpRequest request, std::shared_ptr<Exchange> exchange) {
            api->handle(std::move(request), std::move(exchange));
          },
          [](int status, const std::string& message) { return errorResponse(status, message); }));
  return server;
}

GatewayServer::~GatewayServer() { shutdown(std::chrono::milliseconds(0)); }

void GatewayServer::start() { http_->start(); }

bool GatewayServer::shutdown(std::chrono::milliseconds drain_timeout) {
  if (stopped_) return true;
  stopped_ = true;
  if (http_ == nullptr) {  // create() failed (e.g. the port is taken): nothing was started
    if (registry_ != nullptr) registry_->shutdown();
    return true;
  }
  api_->setDraining();
  bool drained = http_->drain(drain_timeout);
  if (!drained) {
    // Generations still running are aborted, and their streams get the time to say so
    // (finish_reason "abort", [DONE]) before the io threads stop; they used to be cut mid-way,
    // and their jobs were never released. Proxied calls end with an error event (or a 503).
    registry_->abortAll();
    if (proxy_ != nullptr) proxy_->abortAll();
    http_->drain(kAbortGrace);
  }
  http_->stop();
  api_->finishPromptWork();
  proxy_.reset();
  // Engines go while the (stopped) io_context still exists: a request left over after a drain
  // timeout may still be notified by its engine, which posts onto that io_context. Its handlers
  // never run again, so nothing reaches a destroyed engine.
  registry_->shutdown();
  http_.reset();
  return drained;
}

}  // namespace manifold::gateway
