#include "tests/gateway/testing/http_client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <sstream>

namespace manifold::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

http::request<http::string_body> makeRequest(const std::string& method, const std::string& target,
                                             const std::string& body,
                                             const std::map<std::string, std::string>& headers,
                                             const std::string& host) {
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, host);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  return req;
}

template <class Stream>
HttpResult readResult(Stream& stream, beast::flat_buffer& buffer) {
  HttpResult result;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  beast::error_code ec;
  http::read(stream, buffer, parser, ec);
  if (ec && !parser.is_header_done()) return result;
  auto& res = parser.get();
  result.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    std::string name(field.name_string().data(), field.name_string().size());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    result.headers[name] = std::string(field.value().data(), field.value().size());
  }
  result.body = res.body();
  return result;
}

// A client context: verifying the server against options.ca_file, or not at all without one.
ssl::context tlsContext(const ClientOptions& options) {
  ssl::context ctx(ssl::context::tls_client);
  if (!options.ca_file.empty()) {
    ctx.load_verify_file(options.ca_file);
    ctx.set_verify_mode(ssl::verify_peer);
  } else {
    ctx.set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

bool connectTls(ssl::stream<tcp::socket>& stream, const tcp::endpoint& endpoint,
                beast::error_code& ec) {
  stream.next_layer().connect(endpoint, ec);
  if (!ec) stream.handshake(ssl::stream_base::client, ec);
  return !ec;
}

}  // namespace

nlohmann::json HttpResult::json() const {
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

std::vector<std::string> HttpResult::sseData() const {
  std::vector<std::string> out;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("data: ", 0) == 0) out.push_back(line.substr(6));
  }
  return out;
}

HttpClient::HttpClient(uint16_t port, ClientOptions options) : port_(port), options_(options) {}
HttpClient::~HttpClient() = default;

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  net::io_context ioc;
  beast::error_code ec;
  tcp::endpoint endpoint(net::ip::make_address(options_.host), port_);
  auto req = makeRequest(method, target, body, headers, options_.host);
  beast::flat_buffer buffer;
  if (!options_.tls) {
    tcp::socket socket(ioc);
    socket.connect(endpoint, ec);
    if (ec) return {};
    http::write(socket, req, ec);
    if (ec) return {};
    return readResult(socket, buffer);
  }
  ssl::context ctx = tlsContext(options_);
  ssl::stream<tcp::socket> stream(ioc, ctx);
  if (!connectTls(stream, endpoint, ec)) return {};
  http::write(stream, req, ec);
  if (ec) return {};
  return readResult(stream, buffer);
}

HttpResult HttpClient::raw(const std::string& bytes) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  beast::error_code ec;
  socket.connect(tcp::endpoint(net::ip::make_address(options_.host), port_), ec);
  if (ec) return {};
  net::write(socket, net::buffer(bytes), ec);
  beast::flat_buffer buffer;
  return readResult(socket, buffer);
}

std::string HttpClient::requestAndCut(const std::string& target, const nlohmann::json& body,
                                      size_t bytes_before_cut) {
  std::ostringstream request;
  request << makeRequest("POST", target, body.dump(), {}, options_.host);
  return sendAndCut(request.str(), bytes_before_cut);
}

std::string HttpClient::sendAndCut(const std::string& bytes, size_t bytes_before_cut) {
  return exchangeAndCut(bytes, bytes_before_cut, /*half_close=*/false);
}

std::string HttpClient::sendAndHalfClose(const std::string& bytes) {
  return exchangeAndCut(bytes, std::string::npos, /*half_close=*/true);
}

std::string HttpClient::exchangeAndCut(const std::string& bytes, size_t bytes_before_cut,
                                       bool half_close) {
  net::io_context ioc;
  beast::error_code ec;
  const tcp::endpoint endpoint(net::ip::make_address(options_.host), port_);
  std::string received;
  auto exchange = [&](auto& stream, tcp::socket& socket) {
    net::write(stream, net::buffer(bytes), ec);
    // A FIN after the bytes (over TLS: with no close_notify before it).
    if (half_close) socket.shutdown(tcp::socket::shutdown_send, ec);
    char chunk[4096];
    while (!ec && received.size() < bytes_before_cut) {
      const size_t n = stream.read_some(net::buffer(chunk), ec);
      received.append(chunk, n);
    }
  };
  if (!options_.tls) {
    tcp::socket socket(ioc);
    socket.connect(endpoint, ec);
    if (ec) return {};
    exchange(socket, socket);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    return received;
  }
  ssl::context ctx = tlsContext(options_);
  ssl::stream<tcp::socket> stream(ioc, ctx);
  if (!connectTls(stream, endpoint, ec)) return {};
  exchange(stream, stream.next_layer());
  // The TCP connection ends with no TLS close_notify: a truncated stream, to the server.
  stream.next_layer().shutdown(tcp::socket::shutdown_both, ec);
  return received;
}

std::vector<HttpResult> HttpClient::keepAlive(const std::vector<std::string>& targets) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  beast::error_code ec;
  socket.connect(tcp::endpoint(net::ip::make_address(options_.host), port_), ec);
  std::vector<HttpResult> results;
  if (ec) return results;
  beast::flat_buffer buffer;
  for (const std::string& target : targets) {
    auto req = makeRequest("GET", target, "", {}, options_.host);
    http::write(socket, req, ec);
    if (ec) break;
    results.push_back(readResult(socket, buffer));
  }
  return results;
}

}  // namespace manifold::testing
