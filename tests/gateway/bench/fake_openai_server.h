// A deterministic OpenAI-compatible streaming server for the bench tests: binds 127.0.0.1:0, one
// thread per connection, answers /v1/models, /tokenize (one token per word, or 404) and streaming
// /v1/completions and /v1/chat/completions with a known first-token delay and gap between tokens,
// in chunked transfer encoding. Keeps connections alive (HTTP/1.1) unless told otherwise. Records
// the peak number of concurrent streams and the connections it accepted and that carried
// completions.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace manifold::bench::testing {

struct FakeServerOptions {
  std::chrono::milliseconds first_token_delay{80};
  std::chrono::milliseconds token_gap{5};
  bool tokenize = true;  // false: /tokenize answers 404
  int fail_every = 0;    // > 0: every fail_every-th completion request gets HTTP 503
  bool keep_alive = true;  // false: every response says `Connection: close` and closes
  // > 0: a kept connection with no next request this long after a response is closed (a server's
  // idle timeout), without saying so in the response.
  std::chrono::milliseconds idle_timeout{0};
  // > 0: every hang_up_every-th completion request is read and then answered by closing the
  // connection (a server that crashed or gave up on it).
  int hang_up_every = 0;
  int hang_up_tokenize_every = 0;  // the same for /tokenize requests
};

class FakeOpenAiServer {
 public:
  explicit FakeOpenAiServer(FakeServerOptions options);
  ~FakeOpenAiServer();  // stops accepting and joins every connection thread

  int port() const { return port_; }
  int peakConcurrentStreams() const { return peak_streams_.load(); }
  int completionRequests() const { return completion_requests_.load(); }
  int tokenizeRequests() const { return tokenize_requests_.load(); }
  int completionConnections() const { return completion_connections_.load(); }
  int connectionsAccepted() const;  // of any request
  // The last completion request: its header lines ("Name: value\n" each) and its body.
  std::string lastCompletionHeaders() const;
  std::string lastCompletionBody() const;

 private:
  void acceptLoop();
  void serve(boost::asio::ip::tcp::socket& socket);
  // Answers one request (false: hung up instead); `counted`: this connection has carried a
  // completion already.
  bool respond(boost::asio::ip::tcp::socket& socket,
               const boost::beast::http::request<boost::beast::http::string_body>& request,
               bool close, bool& counted);

  const FakeServerOptions options_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> streams_{0};
  std::atomic<int> peak_streams_{0};
  std::atomic<int> completion_requests_{0};
  std::atomic<int> tokenize_requests_{0};
  std::atomic<int> completion_connections_{0};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::vector<std::thread> connections_;  // GUARDED_BY(mu_)
  // Each connection's socket, shut down by the destructor so that a thread waiting for a kept
  // connection's next request ends even when its client is still there.
  std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;  // GUARDED_BY(mu_)
  std::string last_headers_;              // GUARDED_BY(mu_)
  std::string last_body_;                 // GUARDED_BY(mu_)
};

}  // namespace manifold::bench::testing
