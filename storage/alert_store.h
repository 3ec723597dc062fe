#pragma once
// The alert store: one RocksDB database holding alerts, their secondary indexes, collector
// checkpoints and metadata (DESIGN.md "Storage").
//
// Column families:
//   alerts      key = 16 bytes: big-endian created_unix_ns + big-endian sequence. The Alert id
//               is those 16 bytes as 32 lowercase hex digits, so ids sort by commit time.
//               Value = the alert, binary encoded (storage/alert_codec.h).
//   index       secondary indexes, every entry ending with the 16-byte alert key so that one
//               indexed value is a time-ordered run (see index_keys() in alert_store.cpp).
//   history     lifecycle history (analyst-review issue). Keys MUST start with the 16-byte
//               alert key: retention deletes them by range with their alerts.
//   outbox      forwarding queue (forwarder issue).
//   checkpoints collector checkpoint key -> value.
//   meta        schema version, sequence counter, last commit time, alert count; the audit log
//               ("audit/" + big-endian time ns + sequence; retention leaves it alone) and the
//               API tokens ("token/" + SHA-256 of the token, storage/tokens.h).
//   stats       per-hour (and per-minute by level) alert counters, merged with an int64 add
//               operator (storage/stats.h make_counter_merge_operator(); whoever opens the
//               database raw must set it) in the same WriteBatch as the alerts.
//
// Alerts, their index entries, the counters and the checkpoints of one commit() go into ONE
// WriteBatch: after a crash the store holds either all of a commit or none of it.
//
// Lifecycle (update()): the new alert value, its moved status index entry, its history entries,
// the audit entry and the status counters of one change are one WriteBatch too.
//
// Grouping (set_grouping()): inside commit(), a repeat of an open alert's group (same rule and
// same group fields, within the group's window counted from the open alert's creation) raises
// that alert's `count` instead of storing a new alert. Open groups live in memory (group key ->
// alert key), rebuilt from the recent alerts when grouping is set, so a non-repeat costs no read.
//
// Revisions (Alert::revision, correlation alerts raised before their window closed): inside
// commit(), a kFirst is stored as a new alert and its revision_key remembered in `meta`
// ("revision/<key>" -> alert key, same WriteBatch); of the kUpdate/kFinal records of one key in
// a commit the highest revision_seq rewrites that alert's fields, event time and text (id,
// times of creation and receipt, tenant, host, level and lifecycle stay) and none is stored
// itself; kFinal forgets the key. A revision of an unknown key is stored as a new alert.
// Revised alerts are not handed to commit extensions (the outbox forwards an alert once).
//
// Threading: every method may be called from any thread. Writes (commit, delete_older_than)
// are serialised by an internal mutex; reads run concurrently with them and with each other.
// A store opened with open_read_only() sees the primary's data as of open() or the last
// catch_up().
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/alert.h"
#include "core/ingest.h"
#include "core/status.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Snapshot;
class WriteBatch;
struct ColumnFamilyDescriptor;
}  // namespace rocksdb

namespace vigil::storage {

struct StoreOptions {
  // Data directory, created (with its parents) if missing.
  std::string dir;
  // fsync the WAL on every commit, so a commit that returned ok survives a power loss.
  // Default: true. false only loses the last commits on an OS crash, never on a process crash.
  bool sync = true;
  // Block cache shared by all column families. Default: 64 MiB.
  std::size_t block_cache_bytes = 64 << 20;
  // commit() refuses (IoError "disk nearly full", nothing written) while the data directory's
  // filesystem has less free space than this, so that RocksDB itself never runs out of space in
  // the middle of a write (which it does not recover from); commits resume once space returns.
  // 0 = no check. Default: 256 MiB (room for a memtable flush).
  std::uint64_t min_free_bytes = 256ull << 20;
  // Wall clock in unix ns for created_unix_ns. Default (empty): the system clock. Tests inject
  // one to step the clock back.
  std::function<std::int64_t()> clock;
};

// Filters of list(); all optional and ANDed.
struct AlertQuery {
  // Half-open range [from, to) on Alert::created_unix_ns.
  std::int64_t from_unix_ns = 0, to_unix_ns = std::numeric_limits<std::int64_t>::max();
  std::optional<AlertLevel> min_level;
  std::optional<AlertStatus> status;
  std::string tenant, rule_id, host;  // exact match; "" = any
  std::string text;                   // case-sensitive substring of Alert::raw; "" = any
  // ATT&CK (upper-case technique ids, Sigma tactic names), each list ORed; empty = any. An alert
  // matches a technique when it has it or one of its sub-techniques (T1003 finds T1003.001).
  // The caller lists every revision it wants found (rules/attack_mapping.h: the analyst API
  // gives T1562.002 and T1685.001 both). Alerts stored without an ATT&CK view are judged by
  // their `attack.*` tags (alert_attack_techniques() in core/alert.h).
  std::vector<std::string> techniques, tactics;
  std::size_t limit = 100;            // page size, at least 1
  std::string cursor;                 // next_cursor of the previous page; "" = first page
  bool newest_first = true;
};

struct AlertPage {
  std::vector<Alert> alerts;
  std::string next_cursor;  // "" = no more matching alerts
};

// A lifecycle change of one alert; fields left empty are not changed.
struct AlertChange {
  std::optional<AlertStatus> status;
  // Required (not kNone) when status is kClosed; must be kNone otherwise (reopening clears it).
  AlertResolution resolution = AlertResolution::kNone;
  std::optional<std::string> assignee;
  std::string note;  // "" = no note
  bool empty() const { return !status && !assignee && note.empty(); }
};

// One entry of an alert's history (who did what, when).
struct HistoryEntry {
  std::int64_t time_unix_ns = 0;
  std::string actor, action, detail;  // action: "status", "assign", "note"
};

// One entry of the audit log: every change made through the API or the CLI.
struct AuditEntry {
  std::string id;  // cursor: position in the log
  std::int64_t time_unix_ns = 0;
  std::string actor, action, target, detail;
};

struct AuditPage {
  std::vector<AuditEntry> entries;  // newest first
  std::string next_cursor;          // "" = no more
};

// How alerts are grouped: what group an alert belongs to and for how long a group stays open.
struct GroupSpec {
  std::int64_t window_ns = 0;  // 0 = this alert is never grouped
  std::string key;             // alerts with equal keys (and rule) group together
};
// Called inside commit() under the write lock for every alert: must be quick and must not call
// back into the store.
using GroupingPolicy = std::function<GroupSpec(const Alert&)>;

class AlertStore;

// The store's column families, for code in storage/ that keeps its own records beside the
// alerts (the forwarding outbox, lifecycle history).
enum class ColumnFamily { kAlerts, kIndex, kHistory, kOutbox, kCheckpoints, kMeta, kStats };

// Writes that must be atomic with the alerts of a commit (outbox entries, correlation state):
// add_to_batch() is called inside commit(), under the store's write lock, after every alert
// got its id and before the WriteBatch is written. An error fails the whole commit.
class CommitExtension {
 public:
  virtual ~CommitExtension() = default;
  virtual Status add_to_batch(const std::vector<Alert>& alerts, rocksdb::WriteBatch& batch,
                              const AlertStore& store) = 0;
  // After the commit is durable (to wake a forwarder). Under the write lock: must not block
  // or call commit().
  virtual void committed(const std::vector<Alert>& alerts) { (void)alerts; }
};

// What `vigil store check` found (AlertStore::check).
struct StoreCheckReport {
  std::vector<std::pair<std::string, std::uint64_t>> records;  // column family, readable records
  std::uint64_t sst_files = 0;
  std::uint64_t alerts_undecodable = 0;
  std::vector<std::string> problems;  // empty: every block's checksum and every record are good
  bool ok() const { return problems.empty(); }
};

class AlertStore {
 public:
  // Opens (creating if needed) the store for reading and writing. One writer per directory:
  // a second open() of the same directory fails (RocksDB's LOCK file).
  static Result<std::unique_ptr<AlertStore>> open(const StoreOptions& options);
  // Opens a store that a writer (this or another process) may have open at the same time, as
  // a RocksDB secondary instance. Sees the data as of this call; catch_up() moves it forward.
  static Result<std::unique_ptr<AlertStore>> open_read_only(const std::string& dir);
  // Verifies a store: every SST block's checksum, every record of every column family, every
  // alert decodes. Opens it read-only (no lock: a running daemon's store can be checked, as of
  // now). Fails only when there is no store in `dir`; damage is in the report.
  static Result<StoreCheckReport> check(const std::string& dir);
  // Rebuilds a damaged store from what is intact (RocksDB's RepairDB: the SST files it can
  // read, the WAL up to its damage). The directory is first copied to `<dir>.before-repair-<unix
  // time>` (its name in *copy_dir), because repair keeps what it can and drops the rest. The
  // daemon must be stopped (the store's lock is taken).
  static Status repair(const std::string& dir, std::string* copy_dir);
  // check() of this open store.
  StoreCheckReport verify() const;

  ~AlertStore();
  AlertStore(const AlertStore&) = delete;
  AlertStore& operator=(const AlertStore&) = delete;

  // Writes the alerts, every index entry and the checkpoints (key -> value, a later value
  // replacing an earlier one) in one WriteBatch. Assigns each alert its id and
  // created_unix_ns (never less than any earlier commit's, even if the clock steps back).
  // Durable when it returns ok (with StoreOptions::sync). On error the alerts' ids are cleared
  // and nothing was written. Empty alerts and checkpoints: ok, nothing written.
  Status commit(std::vector<Alert>& alerts, const std::vector<Checkpoint>& checkpoints);

  // Writes and deletes checkpoints alone, in one WriteBatch, for state whose loss in an OS
  // crash costs little (a source's learnt cadence): not synced, and no alert goes with it.
  // Refused like commit() while free space is below StoreOptions::min_free_bytes.
  Status write_checkpoints(const std::vector<Checkpoint>& puts, const std::vector<std::string>& deletes);
  Result<std::optional<std::string>> checkpoint(std::string_view key) const;
  Result<std::vector<Checkpoint>> checkpoints_with_prefix(std::string_view prefix) const;

  // NotFound if absent, InvalidArgument if `id` is not 32 hex digits.
  Result<Alert> get(std::string_view id) const;
  // One page of alerts matching every filter, in id order (newest or oldest first). Scans the
  // most selective index for the filters given and checks the other filters on each alert.
  Result<AlertPage> list(const AlertQuery& query) const;

  // Lifecycle: applies `change` to one alert, by `actor`, in one WriteBatch (alert value, status
  // index entry, a history entry per aspect changed, an audit entry, the status counters).
  // `tenant_scope`: "" or "*" = any tenant; otherwise an alert of another tenant is NotFound
  // (a caller must not learn that it exists). InvalidArgument for an empty or inconsistent
  // change (closed without resolution, resolution without closing). Returns the updated alert.
  Result<Alert> update(std::string_view id, const AlertChange& change, std::string_view actor,
                       std::string_view tenant_scope = "");
  // The history of one alert, oldest first.
  Result<std::vector<HistoryEntry>> history(std::string_view id) const;

  // Appends one audit entry (token creation and other changes that are not alert updates;
  // update() writes its own).
  Status audit(std::string_view actor, std::string_view action, std::string_view target,
               std::string_view detail);
  // The audit log, newest first; `cursor` = next_cursor of the previous page.
  Result<AuditPage> audit_log(std::size_t limit, std::string_view cursor) const;

  // API token records (api/tokens.h owns their encoding): key = the token's hash, in the meta
  // column family. put/delete write the record and `audit` (when given) in one WriteBatch, so a
  // token never exists without the entry that says who made it. `durable` = false for records
  // whose loss in a crash is harmless (a token's last-used time).
  struct TokenAudit {
    std::string_view actor, action, target, detail;
  };
  Status put_token_record(std::string_view hash, std::string_view value, const TokenAudit* audit,
                          bool durable = true);
  Status delete_token_record(std::string_view hash, const TokenAudit* audit);
  // Every token record as (hash, value).
  Result<std::vector<std::pair<std::string, std::string>>> token_records() const;

  // Grouping: `policy` decides each alert's group; `max_window_ns` bounds every window it gives
  // (used to rebuild the open groups from the alerts of the last max_window_ns). Writers only.
  Status set_grouping(GroupingPolicy policy, std::int64_t max_window_ns);
  std::size_t open_groups() const;

  // Retention: deletes alerts created before `unix_ns` with their index entries and history.
  // Returns how many alerts it deleted. Works in chunks of one WriteBatch each, so commits
  // interleave; afterwards scans start at the cutoff instead of stepping over tombstones.
  Result<std::uint64_t> delete_older_than(std::int64_t unix_ns);

  // Checkpoints under `prefix` whose keys end in "<name>/<alert id>" with an alert id of the
  // store's kind (hex of a time-ordered key: the national receiver's duplicate check,
  // "alerts-in/<sender>/<origin id>") are deleted by retention with the alerts of their time.
  void expire_checkpoints_by_alert_id(std::string prefix);

  // Read-only stores: catch up with the writer's latest commits. InvalidArgument on a writer.
  Status catch_up();

  // SST files + memtables of all column families: the vigil_store_size_bytes gauge.
  std::uint64_t approximate_size_bytes() const;
  // Alerts stored (kept exact by commit and retention; "estimate" because a read-only store
  // lags the writer).
  std::uint64_t alert_count_estimate() const;

  // Registers an extension called by every later commit(), in registration order. Not owned:
  // it must outlive the store or be removed first. Writers only.
  void add_commit_extension(CommitExtension* extension);
  void remove_commit_extension(CommitExtension* extension);

  // The RocksDB handles, for storage/ code that reads or writes its own column family.
  rocksdb::DB* rocksdb_db() const;
  rocksdb::ColumnFamilyHandle* column_family(ColumnFamily which) const;
  // Durability of the store's own writes (StoreOptions::sync), for extensions writing alone.
  bool sync() const { return sync_; }

  const std::string& dir() const { return dir_; }
  bool read_only() const { return read_only_; }
  // Non-empty when open() found the data directory or its files readable by other local users
  // and narrowed them (the caller says so loudly).
  const std::string& permission_warning() const { return permission_warning_; }

 private:
  struct Handles;
  AlertStore() = default;
  // A read-only store with its cache, not yet open, and the descriptors to open it with.
  static std::unique_ptr<AlertStore> unopened_reader(const std::string& dir,
                                                     std::vector<rocksdb::ColumnFamilyDescriptor>* descriptors);
  Status load_meta();
  // Ok, or why a commit must wait (StoreOptions::min_free_bytes).
  Status check_free_space() const;
  // Every index key of the alert whose 16-byte store key is `alert_key`: what commit writes
  // and retention deletes (a status change will delete the old status entries and put the new).
  static std::vector<std::string> index_keys(const Alert& alert, std::string_view alert_key);
  std::int64_t now_ns() const;

  std::string dir_;
  std::string secondary_dir_;  // read-only stores: the secondary instance's own log directory
  bool read_only_ = false;
  bool sync_ = true;
  std::uint64_t min_free_bytes_ = 0;
  std::string permission_warning_;
  std::function<std::int64_t()> clock_;
  std::unique_ptr<Handles> handles_;
  std::vector<CommitExtension*> extensions_;  // guarded by write_mutex_

  struct OpenGroup {
    std::string alert_key;
    std::int64_t created_unix_ns = 0;
    std::int64_t window_ns = 0;
  };
  static std::string group_map_key(const Alert& alert, const GroupSpec& spec);
  // The Put of an audit entry into `batch` (caller holds write_mutex_).
  Status add_audit(rocksdb::WriteBatch& batch, std::int64_t time_ns, std::string_view actor,
                   std::string_view action, std::string_view target, std::string_view detail);

  GroupingPolicy grouping_;                                   // guarded by write_mutex_
  std::unordered_map<std::string, OpenGroup> open_groups_;    // guarded by write_mutex_
  std::uint64_t audit_sequence_ = 0;                          // guarded by write_mutex_
  std::uint64_t history_sequence_ = 0;                        // guarded by write_mutex_

  std::mutex retention_mutex_;  // one delete_older_than() at a time
  std::vector<std::string> expiring_checkpoint_prefixes_;  // guarded by retention_mutex_
  mutable std::mutex write_mutex_;  // serialises the read-modify-write of the counters below
  std::uint64_t next_sequence_ = 0;
  std::int64_t last_created_unix_ns_ = 0;
  std::atomic<std::uint64_t> alert_count_{0};
  // No alert is created before this (retention deleted them): scans start here.
  std::atomic<std::int64_t> retention_floor_unix_ns_{0};
};

}  // namespace vigil::storage
