// The OpenAI-compatible API on top of the HTTP server: routes by method and path, checks API keys,
// resolves the `model` to a served model (local engines or a remote upstream) and hands the
// request to its handler. All errors leave through api_error.h.
//
// Requests that tokenize (completions, chat completions, /tokenize, /detokenize) are handled on
// a small pool of prompt threads, not on the io thread that read them: a long prompt's parsing,
// chat template and tokenization (seconds for tens of megabytes) would otherwise hold up every
// connection on that io thread, /health included. Their answers go back onto the connection's
// strand in order (StrandExchange).
//
// Thread safety: handle() is called concurrently from io threads; the registry is read-only, the
// draining flag atomic. addRoute() only before serving.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/thread_pool.hpp>

#include "gateway/api/access_log.h"
#include "gateway/api/auth.h"
#include "gateway/http/http_message.h"
#include "routing/model_registry.h"

namespace manifold::gateway {

class UpstreamProxy;

class ApiServer {
 public:
  // `proxy` may be null when no model is remote. Both must outlive the server.
  ApiServer(ModelRegistry& registry, std::vector<ApiKeyEntry> api_keys, UpstreamProxy* proxy);
  // Waits for the prompt threads' work in progress.
  ~ApiServer();
  // The same, before the engines go (shutdown): no prompt thread submits to a stopped engine.
  void finishPromptWork() { prompt_threads_->join(); }

  // The HttpHandler.
  void handle(HttpRequest request, std::shared_ptr<Exchange> exchange);

  // Observers of every request (metrics). Set before serving.
  void setRequestHooks(RequestHooks hooks) { hooks_ = std::move(hooks); }

  // New requests are answered 503 from now on (SIGTERM); /health reports it.
  void setDraining() { draining_.store(true); }

  // An extra endpoint (e.g. /metrics) answered synchronously; `authenticated` puts it behind the
  // API keys.
  using SimpleRoute = std::function<HttpResponse(const HttpRequest&)>;
  void addRoute(std::string method, std::string path, SimpleRoute route, bool authenticated);

 private:
  struct Route {
    SimpleRoute fn;
    bool authenticated = false;
  };

  // The request handled here, with its exception guard.
  void handleHere(HttpRequest request, std::shared_ptr<Exchange> exchange);
  // handle() without its exception guard.
  void dispatch(HttpRequest request, std::shared_ptr<Exchange> exchange);
  HttpResponse modelsResponse(const HttpRequest& request, const Principal& principal) const;
  HttpResponse modelCard(const ServedModel& model, const std::string& name) const;
  // `caller`: null when the request carries no valid key; load errors are shown only to callers
  // whose key allows the model.
  HttpResponse healthResponse(const Principal* caller) const;
  // Only the models `principal` may use.
  HttpResponse engineStatsResponse(const Principal& principal) const;

  ModelRegistry& registry_;
  Authenticator auth_;
  UpstreamProxy* proxy_;
  RequestHooks hooks_;
  std::atomic<bool> draining_{false};
  std::map<std::pair<std::string, std::string>, Route> extra_routes_;
  std::unique_ptr<boost::asio::thread_pool> prompt_threads_;
};

}  // namespace manifold::gateway
