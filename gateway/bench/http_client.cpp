#include "gateway/bench/http_client.h"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "gateway/http/tls_client.h"

namespace manifold::bench {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
namespace ssl = asio::ssl;
using TlsStream = ssl::stream<tcp::socket>;

// One verifying client context for every https call of the process (contexts are thread-safe
// to share once set up).
ssl::context& tlsContext() {
  static ssl::context* context = [] {
    auto* tls = new ssl::context(ssl::context::tls_client);
    gateway::configureTlsClient(*tls);
    return tls;
  }();
  return *context;
}

}  // namespace

struct ConnectionPool::Idle {
  std::vector<std::unique_ptr<tcp::socket>> plain;
  std::vector<std::unique_ptr<TlsStream>> tls;

  template <class Stream>
  std::vector<std::unique_ptr<Stream>>& of() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return tls;
    } else {
      return plain;
    }
  }
};

ConnectionPool::ConnectionPool() : idle_(std::make_unique<Idle>()) {}
ConnectionPool::~ConnectionPool() = default;
size_t ConnectionPool::idle() const { return idle_->plain.size() + idle_->tls.size(); }

namespace {

// Stream is tcp::socket (http) or TlsStream (https).
template <class Stream>
class HttpCall : public std::enable_shared_from_this<HttpCall<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  HttpCall(asio::io_context& io, tcp::endpoint endpoint, const HttpRequestSpec& spec,
           HttpCallbacks callbacks, ConnectionPool* pool)
      : io_(io),
        timer_(io),
        tls_host_(spec.tls_host),
        endpoint_(endpoint),
        timeout_(spec.timeout),
        callbacks_(std::move(callbacks)),
        pool_(pool) {
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    request_.method(spec.method == "GET" ? http::verb::get : http::verb::post);
    request_.target(spec.target);
    request_.version(11);
    request_.set(http::field::host, spec.host_header);
    request_.set(http::field::user_agent, "manifold-bench");
    request_.set(http::field::accept, "text/event-stream, application/json");
    // HTTP/1.1 keeps the connection by default; without a pool it is closed after the response.
    if (pool_ == nullptr) request_.set(http::field::connection, "close");
    if (!spec.headers.api_key.empty()) {
      request_.set(http::field::authorization, "Bearer " + spec.headers.api_key);
    }
    for (const auto& [name, value] : spec.headers.extra) request_.set(name, value);
    if (request_.method() == http::verb::post) {
      request_.set(http::field::content_type, "application/json");
      request_.body() = spec.body;
      request_.prepare_payload();
    }
  }

  void start() {
    timer_.expires_after(timeout_);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->finished_) return;
      self->timed_out_ = true;
      beast::error_code ignored;
      if (self->socket_) self->lowest().close(ignored);
    });
    if (pool_ != nullptr) {
      auto& idle = pool_->idleStreams().of<Stream>();
      while (!idle.empty()) {
        socket_ = std::move(idle.back());
        idle.pop_back();
        if (stillOpen()) return write();
        beast::error_code ignored;
        lowest().close(ignored);
      }
    }
    connect();
  }

 private:
  // An idle kept connection is usable while the server has neither closed it (a pending end of
  // stream) nor sent anything unasked (a TLS close_notify, an error page): a non-blocking peek.
  // Checked before each reuse, as aiohttp drops a pooled connection its server closed, because the
  // request is not sent again on a connection that fails afterwards (RFC 9112 9.3.1: a POST is
  // not retried automatically; the server may have received it).
  bool stillOpen() {
    char byte;
    const ssize_t peeked = ::recv(lowest().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  tcp::socket& lowest() {
    if constexpr (kTls) {
      return socket_->next_layer();
    } else {
      return *socket_;
    }
  }

  void connect() {
    if constexpr (kTls) {
      socket_ = std::make_unique<Stream>(io_, tlsContext());
    } else {
      socket_ = std::make_unique<Stream>(io_);
    }
    if (pool_ != nullptr) pool_->countOpened();
    lowest().async_connect(endpoint_, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return self->finish("connect: " + ec.message());
      if constexpr (kTls) {
        if (!gateway::verifyTlsHostName(self->socket_->native_handle(), self->tls_host_)) {
          return self->finish("TLS: bad host name " + self->tls_host_);
        }
        self->socket_->async_handshake(ssl::stream_base::client, [self](beast::error_code ec) {
          if (ec) return self->finish("TLS handshake: " + ec.message());
          self->write();
        });
      } else {
        self->write();
      }
    });
  }

  void write() {
    http::async_write(
        *socket_, request_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->onWrite(ec); });
  }

  void onWrite(beast::error_code ec) {
    if (ec) return finish("write: " + ec.message());
    http::async_read_header(*socket_, buffer_, parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->finish("read header: " + ec.message());
                              self->status_ = self->parser_.get().result_int();
                              self->readSome();
                            });
  }

  void readSome() {
    if (parser_.is_done()) return finish("");
    parser_.get().body().data = body_buffer_;
    parser_.get().body().size = sizeof(body_buffer_);
    http::async_read_some(
        *socket_, buffer_, parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->onRead(ec); });
  }

  void onRead(beast::error_code ec) {
    const size_t produced = sizeof(body_buffer_) - parser_.get().body().size;
    if (produced > 0 && callbacks_.on_body) {
      callbacks_.on_body(std::string_view(body_buffer_, produced));
    }
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::end_of_stream || ec == asio::error::eof) return finish("");
    // A TLS peer that closes without close_notify: fine after a connection-delimited body (as
    // curl and aiohttp treat it), a cut stream otherwise (as plain eof is, inside Beast).
    if (ec == ssl::error::stream_truncated) {
      beast::error_code eof_ec;
      parser_.put_eof(eof_ec);
      return finish(eof_ec ? "read body: " + eof_ec.message() : "");
    }
    if (ec) return finish("read body: " + ec.message());
    readSome();
  }

  void finish(const std::string& error) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    // Back to the pool only after a whole response the server will follow with another, and with
    // nothing of it left unread.
    const bool keep = pool_ != nullptr && error.empty() && !timed_out_ && parser_.is_done() &&
                      parser_.keep_alive() && buffer_.size() == 0;
    if (keep) {
      pool_->idleStreams().of<Stream>().push_back(std::move(socket_));
    } else if (socket_) {
      beast::error_code ignored;
      lowest().shutdown(tcp::socket::shutdown_both, ignored);
      lowest().close(ignored);
    }
    callbacks_.on_done(status_, timed_out_ ? "timeout" : error);
  }

  asio::io_context& io_;
  std::unique_ptr<Stream> socket_;
  asio::steady_timer timer_;
  std::string tls_host_;
  tcp::endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  HttpCallbacks callbacks_;
  ConnectionPool* pool_;
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
  char body_buffer_[16384];
  int status_ = 0;
  bool finished_ = false;
  bool timed_out_ = false;
};

}  // namespace

Result<std::pair<std::string, std::string>> parseHeaderArgument(std::string_view argument) {
  const size_t equals = argument.find('=');
  const std::string_view name = argument.substr(0, equals);
  // RFC 9110 5.6.2 token characters.
  const bool token = !name.empty() && name.find_first_not_of(
                                          "!#$%&'*+-.^_`|~0123456789"
                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") ==
                                          std::string_view::npos;
  if (equals == std::string_view::npos || !token) {
    return invalidArgument(
        "--header must be NAME=VALUE with a header name of letters, digits and "
        "!#$%&'*+-.^_`|~, got '" +
        std::string(argument) + "'");
  }
  const std::string_view value = argument.substr(equals + 1);
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return invalidArgument("--header " + std::string(name) +
                           ": the value may not hold a line break or NUL");
  }
  return std::make_pair(std::string(name), std::string(value));
}

Result<BaseUrl> parseBaseUrl(std::string_view url) {
  std::optional<HttpUrl> parsed = parseHttpUrl(url);
  if (!parsed) {
    return invalidArgument("base URL must be http[s]://host[:port][/path] with a port from 1 to " +
                           std::string("65535: ") + std::string(url));
  }
  return *std::move(parsed);
}

void startHttpCall(asio::io_context& io, const tcp::endpoint& endpoint, HttpRequestSpec spec,
                   HttpCallbacks callbacks, ConnectionPool* pool) {
  if (spec.tls) {
    std::make_shared<HttpCall<TlsStream>>(io, endpoint, spec, std::move(callbacks), pool)->start();
  } else {
    std::make_shared<HttpCall<tcp::socket>>(io, endpoint, spec, std::move(callbacks), pool)
        ->start();
  }
}

Result<tcp::endpoint> resolveEndpoint(const BaseUrl& base) {
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::error_code ec;
  const auto results = resolver.resolve(base.host, base.port, ec);
  if (ec || results.empty()) {
    return unavailable("cannot resolve " + base.host + ":" + base.port + ": " + ec.message());
  }
  return results.begin()->endpoint();
}

HttpSession::HttpSession(BaseUrl base) : base_(std::move(base)) {}
HttpSession::~HttpSession() = default;

Result<HttpResponse> HttpSession::call(HttpRequestSpec spec) {
  if (!endpoint_) {
    ASSIGN_OR_RETURN(endpoint_, resolveEndpoint(base_));
  }
  if (spec.host_header.empty()) spec.host_header = base_.hostHeader();
  spec.tls = base_.tls;
  spec.tls_host = base_.host;
  for (int attempt = 0;; ++attempt) {
    const bool may_reuse = pool_.idle() > 0;
    HttpResponse response;
    std::string error;
    startHttpCall(io_, *endpoint_, spec,
                  {.on_body = [&](std::string_view bytes) { response.body.append(bytes); },
                   .on_done =
                       [&](int status, const std::string& e) {
                         response.status = status;
                         error = e;
                       }},
                  &pool_);
    // Idle kept connections wait for no event: run() returns when the call is done.
    io_.restart();
    io_.run();
    if (error.empty()) return response;
    // A kept connection the server closed after the liveness check fails before any answer; the
    // setup calls are idempotent (GET, /tokenize), so one is sent once more, on a new connection.
    const bool unanswered = response.status == 0 && response.body.empty();
    if (attempt > 0 || !may_reuse || !unanswered) {
      return unavailable((base_.tls ? "https://" : "http://") + base_.host + ":" + base_.port +
                         ": " + error);
    }
  }
}

Result<HttpResponse> httpCall(const BaseUrl& base, HttpRequestSpec spec) {
  return HttpSession(base).call(std::move(spec));
}

}  // namespace manifold::bench
