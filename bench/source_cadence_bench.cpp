// Silent sources: the cost the daemon adds per event (parse::source_name on a syslog line no
// rule parsed, then SourceBatch::add) and per batch (SourceCadence::observe), and the once-a-
// second check over 100,000 sources with the table's memory. Before timing, each case checks
// its answer: the batch holds every host with its count, the table holds every source.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/parse/parser.h"
#include "core/source_cadence.h"

namespace {

using namespace vigil;

constexpr int kBatch = 4096;  // the daemon's batch_max_records
constexpr std::int64_t kS = 1000000000LL;

std::vector<std::string> syslog_lines(int hosts) {
  std::vector<std::string> lines;
  for (int i = 0; i < kBatch; ++i)
    lines.push_back("<38>Nov 26 01:02:03 host-" + std::to_string(i % hosts) + " sshd[" + std::to_string(1000 + i) +
                    "]: Accepted publickey for root from 10.0.0." + std::to_string(i % 250) + " port 22 ssh2\n" +
                    std::string(64, '\0'));  // the padding records carry
  return lines;
}

// One batch of 4,096 unparsed syslog lines from 128 hosts: per event source_name + add, then
// one observe().
void BM_PerEventHook(benchmark::State& state) {
  const auto lines = syslog_lines(128);
  SourceCadence cadence{SourceCadenceOptions{}};
  SourceBatch batch;
  Event event;
  auto run = [&](std::int64_t t) {
    for (const std::string& l : lines) {
      event.start_record(std::string_view(l.data(), l.size() - 64), "tcp", 1, "", "", "");
      event.format = LogFormat::kRfc3164;
      const parse::SourceName n = parse::source_name(event);
      batch.add("", "tcp", n.host, n.program, n.tamper);
    }
    cadence.observe(t, batch, nullptr);
    batch.clear();
  };
  run(0);
  const auto list = cadence.list(0);
  if (list.size() != 128 || list[0].events != kBatch / 128 || list[0].program != "sshd") {
    state.SkipWithError("wrong answer: expected 128 sources of 32 sshd events");
    return;
  }
  std::int64_t t = 0;
  for (auto _ : state) run(t += kS);
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_PerEventHook)->Unit(benchmark::kMicrosecond);

// Passes over 100,000 sources (none silent), and their memory. Arg 0: check() alone; 1: what
// the daemon's housekeeping does each second, check() + counts() + visit_last_seen() (the
// table's lock is held for each); 2: list(), what GET /api/v1/sources costs.
void BM_CheckHundredThousand(benchmark::State& state) {
  SourceCadence cadence{SourceCadenceOptions{}};
  SourceBatch batch;
  for (int i = 0; i < 100000; ++i) {
    batch.add("province-a", "syslog-tcp", "host-" + std::to_string(i) + ".example.vn", "sshd");
    if (batch.size() == kBatch || i == 99999) {
      cadence.observe(i, batch, nullptr);
      batch.clear();
    }
  }
  if (cadence.size() != 100000) {
    state.SkipWithError("wrong answer: expected 100,000 sources");
    return;
  }
  std::vector<SourceTransition> out;
  for (auto _ : state) {
    if (state.range(0) == 2) {
      benchmark::DoNotOptimize(cadence.list(1000 * kS).size());
      continue;
    }
    cadence.check(1000 * kS, out);
    benchmark::DoNotOptimize(out.data());
    if (state.range(0) == 1) {
      benchmark::DoNotOptimize(cadence.counts(1000 * kS).ok);
      std::int64_t newest = 0;
      cadence.visit_last_seen([&](std::string_view, std::int64_t t) { newest = std::max(newest, t); });
      benchmark::DoNotOptimize(newest);
    }
  }
  state.counters["sources"] = double(cadence.size());
  state.counters["memory_MiB"] = double(cadence.memory_bytes()) / (1 << 20);
}
BENCHMARK(BM_CheckHundredThousand)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
