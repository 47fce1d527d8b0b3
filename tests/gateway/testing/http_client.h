// A small blocking HTTP/1.1 client for gateway tests: one connection per request (plain or TLS),
// raw byte exchanges for malformed HTTP, SSE parsing, and a stream that can be cut mid-way.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace manifold::testing {

struct HttpResult {
  int status = 0;                              // 0: no response (connection failed or closed early)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  [[nodiscard]] nlohmann::json json() const;
  // The `data:` payloads of an SSE body, in order ("[DONE]" included as a string).
  [[nodiscard]] std::vector<std::string> sseData() const;
};

struct ClientOptions {
  bool tls = false;
  std::string ca_file;  // TLS: verify the server against this CA (empty: no verification)
  std::string host = "127.0.0.1";
};

class HttpClient {
 public:
  explicit HttpClient(uint16_t port, ClientOptions options = {});
  ~HttpClient();

  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});
  HttpResult post(const std::string& target, const nlohmann::json& body,
                  const std::map<std::string, std::string>& headers = {}) {
    return request("POST", target, body.dump(), headers);
  }
  HttpResult get(const std::string& target,
                 const std::map<std::string, std::string>& headers = {}) {
    return request("GET", target, "", headers);
  }

  // Sends `bytes` as is on a fresh plain connection and reads one response (up to close).
  HttpResult raw(const std::string& bytes);

  // Sends a request, reads until `bytes_before_cut` bytes of the response arrived, then closes
  // the connection (over TLS: the TCP connection, with no close_notify). Returns what was read.
  std::string requestAndCut(const std::string& target, const nlohmann::json& body,
                            size_t bytes_before_cut);
  // The same with `bytes` sent as they are (a partial request, say).
  std::string sendAndCut(const std::string& bytes, size_t bytes_before_cut);
  // Sends `bytes`, ends its side of the TCP connection (over TLS with no close_notify), and reads
  // until the server closes the connection. Returns what was read; blocks while the server
  // keeps the connection open.
  std::string sendAndHalfClose(const std::string& bytes);

  // Several requests on one keep-alive connection; returns their results in order.
  std::vector<HttpResult> keepAlive(const std::vector<std::string>& targets);

 private:
  std::string exchangeAndCut(const std::string& bytes, size_t bytes_before_cut, bool half_close);

  uint16_t port_;
  ClientOptions options_;
};

}  // namespace manifold::testing
