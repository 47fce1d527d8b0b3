// The base URL of a remote upstream (`http[s]://host[:port][/path]`), parsed once for the config
// check at start and for each proxied request, so that what passes the one works in the other.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace manifold {

struct UpstreamUrl {
  bool tls = false;
  std::string host;         // a name or an address; an IPv6 address without its brackets
  std::string port;         // 1..65535; 80 or 443 when the URL names none
  std::string path_prefix;  // without a trailing '/'
  // The Host header's value: the host, an IPv6 address in brackets.
  [[nodiscard]] std::string hostHeader() const {
    return host.find(':') == std::string::npos ? host : "[" + host + "]";
  }
};

// Nullopt unless `url` is http:// or https://, a host without spaces (an IPv6 address in
// brackets), and optionally a port from 1 to 65535, then an optional path.
[[nodiscard]] std::optional<UpstreamUrl> parseUpstreamUrl(std::string_view url);

}  // namespace manifold
