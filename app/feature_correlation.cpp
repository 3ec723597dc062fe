// Correlation rules and suppression in `vigil run` (rules/correlation_engine.h): a MatchObserver
// in the matcher threads, window state checkpointed in the store's checkpoints column family
// (keys "correlation/...") in the same WriteBatch as the alerts of each commit, written in full
// at stop and read back at start, so open windows survive a restart. Correlations fire at
// their deciding event (CorrelationOptions::early_firing, on here; `correlation: {early_firing:
// false}` turns it off) and their stored alert is revised as the window grows (storage applies
// Alert::revision records); the windows are fed per batch in submit order (CorrelationObserver).
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include <chrono>
#include <condition_variable>
#include <thread>

#include "app/daemon_context.h"
#include "core/config_reader.h"
#include "core/duration.h"
#include "rules/correlation_engine.h"

namespace vigil::app {

namespace {

constexpr const char* kStatePrefix = "correlation/";

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct CorrelationConfig {
  rules::CorrelationOptions engine;
  // Wall time with no new event time after which every open window is closed (a source that
  // went quiet still gets its verdict). Default: 5 minutes; 0 = never.
  std::int64_t idle_flush_ns = 300LL * 1000000000LL;
};

Status read_duration(const ConfigReader& reader, const YAML::Node& map, const char* key, std::int64_t* out,
                     bool allow_zero) {
  std::string text;
  if (Status st = reader.string(map, key, &text); !st.ok()) return st;
  if (text.empty()) return Status::Ok();
  std::int64_t ns = 0;
  if (!parse_duration(text, &ns) || (ns == 0 && !allow_zero))
    return reader.error(map[key], std::string("'") + key + "' must be a duration such as 30s, 5m or 1h, got '" + text + "'");
  *out = ns;
  return Status::Ok();
}

Result<CorrelationConfig> read_config(const Config& cfg) {
  CorrelationConfig out;
  // The daemon raises an alert at the event that decides it (rules/correlation_engine.h).
  out.engine.early_firing = true;
  auto it = cfg.sections.find("correlation");
  if (it == cfg.sections.end()) return out;
  ConfigReader reader(cfg.file.empty() ? "(default config)" : cfg.file);
  const YAML::Node& n = it->second;
  if (Status st = reader.check_keys(n, "correlation", {"lateness", "memory_mib", "shards", "idle_flush", "early_firing"}); !st.ok())
    return Error(st);
  if (Status st = read_duration(reader, n, "lateness", &out.engine.allowed_lateness_ns, true); !st.ok()) return Error(st);
  if (Status st = read_duration(reader, n, "idle_flush", &out.idle_flush_ns, true); !st.ok()) return Error(st);
  std::size_t mib = out.engine.max_memory_bytes >> 20;
  if (Status st = reader.integer(n, "memory_mib", &mib, 1, 1 << 20); !st.ok()) return Error(st);
  out.engine.max_memory_bytes = mib << 20;
  if (Status st = reader.integer(n, "shards", &out.engine.shards, 1, 4096); !st.ok()) return Error(st);
  if (Status st = reader.boolean(n, "early_firing", &out.engine.early_firing); !st.ok()) return Error(st);
  return out;
}

class CorrelationObserver final : public MatchObserver {
 public:
  explicit CorrelationObserver(rules::CorrelationEngine& engine, std::FILE* err) : engine_(engine), err_(err) {}

  void on_event(const Event& event, const std::vector<rules::RuleMatch>& matches, const rules::RuleSet& rules,
                const SourceInfo&, std::vector<Alert>& alerts, std::size_t first_new) override {
    const rules::RuleBinding& b = binding_for(rules);
    thread_local std::vector<std::uint32_t> matched;
    matched.clear();
    for (const rules::RuleMatch& m : matches) matched.push_back(m.rule);
    const std::int64_t received = first_new < alerts.size() ? alerts[first_new].received_unix_ns : wall_ns();
    engine_.on_event(b, event, matched, rules::event_time_ns(event, received), alerts, first_new, &mine().pending);
  }
  // Batches are taken in submit order (on_taken, under the input queue's lock): the ticket
  // records that order. Called again by process(); only the first call of a batch counts.
  void on_batch_begin() override {
    Mine& m = mine();
    if (!m.in_batch) {
      m.in_batch = true;
      m.ticket = next_ticket_.fetch_add(1, std::memory_order_relaxed);
    }
    engine_.batch_begin();
  }
  // Matching runs in parallel; feeding the windows does not: each batch's contributions are
  // applied after those of every batch taken before it, so the windows see the events in
  // arrival order whatever the thread count (the same order as `vigil scan`'s), and an alert
  // fired early, its revisions and its chained results come out the same. Applying is cheap
  // next to matching, so the threads wait little.
  void on_batch_end(std::vector<Alert>& alerts) override {
    Mine& m = mine();
    {
      std::unique_lock lock(order_mu_);
      order_cv_.wait(lock, [&] { return applied_ == m.ticket; });
      engine_.apply(m.pending, alerts);
      bool idle = false;
      if (idle_requested_ != 0) {
        // Still quiet: no batch since the request brought a newer event time.
        idle = engine_.max_event_time() == idle_seen_;
        if (idle) idle_done_.store(idle_requested_, std::memory_order_release);
        idle_requested_ = 0;
      }
      engine_.advance(alerts, idle ? rules::CorrelationEngine::Flush::kIdle : rules::CorrelationEngine::Flush::kNone);
      ++applied_;
    }
    order_cv_.notify_all();
    m.pending.clear();
    m.in_batch = false;
  }

  // The idle flush (CorrelationService::run) is done here, in ticket order, not from its own
  // thread: the next batch applied after the request does it after its own events, if the
  // latest event time is still `seen` (else the stream is not quiet and it is dropped). Its
  // alerts then go to the store with that batch, and the window state written with a commit
  // stays that of the committed batches (the pipeline's commit_matched_state()). The caller
  // submits an empty batch after the request, so that some batch comes. Returns the request's
  // number, for idle_flush_done().
  std::uint64_t request_idle_flush(std::int64_t seen) {
    std::lock_guard lock(order_mu_);
    idle_seen_ = seen;
    idle_requested_ = ++idle_requests_;
    return idle_requested_;
  }
  // Whether request `id` was done (rather than dropped); exact once a batch submitted after
  // the request has been applied.
  bool idle_flush_done(std::uint64_t id) const { return idle_done_.load(std::memory_order_acquire) == id; }

 private:
  // The binding of the rule set the matcher threads use; rebuilt after a reload (SIGHUP).
  const rules::RuleBinding& binding_for(const rules::RuleSet& rules) {
    const rules::RuleBinding* b = current_.load(std::memory_order_acquire);
    if (b && b->rules == &rules) return *b;
    std::lock_guard lock(mu_);
    for (const auto& kept : bindings_)
      if (kept->rules == &rules) {
        current_.store(kept.get(), std::memory_order_release);
        return *kept;
      }
    std::vector<std::string> warnings;
    bindings_.push_back(engine_.bind(rules, &warnings));
    for (const std::string& w : warnings) std::fprintf(err_, "vigil: correlation: %s\n", w.c_str());
    current_.store(bindings_.back().get(), std::memory_order_release);
    return *bindings_.back();
  }

  // This thread's batch (one observer per daemon; matcher threads each have their own).
  struct Mine {
    bool in_batch = false;
    std::uint64_t ticket = 0;
    std::vector<rules::CorrelationInput> pending;
  };
  static Mine& mine() {
    thread_local Mine m;
    return m;
  }

  rules::CorrelationEngine& engine_;
  std::FILE* err_;
  std::atomic<std::uint64_t> next_ticket_{0};
  std::mutex order_mu_;
  std::condition_variable order_cv_;
  std::uint64_t applied_ = 0;  // guarded by order_mu_: tickets whose batch has been applied
  // Guarded by order_mu_: the pending idle flush request (0: none), its latest event time, and
  // the number of requests made.
  std::uint64_t idle_requested_ = 0, idle_requests_ = 0;
  std::int64_t idle_seen_ = 0;
  std::atomic<std::uint64_t> idle_done_{0};  // the last request done
  std::mutex mu_;
  // Kept for the daemon's life: a matcher thread may still read an older binding during a
  // reload (rule sets are few).
  std::vector<std::shared_ptr<const rules::RuleBinding>> bindings_;
  std::atomic<const rules::RuleBinding*> current_{nullptr};
};

// Writes the changed window state in the WriteBatch of every commit.
class StateExtension final : public storage::CommitExtension {
 public:
  explicit StateExtension(rules::CorrelationEngine& engine) : engine_(engine) {}
  Status add_to_batch(const std::vector<Alert>&, rocksdb::WriteBatch& batch, const storage::AlertStore& store) override {
    return write(batch, store, false);
  }
  // The WriteBatch with the state is durable: the engine hands those records out no more. (A
  // commit that fails does not get here: its retry writes them again.)
  void committed(const std::vector<Alert>&) override { engine_.changes_saved(); }
  Status write(rocksdb::WriteBatch& batch, const storage::AlertStore& store, bool everything) {
    rocksdb::ColumnFamilyHandle* cf = store.column_family(storage::ColumnFamily::kCheckpoints);
    rocksdb::Status bad;
    engine_.collect_changes(
        [&](const std::string& key, const std::string* value) {
          const std::string k = kStatePrefix + key;
          rocksdb::Status st = value ? batch.Put(cf, k, *value) : batch.Delete(cf, k);
          if (!st.ok() && bad.ok()) bad = st;
        },
        everything);
    if (!bad.ok()) return Status::IoError("correlation state: " + bad.ToString());
    return Status::Ok();
  }

 private:
  rules::CorrelationEngine& engine_;
};

class CorrelationService final : public DaemonService {
 public:
  CorrelationService(DaemonContext& ctx, std::unique_ptr<rules::CorrelationEngine> engine, CorrelationConfig config)
      : store_(ctx.store), pipeline_(ctx.pipeline), metrics_(ctx.metrics), err_(ctx.err), engine_(std::move(engine)),
        config_(config),
        observer_(*engine_, ctx.err), extension_(*engine_) {
    auto& registry = metrics_.registry();
    auto& family = prometheus::BuildCounter()
                       .Name("vigil_correlation_events_total")
                       .Help("Correlation engine events by outcome (counted, late beyond the allowed lateness, "
                             "missing a group-by field)")
                       .Register(registry);
    counted_ = &family.Add({{"outcome", "counted"}});
    late_ = &family.Add({{"outcome", "late"}});
    missing_ = &family.Add({{"outcome", "missing_group_field"}});
    evicted_ = &prometheus::BuildCounter()
                    .Name("vigil_correlation_evictions_total")
                    .Help("Correlation groups evicted at the memory cap")
                    .Register(registry)
                    .Add({});
    auto& alerts = prometheus::BuildCounter()
                       .Name("vigil_correlation_alerts_total")
                       .Help("Correlation alerts, suppressed repeats and suppression summaries")
                       .Register(registry);
    fired_ = &alerts.Add({{"kind", "correlation"}});
    early_ = &alerts.Add({{"kind", "early"}});        // of those, raised at the deciding event
    revisions_ = &alerts.Add({{"kind", "revision"}});  // updates of alerts raised early
    suppressed_ = &alerts.Add({{"kind", "suppressed"}});
    summaries_ = &alerts.Add({{"kind", "suppression_summary"}});
    withheld_ = &alerts.Add({{"kind", "withheld_generate_false"}});
    // Lets an operator (and a test) tell that the windows of a quiet stream were closed and
    // their alerts stored, rather than guess from the time that passed.
    idle_flushes_ = &prometheus::BuildCounter()
                         .Name("vigil_correlation_idle_flushes_total")
                         .Help("Idle flushes committed (the stream went quiet: windows closed, suppressions ended)")
                         .Register(registry)
                         .Add({});
    metrics_.add_gauge_callback("vigil_correlation_groups", "Open correlation groups", {},
                                [this] { return double(engine_->groups()); });
    metrics_.add_gauge_callback("vigil_correlation_state_bytes", "Approximate memory of correlation windows", {},
                                [this] { return double(engine_->memory_bytes()); });
    store_.add_commit_extension(&extension_);
    housekeeping_ = std::thread([this] { run(); });
  }

  MatchObserver* observer() { return &observer_; }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    housekeeping_.join();
    store_.remove_commit_extension(&extension_);
    // Everything, so the next start finds every open window as it is now.
    rocksdb::WriteBatch batch;
    Status st = extension_.write(batch, store_, true);
    if (st.ok()) {
      rocksdb::WriteOptions wo;
      wo.sync = store_.sync();
      rocksdb::Status ws = store_.rocksdb_db()->Write(wo, &batch);
      if (!ws.ok()) st = Status::IoError(ws.ToString());
      else engine_->changes_saved();
    }
    if (!st.ok()) std::fprintf(err_, "vigil: correlation: saving window state: %s\n", st.to_string().c_str());
    sync_metrics();
  }

 private:
  // Once a second: metrics, and the idle flush (windows of a stream that went quiet).
  void run() {
    std::int64_t last_seen = engine_->max_event_time();
    auto last_change = std::chrono::steady_clock::now();
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stopping_; })) {
      lock.unlock();
      sync_metrics();
      const std::int64_t seen = engine_->max_event_time();
      if (seen != last_seen) {
        last_seen = seen;
        last_change = std::chrono::steady_clock::now();
      } else if (config_.idle_flush_ns > 0 && engine_->groups() > 0 && !flush_in_flight_.load() &&
                 std::chrono::steady_clock::now() - last_change > std::chrono::nanoseconds(config_.idle_flush_ns)) {
        // Not from this thread (it would commit outside the batch order: alerts and state of
        // batches matched but not committed yet, windows closed while a batch is applied), but
        // by the next batch in order; this empty one makes sure there is one.
        const std::uint64_t id = observer_.request_idle_flush(seen);
        IngestBatch flush;
        flush.sources.push_back(flush_source_);
        flush.on_committed = [this, id](const Status& st) {
          if (st.ok() && observer_.idle_flush_done(id)) idle_flushes_->Increment();
          flush_in_flight_.store(false);
        };
        flush_in_flight_.store(true);
        if (!pipeline_.try_submit(flush)) flush_in_flight_.store(false);  // full or stopping: not quiet
        last_change = std::chrono::steady_clock::now();
      }
      lock.lock();
    }
  }

  void sync_metrics() {
    const rules::CorrelationCounters& c = engine_->counters();
    auto bump = [](prometheus::Counter* counter, std::uint64_t now, std::uint64_t& last) {
      if (now > last) counter->Increment(double(now - last));
      last = now;
    };
    std::lock_guard lock(metrics_mu_);
    bump(counted_, c.events.load(), last_[0]);
    bump(late_, c.late_events.load(), last_[1]);
    bump(missing_, c.missing_group_field.load(), last_[2]);
    bump(evicted_, c.evicted_groups.load(), last_[3]);
    bump(fired_, c.alerts.load(), last_[4]);
    bump(suppressed_, c.suppressed.load(), last_[5]);
    bump(summaries_, c.suppression_summaries.load(), last_[6]);
    bump(withheld_, c.base_alerts_withheld.load(), last_[7]);
    bump(early_, c.early_alerts.load(), last_[8]);
    bump(revisions_, c.revisions.load(), last_[9]);
  }

  storage::AlertStore& store_;
  Pipeline& pipeline_;
  Metrics& metrics_;
  std::FILE* err_;
  std::unique_ptr<rules::CorrelationEngine> engine_;
  CorrelationConfig config_;
  CorrelationObserver observer_;
  StateExtension extension_;
  prometheus::Counter *counted_, *late_, *missing_, *evicted_, *fired_, *suppressed_, *summaries_, *withheld_, *early_,
      *revisions_, *idle_flushes_;
  std::mutex metrics_mu_;
  std::uint64_t last_[10] = {};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  // The empty batch that carries an idle flush through the pipeline, and whether one is between
  // submit and commit.
  std::shared_ptr<const SourceInfo> flush_source_ = [] {
    auto s = std::make_shared<SourceInfo>();
    s->collector = "correlation-idle-flush";
    return s;
  }();
  std::atomic<bool> flush_in_flight_{false};
  std::thread housekeeping_;
};

}  // namespace

Result<std::unique_ptr<DaemonService>> start_correlation(DaemonContext& ctx) {
  auto config = read_config(ctx.config);
  if (!config) return Error(config.error());
  // Loaded with the rules at start-up (not reloaded by SIGHUP; their base rules are).
  auto engine = rules::CorrelationEngine::create(ctx.correlations, config->engine);
  if (!engine) return Error(engine.error());
  auto state = ctx.store.checkpoints_with_prefix(kStatePrefix);
  if (!state) return Error(state.error());
  std::size_t restored = 0;
  for (const Checkpoint& cp : *state) {
    std::string_view key = cp.key;
    key.remove_prefix(std::string_view(kStatePrefix).size());
    if (Status st = (*engine)->restore(key, cp.value); !st.ok())
      std::fprintf(ctx.err, "vigil: correlation: state record '%s' skipped: %s\n", cp.key.c_str(), st.to_string().c_str());
    else ++restored;
  }
  if (restored > 0)
    std::fprintf(ctx.err, "vigil: correlation: %zu open windows restored (%zu groups)\n", restored, (*engine)->groups());
  auto service = std::make_unique<CorrelationService>(ctx, std::move(*engine), *config);
  ctx.observers.push_back(service->observer());
  // The window state written with a commit must be that of the committed batches only: after
  // a crash, the batches behind the checkpoints are matched again.
  ctx.pipeline.commit_matched_state();
  return std::unique_ptr<DaemonService>(std::move(service));
}

}  // namespace vigil::app
