// Remote upstreams: a second gateway (fake engine) on loopback behind the first; JSON and SSE are
// relayed, the upstream's errors pass through, a dead upstream is a 502, and a client that leaves
// aborts the request upstream.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "tests/gateway/testing/http_client.h"
#include "tests/gateway/testing/test_gateway.h"

namespace manifold::testing {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// An upstream that accepts one connection on 127.0.0.1 (port 0), reads the request's head and
// then runs `script` on the connected socket (raw bytes: truncated and oversized answers).
class ScriptedUpstream {
 public:
  explicit ScriptedUpstream(std::function<void(int fd)> script)
      : listen_fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(listen_fd_, 4), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, script = std::move(script)] {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      timeval timeout{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
      std::string head;
      char c;
      while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) head += c;
      script(fd);
      ::close(fd);
    });
  }
  ~ScriptedUpstream() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int listen_fd_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// True when all of `bytes` went out; false once the peer closed.
bool sendAll(int fd, const std::string& bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

std::unique_ptr<TestGateway> frontFor(uint16_t upstream_port,
                                      std::chrono::milliseconds read_timeout = 600s) {
  TestModel scripted{.id = "scripted"};
  scripted.upstream =
      UpstreamTarget{"http://127.0.0.1:" + std::to_string(upstream_port) + "/v1", "", "x"};
  scripted.upstream->read_timeout = read_timeout;
  return std::make_unique<TestGateway>(std::vector<TestModel>{scripted});
}

// Records what the front gateway reports to manifold_upstream_errors_total.
class UpstreamErrors {
 public:
  explicit UpstreamErrors(TestGateway& front) : front_(front) {
    gateway::RequestHooks hooks;
    hooks.upstream_error = [this](const std::string& name, const std::string& reason) {
      std::lock_guard<std::mutex> lock(mu_);
      reported_.push_back(name + ":" + reason);
    };
    front.server().api().setRequestHooks(hooks);
  }
  // Destroyed before the gateway it watches: its hook must not outlive it.
  ~UpstreamErrors() { front_.server().api().setRequestHooks({}); }
  std::vector<std::string> reported() {
    std::lock_guard<std::mutex> lock(mu_);
    return reported_;
  }

 private:
  TestGateway& front_;
  std::mutex mu_;
  std::vector<std::string> reported_;
};

// An upstream slower than read_timeout_s: before its headers the client gets a 504 (as a gateway
// answers for a slow upstream); after them, an error event and a stream cut without [DONE].
TEST(UpstreamProxyLimits, AnUpstreamPastTheReadTimeoutIsAGatewayTimeout) {
  {
    ScriptedUpstream upstream([](int) { std::this_thread::sleep_for(1500ms); });
    auto front = frontFor(upstream.port(), 200ms);
    UpstreamErrors errors(*front);
    auto result = HttpClient(front->port())
                      .post("/v1/completions", {{"model", "scripted"}, {"prompt", "Hi"}});
    EXPECT_EQ(result.status, 504) << result.body;
    EXPECT_NE(result.body.find("timed out"), std::string::npos) << result.body;
    EXPECT_EQ(result.json()["error"]["type"], "server_error") << result.body;
    EXPECT_EQ(errors.reported(), std::vector<std::string>{"scripted:timeout"});
  }
  {
    ScriptedUpstream upstream([](int fd) {
      sendAll(fd,
              "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
              "Transfer-Encoding: chunked\r\n\r\n"
              "f\r\ndata: {\"n\":1}\n\n\r\n");
      std::this_thread::sleep_for(1500ms);  // the next token never comes in time
    });
    auto front = frontFor(upstream.port(), 200ms);
    UpstreamErrors errors(*front);
    std::string got =
        HttpClient(front->port())
            .requestAndCut("/v1/completions",
                           {{"model", "scripted"}, {"prompt", "Hi"}, {"stream", true}}, 1u << 20);
    ASSERT_NE(got.find("data: {\"n\":1}"), std::string::npos) << got;
    EXPECT_NE(got.find("timed out"), std::string::npos) << got;
    EXPECT_EQ(got.find("[DONE]"), std::string::npos) << got;
    EXPECT_EQ(errors.reported(), std::vector<std::string>{"scripted:timeout"});
  }
}

TEST(UpstreamProxyLimits, StopsReadingAnAnswerBeyondTheBufferLimit) {
  constexpr size_t kTotal = 256u << 20;
  std::atomic<size_t> sent{0};
  std::atomic<bool> done{false};
  ScriptedUpstream upstream([&](int fd) {
    if (!sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(kTotal) + "\r\n\r\n")) {
      return;
    }
    std::string piece(1u << 20, 'x');
    while (sent.load() < kTotal && sendAll(fd, piece)) sent += piece.size();
    done = true;
  });
  auto front = frontFor(upstream.port());
  auto result =
      HttpClient(front->port()).post("/v1/completions", {{"model", "scripted"}, {"prompt", "Hi"}});
  EXPECT_EQ(result.status, 502) << result.body.substr(0, 200);
  EXPECT_NE(result.body.find("too large"), std::string::npos) << result.body.substr(0, 200);
  for (int i = 0; i < 2000 && !done.load(); ++i) std::this_thread::sleep_for(5ms);
  // 64 MiB are read, then the connection is closed (socket buffers hold a few MiB more).
  EXPECT_LT(sent.load(), 128u << 20);
}

TEST(UpstreamProxyLimits, AStreamTheUpstreamBreaksEndsWithAnErrorEventAndNoFinalChunk) {
  ScriptedUpstream upstream([](int fd) {
    sendAll(fd,
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
            "f\r\ndata: {\"n\":1}\n\n\r\n");
    std::this_thread::sleep_for(50ms);  // then the upstream dies mid-stream
  });
  auto front = frontFor(upstream.port());
  std::string got = HttpClient(front->port())
                        .requestAndCut("/v1/completions",
                                       {{"model", "scripted"}, {"prompt", "Hi"}, {"stream", true}},
                                       1u << 20);  // reads until the gateway closes
  ASSERT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  size_t relayed = got.find("data: {\"n\":1}");
  size_t error = got.find("data: {\"error\":");
  ASSERT_NE(relayed, std::string::npos) << got;
  ASSERT_NE(error, std::string::npos) << got;
  EXPECT_LT(relayed, error);
  size_t line_end = got.find('\n', error);
  json event = json::parse(got.substr(error + 6, line_end - error - 6));
  EXPECT_TRUE(event["error"]["message"].is_string());
  EXPECT_EQ(got.find("\r\n0\r\n\r\n"), std::string::npos) << "the stream ended cleanly: " << got;
}

// A server whose drain times out tells a proxied stream it is shutting down (an error event, no
// [DONE]) instead of cutting it mid-way, and counts the call as reason "shutdown".
TEST(UpstreamProxyLimits, AStreamCutByAShutdownEndsWithAnErrorEvent) {
  ScriptedUpstream upstream([](int fd) {
    sendAll(fd,
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
            "f\r\ndata: {\"n\":1}\n\n\r\n");
    std::this_thread::sleep_for(1500ms);  // still answering when the front stops
  });
  auto front = frontFor(upstream.port());
  UpstreamErrors errors(*front);
  auto streamed = std::async(std::launch::async, [&] {
    return HttpClient(front->port())
        .requestAndCut("/v1/completions",
                       {{"model", "scripted"}, {"prompt", "Hi"}, {"stream", true}}, 1u << 20);
  });
  std::this_thread::sleep_for(200ms);  // the first event is relayed
  EXPECT_FALSE(front->server().shutdown(100ms));
  const std::string got = streamed.get();
  ASSERT_NE(got.find("data: {\"n\":1}"), std::string::npos) << got;
  EXPECT_NE(got.find("shutting down"), std::string::npos) << got;
  EXPECT_EQ(got.find("[DONE]"), std::string::npos) << got;
  EXPECT_EQ(errors.reported(), std::vector<std::string>{"scripted:shutdown"});
}

// What the upstream answers besides a plain success: its Retry-After comes through; a redirect,
// an HTML error page or a body that is not JSON becomes a 502 in OpenAI's shape (clients parse
// JSON); each failure is reported to the upstream-error hook (manifold_upstream_errors_total).
TEST(UpstreamProxyAnswers, HeadersPassAndNonJsonAnswersBecomeOpenAiErrors) {
  struct Case {
    std::string answer;  // the upstream's whole response
    int status;          // what the client gets
    std::string text;    // in the body
    std::string reason;  // reported, "" for none
  };
  const Case cases[] = {
      {"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 7\r\n"
       "Content-Length: 2\r\n\r\n{}",
       429, "{}", ""},
      {"HTTP/1.1 500 Oops\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<h1>oops</h1>",
       502, "answered HTTP 500 with `text/html` instead of JSON", "bad_answer"},
      {"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{\"a\":", 502,
       "a body that is not valid JSON", "bad_answer"},
      {"HTTP/1.1 307 Moved\r\nLocation: http://elsewhere/v1\r\nContent-Length: 0\r\n\r\n", 502,
       "redirected to `http://elsewhere/v1` (HTTP 307)", "redirect"},
  };
  for (const Case& c : cases) {
    ScriptedUpstream upstream([&](int fd) { sendAll(fd, c.answer); });
    auto front = frontFor(upstream.port());
    UpstreamErrors errors(*front);
    auto result = HttpClient(front->port())
                      .post("/v1/completions", {{"model", "scripted"}, {"prompt", "Hi"}});
    EXPECT_EQ(result.status, c.status) << c.answer << "\n" << result.body;
    EXPECT_NE(result.body.find(c.text), std::string::npos) << result.body;
    if (c.status == 429) {
      EXPECT_EQ(result.headers["retry-after"], "7");
    }
    if (c.status == 502) {
      EXPECT_EQ(result.json()["error"]["type"], "server_error") << result.body;
    }
    EXPECT_EQ(errors.reported(), c.reason.empty()
                                     ? std::vector<std::string>{}
                                     : std::vector<std::string>{"scripted:" + c.reason});
  }
}

class UpstreamProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestModel upstream_model{.id = "fake"};
    upstream_model.engine.token_delay = 5ms;
    gateway::GatewayOptions upstream_options;
    upstream_options.api_keys = {{"sk-upstream", {}}};
    upstream_ =
        std::make_unique<TestGateway>(std::vector<TestModel>{upstream_model}, upstream_options);
    TestModel remote{.id = "remote"};
    remote.upstream = UpstreamTarget{
        "http://127.0.0.1:" + std::to_string(upstream_->port()) + "/v1", "sk-upstream", "fake"};
    TestModel dead{.id = "dead"};
    dead.upstream = UpstreamTarget{"http://127.0.0.1:1", "", "x"};
    front_ = std::make_unique<TestGateway>(std::vector<TestModel>{remote, dead});
  }
  HttpClient client() { return HttpClient(front_->port()); }

  std::unique_ptr<TestGateway> upstream_;
  std::unique_ptr<TestGateway> front_;
};

TEST_F(UpstreamProxyTest, RelaysJsonAnswersWithTheUpstreamsModelName) {
  auto result =
      client().post("/v1/completions",
                    {{"model", "remote"}, {"prompt", "Hi"}, {"max_tokens", 4}, {"temperature", 0}});
  ASSERT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(result.json()["choices"][0]["text"], "abcd");
  EXPECT_EQ(result.json()["model"], "fake");
  EXPECT_EQ(upstream_->engine("fake").submitted().size(), 1u);
}

TEST_F(UpstreamProxyTest, RelaysStreamsChunkByChunk) {
  auto result = client().post("/v1/chat/completions",
                              {{"model", "remote"},
                               {"messages", json::array({{{"role", "user"}, {"content", "Hi"}}})},
                               {"max_tokens", 3},
                               {"temperature", 0},
                               {"stream", true}});
  ASSERT_EQ(result.status, 200);
  EXPECT_EQ(result.headers["content-type"], "text/event-stream");
  auto data = result.sseData();
  ASSERT_EQ(data.size(), 6u);  // role, three tokens, finish, [DONE]
  std::string content;
  for (size_t i = 0; i + 1 < data.size(); ++i) {
    json chunk = json::parse(data[i]);
    content += chunk["choices"][0]["delta"].value("content", "");
  }
  EXPECT_EQ(content, "abc");
  EXPECT_EQ(data.back(), "[DONE]");
}

TEST_F(UpstreamProxyTest, PassesTheUpstreamsErrorsThrough) {
  auto result = client().post("/v1/completions",
                              {{"model", "remote"}, {"prompt", "Hi"}, {"temperature", -3}});
  EXPECT_EQ(result.status, 400);
  EXPECT_EQ(result.json()["error"]["param"], "temperature");
}

TEST_F(UpstreamProxyTest, UnreachableUpstreamIsABadGateway) {
  auto result = client().post("/v1/completions", {{"model", "dead"}, {"prompt", "Hi"}});
  EXPECT_EQ(result.status, 502);
  EXPECT_TRUE(result.json()["error"]["message"].is_string());
}

TEST_F(UpstreamProxyTest, ClientLeavingAbortsTheUpstreamRequest) {
  client().requestAndCut(
      "/v1/completions",
      {{"model", "remote"}, {"prompt", "Hi"}, {"max_tokens", 200}, {"stream", true}}, 400);
  FakeEngine& engine = upstream_->engine("fake");
  for (int i = 0; i < 1000 && engine.abortedIds().empty(); ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(engine.abortedIds().size(), 1u);
}

}  // namespace
}  // namespace manifold::testing
