#pragma once
// The daemon's matcher stage: turns an IngestBatch into Alerts with the compiled Sigma rules.
// One RuleMatchProcessor per matcher thread (each owns its Hyperscan scratch through
// rules::Matcher); the rule set is shared and can be replaced while events flow (SIGHUP).
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/ingest.h"
#include "core/pipeline.h"
#include "core/source_assign.h"
#include "rules/compiler.h"
#include "rules/matcher.h"

namespace vigil {
class Metrics;
}

namespace vigil::app {

// The current rule set. A reload builds the new set beside the old one, then set() swaps it in;
// each matcher thread picks it up at its next batch, so no batch sees two rule sets and no
// event is dropped during a reload.
class LiveRuleSet {
 public:
  explicit LiveRuleSet(std::shared_ptr<const rules::RuleSet> initial) : rules_(std::move(initial)) {}
  void set(std::shared_ptr<const rules::RuleSet> rules) {
    std::lock_guard lock(mu_);
    rules_ = std::move(rules);
    generation_.fetch_add(1, std::memory_order_release);
  }
  std::shared_ptr<const rules::RuleSet> get() const {
    std::lock_guard lock(mu_);
    return rules_;
  }
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const rules::RuleSet> rules_;
  std::atomic<std::uint64_t> generation_{0};
};

// Watches matches in the matcher threads (correlation rules, suppression). Called concurrently
// from every matcher thread (each with its own batches): implementations partition or lock
// their state themselves.
class MatchObserver {
 public:
  virtual ~MatchObserver() = default;
  // After the alerts of one event were appended: they are alerts[first_new...]. The observer
  // may append alerts (a correlation that fired) or erase some of alerts[first_new...]
  // (suppressed repeats, rules with `generate: false`). `matches` are the rules that matched.
  virtual void on_event(const Event& event, const std::vector<rules::RuleMatch>& matches,
                        const rules::RuleSet& rules, const SourceInfo& source,
                        std::vector<Alert>& alerts, std::size_t first_new) = 0;
  // Before each batch is matched (lets event-time state wait for a thread on an earlier batch).
  virtual void on_batch_begin() {}
  // At the end of each batch, with the batch's alerts (e.g. to close windows on event time).
  virtual void on_batch_end(std::vector<Alert>& alerts) { (void)alerts; }
  // For every record matched (usable or not, with or without matches), right after matching,
  // with the batch's receive time: who is sending (silent sources). Runs once per event on the
  // matcher's hot path: it must be cheap and should not allocate.
  virtual void on_record(const Event& event, const SourceInfo& source, std::int64_t received_unix_ns) {
    (void)event, (void)source, (void)received_unix_ns;
  }
};

// Several features watching the matcher threads: each call goes to every observer, in order.
class MatchObserverChain final : public MatchObserver {
 public:
  explicit MatchObserverChain(std::vector<MatchObserver*> observers) : observers_(std::move(observers)) {}
  void on_event(const Event& event, const std::vector<rules::RuleMatch>& matches, const rules::RuleSet& rules,
                const SourceInfo& source, std::vector<Alert>& alerts, std::size_t first_new) override {
    for (MatchObserver* o : observers_) o->on_event(event, matches, rules, source, alerts, first_new);
  }
  void on_batch_begin() override {
    for (MatchObserver* o : observers_) o->on_batch_begin();
  }
  void on_batch_end(std::vector<Alert>& alerts) override {
    for (MatchObserver* o : observers_) o->on_batch_end(alerts);
  }
  void on_record(const Event& event, const SourceInfo& source, std::int64_t received_unix_ns) override {
    for (MatchObserver* o : observers_) o->on_record(event, source, received_unix_ns);
  }

 private:
  std::vector<MatchObserver*> observers_;
};

class RuleMatchProcessor final : public BatchProcessor {
 public:
  // `assigner` (host-name rules), `metrics` and `observer` may be null; all must outlive the
  // processor.
  RuleMatchProcessor(const LiveRuleSet& live, const SourceAssigner* assigner, Metrics* metrics,
                     std::size_t max_record_bytes, MatchObserver* observer = nullptr);
  void process(const IngestBatch& batch, std::vector<Alert>& alerts) override;
  // The observer's batch begins as the pipeline hands the batch over (see BatchProcessor).
  void on_taken() override {
    if (observer_) observer_->on_batch_begin();
  }

 private:
  bool refresh_matcher();
  const LiveRuleSet& live_;
  const SourceAssigner* assigner_;
  Metrics* metrics_;
  MatchObserver* observer_;
  std::uint64_t generation_ = ~0ull;
  std::unique_ptr<rules::Matcher> matcher_;
  parse::RecordParser parser_;
  Event event_;
  std::vector<rules::RuleMatch> matches_;
};

// Builds the stored alert for one match (shared with tests and `vigil scan`'s JSON writer).
Alert make_alert(const rules::SigmaRule& rule, const Event& event, const rules::RuleMatch& match,
                 const SourceInfo& source, std::int64_t received_unix_ns);

}  // namespace vigil::app
