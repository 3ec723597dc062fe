#pragma once
// Silent sources: learns how often each log source sends and says when one that normally sends
// has gone quiet, and when it resumes (docs/sources.md).
//
// A source is (tenant, collector, host, program or Windows channel). Its cadence is learnt from
// the gaps between its arrivals, on receive time (silence is about arrival, whatever the
// events' own clocks say). Arrivals closer together than `minimum / factor` are one arrival:
// such gaps cannot move the threshold above `minimum`, and merging them makes a source that
// sends in bursts (a cron job's thirty lines every hour) look like what it is, one arrival an
// hour. The usual gap is the time-weighted mean of the learnt gaps, sum(g^2) / sum(g): the
// length of the gap a random instant falls in, so many short gaps and a few long ones give a
// value near the long ones, the quiet a person watching would expect. Both sums decay with
// exp(-gap / history), so the estimate follows the last `history` of the source's life. Once a
// source is learnt, a gap counts as twice its usual gap at most: under sum(g^2) one outage of
// ten usual gaps would otherwise weigh a hundred of them and blind the detector for a day,
// while a source whose cadence slowed for good still doubles its estimate every few gaps.
//
// A source "normally sends" once `min_gaps` gaps were learnt. It is silent when no event came
// for max(minimum, factor x usual gap) (or its override), and then recovers at its next event.
// A Windows "log cleared" (Security 1102, System 104) or "audit policy changed" (4719) event
// marks its source tampered for `history`.
//
// Memory: at most `max_sources` sources; when full, the 1% least recently seen are forgotten
// at once (amortised O(1) per new source). memory_bytes() says what they hold.
//
// Threading: SourceBatch belongs to one thread. Every SourceCadence method may be called from
// any thread (one mutex; observe() is called once per batch per thread, never per event).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace vigil {

// A per-source exception to the silence threshold. Empty patterns match anything; patterns
// are globs (`*`, `?`), case-insensitive. The first override that matches a source applies.
struct SourceOverride {
  std::string tenant, collector, host, program;
  std::optional<double> factor;
  std::optional<std::int64_t> minimum_ns;
  std::int64_t after_ns = 0;  // fixed threshold (no learning needed); 0 = learnt
  bool alert = true;          // false: never raise a silence alert for these sources
};

struct SourceCadenceOptions {
  // Threshold = max(minimum, factor x usual gap). Default: 10.
  double factor = 10;
  // Default: 5 minutes.
  std::int64_t minimum_ns = 300LL * 1000000000LL;
  // How far back the cadence looks (decay time of the gap sums); also how long a tampered mark
  // lasts. Default: 24 hours.
  std::int64_t history_ns = 86400LL * 1000000000LL;
  // Gaps learnt before a source counts as one that normally sends. Default: 5.
  std::uint32_t min_gaps = 5;
  // Sources tracked at most. Default: 100,000.
  std::size_t max_sources = 100000;
  std::vector<SourceOverride> overrides;
  Status validate() const;
};

// What one thread saw in one batch, one entry per source: the hook per event is a hash and a
// probe of a small table, and allocates only the first time a thread meets a longer name.
class SourceBatch {
 public:
  SourceBatch();
  // `tamper` is "" or why the event marks its source tampered ("log cleared", ...).
  void add(std::string_view tenant, std::string_view collector, std::string_view host, std::string_view program,
           std::string_view tamper = {});
  bool empty() const { return used_ == 0; }
  void clear();

  struct Entry {
    std::string key;  // tenant \x1f collector \x1f host \x1f program
    std::uint64_t hash = 0;
    std::uint64_t events = 0;
    std::string tamper;
  };
  std::size_t size() const { return used_; }
  const Entry& operator[](std::size_t i) const { return entries_[i]; }

 private:
  void grow();
  std::vector<Entry> entries_;        // [0, used_) in use; the rest keep their capacity
  std::size_t used_ = 0;
  std::vector<std::uint32_t> slots_;  // entry index + 1, 0 = empty; power-of-two size
};

enum class SourceState : std::uint8_t {
  kLearning,  // fewer than min_gaps gaps learnt: never reported silent
  kOk,
  kSilent,
};
const char* to_string(SourceState state);

struct SourceStatus {
  std::string tenant, collector, host, program;
  std::int64_t first_seen_ns = 0, last_seen_ns = 0;
  std::uint64_t events = 0;
  std::uint32_t gaps = 0;
  std::int64_t usual_gap_ns = 0;  // 0 while nothing was learnt
  std::int64_t threshold_ns = 0;  // 0 = never reported silent (learning, or alert: false)
  SourceState state = SourceState::kLearning;
  bool tampered = false;
  std::int64_t tampered_ns = 0;
  std::string tamper_reason;
  // "collector/host/program", "-" for an empty part: the metric label and the alert's title.
  std::string name() const;
};

// A source that went silent, or resumed after being reported silent.
struct SourceTransition {
  bool silent = true;  // false: recovered
  SourceStatus source;
  std::int64_t quiet_ns = 0;  // how long it had been quiet (now - last event, or the gap it ended)
};

class SourceCadence {
 public:
  explicit SourceCadence(SourceCadenceOptions options);

  // Records the sources of one batch received at `received_ns`. Recoveries are appended to
  // `transitions` (when given).
  void observe(std::int64_t received_ns, const SourceBatch& batch, std::vector<SourceTransition>* transitions);
  // Sources quiet past their threshold at `now_ns` become silent, each once per silence.
  void check(std::int64_t now_ns, std::vector<SourceTransition>& transitions);

  // Every source (a copy), most recently seen first.
  std::vector<SourceStatus> list(std::int64_t now_ns) const;
  // fn(key, last_seen_ns) for every source, under the table's lock: no copy, no allocation
  // (the metrics' pass each second). `fn` must not call back into this object.
  void visit_last_seen(const std::function<void(std::string_view key, std::int64_t last_seen_ns)>& fn) const;
  // The SourceStatus::name() of a key (tenant dropped).
  static std::string name_of_key(std::string_view key);
  static std::string_view tenant_of_key(std::string_view key);
  std::size_t size() const;
  std::size_t memory_bytes() const;
  struct Counts {
    std::size_t sources = 0, learning = 0, ok = 0, silent = 0, tampered = 0;
    std::uint64_t evicted = 0;             // since construction
    std::uint64_t silences = 0, recoveries = 0;  // transitions since construction
  };
  Counts counts(std::int64_t now_ns) const;

  // Persistence: each source is one record, key = SourceBatch key. `fn(key, value)` for every
  // source changed since the last call (all with `everything`), `fn(key, nullptr)` for every
  // source forgotten at the cap since then.
  void collect_changes(const std::function<void(const std::string& key, const std::string* value)>& fn,
                       bool everything);
  // Takes back a record written by collect_changes (at start, before observe()).
  Status restore(std::string_view key, std::string_view value);

 private:
  struct Source {
    std::int64_t first_seen = 0, last_seen = 0;
    std::int64_t last_arrival = 0;  // last event counted as an arrival (see the header)
    std::int64_t tampered_at = 0;   // 0 = never
    double sum_gap = 0, sum_gap2 = 0;  // seconds, decayed
    std::uint64_t events = 0;
    std::uint32_t gaps = 0;
    std::int16_t override_index = -1;  // into options_.overrides, resolved once per source
    bool silent = false;
    bool dirty = true;
    std::string tamper_reason;
  };
  using Map = std::unordered_map<std::string, Source>;

  // Threshold of `s` in ns; 0 = never silent (learning, or an override with alert: false).
  std::int64_t threshold(const Source& s) const;
  std::int64_t resolution(const Source& s) const;
  std::int64_t usual_gap(const Source& s) const;
  std::int16_t find_override(std::string_view key) const;
  SourceStatus status(const std::string& key, const Source& s, std::int64_t now_ns) const;
  void evict_oldest();
  std::size_t cost(const std::string& key, const Source& s) const;

  SourceCadenceOptions options_;
  mutable std::mutex mu_;
  Map sources_;
  std::size_t memory_ = 0;
  std::uint64_t evicted_total_ = 0, silences_total_ = 0, recoveries_total_ = 0;
  std::vector<std::string> forgotten_;  // evicted since the last collect_changes
};

}  // namespace vigil
