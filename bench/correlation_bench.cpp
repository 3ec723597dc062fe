// Correlation engine throughput: 100 event_count rules grouped by source address over
// 1,000,000 distinct keys, one thread, event time advancing 1 us per event (so windows open,
// fill and close all the time), batch ends every 4,096 events as in the daemon.
// Before timing, it checks that the engine gives the exact answer on a small known input and
// that the 1,000,000 groups are all held. Reports events/s (wall clock), events per second of
// this thread's CPU time (the figure to compare on a shared, loaded machine) and the state's
// memory.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <string>

#include "rules/correlation_engine.h"
#include "rules/sigma_loader.h"

namespace {

using namespace vigil;
using namespace vigil::rules;

constexpr int kRules = 100;
constexpr int kKeys = 1000000;
constexpr std::int64_t kT0 = 1767225600LL * 1000000000LL;

struct Setup {
  std::shared_ptr<const RuleSet> rules;
  std::unique_ptr<CorrelationEngine> engine;
  std::shared_ptr<const RuleBinding> binding;
  std::vector<std::uint32_t> rule_index;  // base rule k -> RuleSet index
};

Setup make_setup(std::int64_t timespan_s, std::size_t memory_bytes) {
  std::string text;
  for (int k = 0; k < kRules; ++k) {
    text += "title: base " + std::to_string(k) + "\nid: base-" + std::to_string(k) +
            "\nlogsource: {product: bench}\ndetection: {sel: {action: a" + std::to_string(k) +
            "}, condition: sel}\n---\n";
    text += "title: corr " + std::to_string(k) + "\nid: corr-" + std::to_string(k) +
            "\ncorrelation: {type: event_count, rules: [base-" + std::to_string(k) +
            "], group-by: [src], timespan: " + std::to_string(timespan_s) + "s, condition: {gte: 5}}\n---\n";
  }
  LoadReport report;
  load_rule_text(text, "bench.yml", report);
  resolve_correlations(report);
  if (!report.errors.empty() || report.correlations.size() != kRules) {
    std::fprintf(stderr, "bench rules did not load\n");
    std::exit(1);
  }
  CompileReport cr;
  Setup s;
  s.rules = *RuleSet::compile(report.rules, CompileOptions{}, &cr);
  CorrelationOptions opt;
  opt.allowed_lateness_ns = 0;
  opt.max_memory_bytes = memory_bytes;
  s.engine = std::move(*CorrelationEngine::create(report.correlations, opt));
  s.binding = s.engine->bind(*s.rules, nullptr);
  s.rule_index.resize(kRules);
  for (std::uint32_t i = 0; i < s.rules->size(); ++i) s.rule_index[std::stoi(s.rules->rule(i).id.substr(5))] = i;
  return s;
}

std::vector<std::string> make_keys() {
  std::vector<std::string> keys(kKeys);
  for (int i = 0; i < kKeys; ++i)
    keys[i] = "10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
  return keys;
}

// As the matcher stage does: one Event and one match list reused for every event.
void feed(Setup& s, const std::string& key, int k, std::int64_t t, std::vector<Alert>& out) {
  static Event e;
  static std::vector<std::uint32_t> matched(1);
  e.fields.clear();
  e.fields.add("src", key);
  matched[0] = s.rule_index[k];
  s.engine->on_event(*s.binding, e, matched, t, out, out.size());
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

std::size_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * 4096;
}

// The exact answer first: 7 events of one key in a window, 4 of another: one alert, count 7.
void verify_or_die() {
  Setup s = make_setup(10, 64u << 20);
  std::vector<Alert> out;
  for (int i = 0; i < 7; ++i) feed(s, "192.0.2.1", 3, kT0 + i * 1000000000LL, out);
  for (int i = 0; i < 4; ++i) feed(s, "192.0.2.2", 3, kT0 + i * 1000000000LL, out);
  s.engine->advance(out, vigil::rules::CorrelationEngine::Flush::kAll);
  bool ok = out.size() == 1 && out[0].rule_id == "corr-3";
  for (const AlertField& f : ok ? out[0].fields : std::vector<AlertField>{})
    if (f.name == "event_count") ok = f.value == "7";
  if (!ok) {
    std::fprintf(stderr, "correlation bench: wrong result on the check input (%zu alerts)\n", out.size());
    std::exit(1);
  }
}

void BM_CorrelationMillionKeys(benchmark::State& state) {
  static const std::vector<std::string> keys = make_keys();
  const std::size_t rss_before = rss_bytes();
  // 2 s windows at 1 us per event: the 1,000,000 keys are loaded in 1 s of event time, then
  // windows keep closing (and alerting, at 5 events) while new ones open.
  Setup s = make_setup(2, std::size_t(4) << 30);
  std::vector<Alert> out;
  std::int64_t t = kT0;
  for (int i = 0; i < kKeys; ++i) feed(s, keys[i], i % kRules, t += 1000, out);
  if (s.engine->groups() != std::size_t(kKeys) || s.engine->counters().evicted_groups.load() != 0) {
    state.SkipWithError("the engine does not hold the 1,000,000 groups");
    return;
  }
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int> pick(0, kKeys - 1);
  std::uint64_t alerts = 0, n = 0;
  const double cpu_start = thread_cpu_seconds();
  for (auto _ : state) {
    const int i = pick(rng);
    feed(s, keys[i], i % kRules, t += 1000, out);
    if ((++n & 4095) == 0) {
      s.engine->advance(out);
      alerts += out.size();
      out.clear();
    }
  }
  const double cpu_seconds = thread_cpu_seconds() - cpu_start;
  state.SetItemsProcessed(static_cast<std::int64_t>(n));
  state.counters["events_per_cpu_s"] = double(n) / cpu_seconds;
  state.counters["groups"] = double(s.engine->groups());
  state.counters["state_MiB"] = double(s.engine->memory_bytes()) / (1 << 20);
  state.counters["rss_growth_MiB"] = double(rss_bytes() - rss_before) / (1 << 20);
  state.counters["alerts"] = double(alerts);
}
BENCHMARK(BM_CorrelationMillionKeys)->Iterations(5000000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  verify_or_die();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
