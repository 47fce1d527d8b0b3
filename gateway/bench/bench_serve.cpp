#include "gateway/bench/bench_serve.h"

#include <sys/resource.h>

#include <fmt/format.h>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gateway/bench/dataset.h"
#include "gateway/bench/http_client.h"
#include "gateway/bench/plot.h"
#include "gateway/bench/report.h"
#include "gateway/bench/request_scheduler.h"

namespace manifold::bench {
namespace {

constexpr int kProgressBarWidth = 40;

Status validate(const BenchServeConfig& c) {
  if (c.num_prompts < 1) return invalidArgument("--num-prompts must be >= 1");
  if (!(c.request_rate > 0.0)) return invalidArgument("--request-rate must be > 0 (or inf)");
  if (!(c.burstiness > 0.0)) return invalidArgument("--burstiness must be > 0");
  if (c.max_concurrency < 0) return invalidArgument("--max-concurrency must be >= 0");
  if (c.num_warmups < 0) return invalidArgument("--num-warmups must be >= 0");
  if (c.dataset_name != "random" && c.dataset_name != "sharegpt") {
    return invalidArgument("--dataset-name must be random or sharegpt");
  }
  if (c.dataset_name == "sharegpt" && c.dataset_path.empty()) {
    return invalidArgument("--dataset-name sharegpt needs --dataset-path");
  }
  // Sent as they are; the server judges the values (vLLM's benchmark does not check them), but
  // JSON has no NaN or infinity.
  for (const auto& [flag, value] : {std::pair{"--temperature", c.sampling.temperature},
                                    {"--top-p", c.sampling.top_p},
                                    {"--min-p", c.sampling.min_p},
                                    {"--frequency-penalty", c.sampling.frequency_penalty},
                                    {"--presence-penalty", c.sampling.presence_penalty},
                                    {"--repetition-penalty", c.sampling.repetition_penalty}}) {
    if (value && !std::isfinite(*value)) {
      return invalidArgument(std::string(flag) + " must be a finite number");
    }
  }
  return Status::ok();
}

// The first model id of GET /v1/models (vLLM does the same when --model is not given).
Result<std::string> firstServedModel(const BaseUrl& base, const RequestHeaders& headers) {
  HttpRequestSpec spec;
  spec.method = "GET";
  spec.target = base.path_prefix + "/v1/models";
  spec.headers = headers;
  spec.timeout = std::chrono::seconds(30);
  ASSIGN_OR_RETURN(HttpResponse response, httpCall(base, std::move(spec)));
  const auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (response.status == 200 && body.is_object() && body.contains("data") &&
      body["data"].is_array() && !body["data"].empty() && body["data"][0].contains("id") &&
      body["data"][0]["id"].is_string()) {
    return body["data"][0]["id"].get<std::string>();
  }
  return invalidArgument("no --model given and GET /v1/models did not name one (HTTP " +
                         std::to_string(response.status) + ")");
}

void drawProgress(size_t done, size_t total) {
  const size_t filled = total == 0 ? 0 : done * kProgressBarWidth / total;
  std::fprintf(stderr, "\r%3zu%%|%s%s| %zu/%zu", total == 0 ? 100 : done * 100 / total,
               std::string(filled, '#').c_str(),
               std::string(kProgressBarWidth - filled, ' ').c_str(), done, total);
  if (done == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

// Every request in flight holds a socket: with --request-rate inf and no --max-concurrency that is
// one descriptor per prompt, beyond the usual soft limit of 1024. Raise it to the hard limit.
void raiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
}

Status writeJson(const std::string& path, const nlohmann::json& json) {
  std::ofstream out(path);
  if (!out) return internalError("cannot write --save-result file " + path);
  // Generated text may hold invalid UTF-8 (a multi-byte character cut by max_tokens).
  out << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  return out ? Status::ok() : internalError("cannot write --save-result file " + path);
}

}  // namespace

Result<BenchServeResult> runBenchServe(const BenchServeConfig& config, std::ostream& report) {
  RETURN_IF_ERROR(validate(config));
  ASSIGN_OR_RETURN(GoodputSlo slo, parseGoodput(config.goodput));
  ASSIGN_OR_RETURN(std::vector<double> percentiles, parsePercentiles(config.metric_percentiles));
  ASSIGN_OR_RETURN(BaseUrl base, parseBaseUrl(config.base_url));
  ASSIGN_OR_RETURN(Endpoint endpoint_kind, endpointFromPath(config.endpoint));
  ASSIGN_OR_RETURN(auto endpoint, resolveEndpoint(base));
  RequestHeaders headers{.api_key = config.api_key, .extra = {}};
  for (const std::string& argument : config.headers) {
    ASSIGN_OR_RETURN(auto header, parseHeaderArgument(argument));
    headers.extra.push_back(std::move(header));
  }

  raiseDescriptorLimit();
  BenchServeResult result;
  result.model = config.model;
  if (result.model.empty()) {
    ASSIGN_OR_RETURN(result.model, firstServedModel(base, headers));
  }

  std::mt19937_64 rng(config.seed);
  std::string no_tokenize;
  auto counter = makeTokenCounter(base, result.model, headers, &no_tokenize);
  result.exact_token_counts = counter->exact();
  report << "Token counts: "
         << (counter->exact() ? "server /tokenize"
                              : "approximate, from words (/tokenize: " + no_tokenize + ")")
         << "\n";
  std::vector<SampleRequest> samples;
  if (config.dataset_name == "random") {
    ASSIGN_OR_RETURN(samples, sampleRandomDataset({.num_prompts = config.num_prompts,
                                                   .input_len = config.random_input_len,
                                                   .output_len = config.random_output_len,
                                                   .range_ratio = config.random_range_ratio},
                                                  *counter, rng));
  } else {
    ASSIGN_OR_RETURN(samples, sampleShareGptDataset({.path = config.dataset_path,
                                                     .num_prompts = config.num_prompts,
                                                     .output_len = config.sharegpt_output_len},
                                                    *counter, rng));
  }

  SchedulerOptions options;
  options.endpoint = endpoint;
  options.host_header = base.hostHeader();
  options.tls = base.tls;
  options.tls_host = base.host;
  options.target = base.path_prefix + config.endpoint;
  options.endpoint_kind = endpoint_kind;
  options.model = result.model;
  options.headers = headers;
  options.sampling = config.sampling;
  options.ignore_eos = config.ignore_eos;
  options.max_concurrency = config.max_concurrency;
  options.request_timeout = config.request_timeout;

  // One request first, so that a wrong URL, model or key fails fast with the server's answer.
  report << "Starting initial single prompt test run...\n";
  const std::vector<SampleRequest> test_input = {samples.front()};
  const ScheduledRun test_run = runScheduled(options, test_input, {0.0});
  if (!test_run.outputs.front().success) {
    return unavailable("initial test run failed: " + test_run.outputs.front().error);
  }
  if (config.num_warmups > 0) {
    report << "Warming up with " << config.num_warmups << " requests...\n";
    const std::vector<SampleRequest> warmups(static_cast<size_t>(config.num_warmups),
                                             samples.front());
    (void)runScheduled(options, warmups, std::vector<double>(warmups.size(), 0.0));
  }

  report << fmt::format(
      "Traffic request rate: {}, burstiness: {}, max concurrency: {}\n",
      std::isfinite(config.request_rate) ? fmt::format("{:g}", config.request_rate) : "inf",
      config.burstiness,
      config.max_concurrency > 0 ? std::to_string(config.max_concurrency) : "none");
  const std::vector<double> offsets =
      arrivalOffsets(samples.size(), config.request_rate, config.burstiness, rng);
  if (config.show_progress) options.on_progress = drawProgress;
  ScheduledRun run = runScheduled(options, samples, offsets);
  const double duration_s = std::max(run.duration_s, 1e-9);

  result.metrics = calculateMetrics(run.outputs, duration_s, slo, percentiles);
  result.outputs = std::move(run.outputs);
  report << formatReport(config, result.metrics, !slo.empty());
  for (const RequestResult& r : result.outputs) {
    if (!r.success) {
      report << "First failure: " << r.error << "\n";
      break;
    }
  }
  if (!config.save_result.empty()) {
    RETURN_IF_ERROR(writeJson(config.save_result,
                              resultJson(config, result.model, result.metrics, result.outputs)));
  }
  if (!config.plot.empty()) {
    RETURN_IF_ERROR(writePlot(config.plot, result.outputs, result.metrics));
  }
  return result;
}

}  // namespace manifold::bench
