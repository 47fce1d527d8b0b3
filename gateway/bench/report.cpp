#include "gateway/bench/report.h"

#include <fmt/format.h>
#include <cmath>
#include <ctime>

namespace manifold::bench {
namespace {

constexpr size_t kWidth = 50;

// Python's "{:=^50}": the title centred, the left pad rounded down.
std::string centered(const std::string& title, char fill) {
  const size_t pad = title.size() < kWidth ? kWidth - title.size() : 0;
  return std::string(pad / 2, fill) + title + std::string(pad - pad / 2, fill) + "\n";
}

std::string row(const std::string& label, const std::string& value) {
  return fmt::format("{:<40} {:<10}\n", label, value);
}

std::string fixed2(double value) { return fmt::format("{:.2f}", value); }

// "99" for 99.0, "99.9" otherwise (vLLM's p_word).
std::string percentileWord(double p) {
  return p == std::floor(p) ? fmt::format("{}", static_cast<int>(p)) : fmt::format("{}", p);
}

std::string latencySection(const std::string& title, const std::string& name,
                           const LatencySummary& s) {
  std::string out = centered(title, '-');
  out += row("Mean " + name + " (ms):", fixed2(s.mean_ms));
  out += row("Median " + name + " (ms):", fixed2(s.median_ms));
  for (const auto& [p, value] : s.percentiles_ms) {
    out += row(fmt::format("P{} {} (ms):", percentileWord(p), name), fixed2(value));
  }
  return out;
}

void addLatencyKeys(nlohmann::json& json, const std::string& name, const LatencySummary& s) {
  json["mean_" + name + "_ms"] = s.mean_ms;
  json["median_" + name + "_ms"] = s.median_ms;
  json["std_" + name + "_ms"] = s.std_ms;
  for (const auto& [p, value] : s.percentiles_ms) {
    json[fmt::format("p{}_{}_ms", percentileWord(p), name)] = value;
  }
}

}  // namespace

std::string formatReport(const BenchServeConfig& config, const BenchmarkMetrics& m,
                         bool has_goodput) {
  std::string out = centered(" Serving Benchmark Result ", '=');
  out += row("Successful requests:", std::to_string(m.completed));
  out += row("Failed requests:", std::to_string(m.failed));
  if (config.max_concurrency > 0) {
    out += row("Maximum request concurrency:", std::to_string(config.max_concurrency));
  }
  if (std::isfinite(config.request_rate)) {
    out += row("Request rate configured (RPS):", fixed2(config.request_rate));
  }
  out += row("Benchmark duration (s):", fixed2(m.duration_s));
  out += row("Total input tokens:", std::to_string(m.total_input_tokens));
  out += row("Total generated tokens:", std::to_string(m.total_output_tokens));
  out += row("Request throughput (req/s):", fixed2(m.request_throughput));
  if (has_goodput) out += row("Request goodput (req/s):", fixed2(m.request_goodput));
  out += row("Output token throughput (tok/s):", fixed2(m.output_throughput));
  out += row("Peak output token throughput (tok/s):", fixed2(m.max_output_tokens_per_s));
  out += row("Peak concurrent requests:", std::to_string(m.max_concurrent_requests));
  out += row("Total Token throughput (tok/s):", fixed2(m.total_token_throughput));
  out += latencySection("Time to First Token", "TTFT", m.ttft);
  out += latencySection("Time per Output Token (excl. 1st token)", "TPOT", m.tpot);
  out += latencySection("Inter-token Latency", "ITL", m.itl);
  out += latencySection("End-to-end Latency", "E2EL", m.e2el);
  out += std::string(kWidth, '=') + "\n";
  return out;
}

nlohmann::json resultJson(const BenchServeConfig& config, const std::string& model,
                          const BenchmarkMetrics& m, const std::vector<RequestResult>& outputs) {
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y%m%d-%H%M%S", std::localtime(&now));
  nlohmann::json json;
  json["date"] = date;
  json["backend"] = config.endpoint.find("chat") != std::string::npos ? "openai-chat" : "openai";
  json["model_id"] = model;
  json["num_prompts"] = config.num_prompts;
  json["request_rate"] =
      std::isfinite(config.request_rate) ? nlohmann::json(config.request_rate) : "inf";
  json["burstiness"] = config.burstiness;
  json["max_concurrency"] =
      config.max_concurrency > 0 ? nlohmann::json(config.max_concurrency) : nlohmann::json();
  json["duration"] = m.duration_s;
  json["completed"] = m.completed;
  json["failed"] = m.failed;
  json["total_input_tokens"] = m.total_input_tokens;
  json["total_output_tokens"] = m.total_output_tokens;
  json["request_throughput"] = m.request_throughput;
  // null when no --goodput was given, as vLLM writes it: "not measured", not "none good".
  json["request_goodput"] =
      config.goodput.empty() ? nlohmann::json() : nlohmann::json(m.request_goodput);
  json["output_throughput"] = m.output_throughput;
  json["total_token_throughput"] = m.total_token_throughput;
  json["max_output_tokens_per_s"] = m.max_output_tokens_per_s;
  json["max_concurrent_requests"] = m.max_concurrent_requests;
  addLatencyKeys(json, "ttft", m.ttft);
  addLatencyKeys(json, "tpot", m.tpot);
  addLatencyKeys(json, "itl", m.itl);
  addLatencyKeys(json, "e2el", m.e2el);
  auto& input_lens = json["input_lens"] = nlohmann::json::array();
  auto& ttfts = json["ttfts"] = nlohmann::json::array();
  auto& itls = json["itls"] = nlohmann::json::array();
  auto& texts = json["generated_texts"] = nlohmann::json::array();
  auto& errors = json["errors"] = nlohmann::json::array();
  auto& start_times = json["start_times"] = nlohmann::json::array();
  auto& latencies = json["latencies"] = nlohmann::json::array();
  for (const RequestResult& r : outputs) {
    input_lens.push_back(r.prompt_len);
    ttfts.push_back(r.ttft_s);
    itls.push_back(r.itl_s);
    texts.push_back(r.generated_text);
    errors.push_back(r.error);
    start_times.push_back(r.start_s);
    latencies.push_back(r.latency_s);
  }
  json["output_lens"] = m.output_lens;
  return json;
}

}  // namespace manifold::bench
