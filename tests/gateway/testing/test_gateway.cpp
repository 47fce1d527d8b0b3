#include "tests/gateway/testing/test_gateway.h"

#include <cstdlib>

namespace manifold::testing {

TestGateway::TestGateway(std::vector<TestModel> models, gateway::GatewayOptions options) {
  auto registry = std::make_unique<ModelRegistry>();
  for (TestModel& m : models) {
    ServedModelOptions served;
    served.id = m.id;
    served.aliases = m.aliases;
    served.created = 1700000000;
    served.admission_capacity = m.admission_capacity;
    served.policy = m.policy;
    served.tool_call_parser = m.tool_call_parser;
    if (m.upstream) {
      if (!registry->add(ServedModel::remote(std::move(served), *m.upstream)).isOk()) std::abort();
      continue;
    }
    auto model = ServedModel::local(std::move(served));
    if (!m.leave_loading) {
      std::vector<std::unique_ptr<EngineClient>> replicas;
      for (int i = 0; i < m.replicas; ++i) {
        auto engine = std::make_unique<FakeEngine>(m.engine);
        engines_[m.id].push_back(engine.get());
        replicas.push_back(std::move(engine));
      }
      auto codec = gateway::TokenizerCodec::create(FakeEngine::sharedTokenizer(),
                                                   MANIFOLD_SOURCE_DIR "/models/stories260K",
                                                   m.chat_template);
      if (!codec.isOk()) std::abort();
      model->setReady(std::move(replicas), std::move(codec).value());
    }
    if (!registry->add(std::move(model)).isOk()) std::abort();
  }
  options.http.host = "127.0.0.1";
  options.http.port = 0;
  auto server = gateway::GatewayServer::create(std::move(options), std::move(registry));
  if (!server.isOk()) std::abort();
  server_ = std::move(server).value();
  server_->start();
}

TestGateway::~TestGateway() { server_->shutdown(std::chrono::milliseconds(2000)); }

FakeEngine& TestGateway::engine(const std::string& id, int replica) {
  return *engines_.at(id).at(static_cast<size_t>(replica));
}

}  // namespace manifold::testing
