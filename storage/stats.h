#pragma once
// Alert statistics kept as counters beside the alerts (column family `stats`; every key
// starts with '#'), so that counts over a day read a few hundred keys instead of every alert.
//
// Keys (counters are 8-byte little-endian int64 values combined by an add merge operator, so a
// commit adds to them without reading them; a status change adds -1 and +1):
//   "#h" + big-endian hour start (unix s) + tenant (escaped) + dimension + value   per hour
//   "#m" + big-endian minute start (unix s) + tenant (escaped) + 'l' + level byte   per minute
//   "#R" + rule id: alerts ever stored for the rule (retention does not lower it)
// Dimensions: 'l' level byte, 's' status byte, 'r' rule id (escaped) + rule title, 'h' host.
// All counters count alerts stored (grouped repeats raise an alert's count, not the counters)
// and are filed under the hour the alert was created in; a status change moves the alert
// between status counters of that same hour.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/alert.h"
#include "core/status.h"

namespace rocksdb {
class MergeOperator;
}

namespace vigil::storage {

class AlertStore;

// The int64 add merge operator of the stats column family.
std::shared_ptr<rocksdb::MergeOperator> make_counter_merge_operator();

// Counter deltas of one write, summed per key before they go into the WriteBatch.
class StatsDelta {
 public:
  // A new alert: +1 on its level, status, tenant, rule and host counters.
  void add_alert(const Alert& alert);
  // An alert's status changed.
  void move_status(const Alert& alert, AlertStatus from, AlertStatus to);
  const std::map<std::string, std::int64_t>& deltas() const { return deltas_; }
  static std::string encode_value(std::int64_t v);

 private:
  std::map<std::string, std::int64_t> deltas_;
};

struct StatsQuery {
  std::int64_t from_unix_ns = 0, to_unix_ns = 0;  // [from, to), rounded out to whole buckets
  std::int64_t bucket_seconds = 3600;             // 60, 3600 or 86400
  std::string tenant;                             // "" = every tenant
  std::size_t top = 10;                           // entries in top_rules / top_hosts
};

struct StatsBucket {
  std::int64_t start_unix_s = 0;
  std::map<std::string, std::int64_t> by_level;  // level name -> count
};

struct RuleCount {
  std::string id, title;
  std::int64_t count = 0;
};

struct StatsResult {
  std::vector<StatsBucket> buckets;  // every bucket of the range, empty ones included
  // Totals over the range at hour resolution (the hours that overlap [from, to)).
  std::map<std::string, std::int64_t> by_level, by_status, by_tenant;
  std::vector<RuleCount> top_rules;                          // most first
  std::vector<std::pair<std::string, std::int64_t>> top_hosts;  // most first
};

// Reads the counters. InvalidArgument for a bad bucket or a range of more than 100,000 buckets.
Result<StatsResult> read_stats(const AlertStore& store, const StatsQuery& query);

// Alerts stored per rule id over all time still in the store (GET /api/v1/rules "matches").
Result<std::map<std::string, std::int64_t>> rule_alert_counts(const AlertStore& store);

// The first stats key of hours/minutes before `unix_ns` (retention deletes [kind, this)).
std::string stats_key_before(char kind, std::int64_t unix_ns);

}  // namespace vigil::storage
