// The correlation engine (rules/correlation_engine.h) under fuzzed rules, events and saved state.
//
// Input: Sigma YAML (detection and correlation rules), then a line "#events", then one event per
// line (any format the parser reads; syslog stamps give the event times). The first byte's low
// bits choose the engine options (early firing, lateness, a tiny memory cap that forces
// evictions). The events are matched and fed in order, as `vigil scan` does.
//
// Besides "no crash", one property is checked, the one the daemon relies on after a crash
// (app/feature_correlation.cpp): halfway through, the whole state is saved (collect_changes) and
// restored into a new engine; both engines then take the second half, and must close the same
// windows with the same alerts. A record the engine wrote must restore.
//
// Input that begins "#state" instead feeds saved-state records (a damaged store) to restore():
// lines "key<TAB>value" (value bytes as they are, "\n" escaped as "\\n"), then the fixed rules
// and events below run over what was restored.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/parse/parser.h"
#include "padded.h"
#include "rules/compiler.h"
#include "rules/correlation_engine.h"
#include "rules/matcher.h"
#include "rules/sigma_loader.h"

namespace {

using namespace vigil;

constexpr std::string_view kFixedRules = R"(title: Failed SSH login
id: 4c1a3d6e-0000-4000-8000-000000000001
name: ssh_failed
logsource: {product: linux, service: sshd}
detection:
  selection: {message|contains: 'Failed password'}
  condition: selection
level: low
---
title: Accepted SSH login
id: 4c1a3d6e-0000-4000-8000-000000000002
name: ssh_accepted
logsource: {product: linux, service: sshd}
detection:
  selection: {message|contains: 'Accepted password'}
  condition: selection
level: low
---
title: Brute force
id: 4c1a3d6e-0000-4000-8000-000000000003
name: ssh_brute
correlation:
  type: event_count
  rules: [ssh_failed]
  group-by: [host]
  timespan: 10m
  condition: {gte: 3}
level: high
---
title: Success after failures
id: 4c1a3d6e-0000-4000-8000-000000000004
correlation:
  type: temporal_ordered
  rules: [ssh_brute, ssh_accepted]
  group-by: [host]
  timespan: 10m
level: critical
)";

constexpr std::string_view kFixedEvents =
    "<38>Oct 11 22:14:15 web1 sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2\n"
    "<38>Oct 11 22:14:16 web1 sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2\n"
    "<38>Oct 11 22:14:17 web1 sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2\n"
    "<38>Oct 11 22:14:18 web1 sshd[1]: Accepted password for root from 10.0.0.1 port 22 ssh2\n"
    "<38>Oct 11 22:44:18 web2 sshd[1]: Failed password for bob from 10.0.0.2 port 22 ssh2\n";

struct Compiled {
  std::vector<rules::CorrelationRule> correlations;
  std::shared_ptr<const rules::RuleSet> set;
};

bool compile(std::string_view yaml, Compiled& out) {
  rules::LoadReport report;
  rules::load_rule_text(yaml, "fuzz.yml", report);
  rules::resolve_correlations(report);
  if (report.rules.empty() || report.correlations.empty()) return false;
  out.correlations = report.correlations;
  rules::CompileReport compile_report;
  auto set = rules::RuleSet::compile(std::move(report.rules), rules::CompileOptions{}, &compile_report);
  if (!set) return false;
  out.set = std::move(*set);
  return true;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty()) out.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

// Matches one event and feeds its matches to `engine` (as `vigil scan`'s single-thread path).
class Feeder {
 public:
  Feeder(const rules::RuleSet& set, rules::Matcher& matcher) : set_(set), matcher_(matcher) {}

  void feed(rules::CorrelationEngine& engine, const rules::RuleBinding& binding, std::string_view line,
            std::vector<Alert>& out) {
    const fuzz::PaddedRecord record{line};
    Event event;
    event.raw = record.view();
    matches_.clear();
    if (!matcher_.match(event, parser_, LogFormat::kUnknown, matches_) || matches_.empty()) return;
    std::vector<std::uint32_t> matched;
    std::vector<Alert> alerts;
    for (const rules::RuleMatch& m : matches_) {
      matched.push_back(m.rule);
      Alert a;
      a.rule_id = set_.rule(m.rule).id;
      alerts.push_back(std::move(a));
    }
    engine.on_event(binding, event, matched, rules::event_time_ns(event, kReferenceNs), alerts, 0);
    engine.advance(out);
    for (Alert& a : alerts) out.push_back(std::move(a));
  }

 private:
  static constexpr std::int64_t kReferenceNs = 1'760'000'000'000'000'000;  // 2025-10-09
  const rules::RuleSet& set_;
  rules::Matcher& matcher_;
  parse::RecordParser parser_;
  std::vector<rules::RuleMatch> matches_;
};

std::string summary(const std::vector<Alert>& alerts) {
  std::string s;
  for (const Alert& a : alerts) {
    s += a.rule_id;
    s += ' ';
    s += std::to_string(a.count);
    s += ' ';
    s += std::to_string(static_cast<int>(a.revision));
    s += ' ';
    s += a.revision_key;
    s += '\n';
  }
  return s;
}

std::string unescape(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size() && v[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += v[i];
    }
  }
  return out;
}

int run_state(std::string_view records) {
  static Compiled fixed;
  static const bool ok = compile(kFixedRules, fixed);
  if (!ok) std::abort();  // the fixed rules are valid
  auto engine = rules::CorrelationEngine::create(fixed.correlations, rules::CorrelationOptions{});
  if (!engine) std::abort();
  for (std::string_view line : lines_of(records)) {
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos) continue;
    (void)(*engine)->restore(line.substr(0, tab), unescape(line.substr(tab + 1)));
  }
  auto matcher = rules::Matcher::create(fixed.set);
  if (!matcher) std::abort();
  auto binding = (*engine)->bind(*fixed.set, nullptr);
  Feeder feeder(*fixed.set, **matcher);
  std::vector<Alert> out;
  for (std::string_view line : lines_of(kFixedEvents)) feeder.feed(**engine, *binding, line, out);
  (*engine)->advance(out, rules::CorrelationEngine::Flush::kAll);
  (*engine)->collect_changes([](const std::string&, const std::string*) {}, true);
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.substr(0, 7) == "#state\n") return run_state(input.substr(7));
  if (input.empty()) return 0;
  const std::uint8_t mode = data[0];
  const std::size_t split = input.find("\n#events\n");
  if (split == std::string_view::npos) return 0;
  // Most mutations change the events, not the rules: the last rule text's compiled set is kept
  // (compiling Hyperscan databases costs far more than running the events).
  static std::string last_yaml;
  static Compiled compiled;
  static bool last_ok = false;
  if (const std::string_view yaml = input.substr(1, split - 1); yaml != last_yaml) {
    last_yaml.assign(yaml);
    compiled = Compiled{};
    last_ok = compile(yaml, compiled);
  }
  if (!last_ok) return 0;
  auto matcher = rules::Matcher::create(compiled.set);
  if (!matcher) return 0;

  rules::CorrelationOptions options;
  options.early_firing = mode & 1;
  options.allowed_lateness_ns = (mode & 2) ? 0 : 300LL * 1000000000LL;
  options.max_memory_bytes = (mode & 4) ? 4096 : options.max_memory_bytes;
  options.shards = (mode & 4) ? 1 : 4;
  auto first = rules::CorrelationEngine::create(compiled.correlations, options);
  if (!first) return 0;
  auto binding = (*first)->bind(*compiled.set, nullptr);

  const std::vector<std::string_view> events = lines_of(input.substr(split + 9));
  const std::size_t half = events.size() / 2;
  Feeder feeder(*compiled.set, **matcher);
  std::vector<Alert> before;
  for (std::size_t i = 0; i < half; ++i) feeder.feed(**first, *binding, events[i], before);

  // Save everything, as the daemon does at a commit, and restore it into a second engine.
  std::map<std::string, std::string> saved;
  (*first)->collect_changes(
      [&](const std::string& key, const std::string* value) {
        if (value) saved[key] = *value;
        else saved.erase(key);
      },
      true);
  // fuzz.sh makes "#state" seeds of what real runs save.
  if (const char* path = std::getenv("VIGIL_FUZZ_SAVE_STATE")) {
    if (std::FILE* f = std::fopen(path, "wb")) {
      std::fputs("#state\n", f);
      for (const auto& [key, value] : saved) {
        std::string line = key + '\t';
        for (char c : value) line += c == '\n' ? std::string("\\n") : std::string(1, c);
        std::fprintf(f, "%s\n", line.c_str());
      }
      std::fclose(f);
    }
  }
  auto second = rules::CorrelationEngine::create(compiled.correlations, options);
  if (!second) std::abort();  // the same rules and options made the first
  for (const auto& [key, value] : saved)
    if (Status st = (*second)->restore(key, value); !st.ok()) {
      std::fprintf(stderr, "a saved record does not restore: %s: %s\n", key.c_str(), st.to_string().c_str());
      std::abort();
    }
  // With a memory cap small enough to evict, which group goes depends on recency the saved
  // state does not keep; only the no-crash part holds then.
  const bool comparable = !(mode & 4);
  auto binding2 = (*second)->bind(*compiled.set, nullptr);
  std::vector<Alert> after_first, after_second;
  for (std::size_t i = half; i < events.size(); ++i) {
    feeder.feed(**first, *binding, events[i], after_first);
    feeder.feed(**second, *binding2, events[i], after_second);
  }
  (*first)->advance(after_first, rules::CorrelationEngine::Flush::kAll);
  (*second)->advance(after_second, rules::CorrelationEngine::Flush::kAll);
  if (comparable && summary(after_first) != summary(after_second)) {
    std::fprintf(stderr, "restored state differs:\n-- uninterrupted:\n%s-- restored:\n%s", summary(after_first).c_str(),
                 summary(after_second).c_str());
    std::abort();
  }
  return 0;
}
