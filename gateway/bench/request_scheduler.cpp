#include "gateway/bench/request_scheduler.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cassert>
#include <deque>
#include <limits>
#include <memory>

#include "gateway/bench/http_client.h"
#include "gateway/bench/sse_parser.h"

namespace manifold::bench {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kErrorBodyBytes = 512;  // of a non-200 answer, kept for the error message

// One request's receiving side.
struct CallState {
  CallState(Endpoint endpoint, double start_s, int prompt_len)
      : accumulator(endpoint, start_s, prompt_len) {}
  SseParser parser;
  StreamAccumulator accumulator;
  std::vector<std::string> events;
  std::string body_head;
};

class Scheduler {
 public:
  Scheduler(const SchedulerOptions& options, const std::vector<SampleRequest>& samples,
            const std::vector<double>& offsets)
      : options_(options), samples_(samples), offsets_(offsets), timer_(io_) {
    outputs_.resize(samples.size());
  }

  ScheduledRun run() {
    start_ = SteadyClock::now();
    armTimer();
    io_.run();
    ScheduledRun run;
    run.duration_s = secondsSinceStart();
    run.outputs = std::move(outputs_);
    return run;
  }

 private:
  double secondsSinceStart() const {
    return std::chrono::duration<double>(SteadyClock::now() - start_).count();
  }

  void armTimer() {
    if (next_ >= samples_.size()) return;
    timer_.expires_at(start_ + std::chrono::duration_cast<SteadyClock::duration>(
                                   std::chrono::duration<double>(offsets_[next_])));
    timer_.async_wait([this](boost::system::error_code) {
      const double now = secondsSinceStart();
      while (next_ < samples_.size() && offsets_[next_] <= now) ready_.push_back(next_++);
      launchReady();
      armTimer();
    });
  }

  void launchReady() {
    while (!ready_.empty() &&
           (options_.max_concurrency <= 0 || in_flight_ < options_.max_concurrency)) {
      launch(ready_.front());
      ready_.pop_front();
    }
  }

  void launch(size_t index) {
    ++in_flight_;
    const SampleRequest& sample = samples_[index];
    auto state =
        std::make_shared<CallState>(options_.endpoint_kind, secondsSinceStart(), sample.prompt_len);
    HttpRequestSpec spec;
    spec.target = options_.target;
    spec.body = buildRequestBody(options_.endpoint_kind, options_.model, sample,
                                 options_.ignore_eos, options_.sampling);
    spec.headers = options_.headers;
    spec.host_header = options_.host_header;
    spec.tls = options_.tls;
    spec.tls_host = options_.tls_host;
    spec.timeout = options_.request_timeout;
    HttpCallbacks callbacks;
    callbacks.on_body = [this, state](std::string_view bytes) {
      const double now = secondsSinceStart();
      if (state->body_head.size() < kErrorBodyBytes) {
        state->body_head.append(bytes.substr(0, kErrorBodyBytes - state->body_head.size()));
      }
      state->parser.feed(bytes, state->events);
      for (const std::string& event : state->events) state->accumulator.onEvent(event, now);
      state->events.clear();
    };
    callbacks.on_done = [this, state, index](int status, const std::string& error) {
      const double now = secondsSinceStart();
      state->parser.finish(state->events);
      for (const std::string& event : state->events) state->accumulator.onEvent(event, now);
      std::string transport_error = error;
      if (transport_error.empty() && status != 200) {
        transport_error = "HTTP " + std::to_string(status) + ": " + state->body_head;
      }
      outputs_[index] = state->accumulator.finish(transport_error);
      --in_flight_;
      ++finished_;
      if (options_.on_progress) options_.on_progress(finished_, samples_.size());
      launchReady();
    };
    startHttpCall(io_, options_.endpoint, std::move(spec), std::move(callbacks), &pool_);
  }

  const SchedulerOptions& options_;
  const std::vector<SampleRequest>& samples_;
  const std::vector<double>& offsets_;
  asio::io_context io_;
  ConnectionPool pool_;  // kept connections, as vLLM's aiohttp session; destroyed before io_
  asio::steady_timer timer_;
  SteadyClock::time_point start_;
  std::vector<RequestResult> outputs_;
  std::deque<size_t> ready_;  // arrived, waiting for a concurrency slot
  size_t next_ = 0;           // first request not yet arrived
  int in_flight_ = 0;
  size_t finished_ = 0;
};

}  // namespace

std::vector<double> arrivalOffsets(size_t count, double request_rate, double burstiness,
                                   std::mt19937_64& rng) {
  assert(request_rate > 0.0 && burstiness > 0.0);
  std::vector<double> offsets(count, 0.0);
  if (!std::isfinite(request_rate) || count == 0) return offsets;
  // rate * burstiness past a double's range is the infinite limit too (a zero scale would send
  // everything at once).
  const bool even = !std::isfinite(request_rate * burstiness);
  std::gamma_distribution<double> gap(even ? 1.0 : burstiness,
                                      even ? 1.0 : 1.0 / (request_rate * burstiness));
  double total = 0.0;
  for (size_t i = 0; i < count; ++i) {
    total += even ? 1.0 / request_rate : gap(rng);
    offsets[i] = total;
  }
  if (total > 0.0) {
    const double scale = static_cast<double>(count) / request_rate / total;
    for (double& offset : offsets) offset *= scale;
  }
  return offsets;
}

ScheduledRun runScheduled(const SchedulerOptions& options,
                          const std::vector<SampleRequest>& samples,
                          const std::vector<double>& offsets) {
  assert(samples.size() == offsets.size());
  return Scheduler(options, samples, offsets).run();
}

}  // namespace manifold::bench
