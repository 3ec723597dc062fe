#include "storage/stats.h"

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "storage/alert_codec.h"
#include "storage/alert_store.h"

namespace vigil::storage {

namespace {

constexpr char kHourly = 'h';
constexpr char kMinutely = 'm';
constexpr char kRuleTotal = 'R';  // 'R' + rule id: alerts ever stored for the rule
constexpr char kDimLevel = 'l', kDimStatus = 's', kDimRule = 'r', kDimHost = 'h';

std::int64_t decode_counter(std::string_view v) {
  if (v.size() != 8) return 0;
  std::uint64_t u = 0;
  for (int i = 7; i >= 0; --i) u = (u << 8) | static_cast<unsigned char>(v[static_cast<std::size_t>(i)]);
  return static_cast<std::int64_t>(u);
}

// Same escaping as the index keys: NUL -> NUL 0xff, terminated by NUL 0x01.
void append_escaped(std::string* out, std::string_view value) {
  for (char c : value) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xff');
  }
  out->push_back('\0');
  out->push_back('\x01');
}

// Reads an escaped string at *pos; false if malformed.
bool read_escaped(std::string_view key, std::size_t* pos, std::string* out) {
  out->clear();
  for (std::size_t i = *pos; i + 1 < key.size(); ++i) {
    if (key[i] != '\0') {
      out->push_back(key[i]);
      continue;
    }
    if (key[i + 1] == '\x01') {
      *pos = i + 2;
      return true;
    }
    if (key[i + 1] != '\xff') return false;
    out->push_back('\0');
    ++i;
  }
  return false;
}

std::string bucket_prefix(char kind, std::int64_t start_s, std::string_view tenant) {
  std::string key{'#', kind};
  put_big_endian64(&key, static_cast<std::uint64_t>(start_s));
  append_escaped(&key, tenant);
  return key;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

class CounterAdd final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    std::int64_t sum = existing ? decode_counter(std::string_view(existing->data(), existing->size())) : 0;
    // Wrapping add: a -1 then +1 pair must return to where it started whatever the order.
    sum = static_cast<std::int64_t>(static_cast<std::uint64_t>(sum) +
                                    static_cast<std::uint64_t>(decode_counter(std::string_view(value.data(), value.size()))));
    *new_value = StatsDelta::encode_value(sum);
    return true;
  }
  const char* Name() const override { return "vigil.CounterAdd"; }
};

}  // namespace

std::shared_ptr<rocksdb::MergeOperator> make_counter_merge_operator() { return std::make_shared<CounterAdd>(); }

std::string StatsDelta::encode_value(std::int64_t v) {
  std::string out(8, '\0');
  std::uint64_t u = static_cast<std::uint64_t>(v);
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<char>((u >> (8 * i)) & 0xff);
  return out;
}

void StatsDelta::add_alert(const Alert& a) {
  const std::int64_t second = a.created_unix_ns / 1000000000;
  const std::int64_t hour = second - second % 3600, minute = second - second % 60;
  const std::string hp = bucket_prefix(kHourly, hour, a.tenant);
  deltas_[hp + kDimLevel + static_cast<char>(a.level)] += 1;
  deltas_[hp + kDimStatus + static_cast<char>(a.status)] += 1;
  if (!a.host.empty()) deltas_[hp + kDimHost + a.host] += 1;
  std::string rule = hp + kDimRule;
  append_escaped(&rule, a.rule_id);
  rule += a.rule_title;
  deltas_[rule] += 1;
  deltas_[bucket_prefix(kMinutely, minute, a.tenant) + kDimLevel + static_cast<char>(a.level)] += 1;
  deltas_[std::string{'#', kRuleTotal} + a.rule_id] += 1;
}

void StatsDelta::move_status(const Alert& a, AlertStatus from, AlertStatus to) {
  if (from == to) return;
  const std::int64_t second = a.created_unix_ns / 1000000000;
  const std::string hp = bucket_prefix(kHourly, second - second % 3600, a.tenant);
  deltas_[hp + kDimStatus + static_cast<char>(from)] -= 1;
  deltas_[hp + kDimStatus + static_cast<char>(to)] += 1;
}

std::string stats_key_before(char kind, std::int64_t unix_ns) {
  std::string key{'#', kind};
  const std::int64_t second = std::max<std::int64_t>(0, unix_ns / 1000000000);
  put_big_endian64(&key, static_cast<std::uint64_t>(kind == kHourly ? second - second % 3600 : second - second % 60));
  return key;
}

Result<StatsResult> read_stats(const AlertStore& store, const StatsQuery& q) {
  if (q.bucket_seconds != 60 && q.bucket_seconds != 3600 && q.bucket_seconds != 86400)
    return Error(Status::InvalidArgument("bucket must be 1m, 1h or 1d"));
  if (q.to_unix_ns <= q.from_unix_ns) return Error(Status::InvalidArgument("'to' must be after 'from'"));
  const std::int64_t b = q.bucket_seconds;
  const std::int64_t first = floor_div(q.from_unix_ns / 1000000000, b) * b;
  const std::int64_t end = (floor_div((q.to_unix_ns - 1) / 1000000000, b) + 1) * b;  // exclusive
  if ((end - first) / b > 100000) return Error(Status::InvalidArgument("too many buckets: widen 'bucket' or narrow the range"));
  StatsResult r;
  for (std::int64_t t = first; t < end; t += b) r.buckets.push_back(StatsBucket{t, {}});
  auto bucket_of = [&](std::int64_t start_s) -> StatsBucket* {
    std::int64_t i = (start_s - first) / b;
    if (start_s < first || i >= static_cast<std::int64_t>(r.buckets.size())) return nullptr;
    return &r.buckets[static_cast<std::size_t>(i)];
  };

  rocksdb::DB* db = store.rocksdb_db();
  rocksdb::ColumnFamilyHandle* cf = store.column_family(ColumnFamily::kStats);
  const std::int64_t hour_first = floor_div(q.from_unix_ns / 1000000000, 3600) * 3600;
  const std::int64_t hour_end = (floor_div((q.to_unix_ns - 1) / 1000000000, 3600) + 1) * 3600;
  std::unordered_map<std::string, RuleCount> rules;
  std::unordered_map<std::string, std::int64_t> hosts;

  auto scan = [&](char kind, std::int64_t from_s, std::int64_t to_s, auto&& on_key) -> Status {
    std::string lower{'#', kind}, upper{'#', kind};
    put_big_endian64(&lower, static_cast<std::uint64_t>(from_s));
    put_big_endian64(&upper, static_cast<std::uint64_t>(to_s));
    rocksdb::Slice lo(lower), hi(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lo;
    ro.iterate_upper_bound = &hi;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
    std::string tenant;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view key(it->key().data(), it->key().size());
      if (key.size() < 10) continue;
      std::int64_t start = static_cast<std::int64_t>(get_big_endian64(key.substr(2)));
      std::size_t pos = 10;
      if (!read_escaped(key, &pos, &tenant) || pos >= key.size()) continue;
      if (!q.tenant.empty() && tenant != q.tenant) continue;
      std::int64_t n = decode_counter(std::string_view(it->value().data(), it->value().size()));
      if (n == 0) continue;
      on_key(start, tenant, key[pos], key.substr(pos + 1), n);
    }
    if (!it->status().ok()) return Status::IoError("storage: reading statistics: " + it->status().ToString());
    return Status::Ok();
  };

  Status st = scan(kHourly, hour_first, hour_end,
                   [&](std::int64_t start, const std::string& tenant, char dim, std::string_view value, std::int64_t n) {
    switch (dim) {
      case kDimLevel: {
        if (value.size() != 1 || static_cast<unsigned char>(value[0]) > 4) return;
        const char* level = to_string(static_cast<AlertLevel>(value[0]));
        r.by_level[level] += n;
        r.by_tenant[tenant] += n;  // every alert has exactly one level counter
        if (b != 60) {
          if (StatsBucket* bucket = bucket_of(floor_div(start, b) * b)) bucket->by_level[level] += n;
        }
        break;
      }
      case kDimStatus:
        if (value.size() == 1 && static_cast<unsigned char>(value[0]) <= 3)
          r.by_status[to_string(static_cast<AlertStatus>(value[0]))] += n;
        break;
      case kDimHost: hosts[std::string(value)] += n; break;
      case kDimRule: {
        std::size_t pos = 0;
        std::string id;
        if (!read_escaped(value, &pos, &id)) return;
        RuleCount& rc = rules[id];
        rc.id = id;
        if (rc.title.empty()) rc.title = std::string(value.substr(pos));
        rc.count += n;
        break;
      }
      default: break;
    }
  });
  if (!st.ok()) return Error(std::move(st));
  if (b == 60) {
    st = scan(kMinutely, first, end,
              [&](std::int64_t start, const std::string&, char dim, std::string_view value, std::int64_t n) {
      if (dim != kDimLevel || value.size() != 1 || static_cast<unsigned char>(value[0]) > 4) return;
      if (StatsBucket* bucket = bucket_of(start)) bucket->by_level[to_string(static_cast<AlertLevel>(value[0]))] += n;
    });
    if (!st.ok()) return Error(std::move(st));
  }
  for (auto it = r.by_status.begin(); it != r.by_status.end();) it = it->second == 0 ? r.by_status.erase(it) : std::next(it);
  for (auto& [id, rc] : rules) r.top_rules.push_back(std::move(rc));
  std::sort(r.top_rules.begin(), r.top_rules.end(), [](const RuleCount& a, const RuleCount& c) {
    return a.count != c.count ? a.count > c.count : a.id < c.id;
  });
  if (r.top_rules.size() > q.top) r.top_rules.resize(q.top);
  for (auto& [host, n] : hosts) r.top_hosts.emplace_back(host, n);
  std::sort(r.top_hosts.begin(), r.top_hosts.end(), [](const auto& a, const auto& c) {
    return a.second != c.second ? a.second > c.second : a.first < c.first;
  });
  if (r.top_hosts.size() > q.top) r.top_hosts.resize(q.top);
  return r;
}

Result<std::map<std::string, std::int64_t>> rule_alert_counts(const AlertStore& store) {
  std::map<std::string, std::int64_t> out;
  std::string lower{'#', kRuleTotal}, upper{'#', kRuleTotal + 1};
  rocksdb::Slice lo(lower), hi(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lo;
  ro.iterate_upper_bound = &hi;
  std::unique_ptr<rocksdb::Iterator> it(store.rocksdb_db()->NewIterator(ro, store.column_family(ColumnFamily::kStats)));
  for (it->SeekToFirst(); it->Valid(); it->Next())
    out[it->key().ToString().substr(2)] = decode_counter(std::string_view(it->value().data(), it->value().size()));
  if (!it->status().ok()) return Error(Status::IoError("storage: reading rule counts: " + it->status().ToString()));
  return out;
}

}  // namespace vigil::storage
