#include "gateway/http/http_server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

namespace manifold::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

// Reads before the first byte of a request, and the watch read that notices a client going away
// while its request runs, go into the parser's buffer in pieces of this size.
constexpr size_t kReadChunk = 4096;
// A client that keeps sending after a 413 is drained (at most this long without a byte, and this
// much in all) so that it can read the answer instead of seeing a reset connection.
constexpr auto kLingerTime = std::chrono::seconds(2);
// Bytes of answer a connection may have queued for a client that does not read them.
constexpr size_t kMaxQueuedBytes = 16u << 20;
constexpr size_t kLingerBytes = 256u << 20;
constexpr size_t kMaxHeaderBytes = 64u << 10;

std::string statusLine(int status) {
  auto reason = http::obsolete_reason(static_cast<http::status>(status));
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason.data(), reason.size()) +
         "\r\n";
}

std::string serializeResponse(const HttpResponse& response, bool keep_alive) {
  std::string out = statusLine(response.status);
  out += "Content-Type: " + response.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  for (const auto& [name, value] : response.headers) out += name + ": " + value + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  out += response.body;
  return out;
}

std::string chunk(std::string_view data) {
  char size[32];
  int len = std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  std::string out(size, static_cast<size_t>(len));
  out.append(data);
  out += "\r\n";
  return out;
}

// `s` without leading and trailing spaces and tabs (HTTP's optional whitespace).
std::string_view trimmed(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

std::string lowerCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

// Sessions register here so that drain() can reach them.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Thread-safe: closes the connection if idle, else after its current exchange.
  virtual void drainSoon() = 0;
};

struct HttpServer::Impl {
  // Declaration order matters: ioc is destroyed before the members its pending handlers (which
  // own sessions) still use, and after the acceptor that was built on it.
  HttpServerOptions options;
  HttpHandler handler;
  ErrorRenderer render_error;
  std::optional<ssl::context> ssl_ctx;
  std::mutex mu;
  std::condition_variable all_closed;
  std::map<SessionBase*, std::weak_ptr<SessionBase>> sessions;  // GUARDED_BY(mu)
  std::atomic<bool> draining{false};
  std::atomic<int> connections{0};
  uint16_t port = 0;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;

  HttpResponse errorResponse(int status, const std::string& message) const;
  void doAccept();
  void onAccept(beast::error_code ec, tcp::socket socket);
  void refuse(tcp::socket socket);
  void addSession(SessionBase* key, std::weak_ptr<SessionBase> session) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.emplace(key, std::move(session));
  }
  void removeSession(SessionBase* key) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(key);
    connections.fetch_sub(1);
    all_closed.notify_all();
  }
};

HttpResponse HttpServer::Impl::errorResponse(int status, const std::string& message) const {
  return render_error(status, message);
}

namespace {

template <class Stream>
class Session;

// The Exchange handed to handlers; forwards to its session if it is still the current exchange.
template <class Stream>
class SessionExchange : public Exchange {
 public:
  SessionExchange(std::shared_ptr<Session<Stream>> session, uint64_t seq)
      : session_(std::move(session)), seq_(seq) {}
  void respond(HttpResponse response) override { session_->respond(seq_, std::move(response)); }
  void beginStream(int status, std::string content_type, HttpHeaders headers) override {
    session_->beginStream(seq_, status, std::move(content_type), std::move(headers));
  }
  void write(std::string data) override { session_->writeChunk(seq_, std::move(data)); }
  void endStream() override { session_->endStream(seq_); }
  void abortStream() override { session_->abortStream(seq_); }
  void post(std::function<void()> fn) override { session_->post(std::move(fn)); }
  void onCancel(std::function<void()> fn) override { session_->onCancel(seq_, std::move(fn)); }
  bool cancelled() const override { return session_->isCancelled(seq_); }

 private:
  std::shared_ptr<Session<Stream>> session_;
  const uint64_t seq_;
};

constexpr bool isTlsStream(const beast::tcp_stream*) { return false; }
constexpr bool isTlsStream(const beast::ssl_stream<beast::tcp_stream>*) { return true; }

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = isTlsStream(static_cast<const Stream*>(nullptr));

  Session(HttpServer::Impl& server, Stream stream, std::string remote)
      : server_(server),
        stream_(std::move(stream)),
        idle_timer_(stream_.get_executor()),
        remote_(std::move(remote)) {}

  ~Session() override { unregister(); }

  void run() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->tcp().expires_after(self->server_.options.header_timeout);
        self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->closeNow();
          self->waitForRequest();
        });
      } else {
        self->waitForRequest();
      }
    });
  }

  void drainSoon() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->keep_alive_ = false;
      if (!self->busy_) self->closeNow();
    });
  }

  // Exchange operations, on the strand.
  void respond(uint64_t seq, HttpResponse response) {
    if (!isCurrent(seq) || started_) return;
    started_ = true;
    if (server_.draining.load()) keep_alive_ = false;
    enqueue(serializeResponse(response, keep_alive_));
    end_after_writes_ = true;
    maybeFinish();
  }
  void beginStream(uint64_t seq, int status, std::string content_type, HttpHeaders headers) {
    if (!isCurrent(seq) || started_) return;
    started_ = true;
    if (server_.draining.load()) keep_alive_ = false;
    std::string head = statusLine(status);
    head += "Content-Type: " + content_type + "\r\nTransfer-Encoding: chunked\r\n";
    head += "Cache-Control: no-cache\r\n";
    for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
    head += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    enqueue(std::move(head));
  }
  void writeChunk(uint64_t seq, std::string data) {
    if (!isCurrent(seq) || !started_ || end_after_writes_ || data.empty()) return;
    enqueue(chunk(data));
  }
  void endStream(uint64_t seq) {
    if (!isCurrent(seq) || !started_ || end_after_writes_) return;
    enqueue("0\r\n\r\n");
    end_after_writes_ = true;
    maybeFinish();
  }
  void abortStream(uint64_t seq) {
    if (!isCurrent(seq) || !started_ || end_after_writes_) return;
    keep_alive_ = false;  // closes instead of waiting for the next request
    end_after_writes_ = true;
    maybeFinish();
  }
  void post(std::function<void()> fn) { net::post(stream_.get_executor(), std::move(fn)); }
  void onCancel(uint64_t seq, std::function<void()> fn) {
    if (seq != seq_) return;
    if (cancelled_) {
      fn();  // the client left before the handler asked
      return;
    }
    if (busy_) cancel_fns_.push_back(std::move(fn));
  }
  bool isCancelled(uint64_t seq) const { return seq != seq_ || cancelled_; }

 private:
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }
  bool isCurrent(uint64_t seq) const { return busy_ && seq == seq_ && !cancelled_; }
  std::shared_ptr<Session> self() { return this->shared_from_this(); }

  // Idle between requests: wait for the next request's first bytes, or close after idle_timeout.
  void waitForRequest() {
    if (buffer_.size() > 0) return readHeader();
    if (!keep_alive_ || server_.draining.load()) return closeNow();
    idle_timer_.expires_after(server_.options.idle_timeout);
    idle_timer_.async_wait([self = self()](beast::error_code ec) {
      if (!ec && !self->busy_) self->closeNow();
    });
    if (!reading_) readSome();
  }

  // The one raw read: before a request (first bytes) and while a request runs (to notice the
  // client going away; pipelined bytes stay in buffer_ for the next request).
  void readSome() {
    reading_ = true;
    tcp().expires_never();
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = self()](beast::error_code ec, size_t n) {
                              self->reading_ = false;
                              if (ec) {
                                if (self->busy_) return self->clientGone();
                                return self->closeNow();
                              }
                              self->buffer_.commit(n);
                              if (!self->busy_) {
                                self->idle_timer_.cancel();
                                self->readHeader();
                                return;
                              }
                              // Empty lines (older clients end a body with CRLF) do not end
                              // the watch; the start of a pipelined request does.
                              self->dropEmptyLines();
                              if (self->buffer_.size() == 0) self->readSome();
                            });
  }

  // Drops the empty lines at the start of buffer_: a server ignores them before a request line
  // (RFC 9112 2.2).
  void dropEmptyLines() {
    const auto* bytes = static_cast<const char*>(buffer_.data().data());
    size_t n = 0;
    while (n < buffer_.size() && (bytes[n] == '\r' || bytes[n] == '\n')) ++n;
    buffer_.consume(n);
  }

  void readHeader() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(server_.options.max_body_bytes);
    tcp().expires_after(server_.options.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = self()](beast::error_code ec, size_t) {
                              if (ec) return self->onReadError(ec);
                              self->onHeader();
                            });
  }

  void onHeader() {
    auto& header = parser_->get();
    // RFC 9112 6.3: a request whose Transfer-Encoding does not end in chunked has no knowable
    // length (answering it and reading on would take its body for the next request: request
    // smuggling): 400 and close. Codings before chunked (gzip, ...) get 501: only chunked is decoded.
    if (header.count(http::field::transfer_encoding) > 0) {
      if (!parser_->chunked()) {
        return rejectAndLinger(400, "Transfer-Encoding must end in chunked.");
      }
      const auto field = header[http::field::transfer_encoding];
      const std::string_view coding = trimmed(std::string_view(field.data(), field.size()));
      if (lowerCase(coding) != "chunked") {
        return rejectAndLinger(501, "Only the chunked transfer coding is supported.");
      }
    }
    auto expect = header[http::field::expect];
    if (!parser_->is_done() && beast::iequals(expect, "100-continue")) {
      auto cont = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
      tcp().expires_after(server_.options.write_timeout);
      net::async_write(stream_, net::buffer(*cont),
                       [self = self(), cont](beast::error_code ec, size_t) {
                         if (ec) return self->closeNow();
                         self->readBody();
                       });
      return;
    }
    readBody();
  }

  void readBody() {
    tcp().expires_after(server_.options.body_timeout);
    http::async_read(stream_, buffer_, *parser_, [self = self()](beast::error_code ec, size_t) {
      if (ec) return self->onReadError(ec);
      self->onRequest();
    });
  }

  void onReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return rejectAndLinger(413, "The request body is larger than the limit of " +
                                      std::to_string(server_.options.max_body_bytes) + " bytes.");
    }
    if (ec == http::error::header_limit) {
      return rejectAndLinger(431, "The request headers are too large.");
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        buffer_.size() == 0) {
      return closeNow();
    }
    rejectAndLinger(400, "Malformed HTTP request: " + ec.message());
  }

  void onRequest() {
    http::request<http::string_body> message = parser_->release();
    parser_.reset();
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.path = request.target.substr(0, request.target.find('?'));
    for (const auto& field : message) {
      auto name = field.name_string();
      request.headers.emplace_back(lowerCase(std::string_view(name.data(), name.size())),
                                   std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.remote_address = remote_;
    keep_alive_ = message.keep_alive() && !server_.draining.load();

    busy_ = true;
    started_ = false;
    cancelled_ = false;
    end_after_writes_ = false;
    cancel_fns_.clear();
    ++seq_;
    auto exchange = std::make_shared<SessionExchange<Stream>>(self(), seq_);
    server_.handler(std::move(request), std::move(exchange));
    // Watch for the client going away only when no pipelined bytes wait in buffer_: the next
    // request is parsed from them when this exchange ends, and that read must be the only one.
    dropEmptyLines();
    if (busy_ && !reading_ && buffer_.size() == 0) readSome();
  }

  void enqueue(std::string data) {
    if (closed_) return;
    queued_bytes_ += data.size();
    writes_.push_back(std::move(data));
    // A client that reads a stream slower than it is produced (or not at all) would queue it
    // here without bound (a fast upstream: 65 MB/s). Past the cap it is treated as gone: the
    // socket is closed, the pending write fails, and the exchange is cancelled (its engine
    // request or upstream call aborted). One large answer is a single write and never trips it.
    if (writes_.size() > 1 && queued_bytes_ > kMaxQueuedBytes) {
      spdlog::warn("{}: the client reads too slowly ({} bytes queued); closing", remote_,
                   queued_bytes_);
      return closeNow();
    }
    if (!writing_) writeNext();
  }

  void writeNext() {
    writing_ = true;
    tcp().expires_after(server_.options.write_timeout);
    net::async_write(stream_, net::buffer(writes_.front()),
                     [self = self()](beast::error_code ec, size_t) {
                       self->writing_ = false;
                       if (ec) {
                         self->writes_.clear();
                         self->queued_bytes_ = 0;
                         if (self->busy_) return self->clientGone();
                         return self->closeNow();
                       }
                       self->queued_bytes_ -= self->writes_.front().size();
                       self->writes_.pop_front();
                       if (!self->writes_.empty()) return self->writeNext();
                       self->maybeFinish();
                     });
  }

  // The exchange is over once its last byte is written.
  void maybeFinish() {
    if (!busy_ || !end_after_writes_ || writing_ || !writes_.empty()) return;
    busy_ = false;
    cancel_fns_.clear();
    if (lingering_) return lingerThenClose();
    if (!keep_alive_) return closeNow();
    waitForRequest();
  }

  void clientGone() {
    if (!busy_) return closeNow();
    cancelled_ = true;
    auto fns = std::move(cancel_fns_);
    cancel_fns_.clear();
    for (auto& fn : fns) fn();
    busy_ = false;
    closeNow();
  }

  // Answers an error the server found itself (no handler ran) and closes the connection.
  void rejectAndLinger(int status, const std::string& message) {
    parser_.reset();
    busy_ = true;
    ++seq_;
    started_ = false;
    cancelled_ = false;
    end_after_writes_ = false;
    keep_alive_ = false;
    lingering_ = status == 413 || status == 431;
    respond(seq_, server_.errorResponse(status, message));
  }

  // After an early error answer the client may still be sending its body: half-close and read
  // (discarding) for a while so that it reads our answer rather than a connection reset.
  void lingerThenClose() {
    beast::error_code ignored;
    if constexpr (!kTls) tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp().expires_after(kLingerTime);
    lingerRead();
  }
  void lingerRead() {
    buffer_.consume(buffer_.size());
    tcp().expires_after(kLingerTime);  // per read: a client still sending is given time
    stream_.async_read_some(buffer_.prepare(64 * 1024),
                            [self = self()](beast::error_code ec, size_t n) {
                              self->lingered_ += n;
                              if (ec || self->lingered_ > kLingerBytes) return self->closeNow();
                              self->lingerRead();
                            });
  }

  // The connection no longer counts for drain() and the connection cap once it is closed, even if
  // an exchange (held by a handler) keeps this object alive a little longer.
  void unregister() {
    if (registered_) {
      registered_ = false;
      server_.removeSession(this);
    }
  }

  void closeNow() {
    if (closed_) return;
    closed_ = true;
    unregister();
    idle_timer_.cancel();
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp().socket().close(ignored);
  }

  HttpServer::Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  net::steady_timer idle_timer_;
  std::string remote_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<std::string> writes_;
  size_t queued_bytes_ = 0;  // in writes_
  std::vector<std::function<void()>> cancel_fns_;
  uint64_t seq_ = 0;      // the current (or last) exchange
  bool reading_ = false;  // a readSome is outstanding
  bool writing_ = false;  // an async_write is outstanding
  bool busy_ = false;     // an exchange is in progress
  bool started_ = false;  // the exchange has begun its answer
  bool end_after_writes_ = false;
  bool cancelled_ = false;
  bool keep_alive_ = true;
  bool lingering_ = false;
  bool closed_ = false;
  bool registered_ = true;
  size_t lingered_ = 0;
};

}  // namespace

void HttpServer::Impl::doAccept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    onAccept(ec, std::move(socket));
  });
}

void HttpServer::Impl::refuse(tcp::socket socket) {
  auto sock = std::make_shared<tcp::socket>(std::move(socket));
  auto text = std::make_shared<std::string>(
      serializeResponse(errorResponse(503, "Too many connections; please retry later."), false));
  net::async_write(*sock, net::buffer(*text), [sock, text](beast::error_code, size_t) {
    beast::error_code ignored;
    sock->shutdown(tcp::socket::shutdown_both, ignored);
    sock->close(ignored);
  });
}

void HttpServer::Impl::onAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
  if (!ec) {
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto endpoint = socket.remote_endpoint(ignored);
    std::string remote = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    if (draining.load() || connections.load() >= options.max_connections) {
      refuse(std::move(socket));
    } else {
      connections.fetch_add(1);
      std::shared_ptr<SessionBase> session;
      if (ssl_ctx) {
        auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
            *this,
            beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *ssl_ctx),
            std::move(remote));
        addSession(s.get(), s);
        s->run();
      } else {
        auto s = std::make_shared<Session<beast::tcp_stream>>(
            *this, beast::tcp_stream(std::move(socket)), std::move(remote));
        addSession(s.get(), s);
        s->run();
      }
    }
  } else {
    spdlog::warn("accept failed: {}", ec.message());
  }
  doAccept();
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::create(HttpServerOptions options,
                                                       HttpHandler handler,
                                                       ErrorRenderer render_error) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->handler = std::move(handler);
  impl->render_error = std::move(render_error);
  const HttpServerOptions& opts = impl->options;
  if (!opts.ssl_certfile.empty() || !opts.ssl_keyfile.empty()) {
    if (opts.ssl_certfile.empty() || opts.ssl_keyfile.empty()) {
      return invalidArgument("TLS needs both ssl_certfile and ssl_keyfile");
    }
    impl->ssl_ctx.emplace(ssl::context::tls_server);
    impl->ssl_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                               ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                               ssl::context::no_tlsv1_1);
    beast::error_code ec;
    impl->ssl_ctx->use_certificate_chain_file(opts.ssl_certfile, ec);
    if (ec) return invalidArgument("ssl_certfile `" + opts.ssl_certfile + "`: " + ec.message());
    impl->ssl_ctx->use_private_key_file(opts.ssl_keyfile, ssl::context::pem, ec);
    if (ec) return invalidArgument("ssl_keyfile `" + opts.ssl_keyfile + "`: " + ec.message());
  }
  beast::error_code ec;
  tcp::endpoint endpoint;
  const auto address = net::ip::make_address(opts.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, opts.port);
  } else {
    // A host name (`localhost`): its first address.
    tcp::resolver resolver(impl->ioc);
    const auto resolved = resolver.resolve(opts.host, std::to_string(opts.port), ec);
    if (ec || resolved.empty()) {
      return invalidArgument("host `" + opts.host + "` is neither an IP address nor a name that " +
                             "resolves: " + ec.message());
    }
    endpoint = resolved.begin()->endpoint();
  }
  std::string where = opts.host + ":" + std::to_string(opts.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return unavailable("cannot listen on " + where + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::start() {
  impl_->doAccept();
  int n = std::max(1, impl_->options.io_threads);
  for (int i = 0; i < n; ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
}

uint16_t HttpServer::port() const { return impl_->port; }

net::io_context& HttpServer::ioContext() { return impl_->ioc; }

int HttpServer::numConnections() const { return impl_->connections.load(); }

bool HttpServer::drain(std::chrono::milliseconds timeout) {
  impl_->draining.store(true);
  net::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (auto& [key, weak] : impl_->sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->drainSoon();
  live.clear();
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->all_closed.wait_for(lock, timeout, [&] { return impl_->sessions.empty(); });
}

void HttpServer::stop() {
  if (!impl_) return;
  impl_->ioc.stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

}  // namespace manifold::gateway
