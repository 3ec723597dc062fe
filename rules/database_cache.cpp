#include "rules/database_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "core/sha256.h"

namespace vigil::rules {

namespace fs = std::filesystem;

namespace {

// Bumped whenever the entry layout or what a key covers changes: old entries then never hit.
constexpr char kMagic[8] = {'V', 'G', 'H', 'S', 'D', 'B', '0', '1'};
constexpr std::size_t kKeyHexBytes = 64;
constexpr std::size_t kHeaderBytes = sizeof kMagic + kKeyHexBytes + 1 + 8 + 32;
constexpr char kDatabaseSuffix[] = ".hsdb";  // a Hyperscan database or its compile error
constexpr char kParsedSuffix[] = ".rules";   // parsed rule files (rules/parsed_rule_cache.h)

bool is_entry(const fs::path& path) { return path.extension() == kDatabaseSuffix || path.extension() == kParsedSuffix; }

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::string payload_digest(std::string_view payload) {
  const auto d = Sha256().update(payload).digest();
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// The platform Hyperscan compiles for when given none: the host's CPU features and tuning.
std::string host_platform() {
  hs_platform_info_t p{};
  if (hs_populate_platform(&p) != HS_SUCCESS) return "unknown";
  return std::to_string(p.tune) + "/" + std::to_string(p.cpu_features);
}

std::string key_of(const HyperscanPatterns& in) {
  static const std::string platform = host_platform();
  Sha256 h;
  h.update(std::string_view(kMagic, sizeof kMagic)).update(hs_version());
  h.update_u64(platform.size()).update(platform);
  h.update_u64(in.lengths ? 1 : 0).update_u64(in.mode).update_u64(in.count);
  for (unsigned i = 0; i < in.count; ++i) {
    const std::size_t len = in.lengths ? in.lengths[i] : std::strlen(in.expressions[i]);
    h.update_u64(in.flags[i]).update_u64(in.ids[i]).update_u64(len);
    h.update(std::string_view(in.expressions[i], len));
  }
  return h.hex_digest();
}

HyperscanCompiled compile_uncached(const HyperscanPatterns& in) {
  HyperscanCompiled out;
  hs_compile_error_t* err = nullptr;
  const hs_error_t rc =
      in.lengths ? hs_compile_lit_multi(in.expressions, in.flags, in.ids, in.lengths, in.count, in.mode, nullptr,
                                        &out.db, &err)
                 : hs_compile_multi(in.expressions, in.flags, in.ids, in.count, in.mode, nullptr, &out.db, &err);
  if (rc != HS_SUCCESS) {
    out.db = nullptr;
    out.error_expression = err ? err->expression : -1;
    out.error_message = err && err->message ? err->message : "unknown error";
  }
  if (err) hs_free_compile_error(err);
  return out;
}

}  // namespace

DatabaseCache::DatabaseCache(std::string directory, std::uint64_t max_bytes)
    : directory_(std::move(directory)), max_bytes_(max_bytes) {
  if (directory_.empty()) {
    why_unusable_ = "no cache directory";
    return;
  }
  std::error_code ec;
  fs::create_directories(directory_, ec);
  if (ec) {
    why_unusable_ = "cannot create " + directory_ + ": " + ec.message();
    return;
  }
  // Compiled databases are code for the matcher: only their owner may write (or read) them.
  ::chmod(directory_.c_str(), 0700);
  if (::access(directory_.c_str(), R_OK | W_OK | X_OK) != 0) {
    why_unusable_ = "cannot write " + directory_ + ": " + std::strerror(errno);
    return;
  }
  usable_ = true;
}

std::string DatabaseCache::default_directory() {
  if (const char* d = std::getenv("VIGIL_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/vigil/rules";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/vigil/rules";
  return {};
}

DatabaseCacheStats DatabaseCache::stats() const {
  DatabaseCacheStats s;
  s.hits = hits_.load();
  s.misses = misses_.load();
  s.rejected = rejected_.load();
  s.writes = writes_.load();
  s.write_failures = write_failures_.load();
  return s;
}

bool DatabaseCache::load_entry(const std::string& key, const char* suffix, char* kind, std::string* payload) {
  if (!usable_) return false;
  const std::string path = directory_ + "/" + key + suffix;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    misses_++;
    return false;
  }
  struct stat st {};
  std::string bytes;
  bool read_ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                 static_cast<std::uint64_t>(st.st_size) <= max_bytes_;
  if (read_ok) {
    bytes.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < bytes.size()) {
      const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    read_ok = got == bytes.size();
  }
  ::close(fd);
  if (!read_ok || bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0 ||
      bytes.compare(sizeof kMagic, kKeyHexBytes, key) != 0)
    return reject(path);
  *kind = bytes[sizeof kMagic + kKeyHexBytes];
  const std::uint64_t length = get_u64(bytes.data() + sizeof kMagic + kKeyHexBytes + 1);
  if (length != bytes.size() - kHeaderBytes) return reject(path);
  const std::string_view body(bytes.data() + kHeaderBytes, length);
  if (bytes.compare(kHeaderBytes - 32, 32, payload_digest(body)) != 0) return reject(path);
  payload->assign(body);
  hits_++;
  // Recently used entries survive pruning (least recently used go first).
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
  return true;
}

bool DatabaseCache::reject(const std::string& path) {
  rejected_++;
  misses_++;
  std::error_code ec;
  fs::remove(path, ec);
  return false;
}

bool DatabaseCache::load(const std::string& key, Entry* entry) {
  char kind = 0;
  std::string payload;
  if (!load_entry(key, kDatabaseSuffix, &kind, &payload)) return false;
  auto reject_loaded = [&] {
    hits_--;
    return reject(directory_ + "/" + key + kDatabaseSuffix);
  };
  if (kind == 'D') {
    hs_database_t* db = nullptr;
    if (hs_deserialize_database(payload.data(), payload.size(), &db) != HS_SUCCESS || !db) return reject_loaded();
    entry->db = db;
    entry->is_error = false;
  } else if (kind == 'E' && payload.size() >= 8) {
    entry->is_error = true;
    entry->error_expression = static_cast<int>(static_cast<std::int64_t>(get_u64(payload.data())));
    entry->error_message.assign(payload.substr(8));
  } else {
    return reject_loaded();
  }
  return true;
}

bool DatabaseCache::load_parsed(const std::string& key, std::string* payload) {
  char kind = 0;
  if (!load_entry(key, kParsedSuffix, &kind, payload)) return false;
  if (kind == 'P') return true;
  hits_--;
  return reject(directory_ + "/" + key + kParsedSuffix);
}

void DatabaseCache::store_parsed(const std::string& key, std::string_view payload) {
  store_entry(key, kParsedSuffix, 'P', payload);
}

void DatabaseCache::store(const std::string& key, const Entry& entry) {
  if (!usable_) return;
  std::string payload;
  char kind = 'E';
  if (!entry.is_error) {
    kind = 'D';
    char* serialized = nullptr;
    std::size_t size = 0;
    if (hs_serialize_database(entry.db, &serialized, &size) != HS_SUCCESS) {
      write_failures_++;
      return;
    }
    payload.assign(serialized, size);
    std::free(serialized);  // Hyperscan's default allocator is malloc
  } else {
    put_u64(payload, static_cast<std::uint64_t>(static_cast<std::int64_t>(entry.error_expression)));
    payload += entry.error_message;
  }
  store_entry(key, kDatabaseSuffix, kind, payload);
}

void DatabaseCache::store_entry(const std::string& key, const char* suffix, char kind, std::string_view payload) {
  if (!usable_) return;
  std::string file(kMagic, sizeof kMagic);
  file += key;
  file.push_back(kind);
  put_u64(file, payload.size());
  file += payload_digest(payload);
  file += payload;

  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::string final_path = directory_ + "/" + key + suffix;
  const std::string temp_path = final_path + "." + std::to_string(::getpid()) + "." + std::to_string(rng()) + ".tmp";
  const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  bool ok = fd >= 0;
  std::size_t put = 0;
  while (ok && put < file.size()) {
    const ssize_t n = ::write(fd, file.data() + put, file.size() - put);
    if (n <= 0) ok = false;
    else put += static_cast<std::size_t>(n);
  }
  if (fd >= 0 && ::close(fd) != 0) ok = false;
  if (ok && ::rename(temp_path.c_str(), final_path.c_str()) != 0) ok = false;
  if (!ok) {
    ::unlink(temp_path.c_str());
    write_failures_++;
    return;
  }
  writes_++;
  if (written_since_prune_.fetch_add(file.size()) + file.size() > max_bytes_ / 8) {
    written_since_prune_ = 0;
    prune();
  }
}

void DatabaseCache::prune() {
  struct File {
    fs::path path;
    fs::file_time_type used;
    std::uint64_t size;
  };
  std::vector<File> files;
  std::uint64_t total = 0;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& de : fs::directory_iterator(directory_, ec)) {
    std::error_code fe;
    const std::string name = de.path().filename().string();
    const auto used = de.last_write_time(fe);
    if (fe) continue;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      // A writer that died before its rename; a live writer's file is seconds old.
      if (now - used > std::chrono::hours(1)) fs::remove(de.path(), fe);
      continue;
    }
    if (!is_entry(de.path())) continue;
    const std::uint64_t size = de.file_size(fe);
    if (fe) continue;
    files.push_back({de.path(), used, size});
    total += size;
  }
  if (total <= max_bytes_) return;
  std::sort(files.begin(), files.end(), [](const File& a, const File& b) { return a.used < b.used; });
  for (const File& f : files) {
    if (total <= max_bytes_ * 3 / 4) break;
    std::error_code fe;
    if (fs::remove(f.path, fe)) total -= f.size;
  }
}

long DatabaseCache::clear() {
  std::error_code ec;
  fs::directory_iterator it(directory_, ec);
  if (ec) return -1;
  long removed = 0;
  for (const auto& de : it) {
    const std::string name = de.path().filename().string();
    const bool ours = is_entry(de.path()) ||
                      (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0 &&
                       (name.find(kDatabaseSuffix) != std::string::npos || name.find(kParsedSuffix) != std::string::npos));
    std::error_code fe;
    if (ours && fs::remove(de.path(), fe)) removed++;
  }
  return removed;
}

void DatabaseCache::usage(std::uint64_t* entries, std::uint64_t* bytes) const {
  *entries = 0;
  *bytes = 0;
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(directory_, ec)) {
    if (!is_entry(de.path())) continue;
    std::error_code fe;
    const std::uint64_t size = de.file_size(fe);
    if (fe) continue;
    (*entries)++;
    *bytes += size;
  }
}

HyperscanCompiled compile_hyperscan(const HyperscanPatterns& patterns, DatabaseCache* cache) {
  if (!cache || !cache->usable()) return compile_uncached(patterns);
  const std::string key = key_of(patterns);
  DatabaseCache::Entry entry;
  if (cache->load(key, &entry)) {
    HyperscanCompiled out;
    out.from_cache = true;
    out.db = entry.db;
    if (entry.is_error) {
      out.error_expression = entry.error_expression;
      out.error_message = entry.error_message;
    }
    return out;
  }
  HyperscanCompiled out = compile_uncached(patterns);
  // An error Hyperscan blames on no expression may be resource exhaustion: not cached.
  if (!out.db && out.error_expression < 0) return out;
  entry.is_error = out.db == nullptr;
  entry.db = out.db;
  entry.error_expression = out.error_expression;
  entry.error_message = out.error_message;
  cache->store(key, entry);
  return out;
}

}  // namespace vigil::rules
