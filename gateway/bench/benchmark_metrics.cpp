#include "gateway/bench/benchmark_metrics.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

namespace manifold::bench {
namespace {

Result<double> parsePositive(std::string_view text, std::string_view what) {
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !(value > 0.0)) {
    return invalidArgument(std::string(what) + ": expected a positive number, got '" +
                           std::string(text) + "'");
  }
  return value;
}

double mean(const std::vector<double>& values) {
  if (values.empty()) return 0.0;
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

double populationStd(const std::vector<double>& values) {
  if (values.empty()) return 0.0;
  const double m = mean(values);
  double squares = 0.0;
  for (double v : values) squares += (v - m) * (v - m);
  return std::sqrt(squares / static_cast<double>(values.size()));
}

// Peak of concurrently open [start, start + latency] intervals of successful requests.
int maxConcurrency(const std::vector<RequestResult>& outputs) {
  std::vector<std::pair<double, int>> edges;
  for (const RequestResult& r : outputs) {
    if (!r.success) continue;
    edges.emplace_back(r.start_s, +1);
    edges.emplace_back(r.start_s + r.latency_s, -1);
  }
  std::sort(edges.begin(), edges.end());  // at equal times, ends (-1) sort before starts
  int open = 0;
  int peak = 0;
  for (const auto& [time, delta] : edges) {
    open += delta;
    peak = std::max(peak, open);
  }
  return peak;
}

}  // namespace

Result<GoodputSlo> parseGoodput(const std::vector<std::string>& args) {
  GoodputSlo slo;
  for (const std::string& arg : args) {
    const size_t colon = arg.find(':');
    if (colon == std::string::npos) {
      return invalidArgument("--goodput: expected KEY:VALUE (ttft, tpot, e2el), got '" + arg + "'");
    }
    const std::string key = arg.substr(0, colon);
    ASSIGN_OR_RETURN(double value,
                     parsePositive(std::string_view(arg).substr(colon + 1), "--goodput " + key));
    if (key == "ttft") {
      slo.ttft_ms = value;
    } else if (key == "tpot") {
      slo.tpot_ms = value;
    } else if (key == "e2el") {
      slo.e2el_ms = value;
    } else {
      return invalidArgument("--goodput: unknown metric '" + key + "' (ttft, tpot, e2el)");
    }
  }
  return slo;
}

Result<std::vector<double>> parsePercentiles(const std::string& text) {
  std::vector<double> percentiles;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    ASSIGN_OR_RETURN(double p, parsePositive(item, "--metric-percentiles"));
    if (p > 100.0) return invalidArgument("--metric-percentiles: " + item + " is above 100");
    percentiles.push_back(p);
  }
  if (percentiles.empty()) return invalidArgument("--metric-percentiles: empty list");
  return percentiles;
}

double percentile(std::vector<double> values, double p) {
  assert(p >= 0.0 && p <= 100.0);
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lower = static_cast<size_t>(std::floor(rank));
  const size_t upper = std::min(lower + 1, values.size() - 1);
  const double fraction = rank - static_cast<double>(lower);
  return values[lower] + (values[upper] - values[lower]) * fraction;
}

LatencySummary summarize(const std::vector<double>& values_s,
                         const std::vector<double>& percentiles) {
  LatencySummary summary;
  summary.mean_ms = mean(values_s) * 1000.0;
  summary.median_ms = percentile(values_s, 50.0) * 1000.0;
  summary.std_ms = populationStd(values_s) * 1000.0;
  for (double p : percentiles) {
    summary.percentiles_ms.emplace_back(p, percentile(values_s, p) * 1000.0);
  }
  return summary;
}

BenchmarkMetrics calculateMetrics(const std::vector<RequestResult>& outputs, double duration_s,
                                  const GoodputSlo& slo, const std::vector<double>& percentiles) {
  assert(duration_s > 0.0);
  BenchmarkMetrics m;
  m.duration_s = duration_s;
  std::vector<double> ttfts;
  std::vector<double> itls;
  std::vector<double> e2els;
  int good = 0;
  for (const RequestResult& r : outputs) {
    if (!r.success) {
      m.output_lens.push_back(0);
      ++m.failed;
      continue;
    }
    ++m.completed;
    m.output_lens.push_back(r.output_tokens);
    m.total_input_tokens += r.prompt_len;
    m.total_output_tokens += r.output_tokens;
    double tpot = 0.0;
    if (r.output_tokens > 1) {
      tpot = (r.latency_s - r.ttft_s) / (r.output_tokens - 1);
      m.tpots_s.push_back(tpot);
    }
    ttfts.push_back(r.ttft_s);
    e2els.push_back(r.latency_s);
    itls.insert(itls.end(), r.itl_s.begin(), r.itl_s.end());
    const bool meets_slo = (!slo.ttft_ms || r.ttft_s * 1000.0 <= *slo.ttft_ms) &&
                           (!slo.tpot_ms || tpot * 1000.0 <= *slo.tpot_ms) &&
                           (!slo.e2el_ms || r.latency_s * 1000.0 <= *slo.e2el_ms);
    if (!slo.empty() && meets_slo) ++good;
  }
  m.request_throughput = m.completed / duration_s;
  m.request_goodput = good / duration_s;
  m.output_throughput = static_cast<double>(m.total_output_tokens) / duration_s;
  m.total_token_throughput =
      static_cast<double>(m.total_input_tokens + m.total_output_tokens) / duration_s;
  const std::vector<double> per_second = outputTokensPerSecond(outputs, duration_s);
  if (!per_second.empty()) {
    m.max_output_tokens_per_s = *std::max_element(per_second.begin(), per_second.end());
  }
  m.max_concurrent_requests = maxConcurrency(outputs);
  m.ttft = summarize(ttfts, percentiles);
  m.tpot = summarize(m.tpots_s, percentiles);
  m.itl = summarize(itls, percentiles);
  m.e2el = summarize(e2els, percentiles);
  return m;
}

std::vector<double> outputTokensPerSecond(const std::vector<RequestResult>& outputs,
                                          double duration_s) {
  double origin = std::numeric_limits<double>::infinity();
  for (const RequestResult& r : outputs) {
    if (r.success) origin = std::min(origin, r.start_s);
  }
  if (!std::isfinite(origin)) return {};
  std::vector<double> per_second(static_cast<size_t>(std::ceil(std::max(duration_s, 0.0))), 0.0);
  for (const RequestResult& r : outputs) {
    if (!r.success) continue;
    for (double t : r.chunk_times_s) {
      const size_t second = static_cast<size_t>(std::max(t - origin, 0.0));
      if (second >= per_second.size()) per_second.resize(second + 1, 0.0);
      per_second[second] += 1.0;
    }
  }
  return per_second;
}

}  // namespace manifold::bench
