#include "app/scan_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "app/alert_output.h"
#include "app/match_stage.h"
#include "app/rule_cache.h"
#include "rules/correlation_engine.h"
#include "app/rule_sources.h"
#include "core/json_text.h"
#include "core/parse/parser.h"
#include "core/record_reader.h"
#include "rules/compiler.h"
#include "rules/matcher.h"

// Sanitizer builds (gcc defines __SANITIZE_*; clang answers __has_feature).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define VIGIL_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define VIGIL_SANITIZED 1
#endif
#endif
#ifndef VIGIL_SANITIZED
#define VIGIL_SANITIZED 0
#endif

namespace vigil::app {

int level_rank(const std::string& level) {
  static const char* kLevels[] = {"informational", "low", "medium", "high", "critical"};
  for (int i = 0; i < 5; ++i)
    if (level == kLevels[i]) return i;
  return -1;
}

namespace {

constexpr std::size_t kSpillBytes = 8u << 20;  // a unit's alert text kept in memory before spilling

// One event whose matches feed correlation or suppression: its alerts depend on the events
// before it, so the output writer matches it again, in input order (see run_scan).
struct DeferredEvent {
  std::uint64_t at = 0;         // offset in its unit's output where its alerts go
  std::uint64_t record_no = 0;  // as the unit's reader numbered it
  std::string bytes;            // the record, then kRecordPadding zero bytes
};

// A unit's alert text, kept in memory up to kSpillBytes and then in a temporary file, with the
// places the writer completes: record numbers to shift (a file's later ranges number their
// lines from 1) and deferred events.
struct UnitOutput {
  std::string text;
  std::FILE* spill = nullptr;
  std::uint64_t spilled = 0;
  std::vector<std::uint64_t> record_marks;  // offsets of record numbers' first digits
  std::vector<DeferredEvent> deferred;

  UnitOutput() = default;
  UnitOutput(const UnitOutput&) = delete;
  UnitOutput& operator=(const UnitOutput&) = delete;
  ~UnitOutput() {
    if (spill) std::fclose(spill);
  }
  std::uint64_t size() const { return spilled + text.size(); }
  Status spill_if_large() {
    if (text.size() < kSpillBytes) return Status::Ok();
    if (!spill && !(spill = std::tmpfile()))
      return Status::IoError(std::string("cannot create a temporary file: ") + std::strerror(errno));
    if (std::fwrite(text.data(), 1, text.size(), spill) != text.size())
      return Status::IoError(std::string("cannot write a temporary file: ") + std::strerror(errno));
    spilled += text.size();
    text.clear();
    return Status::Ok();
  }
};

// The last W3C "#Fields:" directive that starts before `offset` in the file at `path`, or ""
// when the file does not start like a W3C log (its first byte is '#', after an optional BOM)
// or has none there. Read backwards in chunks, so a range deep in a large log costs little.
std::string last_w3c_fields_before(const std::string& path, std::uint64_t offset) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return {};
  std::string found;
  char head[4] = {};
  const std::size_t got = std::fread(head, 1, sizeof head, f);
  const bool w3c = (got >= 1 && head[0] == '#') || (got == 4 && std::memcmp(head, "\xEF\xBB\xBF#", 4) == 0);
  constexpr std::uint64_t kChunk = 1 << 20;
  constexpr std::string_view kDirective = "#Fields:";
  std::string buf;
  for (std::uint64_t end = offset; w3c && end > 0 && found.empty();) {
    // Overlap chunks by a directive's length so one that straddles a boundary is seen.
    const std::uint64_t begin = end > kChunk ? end - kChunk : 0;
    buf.resize(static_cast<std::size_t>(end - begin));
    if (fseeko(f, static_cast<off_t>(begin), SEEK_SET) != 0 || std::fread(buf.data(), 1, buf.size(), f) != buf.size()) break;
    for (std::size_t at = buf.rfind(kDirective); at != std::string::npos; at = at == 0 ? std::string::npos : buf.rfind(kDirective, at - 1)) {
      const bool line_start = at > 0 ? buf[at - 1] == '\n' : begin == 0 || begin == 3;
      if (!line_start) continue;
      // The directive's line may run past `end`: read it whole.
      std::string line;
      if (fseeko(f, static_cast<off_t>(begin + at), SEEK_SET) != 0) break;
      for (int c; (c = std::fgetc(f)) != EOF && c != '\n';) line.push_back(static_cast<char>(c));
      found = std::move(line);
      break;
    }
    end = begin == 0 ? 0 : begin + kDirective.size();
    if (begin == 0) break;
  }
  std::fclose(f);
  return found;
}

// One piece of work: a whole input, or one line-aligned range of a large regular file. Units
// are numbered in input order (file order, then range order); the writer emits them in that
// order, whichever thread matched them.
struct Unit {
  std::size_t input = 0;  // index in the inputs
  std::size_t part = 0;   // range number within its input (0: the first or only one)
  bool ranged = false;
  FileRange range;
  // Filled by the worker that matched the unit.
  UnitOutput output;
  std::uint64_t records = 0;  // lines read (to number the records of the ranges after it)
  Status status;
  ScanSummary counts;
  bool done = false;  // guarded by the scheduler's mutex
};

// Per-thread matching state.
struct Worker {
  std::unique_ptr<rules::Matcher> matcher;
  parse::RecordParser parser;
  Event event;
  std::vector<rules::RuleMatch> matches;
  // Correlation rules and suppression (null when the rules have neither).
  rules::CorrelationEngine* correlation = nullptr;
  const rules::RuleBinding* binding = nullptr;
  std::int64_t reference_ns = 0;  // for syslog stamps without a year
  std::vector<Alert> pending;
  std::vector<std::uint32_t> matched_ids;

  explicit Worker(std::size_t max_record_bytes)
      : parser(parse::ParserOptions{max_record_bytes}) {}

  // Whether a match of `rule` goes through the correlation engine (a correlation reads it, its
  // alerts are withheld, or it is suppressed): then its alerts depend on the events before it.
  bool feeds_correlation(std::uint32_t rule) const {
    if (!binding || rule >= binding->per_rule.size()) return false;
    const rules::RuleBinding::PerRule& pr = binding->per_rule[rule];
    return !pr.inputs.empty() || !pr.keep_alerts || pr.suppress.for_ns > 0;
  }

  // Matches `records` and appends their alerts to `out`. With `defer` (the matcher threads),
  // an event that feeds correlation is copied into out.deferred instead, for the writer; without
  // (the writer), such an event goes through the correlation engine here. `mark_records`: note
  // where each alert's record number is, for the writer to shift.
  void process(const ScanOptions& opt, int min_rank, std::string_view source, const std::vector<Record>& records,
               bool defer, bool mark_records, UnitOutput& out, ScanSummary& counts) {
    const rules::RuleSet& rs = matcher->rules();
    std::string& output = out.text;
    for (const Record& rec : records) {
      counts.events++;
      counts.bytes += rec.bytes.size();
      if (rec.oversize) {
        counts.parse_errors[static_cast<std::size_t>(ParseErrorKind::kOversize)]++;
        continue;
      }
      if (rec.damaged != nullptr) {
        counts.parse_errors[static_cast<std::size_t>(ParseErrorKind::kDamagedRecord)]++;
        counts.damaged_by_reason[rec.damaged]++;
        continue;
      }
      if (rec.unterminated_json) {
        counts.parse_errors[static_cast<std::size_t>(ParseErrorKind::kTruncatedJson)]++;
        continue;
      }
      event.start_record(rec.bytes, source, rec.record_no, opt.declared_product, opt.declared_category,
                         opt.declared_service);
      matches.clear();
      bool usable = matcher->match(event, parser, opt.format, matches);
      if (event.parse_error != ParseErrorKind::kNone)
        counts.parse_errors[static_cast<std::size_t>(event.parse_error)]++;
      if (!usable || matches.empty()) continue;
      if (correlation) {
        bool feeds = false;
        for (const rules::RuleMatch& m : matches) feeds = feeds || feeds_correlation(m.rule);
        if (feeds && defer) {
          DeferredEvent d;
          d.at = out.spilled + output.size();
          d.record_no = rec.record_no;
          d.bytes.reserve(rec.bytes.size() + kRecordPadding);
          d.bytes.assign(rec.bytes);
          d.bytes.append(kRecordPadding, '\0');
          out.deferred.push_back(std::move(d));
          continue;
        }
        if (feeds) {
          // The engine decides which of the event's own alerts are kept (generate: false,
          // suppression); the kept ones are written from the match as before.
          pending.clear();
          matched_ids.clear();
          for (const rules::RuleMatch& m : matches) {
            pending.push_back(make_alert(rs.rule(m.rule), event, m, SourceInfo{}, reference_ns));
            matched_ids.push_back(m.rule);
          }
          correlation->on_event(*binding, event, matched_ids, rules::event_time_ns(event, reference_ns), pending, 0);
          std::size_t kept = 0;
          for (std::size_t i = 0; i < matches.size(); ++i) {
            const std::string& id = rs.rule(matches[i].rule).id;
            bool keep = false;
            for (const Alert& a : pending) keep = keep || a.rule_id == id;
            if (!keep) continue;
            if (kept != i) matches[kept] = std::move(matches[i]);
            ++kept;
          }
          matches.resize(kept);
        }
      }
      for (const rules::RuleMatch& m : matches) {
        const rules::SigmaRule& rule = rs.rule(m.rule);
        int rank = level_rank(rule.level);
        if (rank < min_rank) continue;
        counts.alerts++;
        counts.alerts_by_level[rank < 0 ? 5 : static_cast<std::size_t>(rank)]++;
        if (opt.output == OutputFormat::kJsonLines) {
          std::size_t at = 0;
          append_alert_json(output, rule, event, m, &at);
          if (mark_records) out.record_marks.push_back(out.spilled + at);
        } else {
          append_alert_row(output, rule, event, m);
        }
      }
    }
  }

  // Correlation alerts and suppression summaries.
  static void write_alerts(const ScanOptions& opt, int min_rank, const std::vector<Alert>& alerts,
                           std::string& output, ScanSummary& counts) {
    for (const Alert& a : alerts) {
      const int rank = static_cast<int>(a.level);
      if (rank < min_rank) continue;
      counts.alerts++;
      counts.correlation_alerts++;
      counts.alerts_by_level[static_cast<std::size_t>(rank)]++;
      if (opt.output == OutputFormat::kJsonLines) {
        // The shape of a detection alert's line, with the correlation's summary as "event".
        append_alert_head(output, a.rule_id, a.rule_title, to_string(a.level), a.tags, a.rule_path,
                          rules::AttackView{a.attack_tactics, a.attack_techniques}, a.event_time, a.host);
        output += ",\"format\":";
        append_json_string(output, a.format);
        output += ",\"count\":" + std::to_string(a.count) + ",\"matched\":[";
        for (std::size_t i = 0; i < a.matched.size(); ++i) {
          output += i ? ",{\"field\":" : "{\"field\":";
          append_json_string(output, a.matched[i].name);
          output += ",\"value\":";
          append_json_string(output, a.matched[i].value);
          output += "}";
        }
        output += "],\"event\":";
        append_json_string(output, a.raw);
        output += ",\"fields\":{";
        for (std::size_t i = 0; i < a.fields.size(); ++i) {
          if (i) output.push_back(',');
          append_json_string(output, a.fields[i].name);
          output.push_back(':');
          append_json_string(output, a.fields[i].value);
        }
        output += "}}\n";
      } else {
        output += fmt::format("{:<20} {:<13} {:<20} {} ({})\n", a.event_time.substr(0, 19), to_string(a.level),
                              a.host.substr(0, 20), a.rule_title, a.raw);
      }
    }
  }
};

void merge(ScanSummary& into, const ScanSummary& from) {
  into.events += from.events;
  into.bytes += from.bytes;
  into.alerts += from.alerts;
  into.correlation_alerts += from.correlation_alerts;
  for (std::size_t i = 0; i < into.parse_errors.size(); ++i) into.parse_errors[i] += from.parse_errors[i];
  for (const auto& [reason, n] : from.damaged_by_reason) into.damaged_by_reason[reason] += n;
  for (std::size_t i = 0; i < into.alerts_by_level.size(); ++i)
    into.alerts_by_level[i] += from.alerts_by_level[i];
}

std::string with_commas(std::uint64_t v) {
  std::string digits = std::to_string(v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

void print_summary(std::FILE* err, const ScanSummary& s) {
  double eps = s.seconds > 0 ? s.events / s.seconds : 0;
  double mbps = s.seconds > 0 ? s.bytes / s.seconds / 1e6 : 0;
  std::string text = fmt::format(
      "vigil scan: {} events, {:.1f} MB in {:.2f} s = {} events/s ({:.0f} MB/s)\n",
      with_commas(s.events), s.bytes / 1e6, s.seconds, with_commas(static_cast<std::uint64_t>(eps)),
      mbps);
  text += fmt::format("  alerts: {} (critical {}, high {}, medium {}, low {}, informational {})\n",
                      with_commas(s.alerts), s.alerts_by_level[4], s.alerts_by_level[3],
                      s.alerts_by_level[2], s.alerts_by_level[1], s.alerts_by_level[0]);
  std::string errs;
  std::uint64_t total_errors = 0;
  for (std::size_t i = 1; i < s.parse_errors.size(); ++i) {
    if (!s.parse_errors[i]) continue;
    total_errors += s.parse_errors[i];
    errs += fmt::format("{}{} {}", errs.empty() ? "" : ", ",
                        to_string(static_cast<ParseErrorKind>(i)), s.parse_errors[i]);
    if (static_cast<ParseErrorKind>(i) == ParseErrorKind::kDamagedRecord && !s.damaged_by_reason.empty()) {
      std::string reasons;
      for (const auto& [reason, n] : s.damaged_by_reason)
        reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", reason, n);
      errs += " [" + reasons + "]";
    }
  }
  text += fmt::format("  parse errors: {}{}\n", total_errors, errs.empty() ? "" : " (" + errs + ")");
  text += fmt::format("  rules: {} loaded, {} failed to load or compile (see `vigil rules check`)\n",
                      s.rules_loaded, s.rules_failed);
  text += fmt::format("  rule load: {:.2f} s, {} of {} files and {} of {} databases from the rule cache{}\n",
                      s.rules_seconds, s.rule_files_from_cache, s.rule_files_from_cache + s.rule_files_parsed,
                      s.databases_from_cache, s.databases_from_cache + s.databases_compiled,
                      rule_cache() ? "" : " (no cache)");
  if (s.correlations_loaded > 0 || s.suppressed > 0)
    text += fmt::format("  correlation: {} rules, {} alerts, {} late events left out, {} groups evicted, {} repeats suppressed\n",
                        s.correlations_loaded, s.correlation_alerts, s.correlation_late_events,
                        s.correlation_evictions, s.suppressed);
  std::fputs(text.c_str(), err);
}

}  // namespace

int run_scan(const ScanOptions& opt, std::FILE* out, std::FILE* err, ScanSummary* summary_out) {
  ScanSummary summary;
  int min_rank = -1;
  if (!opt.min_level.empty()) {
    min_rank = level_rank(opt.min_level);
    if (min_rank < 0) {
      std::fprintf(err, "vigil scan: unknown --min-level '%s' (informational, low, medium, high, critical)\n",
                   opt.min_level.c_str());
      return 2;
    }
  }
  const auto rules_started = std::chrono::steady_clock::now();
  RuleSourceStats source_stats;
  rules::LoadReport loaded = load_rule_sources(opt.rule_paths, &source_stats);
  summary.rule_files_parsed = source_stats.files_parsed;
  summary.rule_files_from_cache = source_stats.files_reused;
  rules::CompileReport creport;
  std::size_t total = loaded.rules.size() + loaded.errors.size();
  auto compiled = rules::RuleSet::compile(std::move(loaded.rules), rule_compile_options(), &creport);
  if (!compiled) {
    std::fprintf(err, "vigil scan: %s\n", compiled.error().to_string().c_str());
    return 2;
  }
  std::shared_ptr<const rules::RuleSet> ruleset = *compiled;
  const unsigned thread_count = std::max(1u, opt.threads);
  std::unique_ptr<rules::CorrelationEngine> correlation;
  std::shared_ptr<const rules::RuleBinding> binding;
  summary.correlations_loaded = loaded.correlations.size();
  {
    rules::CorrelationOptions copt;
    // Events reach the engine in input order from the one writer, whatever the thread count.
    copt.ordered_input = true;
    copt.allowed_lateness_ns = opt.correlation_lateness_ns;
    copt.max_memory_bytes = opt.correlation_memory_bytes;
    auto engine = rules::CorrelationEngine::create(std::move(loaded.correlations), copt);
    if (!engine) {
      std::fprintf(err, "vigil scan: %s\n", engine.error().to_string().c_str());
      return 2;
    }
    correlation = std::move(*engine);
    std::vector<std::string> warnings;
    binding = correlation->bind(*ruleset, &warnings);
    for (const std::string& w : warnings) std::fprintf(err, "vigil scan: %s\n", w.c_str());
  }
  const std::int64_t reference_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count();
  summary.rules_loaded = ruleset->size();
  summary.rules_failed = total - ruleset->size();
  summary.databases_compiled = creport.databases_compiled;
  summary.databases_from_cache = creport.databases_from_cache;
  summary.rules_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - rules_started).count();
  if (ruleset->size() == 0) {
    std::fprintf(err, "vigil scan: no rule loaded; run `vigil rules check` on the rule paths\n");
    return 2;
  }

  // Matcher threads match units (whole inputs, or ranges of a large file) in any order and
  // keep their alerts; this thread alone writes, unit after unit in input order, so output is
  // the same bytes whatever the thread count. Events that feed correlation or suppression are
  // handed to this thread, which matches them again in input order with its own matcher and
  // feeds the engine: its state sees one order, the input's. Each unit carries its own input,
  // records and counts, so no alert can be filed under another file or record.
  const unsigned threads = thread_count;
  auto make_worker = [&]() -> Result<std::unique_ptr<Worker>> {
    auto w = std::make_unique<Worker>(opt.max_record_bytes);
    auto m = rules::Matcher::create(ruleset);
    if (!m) return Error(m.error());
    w->matcher = std::move(*m);
    w->matcher->set_parse_every_event(opt.validate);
    w->correlation = correlation.get();
    w->binding = binding.get();
    w->reference_ns = reference_ns;
    return w;
  };
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i <= threads; ++i) {  // the last one is the writer's
    auto w = make_worker();
    if (!w) {
      std::fprintf(err, "vigil scan: %s\n", w.error().to_string().c_str());
      return 2;
    }
    workers.push_back(std::move(*w));
  }
  Worker& writer = *workers.back();
  if (opt.output == OutputFormat::kTable) std::fputs(table_header().c_str(), out);

  RecordReaderOptions ropt;
  ropt.max_record_bytes = opt.max_record_bytes;
  // Reads of 256 KiB: the kernel's copy of the file lands in the core's L2 cache, where the
  // matcher reads it again right after; with 4 MiB reads it is evicted first. On OTRF one thread
  // 345-353k events/s instead of 320-335k (the in-memory benchmark: ~365k).
  ropt.batch_bytes = 256u << 10;
  // A directory stands for the regular files under it, in path order (a folder of .evtx files
  // handed over by an incident responder is scanned as it is).
  std::vector<std::string> inputs;
  for (const std::string& input : opt.inputs) {
    std::error_code ec;
    if (input == "-" || !std::filesystem::is_directory(input, ec)) {
      inputs.push_back(input);
      continue;
    }
    std::vector<std::string> files;
    for (std::filesystem::recursive_directory_iterator it(input, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec)) files.push_back(it->path().string());
    if (ec) {
      std::fprintf(err, "vigil scan: %s: %s\n", input.c_str(), ec.message().c_str());
      return 2;
    }
    std::sort(files.begin(), files.end());
    inputs.insert(inputs.end(), files.begin(), files.end());
  }
  if (inputs.empty() && opt.inputs.empty()) inputs.push_back("-");
  std::vector<std::string> sources;
  for (const std::string& input : inputs) sources.push_back(input == "-" ? "(stdin)" : input);
  auto start = std::chrono::steady_clock::now();
  int exit_code = 0;

  // The units. With several threads a regular file of at least 8 MiB is cut into line-aligned
  // ranges of at least 4 MiB, up to 8 per thread, so that the threads share one large file
  // (more ranges than threads keep them busy to the end when some parts cost more to match).
  // A range's lines are numbered from 1 while it is matched (how many lines come before it is
  // known only once the earlier ranges are read; counting them first cost ~15% of a two-thread
  // scan of OTRF); the writer shifts them.
  std::vector<std::unique_ptr<Unit>> units;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::vector<FileRange> ranges;
    if (threads > 1 && inputs[i] != "-") {
      std::error_code ec;
      const bool regular = std::filesystem::is_regular_file(inputs[i], ec);
      const std::uint64_t file_size = regular ? std::filesystem::file_size(inputs[i], ec) : 0;
      const std::uint64_t parts = std::min<std::uint64_t>(file_size / (4u << 20), std::uint64_t{threads} * 8);
      if (regular && !ec && parts >= 2) {
        auto split = split_file_at_lines(inputs[i], static_cast<unsigned>(parts));
        if (split && split->size() > 1) ranges = std::move(*split);
      }
    }
    if (ranges.empty()) {
      auto u = std::make_unique<Unit>();
      u->input = i;
      units.push_back(std::move(u));
      continue;
    }
    for (std::size_t k = 0; k < ranges.size(); ++k) {
      auto u = std::make_unique<Unit>();
      u->input = i;
      u->part = k;
      u->ranged = true;
      u->range = ranges[k];
      units.push_back(std::move(u));
    }
  }

  auto match_unit = [&](Worker& w, Unit& u) {
    const std::string& input = inputs[u.input];
    auto reader = u.ranged ? RecordReader::open_range(input, u.range.begin, u.range.end, ropt)
                           : RecordReader::open(input, ropt);
    if (!reader) {
      u.status = reader.error();
      return;
    }
    // A W3C log names its columns in "#Fields:" directives: each unit starts with none known,
    // and a range that starts inside a file gets the last directive before it.
    w.parser.reset_streams();
    if (u.ranged && u.part > 0)
      if (std::string fields = last_w3c_fields_before(input, u.range.begin); !fields.empty())
        w.parser.set_w3c_fields(sources[u.input], fields);
    const bool mark_records = u.part > 0 && opt.output == OutputFormat::kJsonLines;
    std::vector<Record> records;
    while ((*reader)->next_batch(records)) {
      w.process(opt, min_rank, sources[u.input], records, /*defer=*/true, mark_records, u.output, u.counts);
      if (Status st = u.output.spill_if_large(); !st.ok()) {
        u.status = st;
        return;
      }
    }
    u.records = (*reader)->next_record_no() - ropt.first_record_no;
    u.status = (*reader)->status();
  };

  std::mutex mu;
  std::condition_variable cv_claim, cv_done;
  std::size_t next_unit = 0, written = 0;
  const std::size_t max_ahead = std::size_t{threads} * 8;  // units matched before the writer takes them
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (;;) {
        Unit* u = nullptr;
        {
          std::unique_lock lock(mu);
          cv_claim.wait(lock, [&] { return next_unit >= units.size() || next_unit < written + max_ahead; });
          if (next_unit >= units.size()) return;
          u = units[next_unit++].get();
        }
        match_unit(*workers[t], *u);
        {
          std::lock_guard lock(mu);
          u->done = true;
        }
        cv_done.notify_all();
      }
    });
  }

  // Writes a unit's output, shifting record numbers by `lines_before` and matching its deferred
  // events in place.
  std::vector<char> copy(1 << 20);
  std::vector<Record> one(1);
  std::vector<Alert> closed;  // correlation alerts and suppression summaries of one advance
  auto write_unit = [&](Unit& u, std::uint64_t lines_before) -> Status {
    UnitOutput& o = u.output;
    if (o.spill) std::rewind(o.spill);
    std::uint64_t pos = 0;  // offset in the unit's output read so far
    // Bytes [pos, to) of the output to `out` (from the spill, then the text in memory).
    auto copy_to = [&](std::uint64_t to) {
      while (pos < to && pos < o.spilled) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>({copy.size(), to - pos, o.spilled - pos}));
        const std::size_t got = std::fread(copy.data(), 1, want, o.spill);
        if (got == 0) return false;
        std::fwrite(copy.data(), 1, got, out);
        pos += got;
      }
      if (pos < to) {
        std::fwrite(o.text.data() + (pos - o.spilled), 1, static_cast<std::size_t>(to - pos), out);
        pos = to;
      }
      return true;
    };
    auto byte_at = [&](std::uint64_t at) -> int {
      if (at >= o.spilled) return at - o.spilled < o.text.size() ? o.text[at - o.spilled] : EOF;
      return std::fgetc(o.spill);  // the spill is positioned at `at` (pos == at)
    };
    std::size_t next_mark = 0, next_deferred = 0;
    for (;;) {
      const std::uint64_t mark = next_mark < o.record_marks.size() ? o.record_marks[next_mark] : UINT64_MAX;
      const std::uint64_t deferred = next_deferred < o.deferred.size() ? o.deferred[next_deferred].at : UINT64_MAX;
      if (mark == UINT64_MAX && deferred == UINT64_MAX) break;
      // A deferred event comes before an alert written at the same offset: it was read first.
      if (deferred <= mark) {
        if (!copy_to(deferred)) return Status::IoError("cannot read back a temporary file");
        DeferredEvent& d = o.deferred[next_deferred++];
        one[0] = Record{std::string_view(d.bytes.data(), d.bytes.size() - kRecordPadding), d.record_no + lines_before};
        UnitOutput direct;
        ScanSummary counts;
        writer.process(opt, min_rank, sources[u.input], one, /*defer=*/false, /*mark_records=*/false, direct, counts);
        closed.clear();
        writer.correlation->advance(closed);
        Worker::write_alerts(opt, min_rank, closed, direct.text, counts);
        std::fwrite(direct.text.data(), 1, direct.text.size(), out);
        u.counts.alerts += counts.alerts;
        u.counts.correlation_alerts += counts.correlation_alerts;
        for (std::size_t i = 0; i < counts.alerts_by_level.size(); ++i)
          u.counts.alerts_by_level[i] += counts.alerts_by_level[i];
        continue;
      }
      if (!copy_to(mark)) return Status::IoError("cannot read back a temporary file");
      ++next_mark;
      std::uint64_t number = 0;
      int c;
      while ((c = byte_at(pos)) >= '0' && c <= '9') {
        number = number * 10 + static_cast<std::uint64_t>(c - '0');
        ++pos;
      }
      if (c != EOF && pos < o.spilled) std::ungetc(c, o.spill);
      const std::string shifted = std::to_string(number + lines_before);
      std::fwrite(shifted.data(), 1, shifted.size(), out);
    }
    if (!copy_to(o.size())) return Status::IoError("cannot read back a temporary file");
    return Status::Ok();
  };

  std::uint64_t lines_before = 0;  // lines of the earlier ranges of the current input
  for (std::size_t k = 0; k < units.size(); ++k) {
    Unit& u = *units[k];
    {
      std::unique_lock lock(mu);
      cv_done.wait(lock, [&] { return u.done; });
    }
    if (u.part == 0) lines_before = 0;
    if (!u.status.ok()) {
      // A bad input is reported by name and reason; the others are scanned.
      std::fprintf(err, "vigil scan: %s\n", u.status.to_string().c_str());
      exit_code = 2;
    }
    if (Status st = write_unit(u, lines_before); !st.ok()) {
      std::fprintf(err, "vigil scan: %s\n", st.to_string().c_str());
      exit_code = 2;
    }
    lines_before += u.records;
    merge(summary, u.counts);
    units[k].reset();  // its output and deferred events are written
    {
      std::lock_guard lock(mu);
      written = k + 1;
    }
    cv_claim.notify_all();
  }
  for (std::thread& t : pool) t.join();
  {
    // End of input: every open window is closed and every suppression period ends.
    std::vector<Alert> last;
    correlation->advance(last, rules::CorrelationEngine::Flush::kAll);
    std::string output;
    ScanSummary counts;
    Worker::write_alerts(opt, min_rank, last, output, counts);
    std::fwrite(output.data(), 1, output.size(), out);
    merge(summary, counts);
    const rules::CorrelationCounters& cc = correlation->counters();
    summary.correlation_late_events = cc.late_events.load();
    summary.correlation_evictions = cc.evicted_groups.load();
    summary.suppressed = cc.suppressed.load();
  }
  std::fflush(out);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The writer's matcher only matches again what the others deferred.
  for (unsigned t = 0; t < threads; ++t) summary.events_parsed += workers[t]->matcher->stats().events_parsed;
  if (opt.summary) print_summary(err, summary);
  if (summary_out) *summary_out = summary;
#if !VIGIL_SANITIZED
  if (opt.process_exits_after) {
    workers.clear();  // their matchers are small; the rule set they share is not
    new std::shared_ptr<const rules::RuleSet>(std::move(ruleset));  // NOLINT: freed by the exit
  }
#endif
  return exit_code;
}

}  // namespace vigil::app
