#include "core/metrics.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

#include <prometheus/check_names.h>
#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "core/ingest.h"
#include "core/process_stats.h"

namespace vigil {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

// Sigma's levels, created at 0 up front so a dashboard's rate() has a series before the first alert.
constexpr const char* kSigmaLevels[] = {"informational", "low", "medium", "high", "critical"};

MetricFamily make_family(const char* name, const char* help, MetricType type) {
  MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  return family;
}

ClientMetric make_sample(MetricType type, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric sample;
  sample.label = std::move(labels);
  if (type == MetricType::Counter)
    sample.counter.value = value;
  else
    sample.gauge.value = value;
  return sample;
}

// A collector counter exported from its CollectorStats atomic.
struct CollectorField {
  const char* name;
  const char* help;
  MetricType type;
  std::atomic<std::uint64_t> CollectorStats::*value;
};

constexpr CollectorField kCollectorFields[] = {
    {"vigil_events_received_total", "Records received by the collector.", MetricType::Counter,
     &CollectorStats::received_events},
    {"vigil_bytes_received_total", "Record bytes received by the collector.", MetricType::Counter,
     &CollectorStats::received_bytes},
    {"vigil_events_dropped_total", "Records dropped before the pipeline (UDP: queue full or socket overrun).",
     MetricType::Counter, &CollectorStats::dropped_events},
    {"vigil_oversize_records_total", "Records cut at the maximum record size.", MetricType::Counter,
     &CollectorStats::oversize_records},
    {"vigil_framing_errors_total", "Framing errors (bad octet count, garbage on a TLS socket).",
     MetricType::Counter, &CollectorStats::framing_errors},
    {"vigil_connections_open", "Connections open now.", MetricType::Gauge, &CollectorStats::connections_open},
    {"vigil_connections_total", "Connections accepted.", MetricType::Counter, &CollectorStats::connections_total},
    {"vigil_connections_rejected_total", "Connections refused (over the connection limit, TLS handshake failures).",
     MetricType::Counter, &CollectorStats::connections_rejected},
    {"vigil_idle_timeouts_total", "Connections closed for being idle too long.", MetricType::Counter,
     &CollectorStats::idle_timeouts},
};

// "127.0.0.1:9464" or "[::1]:9464", the form civetweb's listening_ports and people both read.
std::string format_address(const sockaddr* addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    return std::string("[") + text + "]";
  }
  const auto* in4 = reinterpret_cast<const sockaddr_in*>(addr);
  ::inet_ntop(AF_INET, &in4->sin_addr, text, sizeof text);
  return text;
}

// civetweb reports only "problem binding to port"; binding the address ourselves tells why
// (in use, not an address of this machine, permission). Empty when the bind now succeeds.
std::string bind_failure_reason(const sockaddr* addr, socklen_t addr_len, std::uint16_t port) {
  sockaddr_storage probe{};
  std::memcpy(&probe, addr, addr_len);
  if (probe.ss_family == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(&probe)->sin6_port = htons(port);
  else
    reinterpret_cast<sockaddr_in*>(&probe)->sin_port = htons(port);
  int fd = ::socket(probe.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as civetweb does
  std::string reason;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&probe), addr_len) != 0) reason = std::strerror(errno);
  ::close(fd);
  return reason;
}

}  // namespace

// Collector counters and gauge callbacks, read when Prometheus scrapes.
class Metrics::ScrapeTimeCollectable : public prometheus::Collectable {
 public:
  std::vector<std::shared_ptr<const CollectorStats>> collectors() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return collectors_;
  }

  Status add_collector(std::shared_ptr<const CollectorStats> stats) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& existing : collectors_)
      if (existing->name == stats->name)
        return Status::InvalidArgument("metrics: a collector named '" + stats->name + "' is already registered");
    collectors_.push_back(std::move(stats));
    return Status::Ok();
  }

  Result<CallbackId> add_gauge(const std::string& name, const std::string& help,
                               const std::map<std::string, std::string>& labels, std::function<double()> read) {
    if (!prometheus::CheckMetricName(name))
      return Error(Status::InvalidArgument("metrics: '" + name + "' is not a valid metric name"));
    GaugeCallback gauge{name, help, {}, std::move(read)};
    for (const auto& [label, value] : labels) {
      if (!prometheus::CheckLabelName(label))
        return Error(Status::InvalidArgument("metrics: '" + label + "' is not a valid label name (gauge " + name + ")"));
      gauge.labels.push_back(ClientMetric::Label{label, value});
    }
    if (!gauge.read) return Error(Status::InvalidArgument("metrics: gauge " + name + " has no read function"));
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [id, other] : gauges_) {
      if (other.name != name) continue;
      if (other.help != help)
        return Error(Status::InvalidArgument("metrics: gauge " + name + " registered twice with different help texts"));
      if (other.labels == gauge.labels)
        return Error(Status::InvalidArgument("metrics: gauge " + name + " already has a callback with these labels"));
    }
    CallbackId id = next_id_++;
    gauges_.emplace(id, std::move(gauge));
    return id;
  }

  void remove_gauge(CallbackId id) {
    std::lock_guard<std::mutex> lock(mutex_);
    gauges_.erase(id);
  }

  // Holds the lock while the callbacks run, so remove_gauge() returning means the callback is
  // no longer running (what lets its owner destroy what it reads).
  std::vector<MetricFamily> Collect() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<MetricFamily> families;
    if (!collectors_.empty()) {
      for (const CollectorField& field : kCollectorFields) {
        MetricFamily family = make_family(field.name, field.help, field.type);
        for (const auto& stats : collectors_) {
          double value = static_cast<double>(((*stats).*(field.value)).load(std::memory_order_relaxed));
          family.metric.push_back(make_sample(field.type, value, {{"collector", stats->name}, {"kind", stats->kind}}));
        }
        families.push_back(std::move(family));
      }
    }
    // One family per gauge name, in name order, whatever the registration order.
    std::map<std::string, MetricFamily> gauges;
    for (const auto& [id, gauge] : gauges_) {
      auto [it, inserted] = gauges.try_emplace(gauge.name);
      if (inserted) it->second = make_family(gauge.name.c_str(), gauge.help.c_str(), MetricType::Gauge);
      it->second.metric.push_back(make_sample(MetricType::Gauge, gauge.read(), gauge.labels));
    }
    for (auto& [name, family] : gauges) families.push_back(std::move(family));
    return families;
  }

 private:
  struct GaugeCallback {
    std::string name, help;
    std::vector<ClientMetric::Label> labels;  // sorted by name (from std::map)
    std::function<double()> read;
  };
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<const CollectorStats>> collectors_;
  std::map<CallbackId, GaugeCallback> gauges_;
  CallbackId next_id_ = 1;
};

// The standard process_* metrics of Prometheus client libraries, from /proc/self at each scrape.
class Metrics::ProcessCollectable : public prometheus::Collectable {
 public:
  std::vector<MetricFamily> Collect() const override {
    Result<ProcessStats> stats = read_process_stats();
    // Without /proc there is nothing true to report; the other metrics still are.
    if (!stats) return {};
    std::vector<MetricFamily> families;
    auto add = [&](const char* name, const char* help, MetricType type, double value) {
      MetricFamily family = make_family(name, help, type);
      family.metric.push_back(make_sample(type, value));
      families.push_back(std::move(family));
    };
    add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::Counter,
        stats->cpu_seconds);
    add("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
        static_cast<double>(stats->resident_bytes));
    add("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
        static_cast<double>(stats->virtual_bytes));
    add("process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
        static_cast<double>(stats->open_fds));
    add("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
        static_cast<double>(stats->max_fds));
    add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
        stats->start_time_seconds);
    add("vigil_peak_resident_memory_bytes", "Peak resident memory size in bytes (VmHWM).", MetricType::Gauge,
        static_cast<double>(stats->peak_resident_bytes));
    return families;
  }
};

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      scrape_time_(std::make_shared<ScrapeTimeCollectable>()),
      process_(std::make_shared<ProcessCollectable>()) {
  prometheus::Registry& r = *registry_;
  parsed_family_ = &prometheus::BuildCounter()
                        .Name("vigil_events_parsed_total")
                        .Help("Events parsed by the matcher threads, by collector.")
                        .Register(r);
  parse_errors_family_ = &prometheus::BuildCounter()
                              .Name("vigil_parse_errors_total")
                              .Help("Records that could not be parsed as given, by collector and reason.")
                              .Register(r);
  rule_matches_family_ = &prometheus::BuildCounter()
                              .Name("vigil_rule_matches_total")
                              .Help("Events matched, by rule id.")
                              .Register(r);
  alerts_family_ = &prometheus::BuildCounter()
                        .Name("vigil_alerts_total")
                        .Help("Alerts committed to the store (detection and correlation), by level.")
                        .Register(r);
  for (const char* level : kSigmaLevels) level_cache_.emplace(level, &alerts_family_->Add({{"level", level}}));
  events_processed_ = &prometheus::BuildCounter()
                           .Name("vigil_events_processed_total")
                           .Help("Events that went through rule matching.")
                           .Register(r)
                           .Add({});
  auto& reloads = prometheus::BuildCounter()
                      .Name("vigil_rule_reloads_total")
                      .Help("Rule set reloads, by result.")
                      .Register(r);
  reloads_ok_ = &reloads.Add({{"result", "ok"}});
  reloads_error_ = &reloads.Add({{"result", "error"}});
  batch_seconds_ = &prometheus::BuildHistogram()
                        .Name("vigil_batch_match_seconds")
                        .Help("Time to parse and match one batch.")
                        .Register(r)
                        .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                                         0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1});
  store_write_failures_ = &prometheus::BuildCounter()
                               .Name("vigil_store_write_failures_total")
                               .Help("Commits the store refused (disk full, I/O error); each is retried until it succeeds.")
                               .Register(r)
                               .Add({});
  store_writable_ = &prometheus::BuildGauge()
                         .Name("vigil_store_writable")
                         .Help("1 while the store takes commits; 0 from a refused commit until one succeeds "
                               "(input waits meanwhile: nothing is acknowledged).")
                         .Register(r)
                         .Add({});
  store_writable_->Set(1);
  store_write_seconds_ = &prometheus::BuildHistogram()
                              .Name("vigil_store_write_seconds")
                              .Help("Time to commit one group of batches to the store.")
                              .Register(r)
                              .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001,
                                                                               0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                               0.1, 0.25, 0.5, 1, 2.5});
  alert_latency_seconds_ = &prometheus::BuildHistogram()
                                .Name("vigil_alert_latency_seconds")
                                .Help("Time from receiving an event to its alert being committed.")
                                .Register(r)
                                .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                                 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                                                                 10});
}

Metrics::~Metrics() { stop(); }

Status Metrics::serve(const std::string& host, std::uint16_t port) {
  if (exposer_) return Status::InvalidArgument("metrics: already serving on port " + std::to_string(port_));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr)
    return Status::InvalidArgument("metrics: cannot resolve host '" + host + "': " + ::gai_strerror(rc));
  // IPv4 first: "localhost" may list ::1 first, and the HTTP server may lack IPv6 (below).
  const addrinfo* chosen = found;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next)
    if (a->ai_family == AF_INET) {
      chosen = a;
      break;
    }
  const bool ipv6 = chosen->ai_family == AF_INET6;
  std::string address = format_address(chosen->ai_addr) + ":" + std::to_string(port);
  sockaddr_storage resolved{};
  socklen_t resolved_len = chosen->ai_addrlen;
  std::memcpy(&resolved, chosen->ai_addr, chosen->ai_addrlen);
  ::freeaddrinfo(found);

  // prometheus-cpp reports a failed bind only by throwing; startup is the one place we accept that.
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", address, "num_threads", "2"});
  } catch (const std::exception& e) {
    std::string reason = bind_failure_reason(reinterpret_cast<const sockaddr*>(&resolved), resolved_len, port);
    // Debian's civetweb 1.15 is built without IPv6: the address is fine, the server cannot use it.
    if (reason.empty() && ipv6)
      return Status::Unsupported("metrics: cannot listen on " + address +
                                 ": the HTTP server library (civetweb) was built without IPv6; use an IPv4 address");
    return Status::IoError("metrics: cannot listen on " + address + ": " + (reason.empty() ? e.what() : reason));
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(scrape_time_);
  exposer_->RegisterCollectable(process_);
  std::vector<int> ports = exposer_->GetListeningPorts();
  if (ports.empty() || ports[0] <= 0) {
    exposer_.reset();
    return Status::Internal("metrics: the HTTP server on " + address + " reports no listening port");
  }
  port_ = static_cast<std::uint16_t>(ports[0]);
  // Where stop() connects to wake the server: the bound address, or loopback for a wildcard.
  connect_ip_ = ipv6 || reinterpret_cast<const sockaddr_in*>(&resolved)->sin_addr.s_addr == htonl(INADDR_ANY)
                    ? "127.0.0.1"
                    : format_address(reinterpret_cast<const sockaddr*>(&resolved));
  return Status::Ok();
}

void Metrics::stop() {
  if (!exposer_) return;
  // civetweb's accept loop polls its sockets with a 2 s timeout and checks for shutdown only
  // between polls, so a plain stop takes up to 2 s. Connecting wakes the poll at once; the
  // connection is closed straight away, so a worker that accepts it is not held either.
  std::atomic<bool> stopped{false};
  std::thread waker([&stopped, ip = connect_ip_, port = port_] {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) return;
    while (!stopped.load()) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return;
      ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
      ::close(fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  exposer_.reset();
  stopped = true;
  waker.join();
  port_ = 0;
}

std::vector<std::shared_ptr<const CollectorStats>> Metrics::collectors() const { return scrape_time_->collectors(); }

std::uint64_t Metrics::events_parsed(const std::string& collector) {
  return static_cast<std::uint64_t>(collector_counters(collector).parsed->Value());
}

std::uint64_t Metrics::parse_errors(const std::string& collector) {
  double sum = 0;
  for (prometheus::Counter* c : collector_counters(collector).parse_errors)
    if (c) sum += c->Value();
  return static_cast<std::uint64_t>(sum);
}

Status Metrics::add_collector(std::shared_ptr<const CollectorStats> stats) {
  if (!stats) return Status::InvalidArgument("metrics: add_collector given no stats");
  const std::string name = stats->name;
  Status status = scrape_time_->add_collector(std::move(stats));
  if (!status.ok()) return status;
  collector_counters(name);
  return Status::Ok();
}

Result<Metrics::CallbackId> Metrics::add_gauge_callback(const std::string& name, const std::string& help,
                                                        std::map<std::string, std::string> labels,
                                                        std::function<double()> read) {
  return scrape_time_->add_gauge(name, help, labels, std::move(read));
}

void Metrics::remove_gauge_callback(CallbackId id) { scrape_time_->remove_gauge(id); }

Metrics::CollectorCounters& Metrics::collector_counters(const std::string& collector) {
  {
    std::shared_lock<std::shared_mutex> lock(cache_mutex_);
    auto it = collector_cache_.find(collector);
    if (it != collector_cache_.end()) return it->second;
  }
  std::unique_lock<std::shared_mutex> lock(cache_mutex_);
  auto [it, inserted] = collector_cache_.try_emplace(collector);
  if (inserted) {
    CollectorCounters& counters = it->second;
    counters.parsed = &parsed_family_->Add({{"collector", collector}});
    for (std::size_t kind = 1; kind < counters.parse_errors.size(); ++kind)  // 0 is kNone: not an error
      counters.parse_errors[kind] = &parse_errors_family_->Add(
          {{"collector", collector}, {"reason", to_string(static_cast<ParseErrorKind>(kind))}});
  }
  return it->second;
}

prometheus::Counter& Metrics::counter_for(std::unordered_map<std::string, prometheus::Counter*>& cache,
                                          prometheus::Family<prometheus::Counter>& family,
                                          const std::string& label, const std::string& value) {
  {
    std::shared_lock<std::shared_mutex> lock(cache_mutex_);
    auto it = cache.find(value);
    if (it != cache.end()) return *it->second;
  }
  std::unique_lock<std::shared_mutex> lock(cache_mutex_);
  auto [it, inserted] = cache.try_emplace(value, nullptr);
  if (inserted) it->second = &family.Add({{label, value}});
  return *it->second;
}

void Metrics::add_parsed(const std::string& collector, std::uint64_t events_parsed,
                         const ParseErrorCounts& parse_errors) {
  CollectorCounters& counters = collector_counters(collector);
  if (events_parsed > 0) counters.parsed->Increment(static_cast<double>(events_parsed));
  for (std::size_t kind = 1; kind < parse_errors.size(); ++kind)
    if (parse_errors[kind] > 0) counters.parse_errors[kind]->Increment(static_cast<double>(parse_errors[kind]));
}

void Metrics::add_rule_matches(const std::string& rule_id, std::uint64_t n) {
  prometheus::Counter& rule = counter_for(rule_cache_, *rule_matches_family_, "rule", rule_id);
  if (n > 0) rule.Increment(static_cast<double>(n));
}

void Metrics::add_stored_alerts(const std::string& level, std::uint64_t n) {
  prometheus::Counter& alerts = counter_for(level_cache_, *alerts_family_, "level", level);
  if (n > 0) alerts.Increment(static_cast<double>(n));
}

void Metrics::add_events_processed(std::uint64_t n) { events_processed_->Increment(static_cast<double>(n)); }
void Metrics::observe_batch_seconds(double seconds) { batch_seconds_->Observe(seconds); }
void Metrics::observe_store_write_seconds(double seconds) { store_write_seconds_->Observe(seconds); }
void Metrics::observe_alert_latency_seconds(double seconds) { alert_latency_seconds_->Observe(seconds); }
void Metrics::add_store_write_failure() { store_write_failures_->Increment(); }
void Metrics::set_store_writable(bool writable) { store_writable_->Set(writable ? 1 : 0); }
void Metrics::add_rule_reload(bool ok) { (ok ? reloads_ok_ : reloads_error_)->Increment(); }

std::string Metrics::render() const {
  std::vector<MetricFamily> families = registry_->Collect();
  for (auto* source : {static_cast<const prometheus::Collectable*>(scrape_time_.get()),
                       static_cast<const prometheus::Collectable*>(process_.get())}) {
    std::vector<MetricFamily> more = source->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace vigil
