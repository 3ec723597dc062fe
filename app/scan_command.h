#pragma once
// `vigil scan`: offline hunting over files or stdin, like Chainsaw or Hayabusa.
#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/event.h"

namespace vigil::app {

enum class OutputFormat { kJsonLines, kTable };

struct ScanOptions {
  // The process exits right after run_scan() (the CLI): the compiled rule set is left to the
  // operating system instead of freed piece by piece, as compilers do with their ASTs (clang's
  // -disable-free): about 6% of a warm SigmaHQ start. Sanitizer builds free it all the same,
  // so leak checking still sees everything else.
  bool process_exits_after = false;
  std::vector<std::string> rule_paths;  // Default: none = the bundled packs
  std::vector<std::string> inputs;      // files (gzip is detected) or "-" for stdin
  LogFormat format = LogFormat::kUnknown;  // Default: auto-detect per record
  unsigned threads = 1;                 // Default: 1 matcher thread
  OutputFormat output = OutputFormat::kJsonLines;
  std::string min_level;                // Default: "" = every level
  std::size_t max_record_bytes = 1u << 20;  // Default: 1 MiB
  bool summary = true;                  // Default: print the summary on stderr
  // Declared logsource for every event ("product=zeek,service=dns"): rules whose logsource
  // the mapping cannot recognise by content run only on events that declare it.
  std::string declared_product, declared_category, declared_service;
  bool validate = false;                // Default: full parse only where a rule needs fields
  // Correlation rules: events older than the latest event time seen minus this are left out
  // of windows (counted). With threads > 1 a file is scanned in ranges at once, so windows
  // close only at the end of the input instead. Default: 5 minutes.
  std::int64_t correlation_lateness_ns = 300LL * 1000000000LL;
  // Cap on correlation window memory. Default: 256 MiB.
  std::size_t correlation_memory_bytes = 256u << 20;
};

struct ScanSummary {
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;
  std::uint64_t alerts = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(ParseErrorKind::kCount)> parse_errors{};
  // The damaged records of parse_errors[kDamagedRecord] by the reader's reason (Record::damaged,
  // e.g. "evtx_binxml"), so that the summary says what was damaged, not only how much.
  std::map<std::string, std::uint64_t> damaged_by_reason;
  std::array<std::uint64_t, 6> alerts_by_level{};  // informational, low, medium, high, critical, other
  std::uint64_t events_parsed = 0;
  double seconds = 0;
  std::size_t rules_loaded = 0;
  std::size_t rules_failed = 0;
  std::size_t databases_compiled = 0;   // rule databases compiled by this run
  std::size_t databases_from_cache = 0; // and taken from the compiled rule cache
  std::size_t rule_files_parsed = 0;    // rule files parsed by this run
  std::size_t rule_files_from_cache = 0;  // and taken from the parsed rule cache
  double rules_seconds = 0;             // loading and compiling the rules
  std::size_t correlations_loaded = 0;
  std::uint64_t correlation_alerts = 0;      // correlation alerts and suppression summaries written
  std::uint64_t correlation_late_events = 0;
  std::uint64_t correlation_evictions = 0;
  std::uint64_t suppressed = 0;              // repeats withheld by `vigil: suppress`
};

// Runs the scan, writing alerts to `out` and the summary (and rule load problems) to `err`.
// Returns the process exit code: 0 on success (alerts or not), 2 on a usage or input error.
int run_scan(const ScanOptions& options, std::FILE* out, std::FILE* err, ScanSummary* summary);

// Severity rank of a Sigma level: informational 0 .. critical 4; -1 when unknown.
int level_rank(const std::string& level);

}  // namespace vigil::app
