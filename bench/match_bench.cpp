// vigil match benchmarks (see bench/README.md).
//
// Four suites, each timed three ways in the same run so that their ratios are meaningful:
//   windows_otrf  all SigmaHQ rules with product windows over the OTRF events (NDJSON)
//   windows_otrf_packs  the same plus vigil's own Windows packs (rules/packs/windows and
//                 windows-attack), so the cost of the packs is read beside the figure without them
//   devices_mix   every bundled pack over the device and server sample lines (Cisco ASA/FTD/IOS,
//                 FortiGate, PAN-OS, Check Point, SonicWall, Sophos, F5, Juniper, IIS W3C, auditd,
//                 web/database server logs...) repeated: the formats' parsers with all the rules
//   linux_web     SigmaHQ rules with product linux or category webserver, plus vigil's bundled
//                 linux and web packs, over auth.log and apache_access.log repeated to >= 1 GiB
//   .../vigil         rules::Matcher::match() on every record, one thread
//   .../bare_hs_scan  only the literal searches vigil makes, each as an hs_scan() call, same
//                     bytes, same databases, empty callback (see ScanPlan). Route layouts that
//                     vigil answers from its memo (rules/scan_memo.h) are scanned here too, so
//                     this stays the cost of Hyperscan over the bytes vigil must search, not a
//                     figure that shrinks with the memo's hit rate.
//   .../parse_only    RecordParser::parse() of every record
//
// Verification comes first (a fast wrong answer is not a result). Before the first timed pass
// of a suite the program matches the whole data twice and checks that the alert count is
// positive and identical per rule, that `vigil scan --threads 2` (run_scan, in process, reading
// the same file) reports the same counts, and independent references:
//   windows_otrf  SigmaHQ regression_data: each Windows rule's labelled event file must reach
//                 its match_count (threshold VIGIL_BENCH_REGRESSION_MIN)
//   both          a naive re-implementation (events split by hand, case-insensitive string
//                 tests) of every rule simple enough for one must give each such rule's count
// Any failure prints "VERIFICATION FAILED" and exits with status 3 before anything is timed.
//
// Data: $VIGIL_BENCH_DIR (default /tmp/vigil-bench) holds the prepared files (made by
// bench/prepare_data.sh); $VIGIL_CORPORA (default <source>/../shared/corpora) the corpora.
#include <benchmark/benchmark.h>
#include <hs/hs.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "app/scan_command.h"
#include "core/event.h"
#include "core/parse/parser.h"
#include "core/record_reader.h"
#include "rules/compiled_rules.h"  // CompiledRule::always, for the setup report only
#include "rules/compiler.h"
#include "rules/logsource_map.h"
#include "rules/matcher.h"
#include "rules/sigma_loader.h"
#include "core/ascii.h"

#ifndef VIGIL_SOURCE_DIR
#define VIGIL_SOURCE_DIR "."
#endif

namespace {

using vigil::ascii_iequals;
using vigil::ascii_lower;

namespace fs = std::filesystem;
using vigil::Event;
using vigil::LogFormat;
using vigil::ParseErrorKind;
using vigil::rules::CompileReport;
using vigil::rules::Matcher;
using vigil::rules::RuleMatch;
using vigil::rules::RuleSet;
using vigil::rules::SigmaRule;

// ---------------------------------------------------------------------------------------------
// Small helpers

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

std::string corpora_dir() {
  return env_or("VIGIL_CORPORA", std::string(VIGIL_SOURCE_DIR) + "/../shared/corpora");
}
std::string bench_dir() { return env_or("VIGIL_BENCH_DIR", "/tmp/vigil-bench"); }

[[noreturn]] void setup_failed(const std::string& what) {
  std::fprintf(stderr, "vigil_match_bench: SETUP FAILED: %s\n", what.c_str());
  std::exit(2);
}

[[noreturn]] void verification_failed(const std::string& suite, const std::string& what) {
  std::fprintf(stderr,
               "vigil_match_bench: [%s] VERIFICATION FAILED: %s\n"
               "vigil_match_bench: nothing was timed: a fast wrong answer is not a result.\n",
               suite.c_str(), what.c_str());
  std::exit(3);
}

void note(const std::string& suite, const std::string& what) {
  std::fprintf(stderr, "[%s] %s\n", suite.c_str(), what.c_str());
  std::fflush(stderr);
}



std::string fmt_count(std::uint64_t v) {
  const std::string digits = std::to_string(v);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Corpus: a whole file in memory, split into records (lines) that are views into one buffer.
// The buffer ends with kRecordPadding bytes, so every record is followed by at least that many
// readable bytes, as vigil's record readers guarantee.

struct Corpus {
  std::string path;
  std::string buffer;
  std::vector<std::string_view> records;
  std::uint64_t record_bytes = 0;  // sum of record sizes (line ends excluded)
};

void load_corpus(const std::string& path, Corpus& c) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) setup_failed(path + ": " + ec.message() + " (run bench/prepare_data.sh first)");
  c.path = path;
  c.buffer.assign(size + vigil::kRecordPadding, '\0');
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) setup_failed(path + ": cannot open");
  std::size_t got = std::fread(c.buffer.data(), 1, size, f);
  std::fclose(f);
  if (got != size) setup_failed(path + ": short read");
  const char* p = c.buffer.data();
  const char* end = p + size;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* line_end = nl ? nl : end;
    std::size_t n = static_cast<std::size_t>(line_end - p);
    if (n > 0 && p[n - 1] == '\r') --n;
    if (n > 0) {
      c.records.emplace_back(p, n);
      c.record_bytes += n;
    }
    p = nl ? nl + 1 : end;
  }
  if (c.records.empty()) setup_failed(path + ": no records");
}

// ---------------------------------------------------------------------------------------------
// Rule selection. A rule file is selected when every rule loaded from it passes the suite's
// predicate, so the in-process rule set equals what `vigil scan --rules <those files>` loads.

// kLinuxWebSigma is the figure (b): SigmaHQ's linux and web rules alone. They find
// nothing in this data, so its verification rests on the reference agreeing (also nothing), the
// CLI agreeing and stable counts; kLinuxWeb adds vigil's packs so that alerts exist to check.
enum class SuiteId { kWindowsOtrf, kWindowsOtrfPacks, kLinuxWeb, kLinuxWebSigma, kDevicesMix };

bool is_windows_suite(SuiteId id) { return id == SuiteId::kWindowsOtrf || id == SuiteId::kWindowsOtrfPacks; }

const char* suite_name(SuiteId id) {
  switch (id) {
    case SuiteId::kWindowsOtrf: return "windows_otrf";
    case SuiteId::kWindowsOtrfPacks: return "windows_otrf_packs";
    case SuiteId::kLinuxWeb: return "linux_web";
    case SuiteId::kLinuxWebSigma: return "linux_web_sigma";
    case SuiteId::kDevicesMix: return "devices_mix";
  }
  return "?";
}

bool rule_in_suite(const SigmaRule& r, SuiteId id) {
  if (is_windows_suite(id)) return ascii_iequals(r.product, "windows");
  if (id == SuiteId::kDevicesMix) return true;
  return ascii_iequals(r.product, "linux") || ascii_iequals(r.category, "webserver");
}

struct RuleSelection {
  std::vector<SigmaRule> rules;
  std::vector<std::string> files;
  std::size_t load_errors = 0;  // over all rule trees, for the report only
};

RuleSelection select_rules(SuiteId id) {
  std::string sigma = corpora_dir() + "/sigma";
  std::vector<std::string> dirs;
  std::error_code ec;
  if (id == SuiteId::kDevicesMix) {
    // Every bundled pack, nothing of SigmaHQ's (whose device rules are few).
    dirs.push_back(std::string(VIGIL_SOURCE_DIR) + "/rules/packs");
  } else {
    for (const auto& e : fs::directory_iterator(sigma, ec))
      if (e.is_directory() && e.path().filename().string().rfind("rules", 0) == 0)
        dirs.push_back(e.path().string());
    if (ec || dirs.empty()) setup_failed("no rules*/ directories under " + sigma);
    std::sort(dirs.begin(), dirs.end());
  }
  // SigmaHQ's linux and webserver rules do not fire on this data (its sshd keywords, web exploit
  // paths and privileged-group user creations are absent), so linux_web also runs vigil's own
  // linux and web packs, which target exactly these formats.
  if (id == SuiteId::kLinuxWeb) {
    dirs.push_back(std::string(VIGIL_SOURCE_DIR) + "/rules/packs/linux");
    dirs.push_back(std::string(VIGIL_SOURCE_DIR) + "/rules/packs/web");
  }
  if (id == SuiteId::kWindowsOtrfPacks) {
    dirs.push_back(std::string(VIGIL_SOURCE_DIR) + "/rules/packs/windows");
    dirs.push_back(std::string(VIGIL_SOURCE_DIR) + "/rules/packs/windows-attack");
  }
  vigil::rules::LoadReport report = vigil::rules::load_rule_paths(dirs);
  std::map<std::string, bool> file_all_in;  // path -> every rule of the file is in the suite
  for (const SigmaRule& r : report.rules) {
    auto [it, inserted] = file_all_in.emplace(r.path, true);
    it->second = it->second && rule_in_suite(r, id);
  }
  // A file that also holds a Sigma correlation is left out: `vigil scan` would run the
  // correlation, which withholds its base rules' own alerts (generate: false), and this
  // benchmark measures detection alone.
  for (const vigil::rules::CorrelationRule& c : report.correlations) file_all_in[c.path] = false;
  RuleSelection sel;
  sel.load_errors = report.errors.size();
  for (SigmaRule& r : report.rules)
    if (file_all_in[r.path]) sel.rules.push_back(std::move(r));
  for (const auto& [path, all_in] : file_all_in)
    if (all_in) sel.files.push_back(path);
  return sel;
}

// ---------------------------------------------------------------------------------------------
// One matching pass, exactly as the timed loop does it, but keeping per-rule counts.

void reset_event(Event& ev, std::string_view raw) {
  ev.raw = raw;
  ev.format = LogFormat::kUnknown;
  ev.parse_error = ParseErrorKind::kNone;
  ev.time_unix_ns = 0;
  ev.time_text = {};
  ev.host = {};
  ev.fields.clear();
}

struct PassResult {
  std::uint64_t alerts = 0;
  std::uint64_t unusable = 0;
  std::vector<std::uint64_t> per_rule;
  vigil::rules::MatcherStats stats;
};

std::unique_ptr<Matcher> make_matcher(const std::shared_ptr<const RuleSet>& rs) {
  auto m = Matcher::create(rs);
  if (!m) setup_failed("Matcher::create: " + m.error().to_string());
  return std::move(*m);
}

PassResult match_pass(const std::shared_ptr<const RuleSet>& rs, const std::vector<std::string_view>& records) {
  auto matcher = make_matcher(rs);
  vigil::parse::RecordParser parser;
  Event ev;
  std::vector<RuleMatch> out;
  PassResult r;
  r.per_rule.assign(rs->size(), 0);
  for (std::string_view rec : records) {
    reset_event(ev, rec);
    out.clear();
    if (!matcher->match(ev, parser, LogFormat::kUnknown, out)) r.unusable++;
    r.alerts += out.size();
    for (const RuleMatch& m : out) r.per_rule.at(m.rule)++;
  }
  r.stats = matcher->stats();
  return r;
}

// `vigil scan --threads 2 --rules <files> <file>` in process (the CLI's own code path: its record
// reader, its worker pool, its matchers). Returns the summary; exits on a scan error.
vigil::app::ScanSummary cli_scan(const std::string& suite, const std::vector<std::string>& rule_files,
                                 const std::string& input, unsigned threads) {
  vigil::app::ScanOptions opt;
  opt.rule_paths = rule_files;
  opt.inputs = {input};
  opt.threads = threads;
  opt.summary = false;
  std::FILE* out = std::fopen("/dev/null", "w");
  char* err_buf = nullptr;
  std::size_t err_len = 0;
  std::FILE* err = open_memstream(&err_buf, &err_len);
  if (!out || !err) setup_failed("cannot open /dev/null or a memory stream");
  vigil::app::ScanSummary summary;
  int rc = vigil::app::run_scan(opt, out, err, &summary);
  std::fclose(out);
  std::fclose(err);
  std::string err_text(err_buf ? err_buf : "", err_len);
  std::free(err_buf);
  if (rc != 0) verification_failed(suite, "vigil scan exited with " + std::to_string(rc) + ": " + err_text);
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Reference for windows_otrf: SigmaHQ regression_data (labelled events per rule).

// SigmaHQ's match_count is a floor (the project's conformance test reads it the same way): an
// event file may hold more events that the rule rightly matches. `exact` got == expected,
// `more` got > expected (listed, not a failure), `fewer` got < expected (a missed detection).
struct RegressionOutcome {
  std::size_t exact = 0, more = 0, fewer = 0, rule_not_loaded = 0, unreadable = 0;
  std::vector<std::string> more_cases, fewer_cases;
};

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> cols;
  std::string cur;
  std::istringstream in(line);
  while (std::getline(in, cur, '\t')) cols.push_back(cur);
  return cols;
}

RegressionOutcome check_regression(const std::shared_ptr<const RuleSet>& rs) {
  RegressionOutcome out;
  std::string sigma = corpora_dir() + "/sigma";
  std::ifstream index(sigma + "/regression_index.tsv");
  if (!index) setup_failed(sigma + "/regression_index.tsv: cannot open");
  std::unordered_map<std::string, std::uint32_t> by_id;
  for (std::size_t i = 0; i < rs->size(); ++i) by_id.emplace(rs->rule(i).id, static_cast<std::uint32_t>(i));
  auto matcher = make_matcher(rs);
  vigil::parse::RecordParser parser;
  Event ev;
  std::vector<RuleMatch> matches;
  std::vector<vigil::Record> batch;
  std::string line;
  std::getline(index, line);  // header
  std::vector<std::string> header = split_tabs(line);
  auto col = [&](const char* name) -> std::size_t {
    auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) setup_failed(std::string("regression_index.tsv has no column ") + name);
    return static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t c_id = col("rule_id"), c_product = col("product"), c_file = col("event_file_json"),
                    c_count = col("match_count"), c_path = col("rule_path");
  while (std::getline(index, line)) {
    std::vector<std::string> f = split_tabs(line);
    if (f.size() <= std::max({c_id, c_product, c_file, c_count, c_path})) continue;
    if (!ascii_iequals(f[c_product], "windows")) continue;
    auto rule = by_id.find(f[c_id]);
    if (rule == by_id.end()) {
      out.rule_not_loaded++;
      continue;
    }
    std::uint64_t expected = f[c_count].empty() ? 1 : std::stoull(f[c_count]);
    auto reader = vigil::RecordReader::open(sigma + "/" + f[c_file]);
    if (!reader) {
      out.unreadable++;
      continue;
    }
    std::uint64_t got = 0;
    while ((*reader)->next_batch(batch)) {
      for (const vigil::Record& rec : batch) {
        reset_event(ev, rec.bytes);
        matches.clear();
        matcher->match(ev, parser, LogFormat::kUnknown, matches);
        for (const RuleMatch& m : matches) got += m.rule == rule->second;
      }
    }
    std::string text = f[c_path] + ": match_count " + std::to_string(expected) + ", vigil " + std::to_string(got);
    if (got == expected) {
      out.exact++;
    } else if (got > expected) {
      out.more++;
      out.more_cases.push_back(text);
    } else {
      out.fewer++;
      out.fewer_cases.push_back(text);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reference: a deliberately naive re-implementation of the simplest rules, without vigil's
// parsers, literal databases or evaluator.
//
// Events are split by hand:
//  - linux_web: the data is copies of two known files, so a line is RFC 3164 syslog
//    ("Mmm dd hh:mm:ss host program[pid]: message": fields `program`, `message`) or an access-log
//    line (format only). Keywords are tested against the raw line.
//  - windows_otrf: every OTRF event is one flat JSON object (scalars, arrays of scalars); its
//    top-level members are the fields (array elements are values of the array's name; numbers
//    as written; null = absent; NXLog's SourceName also answers to Provider_Name, as in vigil's
//    documented layout mapping). Keywords are not modelled.
// A rule qualifies when its condition is and/or/not over case-insensitive equals / contains /
// startswith / endswith / exists tests of modelled fields, and its logsource variants test only
// modelled fields, `_format`, and the collector-declared `_product` / `_category` / `_service`
// (absent in a file scan). Its count over all events must equal vigil's.

using vigil::rules::CondNode;
using vigil::rules::LogsourceVariant;
using vigil::rules::MatchOp;
using vigil::rules::Predicate;

struct RefEvent {
  std::string_view format;  // "json", "rfc3164", "access" or "plain"
  std::string lower_raw;    // text records only (keywords)
  std::vector<std::pair<std::string, std::string>> fields;  // name, lower-cased value
};

enum class RefScope { kSyslogLines, kFlatJson };

bool is_digit(char c) { return c >= '0' && c <= '9'; }

RefEvent split_syslog_or_access(std::string_view line) {
  RefEvent r;
  r.lower_raw = ascii_lower(line);
  r.format = "plain";
  // "Mmm dd hh:mm:ss " (day space-padded)
  bool syslog = line.size() > 16 && std::isupper(static_cast<unsigned char>(line[0])) && line[3] == ' ' &&
                (line[4] == ' ' || is_digit(line[4])) && is_digit(line[5]) && line[6] == ' ' && line[9] == ':' &&
                line[12] == ':' && line[15] == ' ';
  if (syslog) {
    r.format = "rfc3164";
    std::string_view rest = line.substr(16);
    std::size_t host_end = rest.find(' ');
    if (host_end != std::string_view::npos) {
      rest = rest.substr(host_end + 1);
      std::size_t tag_end = rest.find_first_of("[: ");
      std::size_t colon = tag_end == std::string_view::npos ? tag_end : rest.find(':', tag_end);
      if (colon != std::string_view::npos) {
        std::string_view msg = rest.substr(colon + 1);
        while (!msg.empty() && msg.front() == ' ') msg.remove_prefix(1);
        r.fields.emplace_back("program", ascii_lower(rest.substr(0, tag_end)));
        r.fields.emplace_back("message", ascii_lower(msg));
      }
    }
  } else {
    // "host ident user [date] \"request\" ..."
    std::size_t bracket = line.find(" [");
    std::size_t quote = line.find("] \"");
    if (bracket != std::string_view::npos && quote != std::string_view::npos && bracket < quote &&
        std::count(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(bracket), ' ') == 2)
      r.format = "access";
  }
  return r;
}

// false: not a flat JSON object (the caller then leaves the event out of the comparison).
bool split_flat_json(simdjson::dom::parser& parser, std::string_view rec, RefEvent& r) {
  r = RefEvent{};
  r.format = "json";
  simdjson::dom::element doc;
  if (parser.parse(rec.data(), rec.size(), false).get(doc)) return false;
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) return false;
  auto scalar = [](simdjson::dom::element v, std::string& out) -> int {  // 1 value, 0 null, -1 nested
    switch (v.type()) {
      case simdjson::dom::element_type::STRING: out = ascii_lower(std::string_view(v.get_string().value())); return 1;
      case simdjson::dom::element_type::INT64: out = std::to_string(v.get_int64().value()); return 1;
      case simdjson::dom::element_type::UINT64: out = std::to_string(v.get_uint64().value()); return 1;
      case simdjson::dom::element_type::BOOL: out = v.get_bool().value() ? "true" : "false"; return 1;
      case simdjson::dom::element_type::NULL_VALUE: return 0;
      default: return -1;  // doubles (written forms differ), objects, arrays
    }
  };
  std::string value;
  for (auto member : obj) {
    std::string name(member.key);
    simdjson::dom::element v = member.value;
    if (v.type() == simdjson::dom::element_type::ARRAY) {
      simdjson::dom::array items;
      if (v.get_array().get(items)) return false;
      for (simdjson::dom::element item : items) {
        int k = scalar(item, value);
        if (k < 0) return false;
        if (k > 0) r.fields.emplace_back(name, value);
      }
      continue;
    }
    int k = scalar(v, value);
    if (k < 0) return false;
    if (k == 0) continue;
    if (name == "SourceName") r.fields.emplace_back("Provider_Name", value);
    r.fields.emplace_back(std::move(name), value);
  }
  return true;
}

bool string_op(MatchOp op, std::string_view have, std::string_view want) {
  switch (op) {
    case MatchOp::kEquals: return have == want;
    case MatchOp::kContains: return have.find(want) != std::string_view::npos;
    case MatchOp::kStartsWith: return have.substr(0, want.size()) == want;
    case MatchOp::kEndsWith: return have.size() >= want.size() && have.substr(have.size() - want.size()) == want;
    default: return false;
  }
}

bool is_string_op(MatchOp op) {
  return op == MatchOp::kEquals || op == MatchOp::kContains || op == MatchOp::kStartsWith ||
         op == MatchOp::kEndsWith;
}

bool is_declared_pseudo(std::string_view f) { return f == "_product" || f == "_category" || f == "_service"; }

// A predicate with its field renamed and its value lower-cased once.
struct RefPredicate {
  std::string field;
  MatchOp op = MatchOp::kEquals;
  std::string value;
  bool exists_expected = true;
};

std::optional<RefPredicate> model_predicate(const Predicate& p, const std::map<std::string, std::string>* renames,
                                            RefScope scope) {
  RefPredicate r{p.field, p.op, ascii_lower(p.value), p.exists_expected};
  if (renames)
    if (auto it = renames->find(r.field); it != renames->end()) r.field = it->second;
  if (r.field == "_format") return p.op == MatchOp::kEquals ? std::optional(r) : std::nullopt;
  if (is_declared_pseudo(r.field))
    return (p.op == MatchOp::kExists || p.op == MatchOp::kNull || is_string_op(p.op)) ? std::optional(r) : std::nullopt;
  if (p.cased || !(is_string_op(p.op) || p.op == MatchOp::kExists)) return std::nullopt;
  if (r.field.empty())
    return scope == RefScope::kSyslogLines && p.op == MatchOp::kContains ? std::optional(r) : std::nullopt;
  if (scope == RefScope::kSyslogLines && r.field != "program" && r.field != "message") return std::nullopt;
  return r;
}

bool eval_predicate(const RefPredicate& p, const RefEvent& e) {
  if (p.field == "_format") return ascii_iequals(p.value, e.format);
  if (is_declared_pseudo(p.field)) {  // never present in a file scan
    if (p.op == MatchOp::kExists) return !p.exists_expected;
    return p.op == MatchOp::kNull;
  }
  if (p.field.empty()) return e.lower_raw.find(p.value) != std::string::npos;
  bool present = false;
  for (const auto& [name, value] : e.fields) {
    if (name != p.field) continue;
    present = true;
    if (p.op != MatchOp::kExists && string_op(p.op, value, p.value)) return true;
  }
  return p.op == MatchOp::kExists && present == p.exists_expected;
}

// A condition tree over RefPredicates (flattened from a rule or a variant).
struct RefTree {
  struct Node {
    CondNode::Kind kind;
    std::uint32_t pred = 0;
    std::vector<std::uint32_t> children;
  };
  std::vector<Node> nodes;  // nodes[0] is the root
  std::vector<RefPredicate> preds;

  bool eval(const RefEvent& e, std::uint32_t at = 0) const {
    const Node& n = nodes[at];
    switch (n.kind) {
      case CondNode::Kind::kTrue: return true;
      case CondNode::Kind::kFalse: return false;
      case CondNode::Kind::kPred: return eval_predicate(preds[n.pred], e);
      case CondNode::Kind::kNot: return !eval(e, n.children[0]);
      case CondNode::Kind::kAnd:
        for (auto c : n.children)
          if (!eval(e, c)) return false;
        return true;
      case CondNode::Kind::kOr:
        for (auto c : n.children)
          if (eval(e, c)) return true;
        return false;
    }
    return false;
  }
};

// Builds the tree; false when something in it is not modelled.
bool build_tree(const CondNode& n, const std::vector<Predicate>& preds, const std::map<std::string, std::string>* renames,
                RefScope scope, RefTree& t) {
  const std::uint32_t at = static_cast<std::uint32_t>(t.nodes.size());
  t.nodes.push_back({n.kind, 0, {}});
  switch (n.kind) {
    case CondNode::Kind::kTrue:
    case CondNode::Kind::kFalse: return true;
    case CondNode::Kind::kPred: {
      if (n.pred >= preds.size()) return false;
      auto p = model_predicate(preds[n.pred], renames, scope);
      if (!p) return false;
      t.nodes[at].pred = static_cast<std::uint32_t>(t.preds.size());
      t.preds.push_back(std::move(*p));
      return true;
    }
    case CondNode::Kind::kNot:
    case CondNode::Kind::kAnd:
    case CondNode::Kind::kOr: {
      if (n.children.empty() || (n.kind == CondNode::Kind::kNot && n.children.size() != 1)) return false;
      for (const CondNode& c : n.children) {
        const std::uint32_t child = static_cast<std::uint32_t>(t.nodes.size());
        if (!build_tree(c, preds, renames, scope, t)) return false;
        t.nodes[at].children.push_back(child);
      }
      return true;
    }
  }
  return false;
}

struct ReferenceOutcome {
  std::size_t rules_checked = 0, rules_with_hits = 0;
  std::uint64_t events_compared = 0, reference_alerts = 0;
  std::vector<std::string> lines;  // checked rules with hits on either side
  std::vector<std::string> mismatches;
};

// `engine_per_rule`: vigil's per-rule counts over exactly the events the reference compares.
template <typename EngineCounts>
ReferenceOutcome check_reference(const RuleSet& rs, const std::vector<std::string_view>& records, RefScope scope,
                                 EngineCounts&& engine_per_rule) {
  const vigil::rules::LogsourceMap& map = vigil::rules::LogsourceMap::builtin();
  // Variants are shared by many rules: evaluate each distinct one once per event.
  std::vector<RefTree> variants;
  std::map<std::string, std::uint32_t> variant_ids;
  struct Candidate {
    std::uint32_t rule = 0;
    std::vector<std::pair<std::int64_t, RefTree>> arms;  // (variant id or -1 = none, detection)
  };
  std::vector<Candidate> candidates;
  for (std::uint32_t i = 0; i < rs.size(); ++i) {
    const SigmaRule& r = rs.rule(i);
    bool mapped = false;
    std::vector<LogsourceVariant> vs = map.variants_for(r.product, r.category, r.service, &mapped);
    if (vs.empty()) vs.emplace_back();
    Candidate c;
    c.rule = i;
    bool modelled = true;
    for (const LogsourceVariant& v : vs) {
      std::int64_t vid = -1;
      if (!v.conditions.empty()) {
        RefTree vt;
        if (!build_tree(v.condition, v.conditions, nullptr, RefScope::kFlatJson, vt)) {
          modelled = false;
          break;
        }
        std::string key;
        for (const auto& n : vt.nodes) key += std::to_string(static_cast<int>(n.kind)) + ":" + std::to_string(n.pred) + ";";
        for (const auto& p : vt.preds)
          key += p.field + "\x1f" + std::to_string(static_cast<int>(p.op)) + "\x1f" + p.value + "\x1f" +
                 (p.exists_expected ? "1" : "0") + "\x1e";
        auto [it, added] = variant_ids.emplace(key, static_cast<std::uint32_t>(variants.size()));
        if (added) variants.push_back(std::move(vt));
        vid = it->second;
      }
      RefTree dt;
      if (!build_tree(r.condition, r.predicates, &v.renames, scope, dt)) {
        modelled = false;
        break;
      }
      c.arms.emplace_back(vid, std::move(dt));
    }
    if (modelled) candidates.push_back(std::move(c));
  }
  ReferenceOutcome out;
  std::vector<std::uint64_t> ref(candidates.size(), 0);
  std::vector<char> variant_true(variants.size());
  auto count_event = [&](const RefEvent& e, std::uint64_t times) {
    for (std::size_t v = 0; v < variants.size(); ++v) variant_true[v] = variants[v].eval(e);
    for (std::size_t c = 0; c < candidates.size(); ++c) {
      for (const auto& [vid, detection] : candidates[c].arms) {
        if (vid >= 0 && !variant_true[static_cast<std::size_t>(vid)]) continue;
        if (detection.eval(e)) {
          ref[c] += times;
          break;
        }
      }
    }
  };
  std::vector<std::string_view> compared;
  if (scope == RefScope::kSyslogLines) {
    // Copies of a few files: count each distinct line once, weighted by how often it occurs.
    // Only lines the hand split reads (BSD syslog, access log) are compared; others (device
    // formats, RFC 3339-stamped server logs) are beyond this reference.
    std::unordered_map<std::string_view, std::uint64_t> distinct;
    for (std::string_view rec : records) distinct[rec]++;
    std::unordered_map<std::string_view, bool> readable;
    for (const auto& [text, times] : distinct) {
      RefEvent e = split_syslog_or_access(text);
      readable[text] = e.format != "plain";
      if (readable[text]) count_event(e, times);
    }
    for (std::string_view rec : records)
      if (readable[rec]) compared.push_back(rec);
  } else {
    simdjson::dom::parser parser;
    RefEvent e;
    for (std::string_view rec : records) {
      if (!split_flat_json(parser, rec, e)) continue;
      compared.push_back(rec);
      count_event(e, 1);
    }
  }
  out.events_compared = compared.size();
  const std::vector<std::uint64_t> engine = engine_per_rule(compared);
  for (std::size_t c = 0; c < candidates.size(); ++c) {
    const SigmaRule& r = rs.rule(candidates[c].rule);
    const std::uint64_t got = engine[candidates[c].rule];
    out.rules_checked++;
    out.rules_with_hits += ref[c] > 0;
    out.reference_alerts += ref[c];
    std::string text = r.path.substr(r.path.rfind('/') + 1) + ": reference " + fmt_count(ref[c]) + ", vigil " +
                       fmt_count(got);
    if (ref[c] || got) out.lines.push_back(text);
    if (got != ref[c]) out.mismatches.push_back(text);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// A suite: data + rules, loaded, compiled and verified once per process.

struct Suite {
  SuiteId id{};
  std::string name;
  Corpus corpus;
  RuleSelection selection;
  std::shared_ptr<const RuleSet> ruleset;
  CompileReport compile_report;
  std::uint64_t verified_alerts = 0;
  std::uint64_t candidate_events = 0;  // events with at least one prefilter hit (bare scan)
  struct ScanPlan* plan = nullptr;     // owned by `plan_storage`
  std::shared_ptr<void> plan_storage;
};

extern "C" int empty_on_match(unsigned int, unsigned long long, unsigned long long, unsigned int, void*) {
  return 0;
}
extern "C" int flag_on_match(unsigned int, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  *static_cast<bool*>(ctx) = true;
  return 1;  // one hit is enough to know the event is a candidate
}

// The Hyperscan work vigil does per record, laid out so it can be replayed with nothing else:
// the bare hs_scan ceiling. The plan is recorded from vigil itself (Matcher::record_literal_scans
// while matching every record once, untimed): every literal-prefilter scan match() makes, with
// its database and bytes (decoded JSON values are copied here: vigil must parse JSON anyway, and
// parse_only measures that separately). Text records are scanned raw with text_database(); JSON
// events have their field values scanned with the databases of the routes their logsource
// selects, and the raw record with those routes' keyword databases.
// Regex scans (candidates only) are not part of the ceiling.
struct ScanItem {
  const hs_database_t* db = nullptr;
  const char* data = nullptr;
  unsigned size = 0;
};

struct ScanPlan {
  std::vector<ScanItem> items;  // in record order
  std::vector<std::uint32_t> item_record;  // record index of each item (verification only)
  std::vector<std::string> value_chunks;  // owned copies of the scanned bytes
  std::vector<const hs_database_t*> databases;  // distinct, for scratch allocation
  std::string layout;  // what is scanned, for the report
};

// "route 2 CallTrace+GrantedAccess+...": a route's field layout, by its fields.
std::string layout_name(const vigil::rules::CompiledRules& cr, std::size_t route,
                        const vigil::rules::JsonRoute::Layout& layout) {
  std::string name = "route " + std::to_string(route) + " ";
  for (std::uint32_t i = 0; i < layout.slot_count && i < 3; ++i)
    name += (i ? "+" : "") + cr.field_names[cr.json_routes[route].fields[layout.first_slot + i]];
  if (layout.slot_count > 3) name += "+" + std::to_string(layout.slot_count - 3) + " more";
  return name;
}

std::string prefilter_note(const vigil::rules::KeywordPrefilter& f) {
  return f.active() ? ", prefilter " + f.describe() : ", no prefilter";
}

void build_scan_plan(const std::shared_ptr<const RuleSet>& rs, const Corpus& corpus, ScanPlan& plan) {
  const std::vector<std::string_view>& records = corpus.records;
  auto matcher = make_matcher(rs);
  std::vector<vigil::rules::LiteralScan> scans;
  matcher->record_literal_scans(&scans);
  vigil::parse::RecordParser parser;
  Event ev;
  std::vector<RuleMatch> out;
  std::size_t text_records = 0, json_records = 0, raw_scans = 0, value_scans = 0;
  std::string* chunk = nullptr;
  for (std::uint32_t i = 0; i < records.size(); ++i) {
    std::string_view rec = records[i];
    const bool json = vigil::parse::detect_format(rec) == LogFormat::kJson;
    (json ? json_records : text_records)++;
    scans.clear();
    reset_event(ev, rec);
    out.clear();
    matcher->match(ev, parser, LogFormat::kUnknown, out);
    for (const vigil::rules::LiteralScan& sc : scans) {
      if (std::find(plan.databases.begin(), plan.databases.end(), sc.db) == plan.databases.end())
        plan.databases.push_back(sc.db);
      if (sc.raw.data() == rec.data()) {  // the raw record: scanned in place
        plan.items.push_back({sc.db, rec.data(), static_cast<unsigned>(rec.size())});
        plan.item_record.push_back(i);
        ++raw_scans;
        continue;
      }
      // Copy the value into a chunk that never reallocates, so the views stay put.
      const std::string_view bytes = sc.bytes();
      if (!chunk || chunk->capacity() - chunk->size() < bytes.size()) {
        plan.value_chunks.emplace_back();
        chunk = &plan.value_chunks.back();
        chunk->reserve(std::max<std::size_t>(bytes.size(), 64u << 20));
      }
      const char* at = chunk->data() + chunk->size();
      chunk->append(bytes);
      plan.items.push_back({sc.db, at, static_cast<unsigned>(bytes.size())});
      plan.item_record.push_back(i);
      ++value_scans;
    }
  }
  // Where the scanning goes: the databases that see the most bytes, by name.
  const vigil::rules::CompiledRules& cr = rs->compiled();
  auto db_name = [&](const hs_database_t* db) -> std::string {
    if (db == cr.text_db) return "text";
    for (std::size_t r = 0; r < cr.json_routes.size(); ++r)
      if (cr.json_routes[r].keyword_db == db)
        return "route " + std::to_string(r) + " keywords (raw" + prefilter_note(cr.json_routes[r].keyword_prefilter) + ")";
    if (db == cr.all_keywords_db) return "several routes' keywords (raw, prefilter per combination of routes)";
    for (std::size_t r = 0; r < cr.json_routes.size(); ++r)
      for (const auto& layout : cr.json_routes[r].layouts)
        if (layout.db == db) return layout_name(cr, r, layout);
    return "?";
  };
  std::unordered_map<const hs_database_t*, std::pair<std::uint64_t, std::uint64_t>> per_db;
  for (const ScanItem& item : plan.items) {
    auto& [n, bytes] = per_db[item.db];
    ++n;
    bytes += item.size;
  }
  std::vector<std::pair<const hs_database_t*, std::pair<std::uint64_t, std::uint64_t>>> top(per_db.begin(), per_db.end());
  std::sort(top.begin(), top.end(), [](const auto& x, const auto& y) { return x.second.second > y.second.second; });
  std::string busiest;
  for (std::size_t i = 0; i < top.size() && i < 8; ++i) {
    std::size_t size = 0;
    hs_database_size(top[i].first, &size);
    busiest += "; " + db_name(top[i].first) + ": " + fmt_count(top[i].second.first) + " scans, " +
               fmt_count(top[i].second.second / 1000000) + " MB, db " + fmt_count(size / 1024) + " KiB";
  }
  plan.layout = std::to_string(text_records) + " text records, " + std::to_string(json_records) +
                " JSON records: " + std::to_string(raw_scans) + " raw-record scans, " +
                std::to_string(value_scans) + " route layout scans, " +
                std::to_string(plan.databases.size()) + " distinct databases (recorded from vigil); busiest" +
                busiest;
}

// One scratch big enough for every database of the plan.
hs_scratch_t* alloc_scratch(const std::vector<const hs_database_t*>& dbs) {
  hs_scratch_t* scratch = nullptr;
  for (const hs_database_t* db : dbs)
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) setup_failed("hs_alloc_scratch failed");
  return scratch;
}

void verify_suite(Suite& s) {
  const std::string& n = s.name;
  // 1. Two full passes: positive and identical per rule.
  PassResult first = match_pass(s.ruleset, s.corpus.records);
  PassResult second = match_pass(s.ruleset, s.corpus.records);
  note(n, "pass 1: " + fmt_count(first.alerts) + " alerts, " + fmt_count(first.unusable) +
              " unusable events, " + fmt_count(first.stats.events_parsed) + " events parsed, " +
              fmt_count(first.stats.candidate_rules) + " rule evaluations");
  if (first.alerts == 0 && s.id != SuiteId::kLinuxWebSigma)
    verification_failed(n, "no alert at all over the whole data");
  if (first.per_rule != second.per_rule || first.alerts != second.alerts)
    verification_failed(n, "second pass differs: " + fmt_count(first.alerts) + " then " +
                               fmt_count(second.alerts) + " alerts");
  std::size_t rules_firing = 0;
  for (auto c : first.per_rule) rules_firing += c > 0;
  note(n, "pass 2: identical per-rule counts (" + std::to_string(rules_firing) + " rules fired)");
  s.verified_alerts = first.alerts;

  // 2. The CLI's pipeline, two threads, reading the file itself.
  vigil::app::ScanSummary cli = cli_scan(n, s.selection.files, s.corpus.path, 2);
  note(n, "vigil scan --threads 2: " + fmt_count(cli.events) + " events, " + fmt_count(cli.alerts) +
              " alerts, " + std::to_string(cli.rules_loaded) + " rules loaded");
  if (cli.rules_loaded != s.ruleset->size())
    verification_failed(n, "vigil scan loaded " + std::to_string(cli.rules_loaded) + " rules, the benchmark " +
                               std::to_string(s.ruleset->size()));
  if (cli.events != s.corpus.records.size())
    verification_failed(n, "vigil scan read " + fmt_count(cli.events) + " events, the benchmark " +
                               fmt_count(s.corpus.records.size()));
  if (cli.alerts != first.alerts)
    verification_failed(n, "vigil scan --threads 2 reports " + fmt_count(cli.alerts) +
                               " alerts, the in-memory matcher " + fmt_count(first.alerts));

  // 3. An independent reference.
  if (is_windows_suite(s.id)) {
    RegressionOutcome r = check_regression(s.ruleset);
    const std::size_t judged = r.exact + r.more + r.fewer;
    const double min_frac = std::atof(env_or("VIGIL_BENCH_REGRESSION_MIN", "0.9").c_str());
    note(n, "reference (sigma regression_data, windows): " + std::to_string(r.exact + r.more) + "/" +
                std::to_string(judged) + " labelled event files reach their match_count (" +
                std::to_string(r.exact) + " exactly, " + std::to_string(r.more) + " with more matching events), " +
                std::to_string(r.fewer) + " fall short; " + std::to_string(r.rule_not_loaded) + " rules not loaded, " +
                std::to_string(r.unreadable) + " files unreadable; threshold " + std::to_string(min_frac));
    for (const std::string& c : r.more_cases) note(n, "  more: " + c);
    for (std::size_t i = 0; i < r.fewer_cases.size() && i < 20; ++i) note(n, "  FEWER: " + r.fewer_cases[i]);
    if (judged == 0) verification_failed(n, "no regression case could be judged");
    if (static_cast<double>(r.exact + r.more) < min_frac * static_cast<double>(judged))
      verification_failed(n, "only " + std::to_string(r.exact + r.more) + " of " + std::to_string(judged) +
                                 " regression cases reach their match_count (VIGIL_BENCH_REGRESSION_MIN=" +
                                 std::to_string(min_frac) + ")");
  }
  {
    const RefScope scope = is_windows_suite(s.id) ? RefScope::kFlatJson : RefScope::kSyslogLines;
    ReferenceOutcome k = check_reference(*s.ruleset, s.corpus.records, scope,
                                         [&](const std::vector<std::string_view>& compared) {
                                           if (compared.size() == s.corpus.records.size()) return first.per_rule;
                                           return match_pass(s.ruleset, compared).per_rule;
                                         });
    note(n, std::string("reference (naive re-implementation: ") +
                (scope == RefScope::kFlatJson ? "flat JSON members" : "hand-split syslog, keywords") + ", " +
                "equals/contains/startswith/endswith/exists): " + std::to_string(k.rules_checked) + " rules checked over " +
                fmt_count(k.events_compared) + " events, " + std::to_string(k.rules_with_hits) +
                " with reference hits, " + fmt_count(k.reference_alerts) + " reference alerts");
    for (const std::string& l : k.lines) note(n, "  " + l);
    if (k.rules_with_hits == 0 && s.id != SuiteId::kLinuxWebSigma)
      verification_failed(n, "no checked rule has a reference hit: the reference proves nothing");
    if (!k.mismatches.empty())
      verification_failed(n, std::to_string(k.mismatches.size()) + " rules differ from the reference, first: " +
                                 k.mismatches.front());
  }

  // 4. The bare scan works on every item (and how many records the prefilter selects at all).
  auto plan = std::make_shared<ScanPlan>();
  build_scan_plan(s.ruleset, s.corpus, *plan);
  s.plan = plan.get();
  s.plan_storage = plan;
  if (plan->items.empty()) verification_failed(n, "the rule set has no literal database to scan");
  hs_scratch_t* scratch = alloc_scratch(plan->databases);
  std::int64_t last_counted = -1;
  for (std::size_t i = 0; i < plan->items.size(); ++i) {
    const ScanItem& item = plan->items[i];
    bool hit = false;
    hs_error_t e = hs_scan(item.db, item.data, item.size, 0, scratch, flag_on_match, &hit);
    if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED) verification_failed(n, "hs_scan failed with " + std::to_string(e));
    if (hit && last_counted != plan->item_record[i]) {
      last_counted = plan->item_record[i];
      s.candidate_events++;
    }
  }
  // VIGIL_BENCH_SCAN_PROFILE=1: thread CPU time of the bare scans per database (3 passes), to
  // see which routes and fields the scanning time goes to.
  if (std::getenv("VIGIL_BENCH_SCAN_PROFILE")) {
    std::unordered_map<const hs_database_t*, double> secs;
    for (int rep = 0; rep < 3; ++rep)
      for (std::size_t i = 0; i < plan->items.size(); ++i) {
        const ScanItem& item = plan->items[i];
        timespec t0, t1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        hs_scan(item.db, item.data, item.size, 0, scratch, empty_on_match, nullptr);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        secs[item.db] += (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
      }
    std::vector<std::pair<double, const hs_database_t*>> v;
    double total = 0;
    for (auto& [db, t] : secs) { v.push_back({t, db}); total += t; }
    std::sort(v.rbegin(), v.rend());
    const auto& cr = s.ruleset->compiled();
    for (std::size_t k = 0; k < v.size() && k < 15; ++k) {
      std::string name = "?";
      for (std::size_t r = 0; r < cr.json_routes.size(); ++r) {
        if (cr.json_routes[r].keyword_db == v[k].second) name = "route " + std::to_string(r) + " keywords";
        if (cr.all_keywords_db == v[k].second) name = "all routes' keywords";
        for (const auto& layout : cr.json_routes[r].layouts)
          if (layout.db == v[k].second) name = layout_name(cr, r, layout);
      }
      std::fprintf(stderr, "PROFILE %5.1f%% %s\n", 100 * v[k].first / total, name.c_str());
    }
    std::fprintf(stderr, "PROFILE total %.3f s per pass\n", total / 3);
  }
  hs_free_scratch(scratch);
  note(n, "bare hs_scan plan: " + plan->layout + "; " + fmt_count(plan->items.size()) + " scans, " +
              fmt_count(s.candidate_events) + " of " + fmt_count(s.corpus.records.size()) + " events hit a literal");
  note(n, "VERIFIED");
}

std::unique_ptr<Suite> build_suite(SuiteId id) {
  auto s = std::make_unique<Suite>();
  s->id = id;
  s->name = suite_name(id);
  std::string file = bench_dir() + (is_windows_suite(id)              ? "/otrf_windows.ndjson"
                                    : id == SuiteId::kDevicesMix ? "/devices_mix.log"
                                                                 : "/linux_web_1g.log");
  load_corpus(file, s->corpus);
  note(s->name, file + ": " + fmt_count(s->corpus.records.size()) + " records, " +
                    std::to_string(s->corpus.record_bytes / 1000000) + " MB");
  s->selection = select_rules(id);
  std::size_t selected = s->selection.rules.size();
  auto compiled = RuleSet::compile(std::move(s->selection.rules), vigil::rules::CompileOptions{}, &s->compile_report);
  if (!compiled) setup_failed("RuleSet::compile: " + compiled.error().to_string());
  s->ruleset = *compiled;
  const CompileReport& c = s->compile_report;
  note(s->name, std::to_string(selected) + " rules selected from " + std::to_string(s->selection.files.size()) +
                    " files, " + std::to_string(c.rules_compiled) + " compiled (" + std::to_string(c.errors.size()) +
                    " compile errors), " + std::to_string(c.always_evaluated) + " always evaluated, " +
                    std::to_string(c.literals) + " literals, " + std::to_string(c.hyperscan_patterns) +
                    " patterns, databases " + std::to_string(c.database_bytes / 1024) + " KiB, compiled in " +
                    std::to_string(c.compile_seconds) + " s");
  if (s->ruleset->size() == 0) setup_failed("no rule compiled");
  // Rules with no literal cover are evaluated on every event of their formats: name them, they
  // are usually the first thing a profile of the matcher points at.
  std::string always;
  for (const auto& r : s->ruleset->compiled().rules) {
    if (!r.always) continue;
    const std::string& path = s->ruleset->rule(r.source).path;
    always += (always.empty() ? "" : ", ") + path.substr(path.rfind('/') + 1);
  }
  if (!always.empty()) note(s->name, "always evaluated: " + always);
  verify_suite(*s);
  return s;
}

Suite& suite(SuiteId id) {
  static std::unique_ptr<Suite> windows, windows_packs, linux_web, linux_web_sigma, devices_mix;
  std::unique_ptr<Suite>& slot = id == SuiteId::kWindowsOtrf        ? windows
                                 : id == SuiteId::kWindowsOtrfPacks ? windows_packs
                                 : id == SuiteId::kLinuxWeb         ? linux_web
                                 : id == SuiteId::kDevicesMix       ? devices_mix
                                                                    : linux_web_sigma;
  if (!slot) slot = build_suite(id);
  return *slot;
}

// ---------------------------------------------------------------------------------------------
// The timed benchmarks: one full pass over the suite's records per iteration.

void set_throughput(benchmark::State& state, const Suite& s) {
  const auto iters = static_cast<std::int64_t>(state.iterations());
  state.SetItemsProcessed(iters * static_cast<std::int64_t>(s.corpus.records.size()));
  state.SetBytesProcessed(iters * static_cast<std::int64_t>(s.corpus.record_bytes));
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(iters) * static_cast<double>(s.corpus.record_bytes) / 1e9,
                                              benchmark::Counter::kIsRate);
  state.counters["events"] = static_cast<double>(s.corpus.records.size());
}

void BM_Vigil(benchmark::State& state, SuiteId id) {
  Suite& s = suite(id);
  auto matcher = make_matcher(s.ruleset);
  vigil::parse::RecordParser parser;
  Event ev;
  std::vector<RuleMatch> out;
  std::uint64_t alerts = 0;
  for (auto _ : state) {
    alerts = 0;
    for (std::string_view rec : s.corpus.records) {
      reset_event(ev, rec);
      out.clear();
      matcher->match(ev, parser, LogFormat::kUnknown, out);
      alerts += out.size();
    }
    benchmark::DoNotOptimize(alerts);
  }
  if (alerts != s.verified_alerts) {
    state.SkipWithError("alert count differs from the verified count");
    return;
  }
  set_throughput(state, s);
  const auto& st = matcher->stats();
  const double events = static_cast<double>(st.events ? st.events : 1);
  state.counters["alerts"] = static_cast<double>(alerts);
  state.counters["parsed_frac"] = static_cast<double>(st.events_parsed) / events;
  state.counters["evals/event"] = static_cast<double>(st.candidate_rules) / events;
  // Route layouts answered from the matcher's memo (a fresh matcher each run: a cold start).
  if (st.layout_scans > 0)
    state.counters["memo_frac"] = static_cast<double>(st.layout_memo_hits) / static_cast<double>(st.layout_scans);
  // Raw keyword scans that the keyword prefilter ruled out.
  if (st.keyword_checks > 0)
    state.counters["kw_skip_frac"] = static_cast<double>(st.keyword_skips) / static_cast<double>(st.keyword_checks);
}

void BM_BareHsScan(benchmark::State& state, SuiteId id) {
  Suite& s = suite(id);
  const ScanPlan& plan = *s.plan;
  hs_scratch_t* scratch = alloc_scratch(plan.databases);
  hs_error_t status = HS_SUCCESS;
  for (auto _ : state) {
    for (const ScanItem& item : plan.items)
      status |= hs_scan(item.db, item.data, item.size, 0, scratch, empty_on_match, nullptr);
    benchmark::DoNotOptimize(status);
  }
  hs_free_scratch(scratch);
  if (status != HS_SUCCESS) {
    state.SkipWithError("hs_scan failed");
    return;
  }
  set_throughput(state, s);
  state.counters["scans/event"] = static_cast<double>(plan.items.size()) / static_cast<double>(s.corpus.records.size());
}

// What parsing alone costs (vigil parses every JSON event, and text records with candidates).
// Derived fields (the decoded web views) are made as the matcher makes them: only those the
// suite's rules name.
void BM_ParseOnly(benchmark::State& state, SuiteId id) {
  Suite& s = suite(id);
  vigil::parse::RecordParser parser;
  const vigil::parse::FieldSelection* derived = s.ruleset->compiled().selection.get();
  Event ev;
  std::uint64_t fields = 0;
  for (auto _ : state) {
    fields = 0;
    for (std::string_view rec : s.corpus.records) {
      reset_event(ev, rec);
      parser.parse(LogFormat::kUnknown, ev, LogFormat::kUnknown, derived);
      fields += ev.fields.size();
    }
    benchmark::DoNotOptimize(fields);
  }
  set_throughput(state, s);
  state.counters["fields/event"] = static_cast<double>(fields) / static_cast<double>(s.corpus.records.size());
}

// `--list-rules=windows|linux-web`: print the selected rule files, one per line (used by
// bench/prepare_data.sh to give `vigil scan` exactly the same rules).
int list_rules(std::string_view which) {
  SuiteId id;
  if (which == "windows") id = SuiteId::kWindowsOtrf;
  else if (which == "windows-packs") id = SuiteId::kWindowsOtrfPacks;
  else if (which == "linux-web") id = SuiteId::kLinuxWeb;
  else if (which == "linux-web-sigma") id = SuiteId::kLinuxWebSigma;
  else if (which == "devices-mix") id = SuiteId::kDevicesMix;
  else {
    std::fprintf(stderr, "--list-rules takes windows, windows-packs, linux-web, linux-web-sigma or devices-mix\n");
    return 2;
  }
  RuleSelection sel = select_rules(id);
  for (const std::string& f : sel.files) std::printf("%s\n", f.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool verify_only = false;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.rfind("--list-rules=", 0) == 0) return list_rules(a.substr(13));
    if (a == "--verify-only") {
      verify_only = true;
      continue;
    }
    argv[kept++] = argv[i];
  }
  argc = kept;
  if (verify_only) {
    suite(SuiteId::kWindowsOtrf);
    suite(SuiteId::kWindowsOtrfPacks);
    suite(SuiteId::kLinuxWeb);
    suite(SuiteId::kLinuxWebSigma);
    suite(SuiteId::kDevicesMix);
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (SuiteId id : {SuiteId::kWindowsOtrf, SuiteId::kWindowsOtrfPacks, SuiteId::kLinuxWeb, SuiteId::kLinuxWebSigma,
                     SuiteId::kDevicesMix}) {
    std::string base = suite_name(id);
    benchmark::RegisterBenchmark((base + "/vigil").c_str(), BM_Vigil, id)
        ->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((base + "/bare_hs_scan").c_str(), BM_BareHsScan, id)
        ->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((base + "/parse_only").c_str(), BM_ParseOnly, id)
        ->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
