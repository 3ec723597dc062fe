#include "storage/alert_store.h"

#include "core/hex.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>

#include "storage/alert_codec.h"
#include "storage/stats.h"

namespace vigil::storage {

namespace {

namespace fs = std::filesystem;

// Column family names, in the order of Handles::cfs (index 0 must be RocksDB's default CF,
// which every database has and which vigil leaves empty).
enum CfIndex { kDefaultCf = 0, kAlertsCf, kIndexCf, kHistoryCf, kOutboxCf, kCheckpointsCf, kMetaCf, kStatsCf, kCfCount };
const char* const kCfNames[kCfCount] = {"default", "alerts", "index", "history", "outbox", "checkpoints", "meta", "stats"};

constexpr std::string_view kSchemaVersion = "1";
constexpr std::string_view kMetaSchemaVersion = "schema_version";
constexpr std::string_view kMetaNextSequence = "next_sequence";      // 8 bytes big-endian
constexpr std::string_view kMetaLastCreated = "last_created_unix_ns";  // 8 bytes big-endian
constexpr std::string_view kMetaAlertCount = "alert_count";          // 8 bytes big-endian
// Every alert created before this time is deleted: scans start here, skipping the tombstones
// retention leaves until compaction removes them.
// "revision/" + Alert::revision_key -> 16-byte key of the alert raised early under it, until
// its final revision.
constexpr std::string_view kMetaRevisionPrefix = "revision/";
constexpr std::string_view kMetaRetentionFloor = "retention_floor_unix_ns";  // 8 bytes big-endian

// Retention deletes this many alerts per WriteBatch: small enough that commits waiting on the
// write mutex are not held up, large enough that the per-batch fsync is amortised.
constexpr std::size_t kRetentionChunk = 1000;

// The audit log's keys in the meta column family: prefix + big-endian time ns + sequence.
constexpr std::string_view kAuditPrefix = "audit/";
constexpr std::string_view kTokenPrefix = "token/";

// History and audit values: strings, each as a 4-byte big-endian length and its bytes.
void append_field(std::string* out, std::string_view s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((n >> shift) & 0xff));
  out->append(s);
}
bool read_field(std::string_view* in, std::string* out) {
  if (in->size() < 4) return false;
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>((*in)[static_cast<std::size_t>(i)]);
  if (in->size() - 4 < n) return false;
  out->assign(in->substr(4, n));
  in->remove_prefix(4 + n);
  return true;
}

// Index kinds: the first byte of every key in the index column family. Entries are
//   <kind><value as escaped string><16-byte alert key>          rule, tenant, host
//   <kind><one byte: level or status><16-byte alert key>        level, status
//   'T'<tenant as escaped string><level byte><16-byte alert key> tenant+level compound
// so every (kind, value) is a contiguous run sorted by alert key, i.e. by time.
constexpr char kIndexRule = 'r';
constexpr char kIndexHost = 'h';
constexpr char kIndexTenant = 't';
constexpr char kIndexLevel = 'l';
constexpr char kIndexStatus = 's';
constexpr char kIndexTenantLevel = 'T';

// A string inside an index key, encoded so no value's encoding is a prefix of another's:
// every NUL becomes NUL 0xff and the string ends with NUL 0x01. Without this, a scan for host
// "web" would also return host "web\0x".
void append_index_string(std::string* out, std::string_view value) {
  for (char c : value) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xff');
  }
  out->push_back('\0');
  out->push_back('\x01');
}

std::string string_index_prefix(char kind, std::string_view value) {
  std::string prefix(1, kind);
  append_index_string(&prefix, value);
  return prefix;
}

std::string byte_index_prefix(char kind, std::uint8_t value) {
  return std::string{kind, static_cast<char>(value)};
}

std::string tenant_level_prefix(std::string_view tenant, AlertLevel level) {
  std::string prefix = string_index_prefix(kIndexTenantLevel, tenant);
  prefix.push_back(static_cast<char>(level));
  return prefix;
}

std::string encode_u64(std::uint64_t v) {
  std::string out;
  put_big_endian64(&out, v);
  return out;
}

Status from_rocksdb(const rocksdb::Status& s, std::string_view what) {
  std::string msg = "storage: " + std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(std::move(msg));
  if (s.IsCorruption()) return Status::ParseError(std::move(msg));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(msg));
  if (s.IsNotSupported()) return Status::Unsupported(std::move(msg));
  return Status::IoError(std::move(msg));
}

rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view view(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

rocksdb::CompressionType best_compression() {
  std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  for (rocksdb::CompressionType wanted : {rocksdb::kLZ4Compression, rocksdb::kSnappyCompression})
    if (std::find(supported.begin(), supported.end(), wanted) != supported.end()) return wanted;
  return rocksdb::kNoCompression;
}

rocksdb::ColumnFamilyOptions cf_options(int cf, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  o.compression = best_compression();
  o.level_compaction_dynamic_level_bytes = true;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.format_version = 5;
  if (cf == kAlertsCf) {
    // get() and every index hit are point lookups here.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.block_size = 16 * 1024;  // alerts are ~1 KiB: a few per block compress better
  }
  if (cf == kAlertsCf || cf == kIndexCf || cf == kHistoryCf) {
    // Retention deletes the oldest alerts and their index entries: compact files that fill up
    // with tombstones instead of making every oldest-first scan step over them.
    o.table_properties_collector_factories.push_back(
        rocksdb::NewCompactOnDeletionCollectorFactory(/*sliding_window_size=*/16384,
                                                      /*deletion_trigger=*/8192));
  }
    if (cf == kStatsCf) o.merge_operator = make_counter_merge_operator();
  if (cf != kAlertsCf && cf != kIndexCf) o.write_buffer_size = 8 << 20;  // small, rarely written
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return o;
}

std::int64_t system_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool matches(const Alert& a, const AlertQuery& q) {
  if (a.created_unix_ns < q.from_unix_ns || a.created_unix_ns >= q.to_unix_ns) return false;
  if (q.min_level && a.level < *q.min_level) return false;
  if (q.status && a.status != *q.status) return false;
  if (!q.tenant.empty() && a.tenant != q.tenant) return false;
  if (!q.rule_id.empty() && a.rule_id != q.rule_id) return false;
  if (!q.host.empty() && a.host != q.host) return false;
  if (!q.text.empty() && a.raw.find(q.text) == std::string::npos) return false;
  if (!q.techniques.empty()) {
    const std::vector<std::string> have = alert_attack_techniques(a);
    const bool any = std::any_of(have.begin(), have.end(), [&](const std::string& t) {
      return std::any_of(q.techniques.begin(), q.techniques.end(), [&](const std::string& w) {
        return t == w || (t.size() > w.size() && t.compare(0, w.size(), w) == 0 && t[w.size()] == '.');
      });
    });
    if (!any) return false;
  }
  if (!q.tactics.empty()) {
    const std::vector<std::string> have = alert_attack_tactics(a);
    if (std::none_of(have.begin(), have.end(), [&](const std::string& t) {
          return std::find(q.tactics.begin(), q.tactics.end(), t) != q.tactics.end();
        }))
      return false;
  }
  return true;
}

}  // namespace

struct AlertStore::Handles {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  std::shared_ptr<rocksdb::Cache> cache;

  rocksdb::ColumnFamilyHandle* cf(int i) const { return cfs[static_cast<std::size_t>(i)]; }

  ~Handles() {
    if (!db) return;
    for (rocksdb::ColumnFamilyHandle* h : cfs) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db->Close().PermitUncheckedError();  // errors here have no one left to report to
    delete db;
  }
};

AlertStore::~AlertStore() {
  // A writer's memtables go to SST files on a clean close: the next start replays no WAL, and
  // the data sits in files that name their column family, which is what `vigil store repair`
  // rebuilds a store from when its MANIFEST is damaged.
  if (!read_only_ && handles_ && handles_->db && check_free_space().ok()) {
    rocksdb::FlushOptions flush;
    flush.allow_write_stall = true;
    handles_->db->Flush(flush, handles_->cfs).PermitUncheckedError();  // the WAL still holds it
  }
  handles_.reset();  // close the database before removing the secondary's log directory
  if (!secondary_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(secondary_dir_, ec);
  }
}

std::int64_t AlertStore::now_ns() const { return clock_ ? clock_() : system_now_ns(); }

namespace {

// The store holds every tenant's alerts and the token hashes: no other local user may read it.
// A directory or file open to group or others is narrowed to the owner (0700 / 0600) and the
// change reported; files RocksDB creates later get the process umask, which `vigil` sets to 077.
std::string octal_mode(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

Status restrict_to_owner(const std::string& dir, std::string* warning) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return Status::IoError("storage: cannot stat data directory '" + dir + "': " + std::strerror(errno));
  const unsigned dir_mode = st.st_mode & 07777;
  std::size_t files_narrowed = 0;
  if ((dir_mode & 077) != 0 && ::chmod(dir.c_str(), dir_mode & 07700) != 0)
    return Status::IoError("storage: data directory '" + dir + "' is readable by other local users (mode " +
                           octal_mode(dir_mode) + ") and cannot be narrowed: " + std::strerror(errno) +
                           "; run chmod 700 on it");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    struct stat fst {};
    if (::lstat(entry.path().c_str(), &fst) != 0 || !S_ISREG(fst.st_mode) || (fst.st_mode & 077) == 0) continue;
    if (::chmod(entry.path().c_str(), fst.st_mode & 07700) == 0) ++files_narrowed;
  }
  if ((dir_mode & 077) != 0 || files_narrowed > 0)
    *warning = "data directory '" + dir + "' was readable by other local users (directory mode " +
               octal_mode(dir_mode) + ", " + std::to_string(files_narrowed) +
               " file(s) open to group or others); narrowed to the owner (0700, files 0600)";
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<AlertStore>> AlertStore::open(const StoreOptions& options) {
  if (options.dir.empty()) return Error(Status::InvalidArgument("storage: data directory not set"));
  std::error_code ec;
  if (fs::exists(options.dir, ec) && !fs::is_directory(options.dir, ec))
    return Error(Status::InvalidArgument("storage: data directory '" + options.dir +
                                         "' exists and is not a directory"));
  fs::create_directories(options.dir, ec);
  if (ec)
    return Error(Status::IoError("storage: cannot create data directory '" + options.dir + "': " + ec.message()));
  std::string permission_warning;
  if (Status st = restrict_to_owner(options.dir, &permission_warning); !st.ok()) return Error(std::move(st));

  std::unique_ptr<AlertStore> store(new AlertStore());
  store->permission_warning_ = std::move(permission_warning);
  store->dir_ = options.dir;
  store->sync_ = options.sync;
  store->min_free_bytes_ = options.min_free_bytes;
  store->clock_ = options.clock;
  store->handles_ = std::make_unique<Handles>();
  Handles& h = *store->handles_;
  h.cache = rocksdb::NewLRUCache(options.block_cache_bytes);

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // One cap on the memtables of all column families together (each would otherwise grow to
  // 64 MiB x 2): the store's share of the daemon's memory stays bounded under an alert storm.
  db_options.db_write_buffer_size = 128 << 20;
  db_options.bytes_per_sync = 1 << 20;
  db_options.keep_log_file_num = 5;
  // The small column families (checkpoints, meta) would otherwise keep old WAL files alive
  // until their memtables fill; this bound makes RocksDB flush them.
  db_options.max_total_wal_size = 256 << 20;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (int i = 0; i < kCfCount; ++i) descriptors.emplace_back(kCfNames[i], cf_options(i, h.cache));
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.dir, descriptors, &h.cfs, &h.db);
  if (!s.ok()) {
    Status st = from_rocksdb(s, "cannot open alert store in '" + options.dir + "'");
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
      return Error(Status::IoError(st.message() + " (is another vigil process using this data directory?)"));
    if (s.IsCorruption())
      return Error(Status::ParseError(
          st.message() + "; the store is damaged: `vigil store check --data-dir " + options.dir +
          "` lists what is, `vigil store repair --data-dir " + options.dir +
          "` rebuilds it from what is intact (after copying the directory aside)"));
    return Error(std::move(st));
  }
  if (Status st = store->load_meta(); !st.ok()) return Error(std::move(st));
  return store;
}

std::unique_ptr<AlertStore> AlertStore::unopened_reader(const std::string& dir,
                                                        std::vector<rocksdb::ColumnFamilyDescriptor>* descriptors) {
  std::unique_ptr<AlertStore> store(new AlertStore());
  store->dir_ = dir;
  store->read_only_ = true;
  store->handles_ = std::make_unique<Handles>();
  store->handles_->cache = rocksdb::NewLRUCache(16 << 20);
  for (int i = 0; i < kCfCount; ++i) descriptors->emplace_back(kCfNames[i], cf_options(i, store->handles_->cache));
  return store;
}

Result<std::unique_ptr<AlertStore>> AlertStore::open_read_only(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "CURRENT", ec))
    return Error(Status::NotFound("storage: no alert store in '" + dir + "'"));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  std::unique_ptr<AlertStore> store = unopened_reader(dir, &descriptors);
  Handles& h = *store->handles_;
  // A secondary instance writes its info log to a directory of its own, never into the
  // writer's directory.
  std::string secondary_template = (fs::temp_directory_path(ec) / "vigil-store-reader-XXXXXX").string();
  if (ec || !mkdtemp(secondary_template.data()))
    return Error(Status::IoError("storage: cannot create a temporary directory for the read-only store"));
  store->secondary_dir_ = secondary_template;

  rocksdb::DBOptions db_options;
  db_options.max_open_files = -1;  // required by secondary instances
  db_options.keep_log_file_num = 1;
  rocksdb::Status s =
      rocksdb::DB::OpenAsSecondary(db_options, dir, store->secondary_dir_, descriptors, &h.cfs, &h.db);
  if (!s.ok()) return Error(from_rocksdb(s, "cannot open alert store in '" + dir + "' read-only"));
  if (Status st = store->load_meta(); !st.ok()) return Error(std::move(st));
  return store;
}

Result<StoreCheckReport> AlertStore::check(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "CURRENT", ec))
    return Error(Status::NotFound("storage: no alert store in '" + dir + "'"));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  std::unique_ptr<AlertStore> store = unopened_reader(dir, &descriptors);
  Handles& h = *store->handles_;
  rocksdb::DBOptions db_options;
  db_options.paranoid_checks = true;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &h.cfs, &h.db);
  if (!s.ok()) {
    h.db = nullptr;
    StoreCheckReport report;
    report.problems.push_back("cannot open: " + s.ToString());
    return report;
  }
  return store->verify();
}

StoreCheckReport AlertStore::verify() const {
  StoreCheckReport report;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (entry.path().extension() == ".sst") report.sst_files++;
  const Handles& h = *handles_;
  if (rocksdb::Status s = h.db->VerifyChecksum(); !s.ok())
    report.problems.push_back("block checksums: " + s.ToString());
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  for (int i = 0; i < kCfCount; ++i) {
    std::uint64_t n = 0;
    std::unique_ptr<rocksdb::Iterator> it(h.db->NewIterator(ro, h.cf(i)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++n;
      if (i != kAlertsCf) continue;
      Alert alert;
      if (!decode_alert(view(it->key()), view(it->value()), &alert).ok()) report.alerts_undecodable++;
    }
    if (!it->status().ok())
      report.problems.push_back(std::string(kCfNames[i]) + " after " + std::to_string(n) +
                                " records: " + it->status().ToString());
    report.records.emplace_back(kCfNames[i], n);
  }
  if (report.alerts_undecodable > 0)
    report.problems.push_back(std::to_string(report.alerts_undecodable) + " alert record(s) do not decode");
  return report;
}

Status AlertStore::repair(const std::string& dir, std::string* copy_dir) {
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "CURRENT", ec) && !fs::exists(fs::path(dir) / "IDENTITY", ec))
    return Status::NotFound("storage: no alert store in '" + dir + "'");
  // Refuse while a daemon holds the store: RepairDB would otherwise rewrite files under it.
  {
    rocksdb::Env* env = rocksdb::Env::Default();
    rocksdb::FileLock* lock = nullptr;
    rocksdb::Status s = env->LockFile(dir + "/LOCK", &lock);
    if (!s.ok())
      return Status::IoError("storage: the store in '" + dir + "' is in use (stop the daemon first): " + s.ToString());
    env->UnlockFile(lock).PermitUncheckedError();
  }
  const std::string copy = dir + ".before-repair-" + std::to_string(system_now_ns() / 1000000000);
  fs::copy(dir, copy, fs::copy_options::recursive, ec);
  if (ec) return Status::IoError("storage: cannot copy '" + dir + "' to '" + copy + "' before repairing: " + ec.message());
  if (copy_dir) *copy_dir = copy;
  auto cache = rocksdb::NewLRUCache(16 << 20);
  rocksdb::DBOptions db_options;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (int i = 0; i < kCfCount; ++i) descriptors.emplace_back(kCfNames[i], cf_options(i, cache));
  rocksdb::Status s = rocksdb::RepairDB(dir, db_options, descriptors);
  if (!s.ok()) return from_rocksdb(s, "repairing the store in '" + dir + "'");
  // RepairDB restores only the column families it found data for: an open that creates the
  // others makes the store whole again (and proves it opens).
  db_options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  rocksdb::DB* db = nullptr;
  s = rocksdb::DB::Open(db_options, dir, descriptors, &cfs, &db);
  if (!s.ok()) return from_rocksdb(s, "opening the repaired store in '" + dir + "'");
  for (rocksdb::ColumnFamilyHandle* h : cfs) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  s = db->Close();
  delete db;
  if (!s.ok()) return from_rocksdb(s, "closing the repaired store in '" + dir + "'");
  return Status::Ok();
}

Status AlertStore::catch_up() {
  if (!read_only_) return Status::InvalidArgument("storage: catch_up() is for read-only stores");
  rocksdb::Status s = handles_->db->TryCatchUpWithPrimary();
  if (!s.ok()) return from_rocksdb(s, "catching up with the writer");
  return load_meta();
}

Status AlertStore::load_meta() {
  rocksdb::DB* db = handles_->db;
  rocksdb::ColumnFamilyHandle* meta = handles_->cf(kMetaCf);
  auto read_u64 = [&](std::string_view key, std::uint64_t* out) -> Status {
    std::string value;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, slice(key), &value);
    if (s.IsNotFound()) {
      *out = 0;
      return Status::Ok();
    }
    if (!s.ok()) return from_rocksdb(s, "reading " + std::string(key));
    if (value.size() != 8) return Status::ParseError("storage: meta " + std::string(key) + " is not 8 bytes");
    *out = get_big_endian64(value);
    return Status::Ok();
  };

  std::string version;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, slice(kMetaSchemaVersion), &version);
  if (s.IsNotFound()) {
    if (read_only_) return Status::NotFound("storage: '" + dir_ + "' holds no vigil alert store");
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, meta, slice(kMetaSchemaVersion), slice(kSchemaVersion));
    if (!s.ok()) return from_rocksdb(s, "writing the schema version");
  } else if (!s.ok()) {
    return from_rocksdb(s, "reading the schema version");
  } else if (version != kSchemaVersion) {
    return Status::Unsupported("storage: alert store in '" + dir_ + "' has schema version " + version +
                               ", this vigil reads version " + std::string(kSchemaVersion));
  }

  std::uint64_t next_sequence = 0, last_created = 0, count = 0;
  if (Status st = read_u64(kMetaNextSequence, &next_sequence); !st.ok()) return st;
  if (Status st = read_u64(kMetaLastCreated, &last_created); !st.ok()) return st;
  if (Status st = read_u64(kMetaAlertCount, &count); !st.ok()) return st;
  std::uint64_t floor = 0;
  if (Status st = read_u64(kMetaRetentionFloor, &floor); !st.ok()) return st;
  retention_floor_unix_ns_ = static_cast<std::int64_t>(floor);
  std::lock_guard lock(write_mutex_);
  next_sequence_ = next_sequence;
  last_created_unix_ns_ = static_cast<std::int64_t>(last_created);
  alert_count_ = count;
  return Status::Ok();
}

std::vector<std::string> AlertStore::index_keys(const Alert& alert, std::string_view alert_key) {
  std::vector<std::string> keys;
  keys.reserve(6);
  auto add = [&](std::string prefix) {
    prefix.append(alert_key);
    keys.push_back(std::move(prefix));
  };
  // Empty strings are not indexed: a query cannot ask for them ("" = any).
  if (!alert.rule_id.empty()) add(string_index_prefix(kIndexRule, alert.rule_id));
  if (!alert.host.empty()) add(string_index_prefix(kIndexHost, alert.host));
  if (!alert.tenant.empty()) {
    add(string_index_prefix(kIndexTenant, alert.tenant));
    add(tenant_level_prefix(alert.tenant, alert.level));
  }
  add(byte_index_prefix(kIndexLevel, static_cast<std::uint8_t>(alert.level)));
  add(byte_index_prefix(kIndexStatus, static_cast<std::uint8_t>(alert.status)));
  return keys;
}

std::string AlertStore::group_map_key(const Alert& alert, const GroupSpec& spec) {
  std::string key = alert.rule_id;
  key.push_back('\0');
  key += alert.tenant;
  key.push_back('\0');
  key += spec.key;
  return key;
}

Status AlertStore::check_free_space() const {
  if (min_free_bytes_ == 0) return Status::Ok();
  struct statvfs fsinfo {};
  if (::statvfs(dir_.c_str(), &fsinfo) != 0) return Status::Ok();  // unknown: RocksDB decides
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(fsinfo.f_bavail) * fsinfo.f_frsize;
  if (free_bytes >= min_free_bytes_) return Status::Ok();
  return Status::IoError("storage: disk nearly full: " + std::to_string(free_bytes >> 20) + " MiB free in '" + dir_ +
                         "', below the reserve of " + std::to_string(min_free_bytes_ >> 20) +
                         " MiB (store.min_free_mib); free space or grow the filesystem");
}

Status AlertStore::commit(std::vector<Alert>& alerts, const std::vector<Checkpoint>& checkpoints) {
  if (alerts.empty() && checkpoints.empty()) return Status::Ok();
  if (read_only_) return Status::InvalidArgument("storage: commit on a read-only alert store");
  if (Status st = check_free_space(); !st.ok()) return st;
  for (const Checkpoint& c : checkpoints)
    if (c.key.empty()) return Status::InvalidArgument("storage: checkpoint with an empty key");

  Handles& h = *handles_;
  std::lock_guard lock(write_mutex_);
  // Ids must sort in commit order, so a clock that stepped back keeps the last commit's time.
  std::int64_t created = std::max({now_ns(), last_created_unix_ns_, std::int64_t{1}});
  std::uint64_t sequence = next_sequence_;
  rocksdb::WriteBatch batch;
  rocksdb::Status s;

  // Grouping: which alerts are repeats of a group opened earlier (raise that stored alert's
  // count) or earlier in this commit (raise the count of that alert before it is written).
  std::vector<std::uint32_t> extra(alerts.size(), 0);
  std::vector<bool> repeat(alerts.size(), false);
  struct Bump {
    Alert alert;
    std::string key;
  };
  std::unordered_map<std::string, Bump> bumps;                       // by stored alert key
  std::unordered_map<std::string, std::pair<std::size_t, std::int64_t>> opened;  // group -> (alert, window)
  std::size_t repeats = 0;
  // Revisions of correlation alerts raised early (Alert::revision): each replaces the state of
  // the alert it names, stored earlier or first in this commit, and is not stored itself. The
  // alert keeps its id, creation time, receipt, tenant, host, level (its index entries stay
  // right) and lifecycle; its fields, last-seen time and text become the revision's.
  auto apply_revision = [](Alert& target, const Alert& rev) {
    target.event_unix_ns = rev.event_unix_ns;
    target.event_time = rev.event_time;
    target.matched = rev.matched;
    target.fields = rev.fields;
    target.raw = rev.raw;
  };
  std::unordered_map<std::string, std::size_t> first_here;  // revision key -> its kFirst in `alerts`
  std::vector<std::pair<std::string, std::size_t>> remember;  // revision key -> kFirst index, after the ids
  std::vector<std::string> forget;                            // revision keys whose window is over
  // Per key, the newest revision in this commit wins (highest revision_seq: matcher threads
  // finish batches out of order, so an update may even come before its kFirst here). Commits
  // follow one another in time, so a later commit's revisions are newer than the stored state.
  std::unordered_map<std::string, std::vector<std::size_t>> revisions;  // key -> its kUpdate/kFinal here
  for (std::size_t i = 0; i < alerts.size(); ++i) {
    const Alert& a = alerts[i];
    if (a.revision == Alert::Revision::kNone || a.revision_key.empty()) continue;
    if (a.revision == Alert::Revision::kFirst) {
      first_here[a.revision_key] = i;
      remember.emplace_back(a.revision_key, i);
      continue;
    }
    if (a.revision == Alert::Revision::kFinal) forget.push_back(a.revision_key);
    revisions[a.revision_key].push_back(i);
  }
  for (const auto& [rkey, list] : revisions) {
    std::size_t i = list.front();
    for (std::size_t j : list)
      if (alerts[j].revision_seq > alerts[i].revision_seq) i = j;
    const Alert& a = alerts[i];
    // Every record of the key but the newest is spent; the newest too once applied.
    for (std::size_t j : list)
      if (j != i) {
        repeat[j] = true;
        ++repeats;
      }
    Alert* target_alert = nullptr;
    if (auto f = first_here.find(rkey); f != first_here.end()) {
      target_alert = &alerts[f->second];  // idempotent: a retried commit applies the same state again
    } else {
      std::string target;
      s = h.db->Get(rocksdb::ReadOptions(), h.cf(kMetaCf), std::string(kMetaRevisionPrefix) + rkey, &target);
      if (s.ok() && target.size() == kAlertKeySize) {
        auto b = bumps.find(target);
        if (b == bumps.end()) {
          std::string value;
          Bump bump;
          bump.key = target;
          s = h.db->Get(rocksdb::ReadOptions(), h.cf(kAlertsCf), target, &value);
          if (s.ok() && decode_alert(target, value, &bump.alert).ok()) b = bumps.emplace(target, std::move(bump)).first;
        }
        if (b != bumps.end()) target_alert = &b->second.alert;
      }
      if (!s.ok() && !s.IsNotFound()) return from_rocksdb(s, "reading the alert named by a correlation revision");
      s = rocksdb::Status::OK();
    }
    // Unknown here (never stored, deleted by retention, unreadable): the newest state is stored
    // as an alert of its own rather than lost.
    if (!target_alert) continue;
    apply_revision(*target_alert, a);
    repeat[i] = true;
    ++repeats;
  }
  if (grouping_) {
    for (std::size_t i = 0; i < alerts.size(); ++i) {
      // An alert with revisions is one window's alert: it is not grouped with others.
      if (repeat[i] || alerts[i].revision != Alert::Revision::kNone) continue;
      GroupSpec spec = grouping_(alerts[i]);
      if (spec.window_ns <= 0) continue;
      std::string group = group_map_key(alerts[i], spec);
      if (auto o = opened.find(group); o != opened.end()) {
        extra[o->second.first] += alerts[i].count;
        repeat[i] = true;
        ++repeats;
        continue;
      }
      auto g = open_groups_.find(group);
      if (g != open_groups_.end() && created - g->second.created_unix_ns < g->second.window_ns) {
        auto b = bumps.find(g->second.alert_key);
        if (b == bumps.end()) {
          std::string value;
          s = h.db->Get(rocksdb::ReadOptions(), h.cf(kAlertsCf), g->second.alert_key, &value);
          Bump bump;
          bump.key = g->second.alert_key;
          if (s.ok() && decode_alert(bump.key, value, &bump.alert).ok() &&
              bump.alert.status != AlertStatus::kClosed) {
            b = bumps.emplace(bump.key, std::move(bump)).first;
          } else if (s.ok() || s.IsNotFound()) {
            s = rocksdb::Status::OK();
            open_groups_.erase(g);  // deleted, closed or unreadable: the group is over
          } else {
            return from_rocksdb(s, "reading the open alert of a group");
          }
        }
        if (b != bumps.end()) {
          b->second.alert.count += alerts[i].count;
          repeat[i] = true;
          ++repeats;
          continue;
        }
      }
      opened.emplace(std::move(group), std::make_pair(i, spec.window_ns));
    }
  }

  // The alerts stored as new: `alerts` itself, or copies without the repeats (the caller's
  // vector must stay intact if the write fails: the pipeline retries it).
  std::vector<Alert> kept;
  if (repeats > 0) {
    kept.reserve(alerts.size() - repeats);
    for (std::size_t i = 0; i < alerts.size(); ++i) {
      if (repeat[i]) continue;
      kept.push_back(alerts[i]);
      kept.back().count += extra[i];
    }
  }
  std::vector<Alert>& stored = repeats > 0 ? kept : alerts;
  std::vector<std::string> stored_keys;
  stored_keys.reserve(stored.size());
  StatsDelta stats;
  for (Alert& alert : stored) {
    std::string key = make_alert_key(created, sequence++);
    alert.id = alert_id_from_key(key);
    alert.created_unix_ns = created;
    s = batch.Put(h.cf(kAlertsCf), key, encode_alert(alert));
    for (const std::string& index_key : index_keys(alert, key))
      if (s.ok()) s = batch.Put(h.cf(kIndexCf), index_key, rocksdb::Slice());
    stats.add_alert(alert);
    stored_keys.push_back(std::move(key));
    if (!s.ok()) break;
  }
  for (auto& [key, bump] : bumps)
    if (s.ok()) s = batch.Put(h.cf(kAlertsCf), key, encode_alert(bump.alert));
  // The alerts raised early, by revision key, until their final revision (in this commit or a
  // later one; Put then Delete in one WriteBatch leaves nothing).
  for (const auto& [rkey, i] : remember) {
    std::size_t before = 0;
    for (std::size_t j = 0; j < i; ++j) before += repeat[j] ? 1 : 0;
    if (s.ok()) s = batch.Put(h.cf(kMetaCf), std::string(kMetaRevisionPrefix) + rkey, stored_keys[i - before]);
  }
  for (const std::string& rkey : forget)
    if (s.ok()) s = batch.Delete(h.cf(kMetaCf), std::string(kMetaRevisionPrefix) + rkey);
  for (const auto& [key, delta] : stats.deltas())
    if (s.ok()) s = batch.Merge(h.cf(kStatsCf), key, StatsDelta::encode_value(delta));
  for (const Checkpoint& c : checkpoints)
    if (s.ok()) s = batch.Put(h.cf(kCheckpointsCf), c.key, c.value);
  Status extension_status;
  for (CommitExtension* ext : extensions_) {
    if (!s.ok()) break;
    extension_status = ext->add_to_batch(stored, batch, *this);
    if (!extension_status.ok()) break;
  }
  auto clear_ids = [&] {
    for (Alert& alert : alerts) {
      alert.id.clear();
      alert.created_unix_ns = 0;
    }
  };
  if (!extension_status.ok()) {
    clear_ids();
    return extension_status;
  }
  std::uint64_t new_count = alert_count_ + stored.size();
  if (s.ok() && !stored.empty()) {
    s = batch.Put(h.cf(kMetaCf), slice(kMetaNextSequence), encode_u64(sequence));
    if (s.ok()) s = batch.Put(h.cf(kMetaCf), slice(kMetaLastCreated), encode_u64(static_cast<std::uint64_t>(created)));
    if (s.ok()) s = batch.Put(h.cf(kMetaCf), slice(kMetaAlertCount), encode_u64(new_count));
  }
  if (s.ok()) {
    rocksdb::WriteOptions wo;
    wo.sync = sync_;
    s = h.db->Write(wo, &batch);
  }
  if (!s.ok()) {
    clear_ids();
    return from_rocksdb(s, "commit of " + std::to_string(alerts.size()) + " alerts and " +
                               std::to_string(checkpoints.size()) + " checkpoints");
  }
  if (!stored.empty()) {
    next_sequence_ = sequence;
    last_created_unix_ns_ = created;
    alert_count_ = new_count;
  }
  for (auto& [group, opened_alert] : opened) {
    // The index into `alerts` maps to the stored alert's key: count the repeats before it.
    std::size_t i = opened_alert.first, before = 0;
    for (std::size_t j = 0; j < i; ++j) before += repeat[j] ? 1 : 0;
    open_groups_[group] = OpenGroup{stored_keys[i - before], created, opened_alert.second};
  }
  if (open_groups_.size() > 100000) {
    // Forget expired groups (a later repeat would open a new alert anyway).
    for (auto it = open_groups_.begin(); it != open_groups_.end();)
      it = created - it->second.created_unix_ns >= it->second.window_ns ? open_groups_.erase(it) : std::next(it);
  }
  if (repeats > 0) alerts = std::move(kept);
  for (CommitExtension* ext : extensions_) ext->committed(alerts);
  return Status::Ok();
}

Status AlertStore::set_grouping(GroupingPolicy policy, std::int64_t max_window_ns) {
  if (read_only_) return Status::InvalidArgument("storage: grouping on a read-only alert store");
  std::lock_guard lock(write_mutex_);
  grouping_ = std::move(policy);
  open_groups_.clear();
  if (!grouping_ || max_window_ns <= 0) return Status::Ok();
  const std::int64_t now = std::max(now_ns(), last_created_unix_ns_);
  const std::string lower = make_alert_key(std::max<std::int64_t>(0, now - max_window_ns), 0);
  rocksdb::Slice lo(lower);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lo;
  std::unique_ptr<rocksdb::Iterator> it(handles_->db->NewIterator(ro, handles_->cf(kAlertsCf)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Alert alert;
    std::string_view key = view(it->key());
    if (!decode_alert(key, view(it->value()), &alert).ok() || alert.status == AlertStatus::kClosed) continue;
    GroupSpec spec = grouping_(alert);
    if (spec.window_ns <= 0 || now - alert.created_unix_ns >= spec.window_ns) continue;
    std::string group = group_map_key(alert, spec);
    if (!open_groups_.count(group))  // the oldest open alert keeps the group, as in commit()
      open_groups_[group] = OpenGroup{std::string(key), alert.created_unix_ns, spec.window_ns};
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "rebuilding the open alert groups");
  return Status::Ok();
}

std::size_t AlertStore::open_groups() const {
  std::lock_guard lock(write_mutex_);
  return open_groups_.size();
}

Status AlertStore::add_audit(rocksdb::WriteBatch& batch, std::int64_t time_ns, std::string_view actor,
                             std::string_view action, std::string_view target, std::string_view detail) {
  std::string key(kAuditPrefix);
  put_big_endian64(&key, static_cast<std::uint64_t>(time_ns));
  put_big_endian64(&key, audit_sequence_++);
  std::string value;
  append_field(&value, actor);
  append_field(&value, action);
  append_field(&value, target);
  append_field(&value, detail);
  rocksdb::Status s = batch.Put(handles_->cf(kMetaCf), key, value);
  if (!s.ok()) return from_rocksdb(s, "adding an audit entry");
  return Status::Ok();
}

Status AlertStore::audit(std::string_view actor, std::string_view action, std::string_view target,
                         std::string_view detail) {
  if (read_only_) return Status::InvalidArgument("storage: audit on a read-only alert store");
  std::lock_guard lock(write_mutex_);
  rocksdb::WriteBatch batch;
  if (Status st = add_audit(batch, now_ns(), actor, action, target, detail); !st.ok()) return st;
  rocksdb::WriteOptions wo;
  wo.sync = sync_;
  rocksdb::Status s = handles_->db->Write(wo, &batch);
  if (!s.ok()) return from_rocksdb(s, "writing an audit entry");
  return Status::Ok();
}

Status AlertStore::put_token_record(std::string_view hash, std::string_view value, const TokenAudit* audit,
                                    bool durable) {
  if (read_only_) return Status::InvalidArgument("storage: tokens cannot be changed on a read-only store");
  std::lock_guard lock(write_mutex_);
  rocksdb::WriteBatch batch;
  rocksdb::Status s = batch.Put(handles_->cf(kMetaCf), std::string(kTokenPrefix) + std::string(hash), slice(value));
  if (!s.ok()) return from_rocksdb(s, "adding a token");
  if (audit) {
    if (Status st = add_audit(batch, now_ns(), audit->actor, audit->action, audit->target, audit->detail); !st.ok())
      return st;
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync_ && durable;
  s = handles_->db->Write(wo, &batch);
  if (!s.ok()) return from_rocksdb(s, "writing a token");
  return Status::Ok();
}

Status AlertStore::delete_token_record(std::string_view hash, const TokenAudit* audit) {
  if (read_only_) return Status::InvalidArgument("storage: tokens cannot be changed on a read-only store");
  std::lock_guard lock(write_mutex_);
  rocksdb::WriteBatch batch;
  rocksdb::Status s = batch.Delete(handles_->cf(kMetaCf), std::string(kTokenPrefix) + std::string(hash));
  if (!s.ok()) return from_rocksdb(s, "deleting a token");
  if (audit) {
    if (Status st = add_audit(batch, now_ns(), audit->actor, audit->action, audit->target, audit->detail); !st.ok())
      return st;
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync_;
  s = handles_->db->Write(wo, &batch);
  if (!s.ok()) return from_rocksdb(s, "writing a token deletion");
  return Status::Ok();
}

Result<std::vector<std::pair<std::string, std::string>>> AlertStore::token_records() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(handles_->db->NewIterator(rocksdb::ReadOptions(), handles_->cf(kMetaCf)));
  for (it->Seek(slice(kTokenPrefix)); it->Valid() && it->key().starts_with(slice(kTokenPrefix)); it->Next())
    out.emplace_back(it->key().ToString().substr(kTokenPrefix.size()), it->value().ToString());
  if (!it->status().ok()) return Error(from_rocksdb(it->status(), "reading tokens"));
  return out;
}

Result<AuditPage> AlertStore::audit_log(std::size_t limit, std::string_view cursor) const {
  if (limit == 0) return Error(Status::InvalidArgument("storage: audit limit must be at least 1"));
  std::string lower(kAuditPrefix), upper(kAuditPrefix);
  upper.back() = static_cast<char>(upper.back() + 1);
  if (!cursor.empty()) {
    std::string position;
    if (!from_hex(cursor, &position) || position.size() != 16)
      return Error(Status::InvalidArgument("bad cursor '" + std::string(cursor) + "'"));
    upper = std::string(kAuditPrefix) + position;
  }
  rocksdb::Slice lo(lower), hi(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lo;
  ro.iterate_upper_bound = &hi;
  std::unique_ptr<rocksdb::Iterator> it(handles_->db->NewIterator(ro, handles_->cf(kMetaCf)));
  AuditPage page;
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    if (page.entries.size() == limit) {
      page.next_cursor = page.entries.back().id;
      break;
    }
    std::string_view key = view(it->key()).substr(kAuditPrefix.size());
    std::string_view value = view(it->value());
    if (key.size() != 16) continue;
    AuditEntry e;
    e.id = to_hex(key);
    e.time_unix_ns = static_cast<std::int64_t>(get_big_endian64(key));
    if (!read_field(&value, &e.actor) || !read_field(&value, &e.action) || !read_field(&value, &e.target) ||
        !read_field(&value, &e.detail))
      continue;
    page.entries.push_back(std::move(e));
  }
  if (!it->status().ok()) return Error(from_rocksdb(it->status(), "reading the audit log"));
  return page;
}

Result<Alert> AlertStore::update(std::string_view id, const AlertChange& change, std::string_view actor,
                                 std::string_view tenant_scope) {
  if (read_only_) return Error(Status::InvalidArgument("storage: update on a read-only alert store"));
  if (change.empty()) return Error(Status::InvalidArgument("nothing to change (give a status, an assignee or a note)"));
  if (change.status && *change.status == AlertStatus::kClosed && change.resolution == AlertResolution::kNone)
    return Error(Status::InvalidArgument(
        "closing needs a resolution (true_positive, false_positive, benign or duplicate)"));
  if ((!change.status || *change.status != AlertStatus::kClosed) && change.resolution != AlertResolution::kNone)
    return Error(Status::InvalidArgument("a resolution is given only when closing (status closed)"));
  Result<std::string> key = alert_key_from_id(id);
  if (!key) return Error(Status::InvalidArgument("bad alert id '" + std::string(id) + "'"));
  Handles& h = *handles_;
  std::lock_guard lock(write_mutex_);
  std::string value;
  rocksdb::Status s = h.db->Get(rocksdb::ReadOptions(), h.cf(kAlertsCf), *key, &value);
  if (s.IsNotFound()) return Error(Status::NotFound("no alert with id " + std::string(id)));
  if (!s.ok()) return Error(from_rocksdb(s, "reading alert " + std::string(id)));
  Alert alert;
  if (Status st = decode_alert(*key, value, &alert); !st.ok()) return Error(std::move(st));
  if (!tenant_scope.empty() && tenant_scope != "*" && alert.tenant != tenant_scope)
    return Error(Status::NotFound("no alert with id " + std::string(id)));

  const std::int64_t now = now_ns();
  rocksdb::WriteBatch batch;
  Status st;
  auto record = [&](std::string_view action, const std::string& detail) {
    std::string hkey = *key;
    put_big_endian64(&hkey, static_cast<std::uint64_t>(now));
    put_big_endian64(&hkey, history_sequence_++);
    std::string hvalue;
    append_field(&hvalue, actor);
    append_field(&hvalue, action);
    append_field(&hvalue, detail);
    if (s.ok()) s = batch.Put(h.cf(kHistoryCf), hkey, hvalue);
    if (st.ok()) st = add_audit(batch, now, actor, action, alert.id, detail);
  };
  if (change.status) {
    const AlertStatus old_status = alert.status;
    std::string detail = std::string(to_string(old_status)) + " -> " + to_string(*change.status);
    if (change.resolution != AlertResolution::kNone) detail += std::string(" (") + to_string(change.resolution) + ")";
    if (old_status != *change.status) {
      s = batch.Delete(h.cf(kIndexCf), byte_index_prefix(kIndexStatus, static_cast<std::uint8_t>(old_status)) + *key);
      if (s.ok()) s = batch.Put(h.cf(kIndexCf), byte_index_prefix(kIndexStatus, static_cast<std::uint8_t>(*change.status)) + *key, rocksdb::Slice());
      StatsDelta stats;
      stats.move_status(alert, old_status, *change.status);
      for (const auto& [skey, delta] : stats.deltas())
        if (s.ok()) s = batch.Merge(h.cf(kStatsCf), skey, StatsDelta::encode_value(delta));
    }
    alert.status = *change.status;
    alert.resolution = change.resolution;
    record("status", detail);
  }
  if (change.assignee) {
    alert.assignee = *change.assignee;
    record("assign", alert.assignee.empty() ? std::string("(unassigned)") : alert.assignee);
  }
  if (!change.note.empty()) record("note", change.note);
  if (s.ok()) s = batch.Put(h.cf(kAlertsCf), *key, encode_alert(alert));
  if (!st.ok()) return Error(std::move(st));
  if (s.ok()) {
    rocksdb::WriteOptions wo;
    wo.sync = sync_;
    s = h.db->Write(wo, &batch);
  }
  if (!s.ok()) return Error(from_rocksdb(s, "updating alert " + alert.id));
  return alert;
}

Result<std::vector<HistoryEntry>> AlertStore::history(std::string_view id) const {
  Result<std::string> key = alert_key_from_id(id);
  if (!key) return Error(Status::InvalidArgument("bad alert id '" + std::string(id) + "'"));
  std::string upper = *key;
  upper.push_back('\xff');  // history keys are the alert key + 16 bytes, all below key + 0xff...
  upper.append(16, '\xff');
  rocksdb::Slice lo(*key), hi(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lo;
  ro.iterate_upper_bound = &hi;
  std::unique_ptr<rocksdb::Iterator> it(handles_->db->NewIterator(ro, handles_->cf(kHistoryCf)));
  std::vector<HistoryEntry> out;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view k = view(it->key());
    if (k.size() != kAlertKeySize + 16 || k.substr(0, kAlertKeySize) != *key) continue;
    std::string_view value = view(it->value());
    HistoryEntry e;
    e.time_unix_ns = static_cast<std::int64_t>(get_big_endian64(k.substr(kAlertKeySize)));
    if (!read_field(&value, &e.actor) || !read_field(&value, &e.action) || !read_field(&value, &e.detail)) continue;
    out.push_back(std::move(e));
  }
  if (!it->status().ok()) return Error(from_rocksdb(it->status(), "reading history"));
  return out;
}

void AlertStore::add_commit_extension(CommitExtension* extension) {
  std::lock_guard lock(write_mutex_);
  extensions_.push_back(extension);
}

void AlertStore::remove_commit_extension(CommitExtension* extension) {
  std::lock_guard lock(write_mutex_);
  extensions_.erase(std::remove(extensions_.begin(), extensions_.end(), extension), extensions_.end());
}

rocksdb::DB* AlertStore::rocksdb_db() const { return handles_->db; }

rocksdb::ColumnFamilyHandle* AlertStore::column_family(ColumnFamily which) const {
  switch (which) {
    case ColumnFamily::kAlerts: return handles_->cf(kAlertsCf);
    case ColumnFamily::kIndex: return handles_->cf(kIndexCf);
    case ColumnFamily::kHistory: return handles_->cf(kHistoryCf);
    case ColumnFamily::kOutbox: return handles_->cf(kOutboxCf);
    case ColumnFamily::kCheckpoints: return handles_->cf(kCheckpointsCf);
    case ColumnFamily::kMeta: return handles_->cf(kMetaCf);
    case ColumnFamily::kStats: return handles_->cf(kStatsCf);
  }
  return nullptr;
}

Result<std::optional<std::string>> AlertStore::checkpoint(std::string_view key) const {
  std::string value;
  rocksdb::Status s = handles_->db->Get(rocksdb::ReadOptions(), handles_->cf(kCheckpointsCf), slice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return Error(from_rocksdb(s, "reading checkpoint '" + std::string(key) + "'"));
  return std::optional<std::string>(std::move(value));
}

Status AlertStore::write_checkpoints(const std::vector<Checkpoint>& puts, const std::vector<std::string>& deletes) {
  if (read_only_) return Status::InvalidArgument("storage: checkpoints cannot be written on a read-only store");
  if (puts.empty() && deletes.empty()) return Status::Ok();
  // The same reserve as commit(): RocksDB does not recover from running out of space mid-write.
  if (Status st = check_free_space(); !st.ok()) return st;
  rocksdb::WriteBatch batch;
  for (const Checkpoint& cp : puts)
    if (rocksdb::Status s = batch.Put(handles_->cf(kCheckpointsCf), cp.key, cp.value); !s.ok())
      return from_rocksdb(s, "writing checkpoints");
  for (const std::string& key : deletes)
    if (rocksdb::Status s = batch.Delete(handles_->cf(kCheckpointsCf), key); !s.ok())
      return from_rocksdb(s, "deleting checkpoints");
  std::lock_guard lock(write_mutex_);
  rocksdb::WriteOptions wo;
  wo.sync = false;
  if (rocksdb::Status s = handles_->db->Write(wo, &batch); !s.ok()) return from_rocksdb(s, "writing checkpoints");
  return Status::Ok();
}

Result<std::vector<Checkpoint>> AlertStore::checkpoints_with_prefix(std::string_view prefix) const {
  std::vector<Checkpoint> out;
  std::unique_ptr<rocksdb::Iterator> it(
      handles_->db->NewIterator(rocksdb::ReadOptions(), handles_->cf(kCheckpointsCf)));
  for (it->Seek(slice(prefix)); it->Valid() && it->key().starts_with(slice(prefix)); it->Next())
    out.push_back(Checkpoint{it->key().ToString(), it->value().ToString()});
  if (!it->status().ok()) return Error(from_rocksdb(it->status(), "listing checkpoints"));
  return out;
}

Result<Alert> AlertStore::get(std::string_view id) const {
  Result<std::string> key = alert_key_from_id(id);
  if (!key) return Error(key.error());
  std::string value;
  rocksdb::Status s = handles_->db->Get(rocksdb::ReadOptions(), handles_->cf(kAlertsCf), *key, &value);
  if (s.IsNotFound()) return Error(Status::NotFound("storage: no alert with id " + std::string(id)));
  if (!s.ok()) return Error(from_rocksdb(s, "reading alert " + std::string(id)));
  Alert alert;
  if (Status st = decode_alert(*key, value, &alert); !st.ok()) return Error(std::move(st));
  return alert;
}

namespace {

// One time-ordered run of keys being scanned: an index run (keys = prefix + alert key) or the
// alerts column family itself (empty prefix, values are the alerts).
struct Run {
  std::string prefix;
  std::string lower, upper;  // iterator bounds; must outlive the iterator
  rocksdb::ReadOptions read_options;
  std::unique_ptr<rocksdb::Iterator> it;

  bool valid() const { return it->Valid(); }
  std::string_view alert_key() const {
    std::string_view key = view(it->key());
    return key.substr(key.size() - kAlertKeySize);
  }
};

// Which runs list() scans: the prefixes of one index (several when the filter is a level range)
// or, with no prefixes, the alerts column family.
struct Plan {
  std::vector<std::string> prefixes;
  std::uint64_t estimated_entries = 0;
};

}  // namespace

Result<AlertPage> AlertStore::list(const AlertQuery& query) const {
  if (query.limit == 0) return Error(Status::InvalidArgument("storage: list limit must be at least 1"));
  AlertPage page;
  // Time bounds as alert keys: [lower, upper).
  std::int64_t from = std::max<std::int64_t>(query.from_unix_ns, retention_floor_unix_ns_);
  if (query.to_unix_ns <= from) return page;
  std::string lower = make_alert_key(from, 0);
  std::string upper = make_alert_key(query.to_unix_ns, 0);
  if (!query.cursor.empty()) {
    Result<std::string> cursor = alert_key_from_id(query.cursor);
    if (!cursor) return Error(Status::InvalidArgument("storage: bad cursor: " + cursor.error().message()));
    // The cursor is the last alert already returned: resume strictly past it. A 16-byte key
    // plus a NUL is the smallest key after it.
    if (query.newest_first)
      upper = std::min(upper, *cursor);
    else
      lower = std::max(lower, *cursor + std::string(1, '\0'));
    if (lower >= upper) return page;
  }

  const Handles& h = *handles_;
  // Candidate plans, most selective first when estimates tie (as they do on a store too small
  // for RocksDB's size estimates to tell runs apart).
  std::vector<Plan> candidates;
  if (!query.rule_id.empty()) candidates.push_back(Plan{{string_index_prefix(kIndexRule, query.rule_id)}});
  if (!query.host.empty()) candidates.push_back(Plan{{string_index_prefix(kIndexHost, query.host)}});
  if (!query.tenant.empty()) {
    if (query.min_level && *query.min_level != AlertLevel::kInformational) {
      Plan p;
      for (int l = static_cast<int>(*query.min_level); l <= static_cast<int>(AlertLevel::kCritical); ++l)
        p.prefixes.push_back(tenant_level_prefix(query.tenant, static_cast<AlertLevel>(l)));
      candidates.push_back(std::move(p));
    } else {
      candidates.push_back(Plan{{string_index_prefix(kIndexTenant, query.tenant)}});
    }
  }
  if (query.status) candidates.push_back(Plan{{byte_index_prefix(kIndexStatus, static_cast<std::uint8_t>(*query.status))}});
  if (query.min_level && *query.min_level != AlertLevel::kInformational) {
    Plan p;
    for (int l = static_cast<int>(*query.min_level); l <= static_cast<int>(AlertLevel::kCritical); ++l)
      p.prefixes.push_back(byte_index_prefix(kIndexLevel, static_cast<std::uint8_t>(l)));
    candidates.push_back(std::move(p));
  }

  Plan plan;  // default: scan the alerts column family
  if (!candidates.empty()) {
    rocksdb::SizeApproximationOptions size_options;
    size_options.include_memtables = true;
    size_options.include_files = true;
    for (Plan& p : candidates) {
      std::vector<std::string> bounds;
      bounds.reserve(p.prefixes.size() * 2);
      std::vector<rocksdb::Range> ranges;
      for (const std::string& prefix : p.prefixes) {
        bounds.push_back(prefix + lower);
        bounds.push_back(prefix + upper);
      }
      for (std::size_t i = 0; i < bounds.size(); i += 2) ranges.emplace_back(bounds[i], bounds[i + 1]);
      std::vector<std::uint64_t> sizes(ranges.size(), 0);
      rocksdb::Status s = h.db->GetApproximateSizes(size_options, h.cf(kIndexCf), ranges.data(),
                                                     static_cast<int>(ranges.size()), sizes.data());
      if (!s.ok()) return Error(from_rocksdb(s, "estimating index sizes"));
      // Bytes to entries: an entry is its key plus a few bytes of block overhead, and keys of
      // different indexes differ in length.
      for (std::size_t i = 0; i < sizes.size(); ++i)
        p.estimated_entries += sizes[i] / (p.prefixes[i].size() + kAlertKeySize + 8);
    }
    plan = std::move(*std::min_element(candidates.begin(), candidates.end(), [](const Plan& a, const Plan& b) {
      return a.estimated_entries < b.estimated_entries;
    }));
  }

  // The primary reads one snapshot so that an index entry and its alert agree even while
  // commits and retention run. Secondary instances only change on catch_up() and have no
  // snapshots.
  const rocksdb::Snapshot* snapshot = read_only_ ? nullptr : h.db->GetSnapshot();
  struct SnapshotRelease {
    rocksdb::DB* db;
    const rocksdb::Snapshot* snapshot;
    ~SnapshotRelease() {
      if (snapshot) db->ReleaseSnapshot(snapshot);
    }
  } release{h.db, snapshot};

  const bool scan_alerts = plan.prefixes.empty();
  if (scan_alerts) plan.prefixes.emplace_back();
  std::vector<std::unique_ptr<Run>> runs;
  for (const std::string& prefix : plan.prefixes) {
    auto run = std::make_unique<Run>();
    run->prefix = prefix;
    run->lower = prefix + lower;
    run->upper = prefix + upper;
    run->read_options.snapshot = snapshot;
    run->read_options.iterate_lower_bound = new rocksdb::Slice(run->lower);
    run->read_options.iterate_upper_bound = new rocksdb::Slice(run->upper);
    run->it.reset(h.db->NewIterator(run->read_options, h.cf(scan_alerts ? kAlertsCf : kIndexCf)));
    if (query.newest_first)
      run->it->SeekToLast();
    else
      run->it->SeekToFirst();
    runs.push_back(std::move(run));
  }
  // ReadOptions does not own its bound slices.
  struct BoundsRelease {
    std::vector<std::unique_ptr<Run>>* runs;
    ~BoundsRelease() {
      for (auto& run : *runs) {
        run->it.reset();
        delete run->read_options.iterate_lower_bound;
        delete run->read_options.iterate_upper_bound;
      }
    }
  } bounds_release{&runs};

  rocksdb::ReadOptions get_options;
  get_options.snapshot = snapshot;
  std::string value;
  bool found_more = false;
  while (!found_more) {
    // Merge the runs: take the newest (or oldest) current key among them.
    Run* next = nullptr;
    for (auto& run : runs) {
      if (!run->valid()) continue;
      if (!next || (query.newest_first ? run->alert_key() > next->alert_key()
                                       : run->alert_key() < next->alert_key()))
        next = run.get();
    }
    if (!next) break;
    std::string_view key = next->alert_key();
    Alert alert;
    Status decoded;
    if (scan_alerts) {
      std::string_view stored = view(next->it->value());
      // The raw event is stored verbatim in the value: a value without the text cannot match,
      // and skipping its decode makes a text search over the alerts several times faster.
      if (!query.text.empty() && stored.find(query.text) == std::string_view::npos)
        decoded = Status::NotFound("");
      else
        decoded = decode_alert(key, stored, &alert);
    } else {
      rocksdb::Status s = h.db->Get(get_options, h.cf(kAlertsCf), slice(key), &value);
      if (s.IsNotFound()) {
        // Only an alert whose value could not be decoded is deleted without its index
        // entries (retention cannot compute them); its dangling entries are skipped.
        decoded = Status::NotFound("");
      } else if (!s.ok()) {
        return Error(from_rocksdb(s, "reading alert " + alert_id_from_key(key)));
      } else if (!query.text.empty() && value.find(query.text) == std::string::npos) {
        decoded = Status::NotFound("");
      } else {
        decoded = decode_alert(key, value, &alert);
      }
    }
    // NotFound: skipped without decoding (see above), not an error.
    if (!decoded.ok() && decoded.code() != StatusCode::kNotFound) return Error(std::move(decoded));
    if (decoded.ok() && matches(alert, query)) {
      if (page.alerts.size() == query.limit)
        found_more = true;
      else
        page.alerts.push_back(std::move(alert));
    }
    if (query.newest_first)
      next->it->Prev();
    else
      next->it->Next();
  }
  for (auto& run : runs)
    if (!run->it->status().ok()) return Error(from_rocksdb(run->it->status(), "scanning alerts"));
  if (found_more) page.next_cursor = page.alerts.back().id;
  return page;
}

Result<std::uint64_t> AlertStore::delete_older_than(std::int64_t unix_ns) {
  if (read_only_) return Error(Status::InvalidArgument("storage: retention on a read-only alert store"));
  Handles& h = *handles_;
  if (unix_ns <= retention_floor_unix_ns_) return std::uint64_t{0};  // nothing older is left
  // Two retention runs at once would both count the same alerts as deleted.
  std::lock_guard retention_lock(retention_mutex_);
  const std::string cutoff = make_alert_key(unix_ns, 0);
  // Where the live alerts start: below it lie only tombstones, which no scan should step over.
  std::string resume_from = make_alert_key(retention_floor_unix_ns_, 0);
  std::uint64_t deleted = 0;
  for (;;) {
    // Each chunk is read and written under the write mutex so that the last, empty chunk
    // proves that no commit slipped an old alert in before the floor moves up.
    std::lock_guard lock(write_mutex_);
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;  // old alerts are not what anyone reads next
    rocksdb::Slice upper_bound(cutoff);
    rocksdb::Slice lower_bound(resume_from);
    ro.iterate_upper_bound = &upper_bound;
    ro.iterate_lower_bound = &lower_bound;
    std::unique_ptr<rocksdb::Iterator> it(h.db->NewIterator(ro, h.cf(kAlertsCf)));
    rocksdb::WriteBatch batch;
    rocksdb::Status s;
    std::size_t n = 0;
    for (it->SeekToFirst(); it->Valid() && n < kRetentionChunk && s.ok(); it->Next(), ++n) {
      std::string_view key = view(it->key());
      Alert alert;
      // An alert that cannot be decoded is still deleted: retention must not stall on it.
      if (decode_alert(key, view(it->value()), &alert).ok())
        for (const std::string& index_key : index_keys(alert, key))
          if (s.ok()) s = batch.Delete(h.cf(kIndexCf), index_key);
      if (s.ok()) s = batch.Delete(h.cf(kAlertsCf), slice(key));
      resume_from.assign(key);
      resume_from.push_back('\0');
    }
    if (!it->status().ok()) return Error(from_rocksdb(it->status(), "scanning alerts for retention"));
    if (!s.ok()) return Error(from_rocksdb(s, "building the retention batch"));
    rocksdb::WriteOptions wo;
    wo.sync = sync_;
    if (n > 0) {
      std::uint64_t new_count = alert_count_ >= n ? alert_count_ - n : 0;
      s = batch.Put(h.cf(kMetaCf), slice(kMetaAlertCount), encode_u64(new_count));
      if (s.ok()) s = h.db->Write(wo, &batch);
      if (!s.ok()) return Error(from_rocksdb(s, "deleting old alerts"));
      alert_count_ = new_count;
      deleted += n;
      continue;
    }
    // Nothing before the cutoff is left, and every later commit is created at or after
    // last_created_unix_ns_ (commit times never go back): list() and the next retention run
    // may start their scans at the floor.
    std::int64_t floor = std::max<std::int64_t>(std::min(unix_ns, last_created_unix_ns_), retention_floor_unix_ns_);
    if (floor > retention_floor_unix_ns_ || deleted > 0) {
      s = batch.Put(h.cf(kMetaCf), slice(kMetaRetentionFloor), encode_u64(static_cast<std::uint64_t>(floor)));
      // History keys start with their alert's key, so one range covers every deleted alert's.
      if (s.ok()) s = batch.DeleteRange(h.cf(kHistoryCf), rocksdb::Slice(), cutoff);
      // Forwarding delivery states ('s' + alert key + destination, storage/outbox.h) likewise.
      if (s.ok()) s = batch.DeleteRange(h.cf(kOutboxCf), "s", "s" + cutoff);
      // Duplicate-check checkpoints keyed by an alert id: per name, the ids before the cutoff.
      const std::string cutoff_id = to_hex(cutoff);
      for (const std::string& prefix : expiring_checkpoint_prefixes_) {
        std::unique_ptr<rocksdb::Iterator> names(h.db->NewIterator(rocksdb::ReadOptions(), h.cf(kCheckpointsCf)));
        for (names->Seek(prefix); s.ok() && names->Valid() && names->key().starts_with(prefix);) {
          const std::string key = names->key().ToString();
          const std::size_t slash = key.find('/', prefix.size());
          if (slash == std::string::npos) {
            names->Next();
            continue;
          }
          const std::string name_prefix = key.substr(0, slash + 1);
          s = batch.DeleteRange(h.cf(kCheckpointsCf), name_prefix, name_prefix + cutoff_id);
          names->Seek(name_prefix + "\xff");  // the next name
        }
        if (s.ok() && !names->status().ok()) s = names->status();
      }
      // Counters of whole hours (minutes) before the cutoff go with their alerts.
      for (char kind : {'h', 'm'}) {
        if (s.ok()) s = batch.DeleteRange(h.cf(kStatsCf), stats_key_before(kind, 0), stats_key_before(kind, unix_ns));
      }
      if (s.ok()) s = h.db->Write(wo, &batch);
      if (!s.ok()) return Error(from_rocksdb(s, "recording the retention floor"));
      retention_floor_unix_ns_ = floor;
    }
    return deleted;
  }
}

void AlertStore::expire_checkpoints_by_alert_id(std::string prefix) {
  std::lock_guard lock(retention_mutex_);
  expiring_checkpoint_prefixes_.push_back(std::move(prefix));
}

std::uint64_t AlertStore::approximate_size_bytes() const {
  std::uint64_t sst = 0, memtables = 0;
  handles_->db->GetAggregatedIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &sst);
  handles_->db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
  return sst + memtables;
}

std::uint64_t AlertStore::alert_count_estimate() const { return alert_count_; }

}  // namespace vigil::storage
