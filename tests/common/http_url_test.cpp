// parseHttpUrl: what the config check accepts is exactly what the proxy can connect to.
#include "common/http_url.h"

#include <gtest/gtest.h>

namespace manifold {
namespace {

TEST(HttpUrl, ReadsSchemeHostPortAndPathPrefix) {
  auto plain = parseHttpUrl("http://models.internal/v1/");
  ASSERT_TRUE(plain.has_value());
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->host, "models.internal");
  EXPECT_EQ(plain->port, "80");
  EXPECT_EQ(plain->path_prefix, "/v1");
  EXPECT_EQ(plain->hostHeader(), "models.internal:80");

  auto tls = parseHttpUrl("https://10.0.0.7:8443");
  ASSERT_TRUE(tls.has_value());
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->host, "10.0.0.7");
  EXPECT_EQ(tls->port, "8443");
  EXPECT_EQ(tls->path_prefix, "");
  EXPECT_EQ(parseHttpUrl("https://h")->port, "443");

  // An IPv6 address with a port: the brackets go for resolving and come back in Host (the
  // proxy's own parser took "[::1]:8443" whole as the host).
  auto v6 = parseHttpUrl("http://[::1]:8000/v1");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "8000");
  EXPECT_EQ(v6->hostHeader(), "[::1]:8000");
}

TEST(HttpUrl, RefusesWhatNoConnectionCouldUse) {
  for (const char* url : {"ftp://h", "h:80", "http://", "http:///v1", "http://exa mple/v1",
                          "http://[::1/v1", "http://[]:80", "http://h:", "http://h:0",
                          "http://h:65536", "http://h:99999999", "http://h:8x", "http://[::1]x"}) {
    EXPECT_FALSE(parseHttpUrl(url).has_value()) << url;
  }
}

}  // namespace
}  // namespace manifold
