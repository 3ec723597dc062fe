#pragma once
// Hyperscan compilation, with a content-addressed cache of the compiled databases.
//
// Compiling is most of the cost of loading rules (about 60% of `vigil scan`'s start with the
// bundled packs or SigmaHQ; the rest is YAML). Every database the compiler builds goes through
// compile_hyperscan(), which keys it by everything the compilation depends on: the cache format,
// the regex engine and its version, the platform Hyperscan tunes for (CPU features), the mode,
// and every expression with its flags, id and length. A changed rule changes only the keys of
// the databases it belongs to, so the others still hit: a reload or `vigil rules test` of one
// file recompiles only what changed, with no bookkeeping that could go stale. A compile error
// is cached as well (the compiler's retry loop asks for it again on every load).
//
// Entries are files `<key>.hsdb` written to a temporary name and renamed, so concurrent
// processes and crashes leave whole entries or none. Each holds its key and a SHA-256 of its
// payload: a damaged, truncated or foreign entry is detected, removed and rebuilt, never used.
// The directory is created mode 0700; when the cache passes its size bound the least recently
// used entries go.
#include <hs/hs.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace vigil::rules {

struct DatabaseCacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t rejected = 0;        // damaged or foreign entries found, removed and rebuilt
  std::uint64_t writes = 0;
  std::uint64_t write_failures = 0;  // disk full, read-only directory: the compile still succeeds
};

class DatabaseCache {
 public:
  static constexpr std::uint64_t kDefaultMaxBytes = 512ull << 20;

  // A cache in `directory` (created with its parents, mode 0700). When the directory cannot be
  // created or written, every lookup misses and nothing is stored; usable() says so and why().
  explicit DatabaseCache(std::string directory, std::uint64_t max_bytes = kDefaultMaxBytes);

  const std::string& directory() const { return directory_; }
  bool usable() const { return usable_; }
  const std::string& why_unusable() const { return why_unusable_; }
  DatabaseCacheStats stats() const;

  // The default directory for CLI commands: $VIGIL_CACHE_DIR, else $XDG_CACHE_HOME/vigil/rules,
  // else $HOME/.cache/vigil/rules; empty when none is set.
  static std::string default_directory();

  // Removes every entry (and leftover temporary files). Returns the number of files removed,
  // or -1 when the directory cannot be read.
  long clear();
  // Entries and their total size, for `vigil rules cache info`.
  void usage(std::uint64_t* entries, std::uint64_t* bytes) const;

  // Internal to compile_hyperscan().
  struct Entry {
    hs_database_t* db = nullptr;  // owned by the caller on success
    int error_expression = -1;    // a cached compile error: the expression index and message
    std::string error_message;
    bool is_error = false;
  };
  bool load(const std::string& key, Entry* entry);
  void store(const std::string& key, const Entry& entry);

  // Parsed rule files (rules/parsed_rule_cache.h), in entries of their own (`<key>.rules`) with
  // the same checks, atomic writes and size bound.
  bool load_parsed(const std::string& key, std::string* payload);
  void store_parsed(const std::string& key, std::string_view payload);

 private:
  bool load_entry(const std::string& key, const char* suffix, char* kind, std::string* payload);
  void store_entry(const std::string& key, const char* suffix, char kind, std::string_view payload);
  bool reject(const std::string& path);  // a damaged or foreign entry: removed, counted
  void prune();

  std::string directory_;
  std::uint64_t max_bytes_;
  bool usable_ = false;
  std::string why_unusable_;
  std::atomic<std::uint64_t> hits_{0}, misses_{0}, rejected_{0}, writes_{0}, write_failures_{0};
  std::atomic<std::uint64_t> written_since_prune_{0};
};

// What to compile: hs_compile_multi (expressions NUL-terminated, `lengths` null) or
// hs_compile_lit_multi (`lengths` given), in `mode`, for the host platform.
struct HyperscanPatterns {
  const char* const* expressions = nullptr;
  const std::size_t* lengths = nullptr;  // non-null: literal patterns
  const unsigned* flags = nullptr;
  const unsigned* ids = nullptr;
  unsigned count = 0;
  unsigned mode = HS_MODE_BLOCK;
};

struct HyperscanCompiled {
  hs_database_t* db = nullptr;  // the caller frees it with hs_free_database
  int error_expression = -1;    // on failure: the expression Hyperscan blamed (-1: none)
  std::string error_message;
  bool from_cache = false;
};

// Compiles `patterns`, through `cache` when it is non-null. Success has `db` set.
HyperscanCompiled compile_hyperscan(const HyperscanPatterns& patterns, DatabaseCache* cache);

}  // namespace vigil::rules
