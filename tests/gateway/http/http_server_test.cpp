// The HTTP layer alone, with a trivial handler: keep-alive and pipelining, timeouts, the
// connection cap, Expect: 100-continue and answers from other threads. Raw POSIX sockets, so
// the bytes on the wire are what is checked.
#include "gateway/http/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace manifold::gateway {
namespace {

using namespace std::chrono_literals;

class RawSocket {
 public:
  explicit RawSocket(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawSocket() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  }
  // Reads until `needle` has arrived, the peer closes, or `timeout` passes.
  std::string readUntil(const std::string& needle, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (received_.find(needle) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      received_.append(buf, static_cast<size_t>(n));
    }
    return received_;
  }
  // True when the peer closed the connection within `timeout`.
  bool closedWithin(std::chrono::milliseconds timeout) {
    readUntil(std::string(1, '\0') + "never", timeout);
    return closed_;
  }

 private:
  int fd_;
  bool connected_ = false;
  bool closed_ = false;
  std::string received_;
};

HttpResponse renderError(int status, const std::string& message) {
  return {status, "application/json", {}, "{\"error\":\"" + message + "\"}"};
}

std::unique_ptr<HttpServer> startServer(HttpServerOptions options, HttpHandler handler) {
  options.host = "127.0.0.1";
  options.port = 0;
  auto server = HttpServer::create(options, std::move(handler), renderError);
  EXPECT_TRUE(server.isOk());
  server.value()->start();
  return std::move(server).value();
}

// Answers with the request's path as the body.
void echoPath(HttpRequest request, std::shared_ptr<Exchange> exchange) {
  exchange->respond({200, "text/plain", {}, request.path + ":" + request.body});
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(HttpServer, AnswersPipelinedRequestsInOrderOnOneConnection) {
  auto server = startServer({}, echoPath);
  RawSocket socket(server->port());
  ASSERT_TRUE(socket.connected());
  socket.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got = socket.readUntil("/second:", 2000ms);
  EXPECT_EQ(count(got, "HTTP/1.1 200 OK"), 2u);
  ASSERT_NE(got.find("/first:"), std::string::npos);
  EXPECT_LT(got.find("/first:"), got.find("/second:"));
}

// Answers like echoPath, but later and from another thread, so the exchange is still running when
// the server looks at the bytes pipelined behind its request.
void echoPathLater(HttpRequest request, std::shared_ptr<Exchange> exchange) {
  std::thread([request = std::move(request), exchange] {
    std::this_thread::sleep_for(20ms);
    exchange->post([exchange, text = request.path + ":" + request.body] {
      exchange->respond({200, "text/plain", {}, text});
    });
  }).detach();
}

std::string post(const std::string& path, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

TEST(HttpServer, AnswersPipelinedRequestsOnceEachWhenTheHandlerAnswersLater) {
  auto server = startServer({}, echoPathLater);
  RawSocket socket(server->port());
  ASSERT_TRUE(socket.connected());
  socket.send(post("/first", "one") + post("/second", "two"));
  socket.readUntil("/second:two", 2000ms);
  std::this_thread::sleep_for(50ms);  // time for a replayed answer to show up
  socket.send(post("/third", "three"));
  std::string got = socket.readUntil("/third:three", 2000ms);
  got = socket.readUntil(std::string(1, '\0') + "never", 150ms);  // and anything replayed
  EXPECT_EQ(count(got, "HTTP/1.1 200 OK"), 3u) << got;
  EXPECT_EQ(count(got, "/first:one"), 1u) << got;
  EXPECT_EQ(count(got, "/second:two"), 1u) << got;
  EXPECT_EQ(count(got, "/third:three"), 1u) << got;
  ASSERT_NE(got.find("/third:three"), std::string::npos) << got;
  EXPECT_LT(got.find("/first:one"), got.find("/second:two"));
  EXPECT_LT(got.find("/second:two"), got.find("/third:three"));
}

TEST(HttpServer, AnswersAPartlySentPipelinedRequestOnceItsRestArrives) {
  auto server = startServer({}, echoPathLater);
  RawSocket socket(server->port());
  ASSERT_TRUE(socket.connected());
  std::string second = post("/second", "two");
  socket.send(post("/first", "one") + second.substr(0, 20));
  socket.readUntil("/first:one", 2000ms);
  std::this_thread::sleep_for(50ms);
  socket.send(second.substr(20));
  socket.readUntil("/second:two", 2000ms);
  std::this_thread::sleep_for(50ms);
  socket.send(post("/third", "three"));
  std::string got = socket.readUntil("/third:three", 2000ms);
  got = socket.readUntil(std::string(1, '\0') + "never", 150ms);  // and anything replayed
  EXPECT_EQ(count(got, "HTTP/1.1 200 OK"), 3u) << got;
  EXPECT_EQ(count(got, "/first:one"), 1u) << got;
  EXPECT_EQ(count(got, "/second:two"), 1u) << got;
  EXPECT_EQ(count(got, "/third:three"), 1u) << got;
  ASSERT_NE(got.find("/third:three"), std::string::npos) << got;
  EXPECT_LT(got.find("/first:one"), got.find("/second:two"));
  EXPECT_LT(got.find("/second:two"), got.find("/third:three"));
}

// RFC 9112 6.3: a Transfer-Encoding that does not end in chunked leaves the body's length
// unknown. Answering and reading on would run the body as a second request (smuggling): the
// server answers 400 and closes, and never answers what followed. A coding before chunked is
// 501; chunked alone is read as usual.
TEST(HttpServer, TransferEncodingsOtherThanChunkedAreRefusedAndTheConnectionClosed) {
  auto server = startServer({}, echoPath);
  const std::string smuggled = post("/smuggled", "x");
  for (const std::string& coding : {"gzip", "chunked, gzip"}) {
    RawSocket socket(server->port());
    ASSERT_TRUE(socket.connected());
    socket.send("POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding + "\r\n\r\n" +
                smuggled);
    ASSERT_TRUE(socket.closedWithin(3000ms)) << coding;
    const std::string got = socket.readUntil("never", 0ms);
    EXPECT_EQ(got.rfind("HTTP/1.1 400 Bad Request", 0), 0u) << coding << ": " << got;
    EXPECT_EQ(got.find("/smuggled"), std::string::npos) << coding;
    EXPECT_EQ(got.find("/first"), std::string::npos) << coding;
  }
  RawSocket gzipped(server->port());
  gzipped.send(
      "POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
      "1\r\nx\r\n0\r\n\r\n" +
      smuggled);
  ASSERT_TRUE(gzipped.closedWithin(3000ms));
  const std::string got = gzipped.readUntil("never", 0ms);
  EXPECT_EQ(got.rfind("HTTP/1.1 501 Not Implemented", 0), 0u) << got;
  EXPECT_EQ(got.find("/smuggled"), std::string::npos);
  RawSocket chunked(server->port());
  chunked.send(
      "POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked \r\n\r\n"
      "2\r\nab\r\n0\r\n\r\n");
  EXPECT_NE(chunked.readUntil("/first:ab", 2000ms).find("/first:ab"), std::string::npos);
}

// A client that ends its body with an extra CRLF (as older clients do) and then goes away is
// noticed while its request runs, as one that sent nothing more: empty lines before a request
// line are ignored (RFC 9112 2.2), so they do not stop the watch for the client leaving.
TEST(HttpServer, NoticesAClientThatLeftAfterTrailingEmptyLines) {
  std::mutex mu;
  std::condition_variable changed;
  int cancelled = 0;
  auto server = startServer({}, [&](HttpRequest, std::shared_ptr<Exchange> exchange) {
    // Never answers: only the client's leaving ends the exchange.
    exchange->onCancel([&, exchange] {
      std::lock_guard<std::mutex> lock(mu);
      ++cancelled;
      changed.notify_all();
    });
  });
  for (const std::string& trailer : {"", "\r\n", "\r\n\r\n"}) {
    {
      RawSocket socket(server->port());
      ASSERT_TRUE(socket.connected());
      socket.send(post("/slow", "x") + trailer);
      std::this_thread::sleep_for(50ms);  // the request runs before the client leaves
    }
    std::unique_lock<std::mutex> lock(mu);
    EXPECT_TRUE(changed.wait_for(lock, 3s, [&] { return cancelled > 0; }))
        << "trailer of " << trailer.size() << " bytes";
    cancelled = 0;
  }
}

// A handler that asks to hear of the client's leaving only after it left (its answer is
// prepared on another thread) still hears of it, at once.
TEST(HttpServer, OnCancelAfterTheClientLeftRunsAtOnce) {
  std::mutex mu;
  std::condition_variable changed;
  bool heard = false;
  auto server = startServer({}, [&](HttpRequest, std::shared_ptr<Exchange> exchange) {
    std::thread([&, exchange] {
      std::this_thread::sleep_for(200ms);
      exchange->post([&, exchange] {
        exchange->onCancel([&] {
          std::lock_guard<std::mutex> lock(mu);
          heard = true;
          changed.notify_all();
        });
      });
    }).detach();
  });
  {
    RawSocket socket(server->port());
    ASSERT_TRUE(socket.connected());
    socket.send(post("/slow", "x"));
    std::this_thread::sleep_for(50ms);
  }
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_TRUE(changed.wait_for(lock, 3s, [&] { return heard; }));
}

// A client that stops reading a stream is dropped once 16 MiB wait for it, and the exchange is
// cancelled (its engine request or upstream call aborted): the queue used to grow without bound
// while a fast producer kept writing.
TEST(HttpServer, AClientThatStopsReadingAStreamIsDroppedNotBufferedForever) {
  std::mutex mu;
  std::condition_variable changed;
  bool cancelled = false;
  std::atomic<bool> stop{false};
  std::thread producer;
  auto server = startServer({}, [&](HttpRequest, std::shared_ptr<Exchange> exchange) {
    exchange->onCancel([&] {
      std::lock_guard<std::mutex> lock(mu);
      cancelled = true;
      changed.notify_all();
    });
    exchange->beginStream(200, "text/event-stream", {});
    producer = std::thread([&, exchange] {
      const std::string chunk(64 << 10, 'x');
      for (int i = 0; i < 2000 && !stop.load(); ++i) {  // at most 128 MiB
        exchange->post([exchange, chunk] { exchange->write(chunk); });
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  });
  RawSocket socket(server->port());
  ASSERT_TRUE(socket.connected());
  socket.send(post("/stream", "x"));  // and never read
  {
    std::unique_lock<std::mutex> lock(mu);
    EXPECT_TRUE(changed.wait_for(lock, 20s, [&] { return cancelled; }));
  }
  stop.store(true);
  if (producer.joinable()) producer.join();
}

TEST(HttpServer, ClosesIdleKeepAliveConnectionsAfterTheIdleTimeout) {
  HttpServerOptions options;
  options.idle_timeout = 100ms;
  auto server = startServer(options, echoPath);
  RawSocket socket(server->port());
  socket.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(socket.readUntil("/a:", 2000ms).find("Connection: keep-alive"), std::string::npos);
  EXPECT_TRUE(socket.closedWithin(3000ms));
}

TEST(HttpServer, ClosesConnectionsWhoseHeadersNeverFinish) {
  HttpServerOptions options;
  options.header_timeout = 100ms;
  auto server = startServer(options, echoPath);
  RawSocket socket(server->port());
  socket.send("GET /slow HTTP/1.1\r\nHost: x\r\n");
  EXPECT_TRUE(socket.closedWithin(3000ms));
}

TEST(HttpServer, RefusesConnectionsBeyondTheCapWith503) {
  HttpServerOptions options;
  options.max_connections = 1;
  auto server = startServer(options, echoPath);
  RawSocket first(server->port());
  first.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  first.readUntil("/a:", 2000ms);
  RawSocket second(server->port());
  second.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(second.readUntil("\r\n\r\n", 2000ms).find("HTTP/1.1 503"), std::string::npos);
}

TEST(HttpServer, SendsContinueBeforeReadingAnExpectedBody) {
  auto server = startServer({}, echoPath);
  RawSocket socket(server->port());
  socket.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_NE(socket.readUntil("100 Continue", 2000ms).find("HTTP/1.1 100 Continue"),
            std::string::npos);
  socket.send("hello");
  EXPECT_NE(socket.readUntil("/up:hello", 2000ms).find("/up:hello"), std::string::npos);
}

TEST(HttpServer, StreamsChunksPostedFromAnotherThread) {
  auto server = startServer({}, [](HttpRequest, std::shared_ptr<Exchange> exchange) {
    exchange->beginStream(200, "text/event-stream", {});
    std::thread([exchange] {
      for (int i = 0; i < 3; ++i) {
        exchange->post([exchange, i] { exchange->write("data: " + std::to_string(i) + "\n\n"); });
      }
      exchange->post([exchange] { exchange->endStream(); });
    }).detach();
  });
  RawSocket socket(server->port());
  socket.send("GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got = socket.readUntil("0\r\n\r\n", 2000ms);
  EXPECT_NE(got.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(got.find("9\r\ndata: 0\n\n\r\n9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n"),
            std::string::npos)
      << got;
}

TEST(HttpServer, DrainFinishesTheRunningExchangeAndClosesIdleOnes) {
  std::shared_ptr<Exchange> held;
  std::mutex mu;
  auto server = startServer({}, [&](HttpRequest, std::shared_ptr<Exchange> exchange) {
    std::lock_guard<std::mutex> lock(mu);
    held = exchange;
  });
  RawSocket idle(server->port());
  RawSocket busy(server->port());
  busy.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int i = 0; i < 200; ++i) {
    std::lock_guard<std::mutex> lock(mu);
    if (held) break;
    std::this_thread::sleep_for(5ms);
  }
  std::thread answer([&] {
    std::this_thread::sleep_for(100ms);
    std::lock_guard<std::mutex> lock(mu);
    held->post([ex = held] { ex->respond({200, "text/plain", {}, "done"}); });
  });
  EXPECT_TRUE(server->drain(3000ms));
  answer.join();
  std::string got = busy.readUntil("done", 1000ms);
  EXPECT_NE(got.find("Connection: close"), std::string::npos);
  EXPECT_NE(got.find("done"), std::string::npos);
  EXPECT_TRUE(idle.closedWithin(1000ms));
  held.reset();
}

}  // namespace
}  // namespace manifold::gateway
