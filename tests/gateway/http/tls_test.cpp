// HTTPS: a self-signed certificate made in the test with the OpenSSL API; the client verifies the
// server against it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "gateway/bench/http_client.h"
#include "tests/gateway/testing/http_client.h"
#include "tests/gateway/testing/test_gateway.h"

namespace manifold::testing {
namespace {

using json = nlohmann::json;

// Writes key.pem and cert.pem (CN and subjectAltName 127.0.0.1, valid one day) into `dir`.
void writeSelfSignedCertificate(const std::filesystem::path& dir) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  ASSERT_NE(key, nullptr);
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
  X509_add_ext(cert, san, -1);
  X509_EXTENSION_free(san);
  X509_EXTENSION* basic = X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "CA:TRUE");
  X509_add_ext(cert, basic, -1);
  X509_EXTENSION_free(basic);
  ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0);
  FILE* key_file = std::fopen((dir / "key.pem").c_str(), "wb");
  PEM_write_PrivateKey(key_file, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(key_file);
  FILE* cert_file = std::fopen((dir / "cert.pem").c_str(), "wb");
  PEM_write_X509(cert_file, cert);
  std::fclose(cert_file);
  X509_free(cert);
  EVP_PKEY_free(key);
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("manifold_tls_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(dir_);
    writeSelfSignedCertificate(dir_);
    gateway::GatewayOptions options;
    options.http.ssl_certfile = (dir_ / "cert.pem").string();
    options.http.ssl_keyfile = (dir_ / "key.pem").string();
    TestModel slow{.id = "slow"};
    slow.engine.token_delay = std::chrono::milliseconds(10);
    gateway_ = std::make_unique<TestGateway>(std::vector<TestModel>{TestModel{.id = "fake"}, slow},
                                             options);
  }
  void TearDown() override {
    gateway_.reset();
    std::filesystem::remove_all(dir_);
  }
  HttpClient tlsClient() {
    return HttpClient(gateway_->port(), {.tls = true, .ca_file = (dir_ / "cert.pem").string()});
  }

  std::filesystem::path dir_;
  std::unique_ptr<TestGateway> gateway_;
};

TEST_F(TlsTest, ServesTheApiOverVerifiedHttps) {
  auto models = tlsClient().get("/v1/models");
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(models.json()["data"][0]["id"], "fake");
  auto completion = tlsClient().post(
      "/v1/completions",
      {{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 3}, {"temperature", 0}});
  ASSERT_EQ(completion.status, 200);
  EXPECT_EQ(completion.json()["choices"][0]["text"], "abc");
}

TEST_F(TlsTest, StreamsServerSentEventsOverHttps) {
  auto stream = tlsClient().post("/v1/completions", {{"model", "fake"},
                                                     {"prompt", "Hi"},
                                                     {"max_tokens", 3},
                                                     {"temperature", 0},
                                                     {"stream", true}});
  ASSERT_EQ(stream.status, 200);
  auto data = stream.sseData();
  ASSERT_EQ(data.size(), 5u);  // three tokens, the finish chunk, [DONE]
  EXPECT_EQ(data.back(), "[DONE]");
}

// A second gateway proxies to this one over HTTPS, trusting its certificate (SSL_CERT_FILE is read
// when the proxy is made). The certificate names 127.0.0.1 only, so an upstream reached as
// `localhost` must fail its handshake.
TEST_F(TlsTest, TheUpstreamProxyChecksTheUpstreamsNameAgainstItsCertificate) {
  std::string port = std::to_string(gateway_->port());
  TestModel by_address{.id = "by-address"};
  by_address.upstream = UpstreamTarget{"https://127.0.0.1:" + port + "/v1", "", "fake"};
  TestModel by_other_name{.id = "by-other-name"};
  by_other_name.upstream = UpstreamTarget{"https://localhost:" + port + "/v1", "", "fake"};
  ASSERT_EQ(::setenv("SSL_CERT_FILE", (dir_ / "cert.pem").c_str(), 1), 0);
  TestGateway front({by_address, by_other_name});
  ::unsetenv("SSL_CERT_FILE");
  json request = {{"prompt", "Hi"}, {"max_tokens", 3}, {"temperature", 0}};
  request["model"] = "by-address";
  auto good = HttpClient(front.port()).post("/v1/completions", request);
  ASSERT_EQ(good.status, 200) << good.body;
  EXPECT_EQ(good.json()["choices"][0]["text"], "abc");
  request["model"] = "by-other-name";
  auto wrong = HttpClient(front.port()).post("/v1/completions", request);
  EXPECT_EQ(wrong.status, 502) << wrong.body;
  EXPECT_NE(wrong.body.find("TLS handshake"), std::string::npos) << wrong.body;
}

// `manifold bench serve`'s client over https: verified against the certificate (trusted through
// SSL_CERT_FILE, read when its TLS context is first made: once per process, so one test), streaming
// included, connections kept, and refused when the URL's host is not the certificate's name.
TEST_F(TlsTest, TheBenchClientSpeaksVerifiedHttps) {
  ASSERT_EQ(::setenv("SSL_CERT_FILE", (dir_ / "cert.pem").c_str(), 1), 0);
  const std::string port = std::to_string(gateway_->port());
  auto base = bench::parseBaseUrl("https://127.0.0.1:" + port);
  ASSERT_TRUE(base.isOk()) << base.status().toString();
  bench::HttpRequestSpec models;
  models.method = "GET";
  models.target = "/v1/models";
  auto listed = bench::httpCall(*base, models);
  ::unsetenv("SSL_CERT_FILE");
  ASSERT_TRUE(listed.isOk()) << listed.status().toString();
  EXPECT_EQ(listed->status, 200);
  EXPECT_EQ(json::parse(listed->body)["data"][0]["id"], "fake");

  bench::HttpRequestSpec stream;
  stream.target = "/v1/completions";
  stream.body = json{{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 3}, {"temperature", 0},
                     {"stream", true}}
                    .dump();
  auto streamed = bench::httpCall(*base, stream);
  ASSERT_TRUE(streamed.isOk()) << streamed.status().toString();
  EXPECT_EQ(streamed->status, 200);
  EXPECT_NE(streamed->body.find("data: [DONE]"), std::string::npos) << streamed->body;

  // Kept connections: three streamed requests one after another on one io_context share one
  // connection (one handshake), as they do over http.
  {
    auto endpoint = bench::resolveEndpoint(*base);
    ASSERT_TRUE(endpoint.isOk()) << endpoint.status().toString();
    boost::asio::io_context io;
    bench::ConnectionPool pool;
    std::vector<std::string> outcomes;
    std::function<void()> next = [&] {
      bench::HttpRequestSpec spec;
      spec.target = "/v1/completions";
      spec.body =
          json{{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 3}, {"stream", true}}.dump();
      spec.host_header = base->hostHeader();
      spec.tls = true;
      spec.tls_host = base->host;
      auto body = std::make_shared<std::string>();
      bench::startHttpCall(
          io, *endpoint, spec,
          {.on_body = [body](std::string_view bytes) { body->append(bytes); },
           .on_done =
               [&, body](int status, const std::string& error) {
                 outcomes.push_back(
                     std::to_string(status) + " " + error +
                     (body->find("data: [DONE]") != std::string::npos ? "done" : ""));
                 if (outcomes.size() < 3) next();
               }},
          &pool);
    };
    next();
    io.run();
    EXPECT_EQ(outcomes, (std::vector<std::string>(3, "200 done")));
    EXPECT_EQ(pool.opened(), 1u);
    EXPECT_EQ(pool.idle(), 1u);
  }

  auto other_name = bench::parseBaseUrl("https://localhost:" + port);
  ASSERT_TRUE(other_name.isOk());
  auto refused = bench::httpCall(*other_name, models);
  ASSERT_FALSE(refused.isOk());
  EXPECT_NE(refused.status().message().find("TLS handshake"), std::string::npos)
      << refused.status().toString();
}

TEST_F(TlsTest, PlainHttpOnTheTlsPortGetsNoAnswer) {
  auto plain = HttpClient(gateway_->port()).get("/v1/models");
  EXPECT_EQ(plain.status, 0);
  // And the server still serves HTTPS afterwards.
  EXPECT_EQ(tlsClient().get("/health").status, 200);
}

// Connections that end without TLS's close_notify (the peer's TCP connection just closes: a
// truncated TLS stream) mid-stream, mid-request or mid-handshake. The streaming request is aborted
// in the engine, as when a plain-HTTP client leaves, and the server keeps serving.
TEST_F(TlsTest, TruncatedConnectionsAbortTheirRequestsAndTheServerKeepsServing) {
  HttpClient cutter(gateway_->port(), {.tls = true});
  const std::string got = cutter.requestAndCut(
      "/v1/completions",
      {{"model", "slow"}, {"prompt", "Hi"}, {"max_tokens", 200}, {"stream", true}}, 300);
  EXPECT_NE(got.find("data: "), std::string::npos) << got;
  FakeEngine& engine = gateway_->engine("slow");
  for (int i = 0; i < 1000 && engine.abortedIds().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(engine.abortedIds().size(), 1u);
  EXPECT_EQ(engine.numActive(), 0);

  // Half a request, then the end of the TCP stream: the server closes the connection without an
  // answer (a hang would block the read) and submits nothing.
  EXPECT_EQ(cutter.sendAndHalfClose("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                                    "{\"model\": \"slow\", \"pro"),
            "");
  // Half a handshake (a ClientHello record's header and one byte of it), then the end.
  EXPECT_EQ(
      HttpClient(gateway_->port()).sendAndHalfClose(std::string("\x16\x03\x01\x00\xc8\x01", 6)),
      "");
  EXPECT_EQ(engine.submitted().size(), 1u);

  auto completion = tlsClient().post(
      "/v1/completions",
      {{"model", "slow"}, {"prompt", "Hi"}, {"max_tokens", 3}, {"temperature", 0}});
  ASSERT_EQ(completion.status, 200) << completion.body;
  EXPECT_EQ(completion.json()["choices"][0]["text"], "abc");
  EXPECT_EQ(engine.numActive(), 0);
}

}  // namespace
}  // namespace manifold::testing
