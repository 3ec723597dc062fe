#include "app/scan_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "app/alert_output.h"
#include "app/match_stage.h"
#include "rules/correlation_engine.h"
#include "app/rule_sources.h"
#include "core/json_text.h"
#include "core/parse/parser.h"
#include "core/record_reader.h"
#include "rules/compiler.h"
#include "rules/matcher.h"

namespace vigil::app {

int level_rank(const std::string& level) {
  static const char* kLevels[] = {"informational", "low", "medium", "high", "critical"};
  for (int i = 0; i < 5; ++i)
    if (level == kLevels[i]) return i;
  return -1;
}

namespace {

// A batch of records with the bytes they point into, owned (multi-threaded mode copies the
// reader's buffer so the reader can go on while workers match).
struct Batch {
  std::string source;
  std::vector<char> bytes;
  std::vector<Record> records;
  // Results, filled by the worker.
  std::string output;
  ScanSummary counts;
  bool done = false;
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
  // When set: the position in `output` of each detection alert's record number.
  std::vector<std::size_t>* record_positions = nullptr;

  explicit Worker(std::size_t max_record_bytes)
      : parser(parse::ParserOptions{max_record_bytes}) {}

  void process(const ScanOptions& opt, int min_rank, std::string_view source,
               const std::vector<Record>& records, std::string& output, ScanSummary& counts) {
    const rules::RuleSet& rs = matcher->rules();
    for (const Record& rec : records) {
      counts.events++;
      counts.bytes += rec.bytes.size();
      if (rec.oversize) {
        counts.parse_errors[static_cast<std::size_t>(ParseErrorKind::kOversize)]++;
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
      if (!usable) continue;
      if (correlation && !matches.empty()) {
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
      for (const rules::RuleMatch& m : matches) {
        const rules::SigmaRule& rule = rs.rule(m.rule);
        int rank = level_rank(rule.level);
        if (rank < min_rank) continue;
        counts.alerts++;
        counts.alerts_by_level[rank < 0 ? 5 : static_cast<std::size_t>(rank)]++;
        if (opt.output == OutputFormat::kJsonLines) {
          std::size_t at = 0;
          append_alert_json(output, rule, event, m, &at);
          if (record_positions) record_positions->push_back(at);
        } else {
          append_alert_row(output, rule, event, m);
        }
      }
    }
    if (correlation) {
      pending.clear();
      correlation->advance(pending);
      write_alerts(opt, min_rank, pending, output, counts);
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
        append_alert_head(output, a.rule_id, a.rule_title, to_string(a.level), a.tags, a.rule_path, a.event_time,
                          a.host);
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
  }
  text += fmt::format("  parse errors: {}{}\n", total_errors, errs.empty() ? "" : " (" + errs + ")");
  text += fmt::format("  rules: {} loaded, {} failed to load or compile (see `vigil rules check`)\n",
                      s.rules_loaded, s.rules_failed);
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
  rules::LoadReport loaded = load_rule_sources(opt.rule_paths);
  rules::CompileReport creport;
  std::size_t total = loaded.rules.size() + loaded.errors.size();
  auto compiled = rules::RuleSet::compile(std::move(loaded.rules), rules::CompileOptions{}, &creport);
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
    // Ranges of one file are matched at once: event time does not advance in order, so the
    // windows close at the end of the input.
    copt.allowed_lateness_ns = thread_count > 1 ? std::int64_t(1) << 61 : opt.correlation_lateness_ns;
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
  if (ruleset->size() == 0) {
    std::fprintf(err, "vigil scan: no rule loaded; run `vigil rules check` on the rule paths\n");
    return 2;
  }

  unsigned threads = thread_count;
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < threads; ++i) {
    auto w = std::make_unique<Worker>(opt.max_record_bytes);
    auto m = rules::Matcher::create(ruleset);
    if (!m) {
      std::fprintf(err, "vigil scan: %s\n", m.error().to_string().c_str());
      return 2;
    }
    w->matcher = std::move(*m);
    w->matcher->set_parse_every_event(opt.validate);
    w->correlation = correlation.get();
    w->binding = binding.get();
    w->reference_ns = reference_ns;
    workers.push_back(std::move(w));
  }
  if (opt.output == OutputFormat::kTable) std::fputs(table_header().c_str(), out);

  RecordReaderOptions ropt;
  ropt.max_record_bytes = opt.max_record_bytes;
  std::vector<std::string> inputs = opt.inputs;
  if (inputs.empty()) inputs.push_back("-");
  auto start = std::chrono::steady_clock::now();
  int exit_code = 0;

  // Work queue for threads > 1: batches in order; workers take the oldest unclaimed one, the
  // main thread writes finished batches in order, so output order equals input order.
  std::mutex mu;
  std::condition_variable cv_work, cv_done;
  std::deque<std::shared_ptr<Batch>> pending;  // claimed or not, in input order
  std::deque<std::shared_ptr<Batch>> unclaimed;
  bool stopping = false;
  std::vector<std::thread> pool;
  const std::size_t max_in_flight = threads * 2;
  if (threads > 1) {
    for (unsigned i = 0; i < threads; ++i) {
      pool.emplace_back([&, i] {
        Worker& w = *workers[i];
        for (;;) {
          std::shared_ptr<Batch> b;
          {
            std::unique_lock lock(mu);
            cv_work.wait(lock, [&] { return stopping || !unclaimed.empty(); });
            if (unclaimed.empty()) return;
            b = unclaimed.front();
            unclaimed.pop_front();
          }
          w.process(opt, min_rank, b->source, b->records, b->output, b->counts);
          {
            std::lock_guard lock(mu);
            b->done = true;
          }
          cv_done.notify_all();
        }
      });
    }
  }
  auto drain_done = [&](bool all) {
    std::unique_lock lock(mu);
    for (;;) {
      while (!pending.empty() && pending.front()->done) {
        std::shared_ptr<Batch> b = pending.front();
        pending.pop_front();
        lock.unlock();
        std::fwrite(b->output.data(), 1, b->output.size(), out);
        merge(summary, b->counts);
        lock.lock();
      }
      if (pending.empty() || (!all && pending.size() < max_in_flight)) return;
      cv_done.wait(lock);
    }
  };

  // A regular file with threads > 1 is cut into line-aligned ranges, several per thread, which
  // the threads take in order as they finish the previous one (each with its own reader and
  // matcher: no thread copies or hands over records). More ranges than threads keep the threads
  // busy to the end when some parts of a file cost more to match than others. The first
  // range's alerts go straight to `out`, the others' to temporary files appended in order, so
  // output order is input order. A range's lines are numbered from 1 while it is matched (how
  // many lines come before it is known only once the earlier ranges are read, and counting
  // them first cost ~15% of a two-thread scan of OTRF); the record numbers in its spilled alert
  // lines are shifted when the spill is appended.
  auto scan_ranges = [&](const std::string& input, const std::vector<FileRange>& ranges) -> bool {
    const std::size_t n = ranges.size();
    const std::size_t thread_n = std::min<std::size_t>(threads, n);
    std::vector<std::FILE*> spill(n, nullptr);
    for (std::size_t k = 1; k < n; ++k) spill[k] = std::tmpfile();
    std::vector<std::vector<std::uint64_t>> record_at(n);  // spill offsets of record numbers
    std::vector<std::uint64_t> lines(n, 0);
    std::vector<ScanSummary> counts(thread_n);
    std::vector<Status> errors(n);
    std::atomic<std::size_t> next_range{0};
    std::vector<std::thread> pool_threads;
    for (std::size_t t = 0; t < thread_n; ++t) {
      pool_threads.emplace_back([&, t] {
        std::vector<Record> recs;
        std::string output;
        std::vector<std::size_t> positions;
        for (std::size_t k; (k = next_range.fetch_add(1)) < n;) {
          if (k > 0 && !spill[k]) {
            errors[k] = Status::IoError(std::string("cannot create a temporary file: ") + std::strerror(errno));
            continue;
          }
          auto reader = RecordReader::open_range(input, ranges[k].begin, ranges[k].end, ropt);
          if (!reader) {
            errors[k] = reader.error();
            continue;
          }
          std::FILE* sink = k == 0 ? out : spill[k];
          workers[t]->record_positions = k == 0 ? nullptr : &positions;
          std::uint64_t written = 0;
          while ((*reader)->next_batch(recs)) {
            output.clear();
            positions.clear();
            workers[t]->process(opt, min_rank, input, recs, output, counts[t]);
            for (std::size_t at : positions) record_at[k].push_back(written + at);
            std::fwrite(output.data(), 1, output.size(), sink);
            written += output.size();
          }
          workers[t]->record_positions = nullptr;
          lines[k] = (*reader)->next_record_no() - ropt.first_record_no;
          errors[k] = (*reader)->status();
        }
      });
    }
    for (std::thread& t : pool_threads) t.join();
    bool ok = true;
    for (const ScanSummary& c : counts) merge(summary, c);
    std::vector<char> copy(1 << 20);
    std::uint64_t lines_before = lines[0];
    for (std::size_t k = 0; k < n; ++k) {
      if (!errors[k].ok()) {
        std::fprintf(err, "vigil scan: %s\n", errors[k].to_string().c_str());
        ok = false;
      }
      if (!spill[k]) continue;
      // Copy the spill, rewriting each record number r as r + lines_before.
      std::rewind(spill[k]);
      std::uint64_t pos = 0;
      std::size_t got = 0;
      for (std::uint64_t mark : record_at[k]) {
        while (pos < mark) {
          const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(copy.size(), mark - pos));
          got = std::fread(copy.data(), 1, want, spill[k]);
          if (got == 0) break;
          std::fwrite(copy.data(), 1, got, out);
          pos += got;
        }
        std::uint64_t number = 0;
        int c;
        while ((c = std::fgetc(spill[k])) >= '0' && c <= '9') {
          number = number * 10 + static_cast<std::uint64_t>(c - '0');
          ++pos;
        }
        const std::string shifted = std::to_string(number + lines_before);
        std::fwrite(shifted.data(), 1, shifted.size(), out);
        if (c == EOF) break;
        std::fputc(c, out);
        ++pos;
      }
      while ((got = std::fread(copy.data(), 1, copy.size(), spill[k])) > 0) std::fwrite(copy.data(), 1, got, out);
      std::fclose(spill[k]);
      lines_before += lines[k];
    }
    return ok;
  };

  std::vector<Record> records;
  for (const std::string& input : inputs) {
    if (threads > 1 && input != "-") {
      // Ranges of at least 4 MiB, up to 8 per thread (see scan_ranges).
      std::error_code size_error;
      const std::uint64_t file_size = std::filesystem::file_size(input, size_error);
      const unsigned parts = static_cast<unsigned>(std::clamp<std::uint64_t>(
          size_error ? threads : file_size / (4u << 20), threads, std::uint64_t{threads} * 8));
      auto ranges = split_file_at_lines(input, parts);
      if (ranges && ranges->size() > 1) {
        if (!scan_ranges(input, *ranges)) exit_code = 2;
        continue;
      }
    }
    auto reader = RecordReader::open(input, ropt);
    if (!reader) {
      std::fprintf(err, "vigil scan: %s\n", reader.error().to_string().c_str());
      exit_code = 2;
      continue;
    }
    std::string source = input == "-" ? "(stdin)" : input;
    while ((*reader)->next_batch(records)) {
      if (threads == 1) {
        std::string output;
        ScanSummary counts;
        workers[0]->process(opt, min_rank, source, records, output, counts);
        std::fwrite(output.data(), 1, output.size(), out);
        merge(summary, counts);
        continue;
      }
      // Copy the records' bytes so the reader can refill its buffer while workers match.
      auto b = std::make_shared<Batch>();
      b->source = source;
      const char* lo = records.front().bytes.data();
      const char* hi = lo;
      for (const Record& r : records) {
        lo = std::min(lo, r.bytes.data());
        hi = std::max(hi, r.bytes.data() + r.bytes.size());
      }
      b->bytes.resize(static_cast<std::size_t>(hi - lo) + kRecordPadding);
      std::memcpy(b->bytes.data(), lo, static_cast<std::size_t>(hi - lo));
      b->records = records;
      for (Record& r : b->records)
        r.bytes = std::string_view(b->bytes.data() + (r.bytes.data() - lo), r.bytes.size());
      {
        std::lock_guard lock(mu);
        pending.push_back(b);
        unclaimed.push_back(b);
      }
      cv_work.notify_one();
      drain_done(false);
    }
    Status st = (*reader)->status();
    if (!st.ok()) {
      std::fprintf(err, "vigil scan: %s: %s\n", source.c_str(), st.to_string().c_str());
      exit_code = 2;
    }
  }
  if (threads > 1) {
    drain_done(true);
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    cv_work.notify_all();
    for (std::thread& t : pool) t.join();
  }
  {
    // End of input: every open window is closed and every suppression period ends.
    std::vector<Alert> last;
    correlation->advance(last, /*flush_all=*/true);
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
  for (auto& w : workers) summary.events_parsed += w->matcher->stats().events_parsed;
  if (opt.summary) print_summary(err, summary);
  if (summary_out) *summary_out = summary;
  return exit_code;
}

}  // namespace vigil::app
