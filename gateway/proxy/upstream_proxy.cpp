#include "gateway/proxy/upstream_proxy.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common/http_url.h"
#include "gateway/api/api_error.h"
#include "gateway/http/tls_client.h"

namespace manifold::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kMaxBufferedBody = 64u << 20;

// Joins the upstream's base path and the client's target; an OpenAI-style base URL that already
// ends in /v1 is not given a second one.
std::string joinPath(const std::string& prefix, const std::string& target) {
  if (prefix.size() >= 3 && prefix.compare(prefix.size() - 3, 3, "/v1") == 0 &&
      target.rfind("/v1/", 0) == 0) {
    return prefix + target.substr(3);
  }
  return prefix + target;
}

// What UpstreamProxy::abortAll() needs of a call, whatever its stream type.
class AbortableCall {
 public:
  virtual ~AbortableCall() = default;
  // Thread-safe: ends the call for a server that stops (a drain that timed out).
  virtual void abortForShutdown() = 0;
};

template <class Stream>
class ProxyCall : public AbortableCall, public std::enable_shared_from_this<ProxyCall<Stream>> {
 public:
  ProxyCall(Stream stream, tcp::resolver resolver, HttpUrl url, const UpstreamTarget& target,
            http::request<http::string_body> req, std::shared_ptr<Exchange> exchange,
            std::shared_ptr<AccessRecord> record)
      : stream_(std::move(stream)),
        resolver_(std::move(resolver)),
        url_(std::move(url)),
        connect_timeout_(target.connect_timeout),
        read_timeout_(target.read_timeout),
        request_(std::move(req)),
        exchange_(std::move(exchange)),
        record_(std::move(record)) {}

  // Thread-safe: closes the upstream connection (the client went away).
  void cancel() {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->record_->cancelled.store(true);
      self->cancelled_ = true;
      // Whichever step is under way ends: a resolve that is not stopped would go on to connect.
      self->resolver_.cancel();
      beast::error_code ignored;
      self->tcp().socket().close(ignored);
    });
  }

  // The client is told the server stops rather than left with a cut stream: an error event
  // before the stream ends without [DONE] (the proxy cannot write the upstream's own final
  // chunks, as a local generation's abort does), or a 503 when nothing was sent yet. A call that
  // has already answered is left alone.
  void abortForShutdown() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->cancelled_ || self->failed_ || self->answered_) return;
      self->failed_ = true;
      self->reportError("shutdown");
      self->endWithError(503, "The server is shutting down; the upstream model server at " +
                                  self->where() + " was still answering.");
      self->resolver_.cancel();
      self->closeUpstream();
    });
  }

  void start() {
    auto self = this->shared_from_this();
    // The connect deadline runs from here: a slow name lookup leaves the connection and the TLS
    // handshake less time (the lookup itself, getaddrinfo, cannot be interrupted).
    tcp().expires_after(connect_timeout_);
    resolver_.async_resolve(url_.host, url_.port,
                            [self](beast::error_code ec, tcp::resolver::results_type results) {
                              if (self->cancelled_) return;
                              if (ec) return self->fail("resolve", "cannot be resolved:", ec);
                              self->connect(results);
                            });
  }

 private:
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }

  void connect(const tcp::resolver::results_type& results) {
    tcp().async_connect(
        results, [self = this->shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
          if (self->cancelled_) return;
          if (ec) return self->fail("connect", "cannot be reached:", ec);
          if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            self->send();
          } else {
            if (!verifyTlsHostName(self->stream_.native_handle(), self->url_.host)) {
              return self->fail("tls", "cannot be set up for TLS:",
                                net::error::make_error_code(net::error::invalid_argument));
            }
            self->stream_.async_handshake(ssl::stream_base::client, [self](beast::error_code ec) {
              if (self->cancelled_) return;
              if (ec) return self->fail("tls", "failed the TLS handshake:", ec);
              self->send();
            });
          }
        });
  }

  void send() {
    tcp().expires_after(read_timeout_);
    http::async_write(stream_, request_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (self->cancelled_) return;
                        if (ec) return self->fail("send", "did not take the request:", ec);
                        self->readHeader();
                      });
  }

  void readHeader() {
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    http::async_read_header(stream_, buffer_, parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (self->cancelled_) return;
                              if (ec) return self->fail("no_answer", "gave no answer:", ec);
                              self->onHeader();
                            });
  }

  void onHeader() {
    const auto& header = parser_.get();
    status_ = static_cast<int>(header.result_int());
    content_type_ = std::string(header[http::field::content_type]);
    // Only a successful answer streams through; an error is read whole and checked (finish()).
    streaming_ = status_ < 300 && content_type_.find("text/event-stream") != std::string::npos;
    if (const auto retry = header[http::field::retry_after]; !retry.empty()) {
      headers_.emplace_back("Retry-After", std::string(retry));
    }
    if (status_ >= 300 && status_ < 400) {
      const auto location = header[http::field::location];
      return fail("redirect",
                  ("redirected to `" + std::string(location) + "` (HTTP " +
                   std::to_string(status_) + "); point its base_url there")
                      .c_str(),
                  {});
    }
    record_->status.store(status_);
    if (streaming_) {
      exchange_->post([exchange = exchange_, status = status_, type = content_type_,
                       headers = headers_] { exchange->beginStream(status, type, headers); });
    }
    readBody();
  }

  void readBody() {
    if (parser_.is_done()) return finish();
    parser_.get().body().data = chunk_;
    parser_.get().body().size = sizeof(chunk_);
    tcp().expires_after(read_timeout_);
    http::async_read_some(stream_, buffer_, parser_,
                          [self = this->shared_from_this()](beast::error_code ec, size_t) {
                            if (self->cancelled_) return;
                            if (ec == http::error::need_buffer) ec = {};
                            if (ec) return self->fail("lost_answer", "broke off its answer:", ec);
                            size_t n = sizeof(self->chunk_) - self->parser_.get().body().size;
                            self->relay(std::string(self->chunk_, n));
                            if (self->failed_) return self->closeUpstream();
                            self->readBody();
                          });
  }

  void relay(std::string data) {
    if (data.empty()) return;
    if (streaming_) {
      exchange_->post([exchange = exchange_, data = std::move(data)]() mutable {
        exchange->write(std::move(data));
      });
      return;
    }
    body_ += data;
    if (body_.size() > kMaxBufferedBody) {
      failed_ = true;
      reportError("too_large");
      respondError(502, "The upstream's answer is too large.");
    }
  }

  void finish() {
    if (failed_) return;
    answered_ = true;
    if (streaming_) {
      exchange_->post([exchange = exchange_] { exchange->endStream(); });
    } else if (const std::string problem = checkBody(); !problem.empty()) {
      // Clients parse OpenAI's JSON: an HTML error page or a broken body is the upstream's
      // failure, told in OpenAI's shape.
      reportError("bad_answer");
      respondError(502,
                   "The upstream model server at " + url_.host + ":" + url_.port + " " + problem);
    } else {
      HttpResponse response;
      response.status = status_;
      response.content_type = content_type_.empty() ? "application/json" : content_type_;
      response.headers = headers_;
      response.body = std::move(body_);
      exchange_->post([exchange = exchange_, response = std::move(response)]() mutable {
        exchange->respond(std::move(response));
      });
    }
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  // Stops reading the upstream's answer (it was refused): closing aborts the request there too.
  void closeUpstream() {
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp().socket().close(ignored);
  }

  // What is wrong with a whole (not streamed) answer, or "" when it is JSON.
  std::string checkBody() const {
    if (content_type_.find("json") == std::string::npos) {
      return "answered HTTP " + std::to_string(status_) + " with " +
             (content_type_.empty() ? std::string("no content type") : "`" + content_type_ + "`") +
             " instead of JSON";
    }
    if (nlohmann::json::accept(body_)) return "";
    return "answered HTTP " + std::to_string(status_) + " with a body that is not valid JSON";
  }

  void reportError(const char* reason) {
    if (record_->on_upstream_error) record_->on_upstream_error(reason);
  }

  std::string where() const { return url_.host + ":" + url_.port; }

  // `reason`: the metric label; `what` continues "The upstream model server at HOST:PORT ...".
  // A deadline that passed is a 504 (label "timeout"), as a gateway answers for an upstream
  // that is too slow, naming the setting of the stage that waited; anything else is a 502.
  void fail(const char* reason, const char* what, beast::error_code ec) {
    if (cancelled_ || failed_) return;
    failed_ = true;
    const bool timed_out = ec == beast::error::timeout;
    reportError(timed_out ? "timeout" : reason);
    spdlog::warn("upstream {}: {} ({})", where(), what, ec ? ec.message() : reason);
    const std::string_view stage(reason);
    const char* setting = stage == "resolve" || stage == "connect" || stage == "tls"
                              ? "connect_timeout_s"
                              : "read_timeout_s";
    std::string message =
        std::string("The upstream model server at ") + where() + " " + what +
        (timed_out ? std::string(" it timed out (") + setting + " of its configuration)"
         : ec      ? " " + ec.message()
                   : std::string());
    endWithError(timed_out ? 504 : 502, std::move(message));
  }

  // Streaming, the headers are out already: an SSE error event, then the stream is cut without
  // its final chunk, so that the client sees an error rather than a normal end. Otherwise an
  // error response.
  void endWithError(int status, std::string message) {
    if (!streaming_) return respondError(status, std::move(message));
    std::string event = "data: " + dumpJson(errorJson(status, message)) + "\n\n";
    exchange_->post([exchange = exchange_, event = std::move(event)]() mutable {
      exchange->write(std::move(event));
      exchange->abortStream();
    });
  }

  void respondError(int status, std::string message) {
    record_->status.store(status);
    exchange_->post([exchange = exchange_, status, message = std::move(message)] {
      exchange->respond(errorResponse(status, message));
    });
  }

  Stream stream_;
  tcp::resolver resolver_;
  HttpUrl url_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds read_timeout_;
  http::request<http::string_body> request_;
  std::shared_ptr<Exchange> exchange_;
  std::shared_ptr<AccessRecord> record_;
  HttpHeaders headers_;  // of the upstream's answer, passed on (Retry-After)
  beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
  char chunk_[16384];
  std::string body_;
  std::string content_type_;
  int status_ = 0;
  bool streaming_ = false;
  bool failed_ = false;
  bool answered_ = false;  // finish() passed the whole answer on
  bool cancelled_ = false;
};

}  // namespace

struct UpstreamProxy::Impl {
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  ssl::context tls{ssl::context::tls_client};
  std::thread thread;
  std::mutex mu;
  std::vector<std::weak_ptr<AbortableCall>> calls;  // GUARDED_BY(mu); expired ones pruned

  void track(const std::shared_ptr<AbortableCall>& call) {
    std::lock_guard<std::mutex> lock(mu);
    std::erase_if(calls, [](const std::weak_ptr<AbortableCall>& c) { return c.expired(); });
    calls.push_back(call);
  }
};

void UpstreamProxy::abortAll() {
  std::vector<std::shared_ptr<AbortableCall>> live;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (const auto& weak : impl_->calls) {
      if (auto call = weak.lock()) live.push_back(std::move(call));
    }
  }
  for (const auto& call : live) call->abortForShutdown();
}

UpstreamProxy::UpstreamProxy() : impl_(std::make_unique<Impl>()) {
  configureTlsClient(impl_->tls);
  impl_->work.emplace(net::make_work_guard(impl_->ioc));
  impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

UpstreamProxy::~UpstreamProxy() {
  impl_->work.reset();
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void UpstreamProxy::forward(const UpstreamTarget& target, const std::string& method,
                            const std::string& path, std::string body,
                            std::shared_ptr<Exchange> exchange,
                            std::shared_ptr<AccessRecord> record) {
  std::optional<HttpUrl> url = parseHttpUrl(target.base_url);
  if (!url) {
    record->status.store(500);
    exchange->respond(errorResponse(
        500, "The upstream base_url `" + target.base_url + "` is not an http(s) URL."));
    return;
  }
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(joinPath(url->path_prefix, path));
  req.version(11);
  req.set(http::field::host, url->hostHeader());
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "manifold-gateway");
  if (!target.api_key.empty()) req.set(http::field::authorization, "Bearer " + target.api_key);
  req.set("X-Request-Id", record->request_id);
  req.body() = std::move(body);
  req.prepare_payload();
  req.keep_alive(false);
  auto strand = net::make_strand(impl_->ioc);
  // Registered here, on the client's strand, as Exchange requires.
  auto start = [&exchange](auto call) {
    std::weak_ptr<typename decltype(call)::element_type> weak = call;
    exchange->onCancel([weak] {
      if (auto c = weak.lock()) c->cancel();
    });
    return call;
  };
  std::shared_ptr<Exchange> client = exchange;
  if (url->tls) {
    auto call = std::make_shared<ProxyCall<beast::ssl_stream<beast::tcp_stream>>>(
        beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(strand), impl_->tls),
        tcp::resolver(strand), std::move(*url), target, std::move(req), client, std::move(record));
    start(call);
    impl_->track(call);
    net::post(strand, [call] { call->start(); });
  } else {
    auto call = std::make_shared<ProxyCall<beast::tcp_stream>>(
        beast::tcp_stream(strand), tcp::resolver(strand), std::move(*url), target, std::move(req),
        client, std::move(record));
    start(call);
    impl_->track(call);
    net::post(strand, [call] { call->start(); });
  }
}

}  // namespace manifold::gateway
