#pragma once
// The daemon's metrics, exposed for Prometheus at http://HOST:PORT/metrics (default
// 127.0.0.1:9464). Names follow Prometheus conventions (`vigil_<what>_<unit>_total` for
// counters); the pipeline updates them once per batch, never once per event.
//
// Three sources are merged into one /metrics page:
//  - the prometheus-cpp Registry: counters and histograms the pipeline updates per batch
//    (add_parsed, add_rule_matches, observe_*...), and any family later code adds via registry();
//  - collector counters and gauge callbacks, read when Prometheus scrapes: collectors keep plain
//    atomics (core/ingest.h CollectorStats) and need no metrics library;
//  - process metrics under the standard client-library names (process_cpu_seconds_total,
//    process_resident_memory_bytes, ...), plus vigil_peak_resident_memory_bytes, from /proc/self.
//
// Exported families:
//   vigil_events_received_total{collector,kind}        vigil_bytes_received_total{collector,kind}
//   vigil_events_dropped_total{collector,kind}         vigil_oversize_records_total{collector,kind}
//   vigil_framing_errors_total{collector,kind}         vigil_connections_open{collector,kind} (gauge)
//   vigil_connections_total{collector,kind}            vigil_connections_rejected_total{collector,kind}
//   vigil_idle_timeouts_total{collector,kind}
//   vigil_events_parsed_total{collector}               vigil_parse_errors_total{collector,reason}
//   vigil_events_processed_total                       vigil_rule_matches_total{rule}
//   vigil_alerts_total{level}                          vigil_rule_reloads_total{result="ok|error"}
//   vigil_batch_match_seconds (histogram)              vigil_store_write_seconds (histogram)
//   vigil_alert_latency_seconds (histogram)            vigil_store_write_failures_total
//   vigil_store_writable (gauge)                       + gauges registered with add_gauge_callback
//
// Lifecycle: construct, register collectors and callbacks, serve(), ..., stop() (or destroy).
// Thread-safety: the per-batch update functions (add_parsed, add_rule_matches, observe_*,
// add_events_processed, add_rule_reload) may be called from any number of threads at once; a
// series is created under a lock the first time its label value is seen, after which an update
// is a shared-lock lookup plus an atomic add. add_collector, add_gauge_callback and
// remove_gauge_callback may be called at any time from any thread. serve() and stop() belong to
// the owner's thread.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/event.h"
#include "core/status.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace vigil {

struct CollectorStats;

struct MetricsAddress {
  std::string host = "127.0.0.1";  // Default: 127.0.0.1 (loopback only)
  std::uint16_t port = 9464;       // Default: 9464 (the port registered for this use); 0 = any free port
};

class Metrics {
 public:
  using CallbackId = std::uint64_t;
  using ParseErrorCounts = std::array<std::uint64_t, static_cast<std::size_t>(ParseErrorKind::kCount)>;

  Metrics();  // creates the registry and every family listed above
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Starts the HTTP endpoint (path /metrics). `host` is an IP address or a name that resolves
  // to one; port 0 binds any free port (read it back with port()). The error names the address
  // and the reason ("metrics: cannot listen on 127.0.0.1:9464: Address already in use").
  Status serve(const std::string& host, std::uint16_t port);
  Status serve(const MetricsAddress& address) { return serve(address.host, address.port); }
  std::uint16_t port() const { return port_; }  // bound port after serve(), else 0
  // Stops the endpoint; metrics keep their values. Safe to call twice or without serve().
  void stop();

  // Publishes a collector's counters, read from its atomics at each scrape. The stats object is
  // kept alive by the registry. Fails (kInvalidArgument) when a collector of the same name is
  // already registered: two would export the same series and Prometheus rejects the scrape.
  // Also creates the collector's vigil_events_parsed_total and vigil_parse_errors_total series
  // at 0, so rate() works from the first scrape.
  Status add_collector(std::shared_ptr<const CollectorStats> stats);

  // A gauge read at scrape time (queue depth, store size, rules loaded). Several callbacks may
  // share a name with different labels; they must then share `help`. `read` runs on the HTTP
  // server's thread during a scrape: it must be thread-safe, quick and must not call back into
  // Metrics. Whatever it reads must stay alive until remove_gauge_callback(id) or stop().
  // The name must not be one of the families above or of registry(): both would be exported.
  // Fails (kInvalidArgument) for a name or label name Prometheus does not accept, or a help
  // text that differs from an earlier callback of the same name.
  Result<CallbackId> add_gauge_callback(const std::string& name, const std::string& help,
                                        std::map<std::string, std::string> labels,
                                        std::function<double()> read);
  // After it returns, `read` of that callback is not running and will not be called again.
  void remove_gauge_callback(CallbackId id);

  // Per batch, from the matcher threads.
  // vigil_events_parsed_total{collector} += events_parsed;
  // vigil_parse_errors_total{collector,reason=to_string(kind)} += parse_errors[kind] (kNone ignored).
  void add_parsed(const std::string& collector, std::uint64_t events_parsed, const ParseErrorCounts& parse_errors);
  // vigil_rule_matches_total{rule} += n: events matched, base rules of correlations included.
  void add_rule_matches(const std::string& rule_id, std::uint64_t n);
  // vigil_alerts_total{level} += n: alerts committed to the store (detection and correlation
  // alerts, not the withheld matches of base rules), so a Prometheus alert on new critical
  // alerts fires exactly when the store has one.
  void add_stored_alerts(const std::string& level, std::uint64_t n);
  void add_events_processed(std::uint64_t n);    // vigil_events_processed_total
  void observe_batch_seconds(double seconds);    // vigil_batch_match_seconds: 100us..1s buckets
  void observe_store_write_seconds(double seconds);    // vigil_store_write_seconds: 100us..2.5s
  // A commit the store refused (disk full, I/O error): vigil_store_write_failures_total; and
  // vigil_store_writable, 0 from the first refusal until a commit succeeds again.
  void add_store_write_failure();
  void set_store_writable(bool writable);
  void observe_alert_latency_seconds(double seconds);  // vigil_alert_latency_seconds: receipt ->
                                                       // committed alert, 1ms..10s buckets
  void add_rule_reload(bool ok);                 // vigil_rule_reloads_total{result="ok|error"}

  // The registered collectors' counters (the API's ingest health page).
  std::vector<std::shared_ptr<const CollectorStats>> collectors() const;
  // Events parsed and parse errors (all reasons) counted for `collector` so far.
  std::uint64_t events_parsed(const std::string& collector);
  std::uint64_t parse_errors(const std::string& collector);

  // For later components to add their own families (prometheus::BuildCounter().Register(...)).
  prometheus::Registry& registry() { return *registry_; }

  // The /metrics page as Prometheus text exposition format, without HTTP (tests, diagnostics).
  std::string render() const;

 private:
  class ScrapeTimeCollectable;
  class ProcessCollectable;
  struct CollectorCounters {
    prometheus::Counter* parsed = nullptr;
    std::array<prometheus::Counter*, static_cast<std::size_t>(ParseErrorKind::kCount)> parse_errors{};
  };

  CollectorCounters& collector_counters(const std::string& collector);
  prometheus::Counter& counter_for(std::unordered_map<std::string, prometheus::Counter*>& cache,
                                   prometheus::Family<prometheus::Counter>& family,
                                   const std::string& label, const std::string& value);

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<ScrapeTimeCollectable> scrape_time_;
  std::shared_ptr<ProcessCollectable> process_;

  prometheus::Family<prometheus::Counter>* parsed_family_ = nullptr;
  prometheus::Family<prometheus::Counter>* parse_errors_family_ = nullptr;
  prometheus::Family<prometheus::Counter>* rule_matches_family_ = nullptr;
  prometheus::Family<prometheus::Counter>* alerts_family_ = nullptr;
  prometheus::Counter* events_processed_ = nullptr;
  prometheus::Counter* reloads_ok_ = nullptr;
  prometheus::Counter* reloads_error_ = nullptr;
  prometheus::Histogram* batch_seconds_ = nullptr;
  prometheus::Histogram* store_write_seconds_ = nullptr;
  prometheus::Counter* store_write_failures_ = nullptr;
  prometheus::Gauge* store_writable_ = nullptr;
  prometheus::Histogram* alert_latency_seconds_ = nullptr;

  // Series handles by label value, filled the first time a value is seen. unordered_map nodes
  // never move, and prometheus-cpp never frees a series while its family lives, so the cached
  // pointers stay valid for the life of the Metrics.
  std::shared_mutex cache_mutex_;
  std::unordered_map<std::string, CollectorCounters> collector_cache_;
  std::unordered_map<std::string, prometheus::Counter*> rule_cache_;
  std::unordered_map<std::string, prometheus::Counter*> level_cache_;

  std::uint16_t port_ = 0;
  std::string connect_ip_;  // IPv4 address stop() connects to (see there)
  std::unique_ptr<prometheus::Exposer> exposer_;  // last: stopped before anything it reads
};

}  // namespace vigil
