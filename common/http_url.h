// An http(s) base URL (`http[s]://host[:port][/path]`): a remote upstream's (checked in the
// config at start, used by the proxy per request) and `manifold bench serve --base-url`'s. One
// parser, so that what passes the check is what the connection uses.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace manifold {

struct HttpUrl {
  bool tls = false;
  std::string host;         // a name or an address; an IPv6 address without its brackets
  std::string port;         // 1..65535; 80 or 443 when the URL names none
  std::string path_prefix;  // without a trailing '/'
  // The Host header's value: "host:port", an IPv6 address in brackets.
  [[nodiscard]] std::string hostHeader() const {
    return (host.find(':') == std::string::npos ? host : "[" + host + "]") + ":" + port;
  }
};

// Nullopt unless `url` is http:// or https://, a host without spaces (an IPv6 address in
// brackets), and optionally a port from 1 to 65535, then an optional path.
[[nodiscard]] std::optional<HttpUrl> parseHttpUrl(std::string_view url);

}  // namespace manifold
