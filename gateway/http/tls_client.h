// Client-side TLS pieces shared by the upstream proxy and `manifold bench serve`: a client
// context that verifies peers against the system's trust store (OpenSSL's default paths, so
// SSL_CERT_FILE / SSL_CERT_DIR apply), and the per-connection name check.
#pragma once

#include <openssl/ssl.h>

#include <string>

namespace boost::asio::ssl {
class context;
}

namespace manifold::gateway {

// Sets `tls` up as a verifying client context: default verify paths, verify_peer.
void configureTlsClient(boost::asio::ssl::context& tls);

// Sends `host` as SNI and makes the handshake check the certificate against it: a DNS name
// against its DNS names, an IP address (IPv6 with or without brackets) against its IP
// addresses. False when OpenSSL refuses the name.
[[nodiscard]] bool verifyTlsHostName(SSL* ssl, std::string host);

}  // namespace manifold::gateway
