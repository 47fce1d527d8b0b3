#include "common/http_url.h"

#include <algorithm>

namespace manifold {

std::optional<HttpUrl> parseHttpUrl(std::string_view url) {
  HttpUrl out;
  std::string_view rest;
  if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else if (url.substr(0, 8) == "https://") {
    rest = url.substr(8);
    out.tls = true;
  } else {
    return std::nullopt;
  }
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.path_prefix = std::string(rest.substr(slash));
  while (!out.path_prefix.empty() && out.path_prefix.back() == '/') out.path_prefix.pop_back();
  if (authority.find_first_of(" \t") != std::string_view::npos) return std::nullopt;

  size_t host_end = authority.size();
  if (!authority.empty() && authority.front() == '[') {
    host_end = authority.find(']');
    if (host_end == std::string_view::npos || host_end == 1) return std::nullopt;
    out.host = std::string(authority.substr(1, host_end - 1));
    ++host_end;
  } else {
    host_end = std::min(authority.find(':'), authority.size());
    out.host = std::string(authority.substr(0, host_end));
  }
  if (out.host.empty()) return std::nullopt;
  if (host_end == authority.size()) {
    out.port = out.tls ? "443" : "80";
    return out;
  }
  if (authority[host_end] != ':') return std::nullopt;
  const std::string_view port = authority.substr(host_end + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  const int value = std::stoi(std::string(port));
  if (value < 1 || value > 65535) return std::nullopt;
  out.port = std::string(port);
  return out;
}

}  // namespace manifold
