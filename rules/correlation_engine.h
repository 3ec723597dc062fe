#pragma once
// Correlation engine: runs Sigma v2 correlation rules (event_count, value_count, temporal,
// temporal_ordered, chained) and `vigil: suppress` over the matches of detection rules, on
// event time.
//
// Windows. State is kept per (correlation, group-by values): the contributing events, sorted by
// event time. A window starts at the earliest event held and spans `timespan`; it closes when
// the watermark (the latest event time seen minus the allowed lateness) passes its end. Then the
// condition is evaluated over the events inside, an alert is emitted if it holds, those events
// are dropped and the next window starts at the next event. So the result is the same whatever
// the arrival order, as long as no event is later than the allowed lateness; later ones are
// dropped from correlation and counted (they still raise their own detection alerts).
// The alert's event time is the last contributing event's time (the window's end as observed).
// Events with equal times may stand in any order (a syslog stamp has whole seconds): a
// temporal_ordered sequence is complete if some order of the tied events completes it.
//
// Deciding event. A condition that can only become true and stay true as events are added (only
// `gt`/`gte` bounds: event_count, value_count and the temporal types' default "every rule") is
// checked at each event, with or without early firing: the event that makes it hold decides the
// window. Then, in arrival order, its suppression is decided (by its deciding time) and its
// result feeds the correlations that read this one. Only when its alert goes out depends on
// CorrelationOptions::early_firing, so `vigil scan` and the daemon give the same alerts:
//  - early firing (the daemon): at once (Alert::Revision::kFirst, with the events so far); later
//    events of that window do not raise a second alert: advance() emits one kUpdate of it per
//    batch when its count changed, and its close a kFinal with the window's final state. An
//    alert raised early is never withdrawn.
//  - without (`vigil scan`): one alert at close, with the window's final state (the kFinal).
// Deciding at close instead gave other answers: a suppression period ended before a window
// decided inside it had closed, and an inner result reached its outer window after that had
// closed. Conditions with an upper bound or `eq` need the window's end and are decided at close
// as above; a chained correlation sees their result at the last event's time.
//
// Threading: every method may be called from any thread. State is split in shards by the hash
// of the group key, one mutex each; a matcher thread holds one shard lock at a time.
//
// Memory: the state's approximate size is capped; past the cap the least recently updated
// group of the shard is evicted (counted in evicted_groups).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/alert.h"
#include "core/event.h"
#include "core/status.h"
#include "rules/compiler.h"
#include "rules/correlation_rule.h"

namespace vigil::rules {

struct CorrelationOptions {
  // Events older than the latest event time seen minus this are dropped from correlation.
  // Default: 5 minutes.
  std::int64_t allowed_lateness_ns = 300LL * 1000000000LL;
  // Approximate cap on the window state (all shards). Default: 256 MiB.
  std::size_t max_memory_bytes = 256u << 20;
  // Shards (each with its own mutex). Default: 64.
  unsigned shards = 64;
  // Emit the alert of a condition that can only become true as events are added at the event
  // that makes it hold, then revisions of it (see the top of this file); it is decided there
  // either way. Default: false (one alert at close with the final state, what `vigil scan`
  // prints); the daemon turns it on.
  bool early_firing = false;
  // Events reach the windows in arrival order (`vigil scan`'s one writer; the daemon's apply()
  // always does): an event is late when it is older than the lateness before the latest event
  // time seen so far, decided by the stream alone. Otherwise (threads calling on_event() in
  // parallel) against the latest time at the last batch end (see Impl::Progress). Default: false.
  bool ordered_input = false;
  Status validate() const;
};

// Monotonic totals, read by the daemon's metrics and by `vigil scan`'s summary.
struct CorrelationCounters {
  std::atomic<std::uint64_t> events{0};            // contributions to a window
  std::atomic<std::uint64_t> late_events{0};       // beyond the allowed lateness
  std::atomic<std::uint64_t> missing_group_field{0};  // an event lacking a group-by field
  std::atomic<std::uint64_t> evicted_groups{0};    // memory cap
  std::atomic<std::uint64_t> windows_closed{0};
  std::atomic<std::uint64_t> alerts{0};            // correlation alerts emitted
  std::atomic<std::uint64_t> early_alerts{0};      // of those, fired before their window closed
  std::atomic<std::uint64_t> revisions{0};         // kUpdate and kFinal records of early alerts
  std::atomic<std::uint64_t> suppressed{0};        // alerts withheld by `vigil: suppress`
  std::atomic<std::uint64_t> suppression_summaries{0};
  std::atomic<std::uint64_t> base_alerts_withheld{0};  // `generate: false`
};

// What the engine needs to know about the rules of one RuleSet (built by bind()).
struct RuleBinding {
  struct Input {
    std::uint32_t correlation = 0;
    std::uint32_t position = 0;  // index in the correlation's `rules`
  };
  struct PerRule {
    std::vector<Input> inputs;
    bool keep_alerts = true;  // false: referenced only by correlations with generate: false
    Suppression suppress;
  };
  const RuleSet* rules = nullptr;
  std::vector<PerRule> per_rule;  // by RuleSet index
};

// One event's contribution to a window, taken out of the event by on_event() for apply() later
// (the event is reused for the next record). Plain data.
struct CorrelationInput {
  static constexpr std::uint32_t kTimeOnly = 0xFFFFFFFFu;  // feeds nothing, moves event time
  std::uint64_t event = 0;  // events numbered in order: inputs of one event are consecutive
  std::uint32_t correlation = kTimeOnly, position = 0;
  std::vector<std::string> values;  // group-by values
  std::string value;                // value_count's counted value
  std::int64_t time_ns = 0;
  std::string host;
};

class CorrelationEngine {
 public:
  // The correlations must have been checked by resolve_correlations(). Fails on a bad
  // `vigil: fields` regex or bad options.
  static Result<std::unique_ptr<CorrelationEngine>> create(std::vector<CorrelationRule> correlations,
                                                           const CorrelationOptions& options);
  ~CorrelationEngine();
  CorrelationEngine(const CorrelationEngine&) = delete;
  CorrelationEngine& operator=(const CorrelationEngine&) = delete;

  // Maps a rule set's rules to the correlations that read them (by id or name). Warnings (a
  // referenced rule that did not compile) go to `warnings`.
  std::shared_ptr<const RuleBinding> bind(const RuleSet& rules, std::vector<std::string>* warnings) const;

  // A matcher thread starts a batch (the daemon): until its advance(), the watermark waits for
  // this thread, which may be working on an earlier batch than the others. Optional (a single
  // thread in order, as `vigil scan`, needs no call).
  void batch_begin();
  // One event's matches. `time_ns` is the event time (see event_time_ns). Feeds the windows,
  // then applies `generate: false` and suppression to alerts[first_new...] (erasing withheld
  // ones; `matches[i]` raised alerts[first_new + i] unless already erased by someone else, so
  // alerts are identified by rule id). With early firing, appends the correlation alerts this
  // event decided (after alerts[first_new...]).
  // `deferred` (the daemon): the event's contributions are appended there instead, for
  // apply(); `generate: false` and suppression of alerts[first_new...] still happen here.
  void on_event(const RuleBinding& binding, const Event& event, const std::vector<std::uint32_t>& matched_rules,
                std::int64_t time_ns, std::vector<Alert>& alerts, std::size_t first_new,
                std::vector<CorrelationInput>* deferred = nullptr);
  // Feeds deferred contributions to the windows, in order, as on_event() would have when it
  // took them (lateness, early firing: alerts go to `out`). The daemon calls it for each batch
  // in submit order, so the windows see events in arrival order whatever thread matched them.
  void apply(const std::vector<CorrelationInput>& inputs, std::vector<Alert>& out);
  // What advance() closes besides the windows the watermark has passed.
  enum class Flush {
    kNone,
    // The stream went quiet (the daemon's idle flush): the windows that end by the latest event
    // time close (late events are no longer waited for); a window still open past it fires now
    // when its condition already holds, and otherwise stays open for the rest of its timespan
    // (a success that comes after a pause still completes a success-after-failures sequence);
    // every suppression ends. At the end of a stream this gives what kAll gives.
    kIdle,
    // End of input (`vigil scan`): every window closes, every suppression ends.
    kAll,
  };
  // Ends this thread's batch, then closes the windows the watermark has passed (and those that
  // `flush` names); appends correlation alerts and suppression summaries, and with early firing
  // the revisions (kUpdate, kFinal) of alerts raised early.
  void advance(std::vector<Alert>& out, Flush flush = Flush::kNone);
  // Latest event time seen (0 before any).
  std::int64_t max_event_time() const { return max_time_.load(std::memory_order_relaxed); }

  const CorrelationCounters& counters() const { return counters_; }
  std::size_t groups() const;
  std::size_t memory_bytes() const;

  // Persistence. collect_changes() hands every group and suppression changed since the last
  // changes_saved() (value null = deleted) plus the watermark: what an earlier call handed out
  // is handed out again (its newest state) until changes_saved() says it is durable, so a
  // commit that fails and is retried still writes it. restore() takes them back at start-up.
  // Keys are stable across restarts and rule reloads (correlation id + group values).
  void collect_changes(const std::function<void(const std::string& key, const std::string* value)>& sink,
                       bool everything = false);
  // The records of the collect_changes() calls so far are written (the commit succeeded).
  void changes_saved();
  Status restore(std::string_view key, std::string_view value);

  struct Impl;
  struct Fired;  // a window that fired at an event (early firing); internal

 private:
  // Emits the alerts of `fired` (suppression applies) and feeds the correlations that read
  // them, which may fire in turn (appended to `fired` and handled too). Holds no lock.
  void release(std::vector<Fired>& fired, std::vector<Alert>& out);
  // Moves the watermark's inputs to an event time; true when that event is late.
  bool note_time(std::int64_t time_ns, bool ordered);
  explicit CorrelationEngine(std::unique_ptr<Impl> impl);
  // Suppression: false when `a` repeats an alert of its rule with the same key within the
  // period (counted); true when it passes (and opens a period).
  bool admit(const Alert& a, std::int64_t for_ns, std::vector<AlertField> key_fields, std::int64_t time_ns);
  std::unique_ptr<Impl> impl_;
  std::atomic<std::int64_t> max_time_{0};
  CorrelationCounters counters_;
};

// Event time for windows: the parsed time when the record had a full one; for a BSD syslog
// stamp without a year ("Mar 30 15:02:11") the year inferred from `reference_ns`
// (bsd_timestamp_ns, core/time_text.h); otherwise `reference_ns` (receive time).
std::int64_t event_time_ns(const Event& event, std::int64_t reference_ns);

}  // namespace vigil::rules
