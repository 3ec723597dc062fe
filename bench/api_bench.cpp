// The analyst API's two speed targets on a store of 10 million alerts (issue 5):
//   - first page of a filtered list (level high or above, one tenant, last 24 hours): p99 <= 20 ms
//   - statistics over 24 hours: <= 200 ms
// A plain program (not Google Benchmark): it generates the store once (commit() in batches of
// 10,000 with sync off, the clock injected so the alerts spread over 48 hours, 5 tenants,
// 5 levels, 200 hosts, 50 rules), checks each answer against what it generated, then times.
//
//   vigil_api_bench [--alerts N] [--dir DIR] [--keep]     (default 10,000,000 in a temp dir)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/alert_codec.h"
#include "storage/alert_store.h"
#include "storage/stats.h"

namespace {

using namespace vigil;
using Clock = std::chrono::steady_clock;
constexpr std::int64_t kHourNs = 3600LL * 1000000000LL;
constexpr std::int64_t kStart = 1'780'000'000LL * 1000000000LL;  // a fixed 2026 start, ns
constexpr std::size_t kBatch = 10000;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

int fail(const std::string& why) {
  std::fprintf(stderr, "api_bench: CHECK FAILED: %s\n", why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t total = 10'000'000;
  std::string dir;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--alerts" && i + 1 < argc) total = std::stoull(argv[++i]);
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--keep") keep = true;
    else {
      std::fprintf(stderr, "usage: vigil_api_bench [--alerts N] [--dir DIR] [--keep]\n");
      return 2;
    }
  }
  if (dir.empty()) dir = (std::filesystem::temp_directory_path() / "vigil-api-bench").string();
  const std::int64_t span = 48 * kHourNs;
  const std::size_t batches = (total + kBatch - 1) / kBatch;
  const std::int64_t step = span / static_cast<std::int64_t>(batches);
  std::int64_t fake_now = kStart;

  // What the checks compare with: per query window, counted while generating.
  const std::string tenant = "tenant-1";
  const std::int64_t end_ns = kStart + static_cast<std::int64_t>(batches - 1) * step;  // last commit time
  const std::int64_t query_from = end_ns - 24 * kHourNs;
  std::vector<std::string> expected_first_page;  // newest first, built from the newest batches
  std::uint64_t expected_stats_total = 0;
  const std::int64_t stats_from_hour = (query_from / 1000000000 / 3600) * 3600 * 1000000000LL;

  const bool exists = std::filesystem::exists(std::filesystem::path(dir) / "CURRENT");
  storage::StoreOptions options;
  options.dir = dir;
  options.sync = false;
  options.block_cache_bytes = 256u << 20;
  options.clock = [&] { return fake_now; };
  auto store = storage::AlertStore::open(options);
  if (!store) return fail(store.error().to_string());
  if (exists && (*store)->alert_count_estimate() != batches * kBatch) return fail("--dir holds a store of another size");

  // The generator is deterministic, so a kept store can be checked without regenerating it.
  auto make = [&](std::size_t n, Alert& a) {
    a = Alert();
    a.tenant = "tenant-" + std::to_string(n % 5);
    a.level = static_cast<AlertLevel>((n / 5) % 5);
    a.host = "host-" + std::to_string((n * 7919) % 200);
    const std::size_t rule = (n * 31) % 50;
    a.rule_id = "rule-" + std::to_string(rule);
    a.rule_title = "Benchmark rule " + std::to_string(rule);
    a.collector = "tcp";
    a.format = "rfc3164";
    a.matched.push_back(AlertField{"message", "Failed password for root"});
    a.raw = "<38>Nov 26 01:02:03 " + a.host + " sshd[" + std::to_string(n % 65536) +
            "]: Failed password for root from 10.0." + std::to_string(n % 250) + "." + std::to_string(n % 199) +
            " port 22 ssh2";
  };
  auto in_filter = [&](const Alert& a, std::int64_t created) {
    return a.tenant == tenant && a.level >= AlertLevel::kHigh && created >= query_from;
  };

  auto gen_started = Clock::now();
  std::vector<Alert> batch(kBatch);
  for (std::size_t b = 0; b < batches; ++b) {
    fake_now = kStart + static_cast<std::int64_t>(b) * step;
    for (std::size_t i = 0; i < kBatch; ++i) {
      make(b * kBatch + i, batch[i]);
      if (fake_now >= stats_from_hour) ++expected_stats_total;
    }
    if (!exists) {
      std::vector<Alert> commit = batch;
      if (Status st = (*store)->commit(commit, {}); !st.ok()) return fail(st.to_string());
      if (b + 1 == batches || b % 100 == 0)
        std::fprintf(stderr, "\rgenerated %zu of %zu alerts (%.0f s)", (b + 1) * kBatch, batches * kBatch,
                     ms_since(gen_started) / 1000);
    }
  }
  if (!exists) std::fprintf(stderr, "\n");
  // Expected first page: the newest alerts in the filter, walking back from the last batch.
  for (std::size_t b = batches; b-- > 0 && expected_first_page.size() < 50;) {
    const std::int64_t created = kStart + static_cast<std::int64_t>(b) * step;
    for (std::size_t i = kBatch; i-- > 0 && expected_first_page.size() < 50;) {
      Alert a;
      make(b * kBatch + i, a);
      if (in_filter(a, created)) {
        std::string key;
        storage::put_big_endian64(&key, static_cast<std::uint64_t>(created));
        storage::put_big_endian64(&key, b * kBatch + i);
        static const char* hex = "0123456789abcdef";
        std::string id;
        for (unsigned char c : key) id += hex[c >> 4], id += hex[c & 15];
        expected_first_page.push_back(id);
      }
    }
  }
  fake_now = end_ns;

  storage::AlertQuery q;
  q.min_level = AlertLevel::kHigh;
  q.tenant = tenant;
  q.from_unix_ns = query_from;
  q.limit = 50;
  auto page = (*store)->list(q);
  if (!page) return fail(page.error().to_string());
  std::vector<std::string> got;
  for (const Alert& a : page->alerts) got.push_back(a.id);
  if (got != expected_first_page) return fail("first page differs from the generated alerts");
  if (page->next_cursor.empty()) return fail("first page should have a next cursor");

  storage::StatsQuery sq;
  sq.from_unix_ns = end_ns - 24 * kHourNs;
  sq.to_unix_ns = end_ns + 1;
  auto stats = storage::read_stats(**store, sq);
  if (!stats) return fail(stats.error().to_string());
  std::int64_t sum = 0;
  for (const auto& [level, n] : stats->by_level) sum += n;
  std::int64_t bucket_sum = 0;
  for (const auto& bucket : stats->buckets)
    for (const auto& [level, n] : bucket.by_level) bucket_sum += n;
  if (static_cast<std::uint64_t>(sum) != expected_stats_total || bucket_sum != sum)
    return fail("stats total " + std::to_string(sum) + " (buckets " + std::to_string(bucket_sum) + "), expected " +
                std::to_string(expected_stats_total));
  if (stats->by_tenant.size() != 5 || stats->top_rules.size() != 10 || stats->top_hosts.size() != 10)
    return fail("stats dimensions");
  std::fprintf(stderr, "checks passed: first page matches, stats over 24 h count %lld alerts\n", static_cast<long long>(sum));

  // Timing. List: 300 first-page queries (the API's default page of 50).
  std::vector<double> list_ms;
  for (int i = 0; i < 300; ++i) {
    auto t = Clock::now();
    auto p = (*store)->list(q);
    list_ms.push_back(ms_since(t));
    if (!p || p->alerts.size() != 50) return fail("list during timing");
  }
  std::vector<double> stats_ms;
  for (int i = 0; i < 30; ++i) {
    auto t = Clock::now();
    auto s = storage::read_stats(**store, sq);
    stats_ms.push_back(ms_since(t));
    if (!s) return fail("stats during timing");
  }
  auto pct = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
  };
  std::printf("alerts stored:                          %zu\n", batches * kBatch);
  std::printf("list first page (high+, 1 tenant, 24h): p50 %.2f ms  p99 %.2f ms  max %.2f ms  (target p99 <= 20 ms)\n",
              pct(list_ms, 0.5), pct(list_ms, 0.99), pct(list_ms, 1.0));
  std::printf("stats over 24 h (1h buckets):           p50 %.2f ms  p99 %.2f ms  max %.2f ms  (target <= 200 ms)\n",
              pct(stats_ms, 0.5), pct(stats_ms, 0.99), pct(stats_ms, 1.0));
  store->reset();
  if (!keep && !exists) std::filesystem::remove_all(dir);
  return pct(list_ms, 0.99) <= 20 && pct(stats_ms, 1.0) <= 200 ? 0 : 1;
}
