#include "routing/served_model.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace manifold {

ReplicaLease& ReplicaLease::operator=(ReplicaLease&& other) noexcept {
  if (this != &other) {
    release();
    engine_ = std::exchange(other.engine_, nullptr);
    counters_ = std::move(other.counters_);
    tokens_ = other.tokens_;
    index_ = other.index_;
  }
  return *this;
}

void ReplicaLease::release() {
  if (counters_) {
    counters_->tokens.fetch_sub(tokens_);
    counters_->requests.fetch_sub(1);
    counters_.reset();
  }
}

ServedModel::ServedModel(ServedModelOptions options, bool remote, UpstreamTarget upstream)
    : options_(std::move(options)),
      remote_(remote),
      upstream_(std::move(upstream)),
      admission_(options_.admission_capacity) {}

std::unique_ptr<ServedModel> ServedModel::local(ServedModelOptions options) {
  return std::unique_ptr<ServedModel>(new ServedModel(std::move(options), false, {}));
}

std::unique_ptr<ServedModel> ServedModel::remote(ServedModelOptions options,
                                                 UpstreamTarget upstream) {
  auto model =
      std::unique_ptr<ServedModel>(new ServedModel(std::move(options), true, std::move(upstream)));
  model->state_.store(State::kReady, std::memory_order_release);
  return model;
}

void ServedModel::setReady(std::vector<std::unique_ptr<EngineClient>> replicas,
                           std::unique_ptr<PromptCodec> codec) {
  assert(!remote_ && state() == State::kLoading && !replicas.empty() && codec);
  replicas_ = std::move(replicas);
  codec_ = std::move(codec);
  for (size_t i = 0; i < replicas_.size(); ++i) {
    counters_.push_back(std::make_shared<ReplicaLease::Counters>());
  }
  state_.store(State::kReady, std::memory_order_release);
}

void ServedModel::setFailed(Status error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    load_error_ = std::move(error);
  }
  state_.store(State::kFailed, std::memory_order_release);
}

Status ServedModel::availability() const {
  switch (state()) {
    case State::kReady:
      return Status::ok();
    case State::kLoading:
      return unavailable("The model `" + options_.id + "` is loading. Please retry shortly.");
    case State::kFailed: {
      std::lock_guard<std::mutex> lock(mu_);
      return unavailable("The model `" + options_.id +
                         "` failed to load: " + load_error_.message());
    }
  }
  return Status::ok();
}

int ServedModel::maxSamplesPerEngineRequest() const {
  int limit = 0;
  for (const auto& replica : replicas_) {
    const int own = replica->info().max_num_seqs;
    if (own > 0 && (limit == 0 || own < limit)) limit = own;
  }
  return limit;
}

ReplicaLease ServedModel::lease(std::span<const int32_t> prompt, int64_t max_new_tokens) {
  assert(state() == State::kReady && !remote_);
  std::vector<ReplicaLoad> loads(replicas_.size());
  for (size_t i = 0; i < replicas_.size(); ++i) {
    // The engine's own count lags the submissions of the last moment; the gateway's count only
    // drops when a request ends. The larger of the two is the safer estimate.
    loads[i].outstanding_tokens =
        std::max(replicas_[i]->stats().outstanding_tokens, counters_[i]->tokens.load());
    loads[i].in_flight = counters_[i]->requests.load();
  }
  size_t index = pickReplica(loads, prompt, options_.policy);
  ReplicaLease lease;
  lease.engine_ = replicas_[index].get();
  lease.counters_ = counters_[index];
  lease.tokens_ = static_cast<int64_t>(prompt.size()) + max_new_tokens;
  lease.index_ = index;
  lease.counters_->tokens.fetch_add(lease.tokens_);
  lease.counters_->requests.fetch_add(1);
  return lease;
}

void ServedModel::abortAll() {
  if (state() != State::kReady || remote_) return;
  for (const auto& replica : replicas_) replica->abortAll();
}

void ServedModel::shutdown() {
  if (state() != State::kReady || remote_) return;
  replicas_.clear();
}

}  // namespace manifold
