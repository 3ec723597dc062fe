#include "app/run_command.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "app/collector_setup.h"
#include "app/console_routes.h"
#include "app/daemon_context.h"
#include "app/match_stage.h"
#include "app/rule_cache.h"
#include "app/rule_sources.h"
#include "core/config.h"
#include "core/metrics.h"
#include "core/pipeline.h"
#include "core/source_assign.h"
#include "net/http_server.h"
#include "rules/compiler.h"
#include "storage/alert_store.h"

namespace vigil::app {

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

// The store writer's target: one RocksDB WriteBatch per group of pipeline batches.
class StoreCommitter final : public AlertCommitter {
 public:
  explicit StoreCommitter(storage::AlertStore& store) : store_(store) {}
  Status commit(std::vector<Alert>& alerts, const std::vector<Checkpoint>& checkpoints) override {
    return store_.commit(alerts, checkpoints);
  }

 private:
  storage::AlertStore& store_;
};

// Loads and compiles the configured rules. Bad rules are reported and skipped; fails only when
// no rule at all loads (a daemon matching nothing would look healthy and miss everything).
// `correlations`: where the correlation rules loaded with them go (start-up; null on reload,
// which does not reload correlations).
Result<std::shared_ptr<const rules::RuleSet>> build_rules(const std::vector<std::string>& paths, std::FILE* err,
                                                          std::vector<rules::CorrelationRule>* correlations = nullptr) {
  auto started = std::chrono::steady_clock::now();
  RuleSourceStats sources;
  rules::LoadReport loaded = load_rule_sources(paths, &sources);
  const std::size_t total = loaded.rules.size() + loaded.errors.size();
  for (const auto& e : loaded.errors)
    std::fprintf(err, "vigil: rule skipped: %s%s%s: %s: %s\n", e.file.c_str(), e.rule_id.empty() ? "" : " ", e.rule_id.c_str(), e.reason.c_str(), e.message.c_str());
  if (correlations) *correlations = std::move(loaded.correlations);
  rules::CompileReport report;
  auto compiled = rules::RuleSet::compile(std::move(loaded.rules), rule_compile_options(), &report);
  if (!compiled) return Error(compiled.error());
  for (const auto& e : report.errors)
    std::fprintf(err, "vigil: rule skipped: %s%s%s: %s: %s\n", e.file.c_str(), e.rule_id.empty() ? "" : " ", e.rule_id.c_str(), e.reason.c_str(), e.message.c_str());
  if ((*compiled)->size() == 0)
    return Error(Status::InvalidArgument("no rule loaded from the configured rule paths; run `vigil rules check` on them"));
  std::fprintf(err,
               "vigil: %zu of %zu rules loaded in %.2f s (%zu of %zu files and %zu of %zu rule databases from the cache)\n",
               (*compiled)->size(), total,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
               sources.files_reused, sources.files_reused + sources.files_parsed, report.databases_from_cache,
               report.databases_from_cache + report.databases_compiled);
  return compiled;
}

}  // namespace

int run_daemon(const RunOptions& opt) {
  std::FILE* err = stderr;
  if (opt.print_default_config) {
    std::fputs(kDefaultConfigYaml, stdout);
    return 0;
  }
  auto config = opt.config_file.empty() ? default_config() : load_config_file(opt.config_file);
  if (!config) {
    std::fprintf(err, "vigil run: %s\n", config.error().message().c_str());
    return 2;
  }
  const Config& cfg = *config;
  for (const std::string& w : exposure_warnings(cfg)) std::fprintf(err, "vigil run: warning: %s\n", w.c_str());

  std::vector<SourceRule> source_rules;
  for (const SourceRuleConfig& r : cfg.sources)
    source_rules.push_back(SourceRule{r.cidr, r.host_glob, r.tenant, r.system, r.product, r.category, r.service});
  auto assigner = SourceAssigner::create(std::move(source_rules));
  if (!assigner) {
    std::fprintf(err, "vigil run: %s: sources: %s\n", cfg.file.c_str(), assigner.error().message().c_str());
    return 2;
  }

  // A collector holds one descriptor per connection: use the whole hard limit (commonly 1024
  // soft against 512k hard), as syslog daemons do.
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  // Signals are taken synchronously by the main thread (sigtimedwait), so they must be blocked
  // before any other thread starts; SIGPIPE is ignored (a client that hangs up is not an error).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // The daemon's compiled databases live with its data (--check-config creates nothing there).
  if (!opt.check_config) use_rule_cache_directory(cfg.data_dir + "/rule-cache");
  std::vector<rules::CorrelationRule> correlations;
  auto ruleset = build_rules(cfg.rules, err, &correlations);
  if (!ruleset) {
    std::fprintf(err, "vigil run: %s\n", ruleset.error().to_string().c_str());
    return 2;
  }
  if (opt.check_config) {
    std::fprintf(err, "vigil run: configuration %s is valid\n", cfg.file.c_str());
    return 0;
  }

  storage::StoreOptions sopt;
  sopt.dir = cfg.data_dir;
  sopt.sync = cfg.store_sync;
  sopt.min_free_bytes = cfg.store_min_free_mib << 20;
  auto store = storage::AlertStore::open(sopt);
  if (!store) {
    std::fprintf(err, "vigil run: %s\n", store.error().to_string().c_str());
    return 2;
  }
  if (!(*store)->permission_warning().empty())
    std::fprintf(err, "vigil run: WARNING: %s\n", (*store)->permission_warning().c_str());

  Metrics metrics;
  // vigil_alerts_total{level} counts what the store holds: every commit, the pipeline's and
  // the correlation idle flush's, once it is durable.
  struct StoredAlertMetrics : storage::CommitExtension {
    Metrics& m;
    explicit StoredAlertMetrics(Metrics& metrics) : m(metrics) {}
    Status add_to_batch(const std::vector<Alert>&, rocksdb::WriteBatch&, const storage::AlertStore&) override {
      return Status::Ok();
    }
    void committed(const std::vector<Alert>& alerts) override {
      std::array<std::uint64_t, 5> by_level{};
      for (const Alert& a : alerts) by_level[static_cast<std::size_t>(a.level)]++;
      for (std::size_t i = 0; i < by_level.size(); ++i)
        if (by_level[i] > 0) m.add_stored_alerts(to_string(static_cast<AlertLevel>(i)), by_level[i]);
    }
  } stored_alert_metrics(metrics);
  (*store)->add_commit_extension(&stored_alert_metrics);
  struct RemoveExtension {
    storage::AlertStore& store;
    storage::CommitExtension* extension;
    ~RemoveExtension() { store.remove_commit_extension(extension); }
  } remove_stored_alert_metrics{**store, &stored_alert_metrics};
  LiveRuleSet live(*ruleset);
  MatchObserver* observer = nullptr;  // set by a feature before the pipeline starts
  std::unique_ptr<MatchObserverChain> chain;  // when several features observe (outlives the pipeline)
  StoreCommitter committer(**store);
  PipelineOptions popt;
  popt.matcher_threads = cfg.matcher_threads;
  popt.max_in_flight_batches = cfg.max_in_flight_batches;
  popt.max_in_flight_bytes = cfg.max_in_flight_bytes;
  Pipeline pipeline(
      popt,
      [&](unsigned) {
        return std::make_unique<RuleMatchProcessor>(live, &*assigner, &metrics, cfg.max_record_bytes,
                                                    observer);
      },
      committer, &metrics);
  // The gauge callbacks below read the pipeline, the store and the rules: stop serving metrics
  // before any of them goes away, on every return path.
  struct StopMetricsFirst {
    Metrics& m;
    ~StopMetricsFirst() { m.stop(); }
  } stop_metrics_first{metrics};

  metrics.add_gauge_callback("vigil_queue_depth", "Batches waiting in a pipeline queue",
                             {{"queue", "input"}}, [&] { return double(pipeline.input_depth()); });
  metrics.add_gauge_callback("vigil_queue_depth", "Batches waiting in a pipeline queue",
                             {{"queue", "commit"}}, [&] { return double(pipeline.commit_depth()); });
  metrics.add_gauge_callback("vigil_queue_capacity", "Bound on batches in flight between receipt and commit",
                             {}, [&] { return double(popt.max_in_flight_batches); });
  metrics.add_gauge_callback("vigil_bytes_in_flight", "Record bytes received and not yet committed", {},
                             [&] { return double(pipeline.in_flight_bytes()); });
  metrics.add_gauge_callback("vigil_batches_in_flight", "Batches received and not yet committed", {},
                             [&] { return double(pipeline.in_flight()); });
  metrics.add_gauge_callback("vigil_store_size_bytes", "RocksDB files and memtables", {},
                             [&] { return double((*store)->approximate_size_bytes()); });
  metrics.add_gauge_callback("vigil_store_alerts", "Alerts in the store", {},
                             [&] { return double((*store)->alert_count_estimate()); });
  metrics.add_gauge_callback("vigil_rules_loaded", "Rules in the active rule set", {},
                             [&] { return double(live.get()->size()); });
  if (cfg.metrics_enabled) {
    if (Status st = metrics.serve(cfg.metrics_listen.host, cfg.metrics_listen.port); !st.ok()) {
      std::fprintf(err, "vigil run: metrics: %s\n", st.to_string().c_str());
      return 2;
    }
    std::fprintf(err, "vigil: metrics on http://%s:%u/metrics\n", cfg.metrics_listen.host.c_str(),
                 metrics.port());
  }

  // The HTTP server (ingest now; the analyst API and console later) and the collectors.
  std::unique_ptr<net::HttpServer> http;
  if (cfg.http_enabled) {
    net::HttpServerOptions hopt;
    hopt.address = cfg.http_listen.host;
    hopt.port = cfg.http_listen.port;
    hopt.tls_cert_file = cfg.http_tls.cert_file;
    hopt.tls_key_file = cfg.http_tls.key_file;
    hopt.max_body_bytes = std::max<std::size_t>(64u << 20, cfg.max_record_bytes * 2);
    hopt.max_connections = cfg.http_max_connections;
    hopt.max_connections_per_address = cfg.http_max_connections_per_address;
    auto server = net::HttpServer::create(hopt);
    if (!server) {
      std::fprintf(err, "vigil run: http: %s\n", server.error().to_string().c_str());
      return 2;
    }
    http = std::move(*server);
    Status routed = http->route("GET", "/healthz", [](const net::Request&, net::Responder respond) {
      respond(net::Response::json(200, "{\"status\":\"ok\"}"));
    });
    if (routed.ok()) routed = register_console_routes(*http);  // the analyst console at / and /console/*
    if (!routed.ok()) {
      std::fprintf(err, "vigil run: http: %s\n", routed.to_string().c_str());
      return 2;
    }
  }
  // Features that plug into the daemon (they register routes, commit extensions or a match
  // observer, so they start before the pipeline and the HTTP server).
  DaemonContext dctx{cfg, **store, pipeline, metrics, http.get(), live, correlations, err, {}, {}, {}};
  std::vector<std::unique_ptr<DaemonService>> services;
  for (auto start : {start_analyst_api, start_forwarding, start_correlation, start_sources}) {
    auto service = start(dctx);
    if (!service) {
      std::fprintf(err, "vigil run: %s\n", service.error().message().c_str());
      for (auto& s : services) s->stop();
      return 2;
    }
    if (*service) services.push_back(std::move(*service));
  }
  if (dctx.observers.size() == 1) {
    observer = dctx.observers[0];
  } else if (dctx.observers.size() > 1) {
    chain = std::make_unique<MatchObserverChain>(dctx.observers);
    observer = chain.get();
  }
  pipeline.start();

  CollectorContext ctx{cfg, pipeline, metrics, *assigner, **store, http.get()};
  auto collectors = start_collectors(ctx, err);
  if (!collectors) {
    std::fprintf(err, "vigil run: %s\n", collectors.error().message().c_str());
    pipeline.drain_and_stop();
    for (auto& s : services) s->stop();
    return 2;
  }
  if (http) {
    if (Status st = http->start(); !st.ok()) {
      std::fprintf(err, "vigil run: http: %s\n", st.to_string().c_str());
      for (auto& c : *collectors) c->stop();
      pipeline.drain_and_stop();
      for (auto& s : services) s->stop();
      return 2;
    }
    std::fprintf(err, "vigil: http on %s://%s:%u (console /, API /api/v1, POST /ingest, GET /healthz)\n",
                 http->tls() ? "https" : "http", cfg.http_listen.host.c_str(), http->local_port());
  }
  std::fprintf(err, "vigil: ready (data in %s)\n", cfg.data_dir.c_str());
  std::fflush(err);

  // Main thread: signals and housekeeping.
  auto last_retention = std::chrono::steady_clock::now() - std::chrono::hours(2);
  for (;;) {
    timespec wait{1, 0};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP) {
      std::fprintf(err, "vigil: SIGHUP: reloading rules\n");
      auto fresh = build_rules(cfg.rules, err);  // built beside the running set
      if (fresh) {
        live.set(*fresh);
        metrics.add_rule_reload(true);
        std::fprintf(err, "vigil: rules reloaded (%zu rules)\n", (*fresh)->size());
      } else {
        metrics.add_rule_reload(false);
        std::fprintf(err, "vigil: rule reload failed, keeping the running rules: %s\n",
                     fresh.error().to_string().c_str());
      }
      std::fflush(err);
      continue;
    }
    if (cfg.retention_days > 0 &&
        std::chrono::steady_clock::now() - last_retention > std::chrono::hours(1)) {
      last_retention = std::chrono::steady_clock::now();
      const std::int64_t cutoff = now_ns() - std::int64_t(cfg.retention_days) * 86400 * 1000000000LL;
      auto deleted = (*store)->delete_older_than(cutoff);
      if (!deleted) std::fprintf(err, "vigil: retention: %s\n", deleted.error().to_string().c_str());
      else if (*deleted) std::fprintf(err, "vigil: retention: deleted %llu alerts older than %u days\n",
                                      static_cast<unsigned long long>(*deleted), cfg.retention_days);
    }
  }

  // Drain: collectors stop taking input and flush what they hold into the pipeline, the
  // pipeline matches and commits everything, then the store closes.
  std::fprintf(err, "vigil: stopping: draining collectors and the pipeline\n");
  for (auto& c : *collectors) c->stop();
  pipeline.drain_and_stop();
  if (http) http->stop();  // after the drain, so HTTP ingest clients get their replies
  for (auto& s : services) s->stop();
  metrics.stop();
  const PipelineCounters& n = pipeline.counters();
  std::fprintf(err, "vigil: stopped: %llu events received, %llu processed, %llu alerts committed\n",
               static_cast<unsigned long long>(n.submitted_events.load()),
               static_cast<unsigned long long>(n.processed_events.load()),
               static_cast<unsigned long long>(n.committed_alerts.load()));
  return 0;
}

}  // namespace vigil::app
