// A small HTTP/1.1 client on Beast for the benchmark: many concurrent requests on one
// io_context, the response body delivered piece by piece as it arrives (for SSE streams, with
// chunked or connection-delimited bodies), plus blocking calls for setup requests (/tokenize,
// /v1/models). Connections are kept alive and reused through a ConnectionPool, as vLLM's
// benchmark keeps its aiohttp connections (without one: a connection per request); http, or
// https verified against the system's trust store (SSL_CERT_FILE / SSL_CERT_DIR apply) and the
// URL's host name.
//
// Thread safety: a call's callbacks run on the io_context's thread(s); run the io_context on one
// thread (as the benchmark does) and the callbacks need no locking.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http_url.h"
#include "common/status.h"

namespace manifold::bench {

// "http[s]://host[:port][/prefix]" (common/http_url.h); the prefix is prepended to every request
// path.
using BaseUrl = HttpUrl;
// parseHttpUrl with an error that names the URL.
[[nodiscard]] Result<BaseUrl> parseBaseUrl(std::string_view url);

// What every request of a run carries besides its own fields: the API key and the --header pairs,
// set last, so that they replace a header of the same name (Authorization included), as in vLLM.
struct RequestHeaders {
  std::string api_key;  // sent as "Authorization: Bearer <key>" when not empty
  std::vector<std::pair<std::string, std::string>> extra;
};

// "KEY=VALUE" (vllm bench serve's --header) as a header; an empty or non-token name, or a value
// with a line break or NUL, is an error naming the argument.
[[nodiscard]] Result<std::pair<std::string, std::string>> parseHeaderArgument(
    std::string_view argument);

struct HttpRequestSpec {
  std::string method = "POST";  // GET or POST
  std::string target;           // path (with the base URL's prefix) and query
  std::string body;             // JSON; empty for GET
  RequestHeaders headers;
  std::string host_header;
  bool tls = false;      // https: verify the peer and tls_host against its certificate
  std::string tls_host;  // the URL's host (SNI and the certificate name check)
  std::chrono::milliseconds timeout = std::chrono::hours(6);  // whole exchange (vLLM: 6 h)
};

struct HttpCallbacks {
  // Response body bytes as they arrive (after de-chunking). May be null.
  std::function<void(std::string_view bytes)> on_body;
  // Exactly once: the HTTP status (0 if none was read) and an error ("" when the exchange
  // completed, whatever the status).
  std::function<void(int status, const std::string& error)> on_done;
};

// Idle keep-alive connections to one server, for the calls of one io_context. A call takes an
// idle connection the server has not closed when there is one (else opens one) and gives it back
// after a complete response the server did not mark `Connection: close`. A call that fails is not
// sent again (as aiohttp does not resend a POST). Destroy the pool before its io_context.
class ConnectionPool {
 public:
  ConnectionPool();
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  [[nodiscard]] size_t opened() const { return opened_; }  // connections opened through it
  [[nodiscard]] size_t idle() const;

  struct Idle;  // the idle streams (http_client.cpp)
  Idle& idleStreams() { return *idle_; }
  void countOpened() { ++opened_; }

 private:
  std::unique_ptr<Idle> idle_;
  size_t opened_ = 0;
};

// Starts one request on `io`, on a connection of `pool` when given. REQUIRES: `endpoint`
// resolved; on_done set; the pool (if any) used with this io_context and endpoint only.
void startHttpCall(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
                   HttpRequestSpec spec, HttpCallbacks callbacks, ConnectionPool* pool = nullptr);

// Resolves the base URL's host (blocking).
[[nodiscard]] Result<boost::asio::ip::tcp::endpoint> resolveEndpoint(const BaseUrl& base);

struct HttpResponse {
  int status = 0;
  std::string body;
};

// Blocking requests to one server on a private io_context, over kept connections (the setup
// calls: /v1/models, and /tokenize several times per prompt while calibrating random prompts).
// The host is resolved at the first call. An unreachable server or a timeout is an error; any
// HTTP status is a response. The calls must be idempotent: one that fails on a kept connection
// before any answer is sent once more, on a new one. Not thread-safe: one caller at a time.
class HttpSession {
 public:
  explicit HttpSession(BaseUrl base);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  [[nodiscard]] Result<HttpResponse> call(HttpRequestSpec spec);
  [[nodiscard]] size_t connectionsOpened() const { return pool_.opened(); }

 private:
  BaseUrl base_;
  std::optional<boost::asio::ip::tcp::endpoint> endpoint_;
  boost::asio::io_context io_;
  ConnectionPool pool_;  // destroyed before io_
};

// One blocking request on a connection of its own.
[[nodiscard]] Result<HttpResponse> httpCall(const BaseUrl& base, HttpRequestSpec spec);

}  // namespace manifold::bench
