#include "storage/outbox.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <set>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "storage/alert_codec.h"

namespace vigil::storage {

namespace {

constexpr char kPending = 'q';
constexpr char kDead = 'd';
constexpr char kState = 's';
constexpr char kCursor = 'c';

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view view(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

Status from_rocksdb(const rocksdb::Status& s, std::string_view what) {
  return Status::IoError("outbox: " + std::string(what) + ": " + s.ToString());
}

std::string dest_prefix(char kind, std::string_view destination) {
  std::string p(1, kind);
  p.append(destination);
  p.push_back('\0');
  return p;
}

std::string state_key(std::string_view alert_key, std::string_view destination) {
  std::string k(1, kState);
  k.append(alert_key);
  k.append(destination);
  return k;
}

void put_u32(std::string* out, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint32_t get_u32(std::string_view b) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(b[static_cast<std::size_t>(i)]);
  return v;
}

std::string encode_state(DeliveryStateKind kind, std::uint32_t attempts, std::string_view error) {
  std::string v(1, static_cast<char>(kind));
  put_big_endian64(&v, static_cast<std::uint64_t>(now_ns()));
  put_u32(&v, attempts);
  v.append(error);
  return v;
}

bool decode_state(std::string_view v, DeliveryState* out) {
  if (v.size() < 13 || static_cast<unsigned char>(v[0]) > 2) return false;
  out->state = static_cast<DeliveryStateKind>(v[0]);
  out->updated_unix_ns = static_cast<std::int64_t>(get_big_endian64(v.substr(1)));
  out->attempts = get_u32(v.substr(9));
  out->last_error = std::string(v.substr(13));
  return true;
}

std::string encode_dead(std::uint32_t attempts, std::string_view reason) {
  std::string v;
  put_big_endian64(&v, static_cast<std::uint64_t>(now_ns()));
  put_u32(&v, attempts);
  v.append(reason);
  return v;
}

// Upper bound for iterating keys that start with `prefix` (prefix with its last byte bumped;
// every prefix here ends in '\0' or a byte < 0xff).
std::string prefix_end(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

Status write(AlertStore& store, rocksdb::WriteBatch& batch, std::string_view what) {
  rocksdb::WriteOptions wo;
  wo.sync = store.sync();
  rocksdb::Status s = store.rocksdb_db()->Write(wo, &batch);
  return s.ok() ? Status::Ok() : from_rocksdb(s, what);
}

std::unique_ptr<rocksdb::Iterator> iterator(const AlertStore& store, const rocksdb::Slice* upper) {
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = upper;
  return std::unique_ptr<rocksdb::Iterator>(
      store.rocksdb_db()->NewIterator(ro, store.column_family(ColumnFamily::kOutbox)));
}

}  // namespace

bool valid_destination_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

const char* to_string(DeliveryStateKind kind) {
  switch (kind) {
    case DeliveryStateKind::kPending: return "pending";
    case DeliveryStateKind::kDelivered: return "delivered";
    case DeliveryStateKind::kDeadLetter: return "dead_letter";
  }
  return "pending";
}

OutboxExtension::OutboxExtension(std::vector<Destination> destinations)
    : destinations_(std::move(destinations)), staged_(destinations_.size(), 0) {
  for (const Destination& d : destinations_) queue_prefixes_.push_back(dest_prefix(kPending, d.name));
}

Status OutboxExtension::add_to_batch(const std::vector<Alert>& alerts, rocksdb::WriteBatch& batch,
                                     const AlertStore& store) {
  // This runs on the store writer's path after matching, so it writes the least that keeps
  // delivery exact: one empty-valued queue key per alert per destination. "Pending" is the
  // existence of that key (delivery_of derives it); a delivery-state record is written only
  // when an attempt fails, the alert is delivered or it is dead-lettered (by the sender).
  std::fill(staged_.begin(), staged_.end(), 0);
  rocksdb::ColumnFamilyHandle* cf = store.column_family(ColumnFamily::kOutbox);
  std::string key;
  for (const Alert& alert : alerts) {
    auto alert_key = alert_key_from_id(alert.id);
    if (!alert_key) return alert_key.error();
    for (std::size_t d = 0; d < destinations_.size(); ++d) {
      if (!destinations_[d].qualifies(alert)) continue;
      key.assign(queue_prefixes_[d]);
      key.append(*alert_key);
      if (rocksdb::Status s = batch.Put(cf, key, rocksdb::Slice()); !s.ok())
        return from_rocksdb(s, "queueing alert " + alert.id);
      ++staged_[d];
    }
  }
  return Status::Ok();
}

void OutboxExtension::committed(const std::vector<Alert>&) {
  if (!on_queued_) return;
  for (std::size_t d = 0; d < staged_.size(); ++d)
    if (staged_[d]) on_queued_(d, staged_[d]);
}

Result<std::vector<PendingAlert>> read_pending(const AlertStore& store, std::string_view destination,
                                               std::string_view from_key, std::size_t max,
                                               std::vector<std::string>* missing_keys) {
  // First the queue keys (a short scan of small keys), then every alert of the batch in one
  // sorted MultiGet: one pass over the alerts column family instead of a lookup per alert.
  std::vector<std::string> keys;
  {
    const std::string prefix = dest_prefix(kPending, destination);
    const std::string end = prefix_end(prefix);
    rocksdb::Slice upper(end);
    auto it = iterator(store, &upper);
    std::string start = prefix;
    start.append(from_key);
    for (it->Seek(start); it->Valid() && keys.size() < max; it->Next()) {
      std::string_view alert_key = view(it->key()).substr(prefix.size());
      if (alert_key.size() == kAlertKeySize) keys.emplace_back(alert_key);
    }
    if (!it->status().ok()) return Error(from_rocksdb(it->status(), "scanning pending entries"));
  }
  std::vector<PendingAlert> out;
  if (keys.empty()) return out;
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const std::string& k : keys) slices.emplace_back(k);
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  store.rocksdb_db()->MultiGet(rocksdb::ReadOptions(), store.column_family(ColumnFamily::kAlerts), keys.size(),
                               slices.data(), values.data(), statuses.data(), /*sorted_input=*/true);
  out.reserve(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) {
      if (missing_keys) missing_keys->push_back(keys[i]);
      continue;
    }
    if (!statuses[i].ok()) return Error(from_rocksdb(statuses[i], "reading a pending alert"));
    PendingAlert p;
    p.key = std::move(keys[i]);
    if (Status st = decode_alert(p.key, view(values[i]), &p.alert); !st.ok()) {
      // A stored alert that no longer decodes cannot be forwarded: report it as missing so the
      // sender dead-letters it instead of stalling the destination forever.
      if (missing_keys) missing_keys->push_back(p.key);
      continue;
    }
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::pair<std::uint64_t, std::int64_t>> count_pending(const AlertStore& store,
                                                             std::string_view destination) {
  const std::string prefix = dest_prefix(kPending, destination);
  const std::string end = prefix_end(prefix);
  rocksdb::Slice upper(end);
  auto it = iterator(store, &upper);
  std::uint64_t n = 0;
  std::int64_t oldest = 0;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view alert_key = view(it->key()).substr(prefix.size());
    if (alert_key.size() != kAlertKeySize) continue;
    if (n++ == 0) oldest = alert_key_created_unix_ns(alert_key);
  }
  if (!it->status().ok()) return Error(from_rocksdb(it->status(), "counting pending entries"));
  return std::make_pair(n, oldest);
}

Status mark_delivered(AlertStore& store, std::string_view destination, const std::vector<std::string>& keys,
                      std::uint32_t attempts) {
  if (keys.empty()) return Status::Ok();
  rocksdb::WriteBatch batch;
  rocksdb::ColumnFamilyHandle* cf = store.column_family(ColumnFamily::kOutbox);
  const std::string prefix = dest_prefix(kPending, destination);
  const std::string state = encode_state(DeliveryStateKind::kDelivered, attempts, "");
  std::string last;
  for (const std::string& k : keys) {
    rocksdb::Status s = batch.Delete(cf, prefix + k);
    if (s.ok()) s = batch.Put(cf, state_key(k, destination), state);
    if (!s.ok()) return from_rocksdb(s, "marking delivered");
    last = std::max(last, k);
  }
  std::string cursor_key(1, kCursor);
  cursor_key.append(destination);
  if (rocksdb::Status s = batch.Put(cf, cursor_key, last); !s.ok()) return from_rocksdb(s, "moving the cursor");
  return write(store, batch, "marking delivered");
}

Status mark_attempt_failed(AlertStore& store, std::string_view destination, const std::vector<std::string>& keys,
                           std::uint32_t attempts, std::string_view error) {
  if (keys.empty()) return Status::Ok();
  rocksdb::WriteBatch batch;
  rocksdb::ColumnFamilyHandle* cf = store.column_family(ColumnFamily::kOutbox);
  const std::string state = encode_state(DeliveryStateKind::kPending, attempts, error);
  for (const std::string& k : keys)
    if (rocksdb::Status s = batch.Put(cf, state_key(k, destination), state); !s.ok())
      return from_rocksdb(s, "recording a failed attempt");
  return write(store, batch, "recording a failed attempt");
}

Status mark_dead_letter(AlertStore& store, std::string_view destination, std::string_view key,
                        std::uint32_t attempts, std::string_view reason) {
  rocksdb::WriteBatch batch;
  rocksdb::ColumnFamilyHandle* cf = store.column_family(ColumnFamily::kOutbox);
  std::string cursor_key(1, kCursor);
  cursor_key.append(destination);
  rocksdb::Status s = batch.Delete(cf, dest_prefix(kPending, destination) + std::string(key));
  if (s.ok()) s = batch.Put(cf, dest_prefix(kDead, destination) + std::string(key), encode_dead(attempts, reason));
  if (s.ok()) s = batch.Put(cf, state_key(key, destination), encode_state(DeliveryStateKind::kDeadLetter, attempts, reason));
  if (s.ok()) s = batch.Put(cf, cursor_key, slice(key));
  if (!s.ok()) return from_rocksdb(s, "dead-lettering");
  return write(store, batch, "dead-lettering");
}

Result<std::vector<DeadLetter>> list_dead_letters(const AlertStore& store, std::string_view destination) {
  std::vector<DeadLetter> out;
  const std::string prefix = destination.empty() ? std::string(1, kDead) : dest_prefix(kDead, destination);
  const std::string end = prefix_end(prefix);
  rocksdb::Slice upper(end);
  auto it = iterator(store, &upper);
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view k = view(it->key()).substr(1);
    std::string_view v = view(it->value());
    auto nul = k.find('\0');
    if (nul == std::string_view::npos || k.size() - nul - 1 != kAlertKeySize || v.size() < 12) continue;
    DeadLetter d;
    d.destination = std::string(k.substr(0, nul));
    d.alert_id = alert_id_from_key(k.substr(nul + 1));
    d.unix_ns = static_cast<std::int64_t>(get_big_endian64(v));
    d.attempts = get_u32(v.substr(8));
    d.reason = std::string(v.substr(12));
    out.push_back(std::move(d));
  }
  if (!it->status().ok()) return Error(from_rocksdb(it->status(), "listing dead letters"));
  std::stable_sort(out.begin(), out.end(), [](const DeadLetter& a, const DeadLetter& b) { return a.alert_id < b.alert_id; });
  return out;
}

Result<std::size_t> replay_dead_letters(AlertStore& store, std::string_view destination,
                                        const std::vector<std::string>& alert_ids) {
  if (store.read_only()) return Error(Status::InvalidArgument("outbox: replay needs a writable store"));
  auto dead = list_dead_letters(store, destination);
  if (!dead) return Error(dead.error());
  std::set<std::string> wanted;
  for (const std::string& id : alert_ids) {
    auto key = alert_key_from_id(id);
    if (!key) return Error(key.error());
    wanted.insert(alert_id_from_key(*key));  // normalised to lowercase
  }
  rocksdb::WriteBatch batch;
  rocksdb::ColumnFamilyHandle* cf = store.column_family(ColumnFamily::kOutbox);
  std::size_t n = 0;
  for (const DeadLetter& d : *dead) {
    if (!wanted.empty() && !wanted.count(d.alert_id)) continue;
    std::string key = *alert_key_from_id(d.alert_id);
    rocksdb::Status s = batch.Delete(cf, dest_prefix(kDead, d.destination) + key);
    if (s.ok()) s = batch.Put(cf, dest_prefix(kPending, d.destination) + key, rocksdb::Slice());
    if (s.ok())
      s = batch.Put(cf, state_key(key, d.destination),
                    encode_state(DeliveryStateKind::kPending, d.attempts, "replayed after: " + d.reason));
    if (!s.ok()) return Error(from_rocksdb(s, "replaying"));
    ++n;
  }
  if (n == 0) return n;
  if (Status st = write(store, batch, "replaying"); !st.ok()) return Error(st);
  return n;
}

Result<std::vector<OutboxStatus>> outbox_status(const AlertStore& store) {
  std::map<std::string, OutboxStatus> by_name;
  // Destinations are found from their cursor, pending and dead-letter records.
  auto it = iterator(store, nullptr);
  for (char kind : {kCursor, kPending, kDead}) {
    std::string seek(1, kind);
    it->Seek(seek);
    while (it->Valid() && !it->key().empty() && it->key()[0] == kind) {
      std::string_view rest = view(it->key()).substr(1);
      std::string name(kind == kCursor ? rest : rest.substr(0, rest.find('\0')));
      OutboxStatus& st = by_name[name];
      st.destination = name;
      if (kind == kCursor) {
        if (it->value().size() == kAlertKeySize) st.cursor_alert_id = alert_id_from_key(view(it->value()));
        it->Next();
        continue;
      }
      // Skip to the next destination of this kind.
      std::string next = prefix_end(std::string(1, kind) + name + std::string(1, '\0'));
      it->Seek(next);
    }
  }
  if (!it->status().ok()) return Error(from_rocksdb(it->status(), "reading the outbox"));
  std::vector<OutboxStatus> out;
  for (auto& [name, st] : by_name) {
    auto pending = count_pending(store, name);
    if (!pending) return Error(pending.error());
    st.pending = pending->first;
    st.oldest_pending_created_unix_ns = pending->second;
    auto dead = list_dead_letters(store, name);
    if (!dead) return Error(dead.error());
    st.dead_letters = dead->size();
    out.push_back(st);
  }
  return out;
}

Result<std::vector<DeliveryState>> delivery_of(const AlertStore& store, std::string_view alert_id) {
  auto key = alert_key_from_id(alert_id);
  if (!key) return Error(key.error());
  // Recorded states (failed attempts, delivered, dead-lettered), by destination.
  std::map<std::string, DeliveryState> by_destination;
  {
    std::string prefix(1, kState);
    prefix.append(*key);
    const std::string end = prefix_end(prefix);
    rocksdb::Slice upper(end);
    auto it = iterator(store, &upper);
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      DeliveryState d;
      if (!decode_state(view(it->value()), &d)) continue;
      d.destination = std::string(view(it->key()).substr(prefix.size()));
      by_destination[d.destination] = std::move(d);
    }
    if (!it->status().ok()) return Error(from_rocksdb(it->status(), "reading delivery state"));
  }
  // Pending is not recorded at commit: it is the queue entry's existence. Look for one under
  // every destination that has queue entries (one seek per destination, a handful at most).
  auto it = iterator(store, nullptr);
  std::string seek(1, kPending);
  std::string value;
  for (it->Seek(seek); it->Valid() && !it->key().empty() && it->key()[0] == kPending;) {
    std::string_view rest = view(it->key()).substr(1);
    const std::string name(rest.substr(0, rest.find('\0')));
    const std::string destination_prefix = dest_prefix(kPending, name);
    rocksdb::Status s = store.rocksdb_db()->Get(rocksdb::ReadOptions(), store.column_family(ColumnFamily::kOutbox),
                                                destination_prefix + *key, &value);
    if (s.ok()) {
      DeliveryState& d = by_destination[name];
      d.destination = name;
      // A delivered or dead-letter record left from before a replay no longer applies.
      if (d.state != DeliveryStateKind::kPending) d.last_error.clear();
      d.state = DeliveryStateKind::kPending;
      if (d.updated_unix_ns == 0) d.updated_unix_ns = alert_key_created_unix_ns(*key);
    } else if (!s.IsNotFound()) {
      return Error(from_rocksdb(s, "reading a queue entry"));
    }
    it->Seek(prefix_end(destination_prefix));
  }
  if (!it->status().ok()) return Error(from_rocksdb(it->status(), "reading the outbox"));
  std::vector<DeliveryState> out;
  for (auto& [name, d] : by_destination) out.push_back(std::move(d));
  return out;
}

}  // namespace vigil::storage
