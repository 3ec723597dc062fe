// Silent sources in `vigil run` (core/source_cadence.h, docs/sources.md): every record the
// matcher threads take names its source (parse::source_name), counted per thread and batch and
// folded into the cadence once per batch; a housekeeping thread raises "Log source went silent"
// alerts, and the batch that brings a silent source back carries its "Log source resumed"
// note. The learnt cadence lives in the store's checkpoints column family (keys "sources/..."):
// written with each silence alert, every 10 s and in full at stop, read back at start.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <chrono>
#include <condition_variable>
#include <thread>
#include <unordered_map>

#include "app/daemon_context.h"
#include "core/config_reader.h"
#include "core/duration.h"
#include "core/parse/parser.h"
#include "core/source_cadence.h"
#include "core/time_text.h"

namespace vigil::app {

namespace {

constexpr const char* kStatePrefix = "sources/";
constexpr auto kSaveEvery = std::chrono::seconds(10);

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct SourcesConfig {
  bool enabled = true;
  SourceCadenceOptions cadence;
  AlertLevel level = AlertLevel::kHigh;                     // of "went silent"
  AlertLevel recovery_level = AlertLevel::kInformational;   // of "resumed"
  // Sources with a vigil_source_last_seen_seconds series, at most (the first ones seen keep
  // theirs): one series per source would make every scrape as big as the source list.
  std::size_t metric_sources = 1000;
};

Status read_duration(const ConfigReader& reader, const YAML::Node& map, const char* key, std::int64_t* out) {
  std::string text;
  if (Status st = reader.string(map, key, &text); !st.ok()) return st;
  if (text.empty()) return Status::Ok();
  if (!parse_duration(text, out) || *out < 1000000000LL)
    return reader.error(map[key], std::string("'") + key + "' must be a duration of 1s or more such as 30s, 5m or 1h, got '" + text + "'");
  return Status::Ok();
}

Status read_factor(const ConfigReader& reader, const YAML::Node& map, double* out) {
  YAML::Node n = map["factor"];
  if (!n.IsDefined() || n.IsNull()) return Status::Ok();
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !(v >= 1) || v > 1e6)
    return reader.error(n, "'factor' must be a number between 1 and 1000000");
  *out = v;
  return Status::Ok();
}

Status read_level(const ConfigReader& reader, const YAML::Node& map, const char* key, AlertLevel* out) {
  std::string text;
  if (Status st = reader.string(map, key, &text); !st.ok()) return st;
  if (!text.empty() && !parse_alert_level(text, out))
    return reader.error(map[key], std::string("'") + key + "' must be informational, low, medium, high or critical, got '" + text + "'");
  return Status::Ok();
}

Result<SourcesConfig> read_config(const Config& cfg) {
  SourcesConfig out;
  auto it = cfg.sections.find("silence");
  if (it == cfg.sections.end()) return out;
  ConfigReader reader(cfg.file.empty() ? "(default config)" : cfg.file);
  const YAML::Node& n = it->second;
  if (Status st = reader.check_keys(n, "silence", {"enabled", "factor", "minimum", "history", "min_gaps", "max_sources",
                                                   "level", "recovery_level", "metric_sources", "overrides"});
      !st.ok())
    return Error(st);
  SourceCadenceOptions& c = out.cadence;
  if (Status st = reader.boolean(n, "enabled", &out.enabled); !st.ok()) return Error(st);
  if (Status st = read_factor(reader, n, &c.factor); !st.ok()) return Error(st);
  if (Status st = read_duration(reader, n, "minimum", &c.minimum_ns); !st.ok()) return Error(st);
  if (Status st = read_duration(reader, n, "history", &c.history_ns); !st.ok()) return Error(st);
  if (c.history_ns < c.minimum_ns)
    return Error(reader.error(n["history"].IsDefined() ? n["history"] : n, "'history' must be at least 'minimum'"));
  if (Status st = reader.integer(n, "min_gaps", &c.min_gaps, 1, 1000000); !st.ok()) return Error(st);
  if (Status st = reader.integer(n, "max_sources", &c.max_sources, 1, 100000000); !st.ok()) return Error(st);
  if (Status st = reader.integer(n, "metric_sources", &out.metric_sources, 0, 100000); !st.ok()) return Error(st);
  if (Status st = read_level(reader, n, "level", &out.level); !st.ok()) return Error(st);
  if (Status st = read_level(reader, n, "recovery_level", &out.recovery_level); !st.ok()) return Error(st);
  if (YAML::Node list = n["overrides"]; list.IsDefined() && !list.IsNull()) {
    if (!list.IsSequence()) return Error(reader.error(list, "'overrides' must be a list"));
    for (const YAML::Node& o : list) {
      if (Status st = reader.check_keys(o, "a silence override", {"tenant", "collector", "host", "program", "factor",
                                                                  "minimum", "after", "alert"});
          !st.ok())
        return Error(st);
      SourceOverride so;
      if (Status st = reader.string(o, "tenant", &so.tenant); !st.ok()) return Error(st);
      if (Status st = reader.string(o, "collector", &so.collector); !st.ok()) return Error(st);
      if (Status st = reader.string(o, "host", &so.host); !st.ok()) return Error(st);
      if (Status st = reader.string(o, "program", &so.program); !st.ok()) return Error(st);
      double factor = 0;
      if (Status st = read_factor(reader, o, &factor); !st.ok()) return Error(st);
      if (factor > 0) so.factor = factor;
      std::int64_t minimum = 0;
      if (Status st = read_duration(reader, o, "minimum", &minimum); !st.ok()) return Error(st);
      if (minimum > 0) so.minimum_ns = minimum;
      if (Status st = read_duration(reader, o, "after", &so.after_ns); !st.ok()) return Error(st);
      if (Status st = reader.boolean(o, "alert", &so.alert); !st.ok()) return Error(st);
      if (so.tenant.empty() && so.collector.empty() && so.host.empty() && so.program.empty())
        return Error(reader.error(o, "a silence override needs at least one of tenant, collector, host, program"));
      if (!so.factor && !so.minimum_ns && so.after_ns == 0 && so.alert)
        return Error(reader.error(o, "a silence override must set factor, minimum, after or alert: false"));
      c.overrides.push_back(std::move(so));
    }
  }
  if (Status st = c.validate(); !st.ok()) return Error(reader.error(n, st.message()));
  return out;
}

std::string seconds_text(std::int64_t ns) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(ns) / 1e9);
  return buf;
}

// The stored alert of a transition: fields name the source, its last event and its cadence.
Alert make_alert(const SourceTransition& t, const SourcesConfig& config, std::int64_t now) {
  const SourceStatus& s = t.source;
  Alert a;
  a.received_unix_ns = now;
  a.event_unix_ns = s.last_seen_ns;
  a.event_time = format_rfc3339_ns(s.last_seen_ns);
  a.rule_id = t.silent ? "vigil-source-silent" : "vigil-source-resumed";
  a.rule_title = t.silent ? "Log source went silent" : "Log source resumed";
  a.level = t.silent ? config.level : config.recovery_level;
  a.tags = {"vigil.source_health"};
  if (s.tampered) a.tags.push_back("vigil.source_tampered");
  a.tenant = s.tenant;
  a.host = s.host;
  a.collector = s.collector;
  a.format = "vigil";
  auto field = [&](const char* name, std::string value) { a.fields.push_back(AlertField{name, std::move(value)}); };
  field("source", s.name());
  field("collector", s.collector);
  field("host", s.host);
  field("program", s.program);
  field("last_seen", format_rfc3339_ns(s.last_seen_ns));
  field("quiet_s", seconds_text(t.quiet_ns));
  field("usual_gap_s", seconds_text(s.usual_gap_ns));
  field("threshold_s", seconds_text(s.threshold_ns));
  field("state", t.silent ? "silent" : "ok");
  field("tampered", s.tampered ? "true" : "false");
  if (s.tampered) {
    field("tamper_reason", s.tamper_reason);
    field("tampered_at", format_rfc3339_ns(s.tampered_ns));
  }
  a.matched.push_back(AlertField{"source", s.name()});
  a.raw = t.silent ? "source " + s.name() + " sent nothing for " + seconds_text(t.quiet_ns) + " s (usual gap " +
                         seconds_text(s.usual_gap_ns) + " s, threshold " + seconds_text(s.threshold_ns) + " s)" +
                         (s.tampered ? "; its log was tampered with: " + s.tamper_reason : "")
                   : "source " + s.name() + " resumed after " + seconds_text(t.quiet_ns) + " s of silence";
  return a;
}

class SourceObserver final : public MatchObserver {
 public:
  SourceObserver(SourceCadence& cadence, const SourcesConfig& config) : cadence_(cadence), config_(config) {}

  void on_event(const Event&, const std::vector<rules::RuleMatch>&, const rules::RuleSet&, const SourceInfo&,
                std::vector<Alert>&, std::size_t) override {}
  void on_record(const Event& event, const SourceInfo& source, std::int64_t received_unix_ns) override {
    Mine& m = mine();
    const parse::SourceName name = parse::source_name(event);
    m.received = received_unix_ns;
    m.batch.add(source.tenant, source.collector, name.host, name.program, name.tamper);
  }
  // The batch's sources are folded in at once (one lock per batch); a source that comes back
  // from silence gets its note in this batch's commit.
  void on_batch_end(std::vector<Alert>& alerts) override {
    Mine& m = mine();
    if (m.batch.empty()) return;
    m.transitions.clear();
    cadence_.observe(m.received, m.batch, &m.transitions);
    m.batch.clear();
    for (const SourceTransition& t : m.transitions) alerts.push_back(make_alert(t, config_, m.received));
  }

 private:
  struct Mine {
    SourceBatch batch;
    std::int64_t received = 0;
    std::vector<SourceTransition> transitions;
  };
  static Mine& mine() {
    thread_local Mine m;
    return m;
  }
  SourceCadence& cadence_;
  const SourcesConfig& config_;
};

class SourcesService final : public DaemonService {
 public:
  SourcesService(DaemonContext& ctx, SourcesConfig config, std::unique_ptr<SourceCadence> cadence)
      : store_(ctx.store), metrics_(ctx.metrics), err_(ctx.err), config_(std::move(config)),
        cadence_(std::move(cadence)), observer_(*cadence_, config_) {
    auto& registry = metrics_.registry();
    last_seen_ = &prometheus::BuildGauge()
                      .Name("vigil_source_last_seen_seconds")
                      .Help("Unix time of the last event received from a log source (the first "
                            "silence.metric_sources sources seen; every source: GET /api/v1/sources)")
                      .Register(registry);
    auto& alerts = prometheus::BuildCounter()
                       .Name("vigil_source_alerts_total")
                       .Help("Silent-source alerts raised and recovery notes")
                       .Register(registry);
    silences_ = &alerts.Add({{"kind", "silent"}});
    recoveries_ = &alerts.Add({{"kind", "resumed"}});
    for (const char* state : {"learning", "ok", "silent", "tampered"})
      keep(metrics_.add_gauge_callback("vigil_sources", "Log sources tracked, by state (tampered: any state)",
                                  {{"state", state}}, [this, s = std::string(state)] {
                                    std::lock_guard lock(counts_mu_);
                                    return double(s == "learning" ? counts_.learning
                                                  : s == "ok"     ? counts_.ok
                                                  : s == "silent" ? counts_.silent
                                                                  : counts_.tampered);
                                  }));
    keep(metrics_.add_gauge_callback("vigil_source_state_bytes", "Approximate memory of the source cadence table", {},
                                     [this] { return double(cadence_->memory_bytes()); }));
    keep(metrics_.add_gauge_callback("vigil_sources_evicted", "Sources forgotten at silence.max_sources so far", {},
                                     [this] {
                                       std::lock_guard lock(counts_mu_);
                                       return double(counts_.evicted);
                                     }));
    housekeeping_ = std::thread([this] { run(); });
  }

  MatchObserver* observer() { return &observer_; }
  SourceCadence& cadence() { return *cadence_; }
  ~SourcesService() override {
    for (Metrics::CallbackId id : callbacks_) metrics_.remove_gauge_callback(id);
  }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    housekeeping_.join();
    for (Metrics::CallbackId id : callbacks_) metrics_.remove_gauge_callback(id);
    callbacks_.clear();
    // Everything, so the next start knows every source as it is now.
    std::vector<Checkpoint> puts;
    std::vector<std::string> deletes;
    collect(puts, deletes, true);
    if (Status st = store_.write_checkpoints(puts, deletes); !st.ok())
      std::fprintf(err_, "vigil: sources: saving source cadence: %s\n", st.to_string().c_str());
  }

 private:
  void collect(std::vector<Checkpoint>& puts, std::vector<std::string>& deletes, bool everything) {
    cadence_->collect_changes(
        [&](const std::string& key, const std::string* value) {
          if (value) puts.push_back(Checkpoint{kStatePrefix + key, *value});
          else deletes.push_back(kStatePrefix + key);
        },
        everything);
  }

  // Once a second: silent sources (their alerts committed with the cadence state, so a
  // restart does not report the same silence again), metrics, and the periodic save.
  void run() {
    auto last_save = std::chrono::steady_clock::now();
    std::vector<SourceTransition> transitions;
    std::vector<Alert> pending;  // silence alerts not stored yet
    bool failing = false;
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
      lock.unlock();
      const std::int64_t now = wall_ns();
      transitions.clear();
      cadence_->check(now, transitions);
      for (const SourceTransition& t : transitions) {
        pending.push_back(make_alert(t, config_, now));
        std::fprintf(err_, "vigil: sources: %s went silent (%s s without an event)\n", t.source.name().c_str(),
                     seconds_text(t.quiet_ns).c_str());
      }
      if (!pending.empty() || std::chrono::steady_clock::now() - last_save >= kSaveEvery) {
        std::vector<Checkpoint> puts;
        std::vector<std::string> deletes;
        collect(puts, deletes, false);
        Status st = store_.write_checkpoints({}, deletes);
        if (st.ok()) st = pending.empty() ? store_.write_checkpoints(puts, {}) : store_.commit(pending, puts);
        if (st.ok()) {
          pending.clear();
          failing = false;
        } else if (!failing) {
          // Kept and tried again every second (a full disk): a silence is never lost. The
          // cadence records of this round are written by a later round or at stop.
          failing = true;
          std::fprintf(err_, "vigil: sources: storing alerts and cadence (retrying): %s\n", st.to_string().c_str());
        }
        last_save = std::chrono::steady_clock::now();
      }
      sync_metrics(now);
      lock.lock();
    }
  }

  void sync_metrics(std::int64_t now) {
    const SourceCadence::Counts counts = cadence_->counts(now);
    {
      std::lock_guard lock(counts_mu_);
      counts_ = counts;
    }
    if (counts.silences > counted_silences_) silences_->Increment(double(counts.silences - counted_silences_));
    if (counts.recoveries > counted_recoveries_)
      recoveries_->Increment(double(counts.recoveries - counted_recoveries_));
    counted_silences_ = counts.silences;
    counted_recoveries_ = counts.recoveries;
    if (config_.metric_sources == 0) return;
    // One pass under the table's lock that allocates only for a new series; a series whose
    // source was forgotten at the cap is removed after it.
    ++pass_;
    cadence_->visit_last_seen([&](std::string_view key, std::int64_t last_seen) {
      auto it = series_.find(key);
      if (it == series_.end()) {
        if (series_.size() >= config_.metric_sources) return;
        const std::string_view tenant = SourceCadence::tenant_of_key(key);
        std::string label = SourceCadence::name_of_key(key);
        if (!tenant.empty()) label = std::string(tenant) + ":" + label;
        it = series_.emplace(std::string(key), Series{&last_seen_->Add({{"source", label}}), 0}).first;
      }
      it->second.gauge->Set(static_cast<double>(last_seen / 1000000000LL));
      it->second.pass = pass_;
    });
    for (auto it = series_.begin(); it != series_.end();) {
      if (it->second.pass == pass_) {
        ++it;
        continue;
      }
      last_seen_->Remove(it->second.gauge);
      it = series_.erase(it);
    }
  }

  storage::AlertStore& store_;
  Metrics& metrics_;
  std::FILE* err_;
  SourcesConfig config_;
  std::unique_ptr<SourceCadence> cadence_;
  SourceObserver observer_;
  prometheus::Family<prometheus::Gauge>* last_seen_;
  prometheus::Counter *silences_, *recoveries_;
  // Looked up by string_view (the visit hands out views into the table's keys).
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Series {
    prometheus::Gauge* gauge;
    std::uint64_t pass;  // the last sync_metrics pass that saw its source
  };
  std::unordered_map<std::string, Series, KeyHash, std::equal_to<>> series_;  // housekeeping thread only
  std::uint64_t pass_ = 0;
  std::uint64_t counted_silences_ = 0, counted_recoveries_ = 0;  // housekeeping thread only
  std::mutex counts_mu_;
  SourceCadence::Counts counts_;
  // The gauges read this service: removed before it goes (also on a failed start-up).
  void keep(Result<Metrics::CallbackId> id) {
    if (id) callbacks_.push_back(*id);
  }
  std::vector<Metrics::CallbackId> callbacks_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread housekeeping_;
};

api::SourceRow to_row(const SourceStatus& s) {
  api::SourceRow r;
  r.name = s.name();
  r.tenant = s.tenant;
  r.collector = s.collector;
  r.host = s.host;
  r.program = s.program;
  r.state = to_string(s.state);
  r.first_seen_unix_ns = s.first_seen_ns;
  r.last_seen_unix_ns = s.last_seen_ns;
  r.events = s.events;
  r.usual_gap_ns = s.usual_gap_ns;
  r.threshold_ns = s.threshold_ns;
  r.tampered = s.tampered;
  r.tampered_unix_ns = s.tampered_ns;
  r.tamper_reason = s.tamper_reason;
  return r;
}

}  // namespace

Result<std::unique_ptr<DaemonService>> start_sources(DaemonContext& ctx) {
  auto config = read_config(ctx.config);
  if (!config) return Error(config.error());
  if (!config->enabled) return std::unique_ptr<DaemonService>();
  auto cadence = std::make_unique<SourceCadence>(config->cadence);
  auto state = ctx.store.checkpoints_with_prefix(kStatePrefix);
  if (!state) return Error(state.error());
  std::size_t restored = 0;
  for (const Checkpoint& cp : *state) {
    std::string_view key = cp.key;
    key.remove_prefix(std::string_view(kStatePrefix).size());
    if (Status st = cadence->restore(key, cp.value); !st.ok())
      std::fprintf(ctx.err, "vigil: sources: state record skipped: %s\n", st.to_string().c_str());
    else ++restored;
  }
  if (restored > 0) std::fprintf(ctx.err, "vigil: sources: cadence of %zu sources restored\n", restored);
  auto service = std::make_unique<SourcesService>(ctx, std::move(*config), std::move(cadence));
  ctx.observers.push_back(service->observer());
  SourceCadence* c = &service->cadence();
  ctx.sources = [c] {
    std::vector<api::SourceRow> rows;
    for (const SourceStatus& s : c->list(wall_ns())) rows.push_back(to_row(s));
    return rows;
  };
  return std::unique_ptr<DaemonService>(std::move(service));
}

}  // namespace vigil::app
