#include "tests/gateway/bench/fake_openai_server.h"

#include <poll.h>

#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

namespace manifold::bench::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

void writeRaw(tcp::socket& socket, const std::string& bytes) {
  boost::system::error_code ec;
  asio::write(socket, asio::buffer(bytes), ec);
}

void writeChunk(tcp::socket& socket, const std::string& data) {
  std::ostringstream chunk;
  chunk << std::hex << data.size() << "\r\n" << data << "\r\n";
  writeRaw(socket, chunk.str());
}

void writeJson(tcp::socket& socket, int status, const std::string& body, bool close) {
  std::ostringstream out;
  out << "HTTP/1.1 " << status
      << " X\r\nContent-Type: application/json\r\nContent-Length: " << body.size() << "\r\n"
      << (close ? "Connection: close\r\n" : "") << "\r\n"
      << body;
  writeRaw(socket, out.str());
}

// Whether the connection has bytes (or its end) to read within `timeout_ms`.
bool readableWithin(tcp::socket& socket, int timeout_ms) {
  pollfd fd{.fd = socket.native_handle(), .events = POLLIN, .revents = 0};
  return ::poll(&fd, 1, timeout_ms) > 0;
}

int countWords(const std::string& text) {
  std::istringstream words(text);
  std::string word;
  int count = 0;
  while (words >> word) ++count;
  return count;
}

}  // namespace

FakeOpenAiServer::FakeOpenAiServer(FakeServerOptions options)
    : options_(options), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  accept_thread_ = std::thread([this] { acceptLoop(); });
}

FakeOpenAiServer::~FakeOpenAiServer() {
  stopping_ = true;
  boost::system::error_code ec;
  // Wake the blocking accept with a connection of our own.
  tcp::socket poke(io_);
  poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  accept_thread_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& socket : sockets_) socket->shutdown(tcp::socket::shutdown_both, ec);
    threads.swap(connections_);
  }
  for (std::thread& t : threads) t.join();  // without mu_, which their requests take
}

int FakeOpenAiServer::connectionsAccepted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(sockets_.size());
}

void FakeOpenAiServer::acceptLoop() {
  while (!stopping_) {
    tcp::socket socket(io_);
    boost::system::error_code ec;
    acceptor_.accept(socket, ec);
    if (ec || stopping_) break;
    auto shared = std::make_shared<tcp::socket>(std::move(socket));
    std::lock_guard<std::mutex> lock(mu_);
    sockets_.push_back(shared);
    connections_.emplace_back([this, shared] { serve(*shared); });
  }
}

void FakeOpenAiServer::serve(tcp::socket& socket) {
  beast::flat_buffer buffer;
  bool counted = false;
  for (;;) {
    http::request<http::string_body> request;
    boost::system::error_code ec;
    http::read(socket, buffer, request, ec);
    if (ec) return;
    const bool close = !options_.keep_alive || !request.keep_alive();
    const bool answered = respond(socket, request, close, counted);
    const bool idle_close =
        options_.idle_timeout.count() > 0 && buffer.size() == 0 &&
        !readableWithin(socket, static_cast<int>(options_.idle_timeout.count()));
    if (!answered || close || idle_close) {
      socket.shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
  }
}

std::string FakeOpenAiServer::lastCompletionHeaders() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_headers_;
}

std::string FakeOpenAiServer::lastCompletionBody() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_body_;
}

bool FakeOpenAiServer::respond(tcp::socket& socket, const http::request<http::string_body>& request,
                               bool close, bool& counted) {
  const std::string target(request.target());
  const auto body = nlohmann::json::parse(request.body(), nullptr, false);
  if (target == "/v1/models") {
    writeJson(socket, 200, R"({"object":"list","data":[{"id":"fake-model","object":"model"}]})",
              close);
    return true;
  }
  if (target == "/tokenize") {
    if (!options_.tokenize || !body.is_object()) {
      writeJson(socket, 404, R"({"error":{"message":"not found"}})", close);
      return true;
    }
    const int request_number = ++tokenize_requests_;
    if (options_.hang_up_tokenize_every > 0 &&
        request_number % options_.hang_up_tokenize_every == 0) {
      return false;
    }
    const int count = countWords(body.value("prompt", ""));
    writeJson(socket, 200, nlohmann::json{{"count", count}}.dump(), close);
    return true;
  }
  const bool chat = target == "/v1/chat/completions";
  if (!chat && target != "/v1/completions") {
    writeJson(socket, 404, R"({"error":{"message":"no route"}})", close);
    return true;
  }
  if (!counted) {
    counted = true;
    ++completion_connections_;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_headers_.clear();
    for (const auto& field : request) {
      last_headers_ += std::string(field.name_string()) + ": " + std::string(field.value()) + "\n";
    }
    last_body_ = request.body();
  }
  const int request_number = ++completion_requests_;
  if (options_.hang_up_every > 0 && request_number % options_.hang_up_every == 0) return false;
  if (options_.fail_every > 0 && request_number % options_.fail_every == 0) {
    writeJson(socket, 503, R"({"error":{"message":"overloaded"}})", close);
    return true;
  }
  const int max_tokens = body.value(chat ? "max_completion_tokens" : "max_tokens", 16);

  const int now_streams = ++streams_;
  int peak = peak_streams_.load();
  while (now_streams > peak && !peak_streams_.compare_exchange_weak(peak, now_streams)) {
  }
  writeRaw(socket, std::string("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Transfer-Encoding: chunked\r\n") +
                       (close ? "Connection: close\r\n" : "") + "\r\n");
  if (chat) writeChunk(socket, "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n");
  std::this_thread::sleep_for(options_.first_token_delay);
  for (int i = 0; i < max_tokens; ++i) {
    if (i > 0) std::this_thread::sleep_for(options_.token_gap);
    nlohmann::json choice = {{"index", 0}};
    if (chat) {
      choice["delta"] = {{"content", "tok" + std::to_string(i) + " "}};
    } else {
      choice["text"] = "tok" + std::to_string(i) + " ";
    }
    writeChunk(socket, "data: " + nlohmann::json{{"choices", {choice}}}.dump() + "\n\n");
  }
  writeChunk(socket, "data: " +
                         nlohmann::json{{"choices", nlohmann::json::array()},
                                        {"usage", {{"completion_tokens", max_tokens}}}}
                             .dump() +
                         "\n\n");
  writeChunk(socket, "data: [DONE]\n\n");
  --streams_;  // before the last chunk, which lets the client start its next request
  writeRaw(socket, "0\r\n\r\n");
  return true;
}

}  // namespace manifold::bench::testing
