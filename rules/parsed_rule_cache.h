#pragma once
// Parsed rule files, cached beside the compiled databases (rules/database_cache.h).
//
// Once the databases come from the cache, YAML parsing is most of what is left of loading
// rules: with SigmaHQ's 3,141 files, about 0.8 s of 1 s. A load keeps one entry for its set of
// inputs, with every file's path, a SHA-256 of its content and what the loader made of it
// (rules, correlations, errors). The next load of the same inputs reads that entry once, hashes
// each file, and reuses the results of every file whose content is unchanged; changed and new
// files are parsed again and the entry is rewritten. So a changed rule is always parsed again,
// and nothing else needs to be.
//
// The key covers the program's build id (core/build_id.h): another build of vigil, whose loader
// may read a rule differently, never reuses what this one parsed. Without a build id nothing is
// cached.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "rules/database_cache.h"
#include "rules/sigma_loader.h"

namespace vigil::rules {

class ParsedRuleCache {
 public:
  // A file's change time must be this much older than the entry for its metadata to be trusted.
  static constexpr std::int64_t kSettledNs = 2'000'000'000;

  // `scope` names the load (its input paths, as given). `cache` null: nothing is cached.
  // `settled_ns`: see load_unchanged() (tests shorten it).
  ParsedRuleCache(DatabaseCache* cache, std::string_view scope, std::int64_t settled_ns = kSettledNs);

  // Loads one rule file's text into `report`: the results of a previous load of the same
  // content when there are any, else load_rule_text(), remembered for the next load. `st`: the
  // file's metadata, remembered for load_unchanged() next time.
  void load(const std::string& path, std::string_view content, LoadReport& report, const struct stat* st = nullptr);
  // The results of the last load of `path` without reading it, when its metadata (device,
  // inode, size, modification and change times) are those remembered and it last changed well
  // before they were (as git trusts its index); false: read it and call load().
  bool load_unchanged(const std::string& path, const struct stat& st, LoadReport& report);
  // Writes the entry when anything changed since it was read.
  void save();

  std::size_t reused() const { return reused_; }
  std::size_t parsed() const { return parsed_; }

 private:
  struct File {
    std::string digest;   // SHA-256 of the content
    std::string stat;     // stat_signature() when it was read ("" for built-in texts)
    std::string results;  // serialized LoadReport of that file alone
  };
  static std::string stat_signature(const struct stat& st);
  bool replay(const std::string& path, File& f, LoadReport& report);

  DatabaseCache* cache_;
  std::int64_t settled_ns_;
  std::string key_;
  std::int64_t written_ns_ = 0;  // when the entry read was written
  std::map<std::string, File> before_, now_;
  std::size_t entries_read_ = 0;
  std::size_t reused_ = 0, parsed_ = 0;
  bool dirty_ = false;  // a file was parsed since the entry was read or written
};

// The serialized form of a LoadReport's rules, correlations, errors and documents_seen
// (exposed for tests). deserialize_load_report appends; false on malformed input.
std::string serialize_load_report(const LoadReport& report);
bool deserialize_load_report(std::string_view bytes, LoadReport& report);

}  // namespace vigil::rules
