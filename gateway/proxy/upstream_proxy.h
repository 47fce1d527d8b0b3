// Forwards a request to a remote OpenAI-compatible server (another manifold, vLLM, ...) and
// relays its answer: JSON as is, SSE chunk by chunk as it arrives. A client that goes away
// closes the upstream connection, which aborts the request there.
//
// Thread safety: forward() may be called from any thread; the proxy runs its connections on its
// own io thread.
#pragma once

#include <memory>
#include <string>

#include "gateway/api/access_log.h"
#include "gateway/http/http_message.h"
#include "routing/served_model.h"

namespace manifold::gateway {

class UpstreamProxy {
 public:
  UpstreamProxy();
  ~UpstreamProxy();

  // Sends `method path` with `body` to `target` (Authorization from target.api_key) and answers
  // `exchange` with the upstream's status and body. Connection failures answer 502.
  void forward(const UpstreamTarget& target, const std::string& method, const std::string& path,
               std::string body, std::shared_ptr<Exchange> exchange,
               std::shared_ptr<AccessRecord> record);

  // Thread-safe. Ends every call still in flight for a server that stops (its drain timed out):
  // streams get an error event before they are cut, the others a 503; counted as
  // manifold_upstream_errors_total{reason="shutdown"}.
  void abortAll();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace manifold::gateway
