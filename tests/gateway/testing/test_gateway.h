// Builds a GatewayServer on 127.0.0.1, port 0, over fake engines (tests/gateway/testing/
// fake_engine.h) with the real stories260K tokenizer codec. Stopped by the destructor.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/server/gateway_server.h"
#include "gateway/serving/tokenizer_codec.h"
#include "routing/served_model.h"
#include "tests/gateway/testing/fake_engine.h"

namespace manifold::testing {

struct TestModel {
  std::string id;
  std::vector<std::string> aliases;
  int replicas = 1;
  FakeEngineOptions engine;
  int admission_capacity = 0;
  RoutingPolicy policy = RoutingPolicy::kLeastOutstanding;
  std::optional<std::string> chat_template;  // default: the model's (fallback) template
  std::optional<UpstreamTarget> upstream;    // remote model instead of fake engines
  bool leave_loading = false;                // never setReady (503 tests)
  std::string tool_call_parser;              // ServedModelOptions::tool_call_parser
};

class TestGateway {
 public:
  explicit TestGateway(std::vector<TestModel> models, gateway::GatewayOptions options = {});
  ~TestGateway();

  [[nodiscard]] uint16_t port() const { return server_->port(); }
  [[nodiscard]] gateway::GatewayServer& server() { return *server_; }
  // The fake engine of replica `replica` of model `id`.
  [[nodiscard]] FakeEngine& engine(const std::string& id, int replica = 0);

 private:
  std::unique_ptr<gateway::GatewayServer> server_;
  std::map<std::string, std::vector<FakeEngine*>> engines_;
};

}  // namespace manifold::testing
