// The analyst API feature of `vigil run`: reads the `api:` config section, creates the first
// admin token, sets alert grouping on the store and registers /api/v1 on the HTTP server.
#include <fcntl.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "api/analyst_api.h"
#include "api/tokens.h"
#include "app/daemon_context.h"
#include "app/embedded_files.h"
#include "app/single_rule.h"
#include "core/config_reader.h"
#include "core/duration.h"
#include "core/json_text.h"
#include "rules/coverage.h"
#include "rules/logsource_map.h"
#include "rules/sigma_loader.h"

namespace vigil::app {

namespace {

namespace fs = std::filesystem;

struct GroupConfig {
  std::int64_t window_ns = 0;
  std::vector<std::string> by = {"host"};
};

struct ApiConfig {
  bool enabled = true;
  unsigned workers = 2;
  std::string admin_token_file = "admin.token";  // relative to the data directory
  GroupConfig grouping;                         // default for rules without their own
};

Result<ApiConfig> read_api_config(const Config& config) {
  ApiConfig out;
  auto it = config.sections.find("api");
  if (it == config.sections.end() || !it->second.IsDefined() || it->second.IsNull()) return out;
  ConfigReader r(config.file.empty() ? "(default config)" : config.file);
  const YAML::Node& n = it->second;
  if (Status st = r.check_keys(n, "api", {"enabled", "workers", "admin_token_file", "grouping"}); !st.ok()) return Error(st);
  if (Status st = r.boolean(n, "enabled", &out.enabled); !st.ok()) return Error(st);
  if (Status st = r.integer(n, "workers", &out.workers, 1, 64); !st.ok()) return Error(st);
  if (Status st = r.string(n, "admin_token_file", &out.admin_token_file); !st.ok()) return Error(st);
  YAML::Node g = n["grouping"];
  if (g.IsDefined() && !g.IsNull()) {
    if (Status st = r.check_keys(g, "grouping", {"window", "by"}); !st.ok()) return Error(st);
    std::string window;
    if (Status st = r.string(g, "window", &window); !st.ok()) return Error(st);
    if (!window.empty() && !parse_duration(window, &out.grouping.window_ns))
      return Error(r.error(g["window"], "'window' must be a duration such as 0, 90s, 10m, 2h or 1d"));
    if (Status st = r.strings(g, "by", &out.grouping.by); !st.ok()) return Error(st);
  }
  return out;
}

// A rule's own grouping from its `vigil:` block (group_by, group_window); the default otherwise.
GroupConfig rule_grouping(const rules::SigmaRule& rule, const GroupConfig& fallback) {
  GroupConfig g = fallback;
  if (rule.vigil_extension.empty()) return g;
  try {
    YAML::Node v = YAML::Load(rule.vigil_extension);
    if (!v.IsMap()) return g;
    if (v["group_window"] && v["group_window"].IsScalar()) {
      std::int64_t w = 0;
      if (parse_duration(v["group_window"].Scalar(), &w)) g.window_ns = w;
    }
    if (v["group_by"]) {
      std::vector<std::string> by;
      if (v["group_by"].IsScalar()) by.push_back(v["group_by"].Scalar());
      if (v["group_by"].IsSequence())
        for (const auto& item : v["group_by"])
          if (item.IsScalar()) by.push_back(item.Scalar());
      if (!by.empty()) g.by = by;
    }
  } catch (const YAML::Exception&) {
    // `vigil rules lint` reports a malformed vigil: block; here the rule keeps the default.
  }
  return g;
}

// The value of `name` in an alert: a source attribute, a parsed or matched field, or a member
// of a JSON event (dotted names walk nested objects).
std::string group_value(const Alert& a, const std::string& name) {
  if (name == "host") return a.host;
  if (name == "tenant") return a.tenant;
  if (name == "system") return a.system;
  if (name == "peer") return a.peer;
  if (name == "collector") return a.collector;
  for (const AlertField& f : a.fields)
    if (f.name == name) return f.value;
  for (const AlertField& f : a.matched)
    if (f.name == name) return f.value;
  if (!a.raw.empty() && a.raw.front() == '{') {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element e;
    if (parser.parse(a.raw).get(e) != simdjson::SUCCESS) return {};
    std::size_t start = 0;
    while (start <= name.size()) {
      std::size_t dot = name.find('.', start);
      if (dot == std::string::npos) dot = name.size();
      if (e.at_key(std::string_view(name).substr(start, dot - start)).get(e) != simdjson::SUCCESS) return {};
      start = dot + 1;
    }
    std::string_view s;
    if (e.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
    return simdjson::to_string(e);
  }
  return {};
}

// Grouping policy over the live rule set (its per-rule table rebuilt when the set changes).
class Grouping {
 public:
  Grouping(LiveRuleSet& live, GroupConfig fallback) : live_(live), fallback_(std::move(fallback)) {}
  storage::GroupSpec spec(const Alert& a) {
    std::lock_guard lock(mu_);
    if (generation_ != live_.generation() || !built_) {
      generation_ = live_.generation();
      built_ = true;
      by_rule_.clear();
      auto set = live_.get();
      for (std::size_t i = 0; i < set->size(); ++i) by_rule_[set->rule(i).id] = rule_grouping(set->rule(i), fallback_);
    }
    auto it = by_rule_.find(a.rule_id);
    const GroupConfig& g = it == by_rule_.end() ? fallback_ : it->second;
    storage::GroupSpec spec;
    spec.window_ns = g.window_ns;
    if (spec.window_ns <= 0) return spec;
    for (const std::string& field : g.by) {
      spec.key += group_value(a, field);
      spec.key.push_back('\0');
    }
    return spec;
  }
  std::int64_t max_window() {
    std::int64_t w = fallback_.window_ns;
    auto set = live_.get();
    for (std::size_t i = 0; i < set->size(); ++i) w = std::max(w, rule_grouping(set->rule(i), fallback_).window_ns);
    return w;
  }

 private:
  LiveRuleSet& live_;
  GroupConfig fallback_;
  std::mutex mu_;
  bool built_ = false;
  std::uint64_t generation_ = 0;
  std::unordered_map<std::string, GroupConfig> by_rule_;
};

std::string rule_source(LiveRuleSet& live, const Alert& a) {
  auto set = live.get();
  for (std::size_t i = 0; i < set->size(); ++i) {
    const rules::SigmaRule& rule = set->rule(i);
    if (rule.id != a.rule_id) continue;
    DetectionText text;
    if (read_detection_text(rule, &text)) return text.document;
    break;
  }
  // A rule no longer loaded: its bundled pack text or its file as it is now.
  if (a.rule_path.rfind("@bundled/", 0) == 0) {
    for (const EmbeddedFile* f = kBundledRulePacks; f->path != nullptr; ++f)
      if (a.rule_path.substr(9) == f->path) return f->content;
    return {};
  }
  std::ifstream in(a.rule_path, std::ios::binary);
  if (!in) return {};
  std::string text(1 << 20, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

void json_str(std::string& out, std::string_view s) {
  out += '"';
  append_json_escaped(out, s, InvalidUtf8::kReplace);
  out += '"';
}

// POST /api/v1/rules/test: the pasted rule compiled alone, each log line matched against it.
std::string test_rule(std::string_view yaml, std::string_view logs, std::string_view format_name) {
  std::string out = "{\"errors\":[";
  rules::LoadReport report;
  try {
    rules::load_rule_text(yaml, "(pasted rule)", report);
  } catch (const std::exception& e) {
    json_str(out, std::string("rule does not load: ") + e.what());
    return out + "],\"results\":[]}";
  }
  LogFormat format = LogFormat::kUnknown;
  std::vector<std::string> errors;
  if (!format_name.empty() && format_name != "auto" && !parse_log_format(format_name, &format))
    errors.push_back("unknown format '" + std::string(format_name) + "'");
  for (const rules::LoadError& e : report.errors)
    errors.push_back(e.reason + ": " + e.message);
  if (report.rules.empty() && errors.empty()) errors.push_back("no rule in the pasted text");
  if (report.rules.size() > 1) errors.push_back("only the first of " + std::to_string(report.rules.size()) + " rules is tested");
  SingleRule single;
  bool compiled = false;
  if (!report.rules.empty() && errors.empty()) {
    std::string why;
    compiled = compile_alone(report.rules.front(), single, &why);
    if (!compiled) errors.push_back("rule does not compile: " + why);
  }
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (i) out += ',';
    json_str(out, errors[i]);
  }
  out += "],\"results\":[";
  if (compiled) {
    std::size_t line_no = 0, start = 0;
    bool first = true;
    RecordRun run;
    while (start < logs.size() && line_no < 10000) {
      std::size_t end = logs.find('\n', start);
      if (end == std::string_view::npos) end = logs.size();
      std::string_view line = logs.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      start = end + 1;
      ++line_no;
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      run = RecordRun();
      run_record(single, line, format, run);
      if (!first) out += ',';
      first = false;
      out += "{\"line\":" + std::to_string(line_no) + ",\"raw\":";
      json_str(out, line);
      out += std::string(",\"matched\":") + (run.matched() ? "true" : "false") + ",\"spans\":[";
      bool first_span = true;
      if (run.matched()) {
        for (const rules::MatchedField& m : run.matches.front().matched) {
          // A value that is a view into the record gives its offset directly; else search.
          std::size_t at = std::string_view::npos;
          const char* base = run.buffer.data();
          if (m.value.data() >= base && m.value.data() + m.value.size() <= base + line.size())
            at = static_cast<std::size_t>(m.value.data() - base);
          else if (!m.value.empty())
            at = line.find(m.value);
          if (at == std::string_view::npos) continue;
          if (!first_span) out += ',';
          first_span = false;
          out += "{\"field\":";
          json_str(out, m.field.empty() ? std::string_view("(keyword)") : m.field);
          out += ",\"value\":";
          json_str(out, m.value);
          out += ",\"start\":" + std::to_string(at) + ",\"end\":" + std::to_string(at + m.value.size()) + "}";
        }
      }
      out += "]}";
    }
  }
  return out + "]}";
}

// Writes the first admin token where only its owner can read it, and says so once.
Status bootstrap_admin_token(api::TokenStore& tokens, const std::string& path,
                             std::FILE* err) {
  if (!tokens.empty()) return Status::Ok();
  api::Principal admin;
  admin.name = "admin";
  admin.role = api::Role::kAdmin;
  admin.tenant = "*";
  auto token = tokens.create(admin, "vigil (first start)");
  if (!token) return token.error();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("api: cannot write the admin token to '" + path + "': " + std::strerror(errno));
  ::fchmod(fd, 0600);  // an existing file keeps its old mode through O_CREAT
  std::string line = *token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return Status::IoError("api: cannot write the admin token to '" + path + "'");
  std::fprintf(err, "vigil: admin token (shown once): %s (also in %s, mode 0600)\n", token->c_str(), path.c_str());
  return Status::Ok();
}

class AnalystApiService final : public DaemonService {
 public:
  AnalystApiService(std::unique_ptr<api::TokenStore> tokens, std::unique_ptr<api::AnalystApi> api,
                    std::unique_ptr<Grouping> grouping, storage::AlertStore& store)
      : tokens_(std::move(tokens)), api_(std::move(api)), grouping_(std::move(grouping)), store_(store) {}
  void stop() override {
    api_->stop();
    if (grouping_) (void)store_.set_grouping(nullptr, 0);
  }

 private:
  std::unique_ptr<api::TokenStore> tokens_;
  std::unique_ptr<api::AnalystApi> api_;
  std::unique_ptr<Grouping> grouping_;
  storage::AlertStore& store_;
};

}  // namespace

Result<std::unique_ptr<DaemonService>> start_analyst_api(DaemonContext& ctx) {
  auto cfg = read_api_config(ctx.config);
  if (!cfg) return Error(cfg.error());
  std::unique_ptr<Grouping> grouping;
  // Grouping is part of the store, not the HTTP API: it applies even with the API disabled.
  bool any_rule_groups = cfg->grouping.window_ns > 0;
  {
    auto set = ctx.rules.get();
    for (std::size_t i = 0; i < set->size() && !any_rule_groups; ++i)
      any_rule_groups = set->rule(i).vigil_extension.find("group_window") != std::string::npos;
  }
  if (any_rule_groups) {
    grouping = std::make_unique<Grouping>(ctx.rules, cfg->grouping);
    Grouping* g = grouping.get();
    if (Status st = ctx.store.set_grouping([g](const Alert& a) { return g->spec(a); }, g->max_window()); !st.ok())
      return Error(st);
  }
  if (!cfg->enabled || !ctx.http) {
    if (!grouping) return std::unique_ptr<DaemonService>();
    return std::unique_ptr<DaemonService>(
        new AnalystApiService(nullptr, std::make_unique<api::AnalystApi>(api::ApiOptions{}, ctx.store, nullptr, api::ApiHooks{}),
                              std::move(grouping), ctx.store));
  }
  auto tokens = api::TokenStore::open(ctx.store);
  if (!tokens) return Error(tokens.error());
  fs::path token_file = fs::path(ctx.config.data_dir) / cfg->admin_token_file;
  if (fs::path(cfg->admin_token_file).is_absolute()) token_file = cfg->admin_token_file;
  if (Status st = bootstrap_admin_token(**tokens, token_file.string(), ctx.err); !st.ok()) return Error(st);

  api::ApiHooks hooks;
  LiveRuleSet& live = ctx.rules;
  hooks.rules = [&live] {
    std::vector<api::RuleInfo> out;
    auto set = live.get();
    for (std::size_t i = 0; i < set->size(); ++i) {
      const rules::SigmaRule& r = set->rule(i);
      out.push_back(api::RuleInfo{r.id, r.title, r.level, r.path, r.tags});
    }
    return out;
  };
  hooks.rule_source = [&live](const Alert& a) { return rule_source(live, a); };
  Metrics& metrics = ctx.metrics;
  hooks.collectors = [&metrics] {
    std::vector<api::CollectorInfo> out;
    for (const auto& c : metrics.collectors())
      out.push_back(api::CollectorInfo{c->name, c->kind, c->received_events.load(), c->dropped_events.load(),
                                       metrics.parse_errors(c->name)});
    return out;
  };
  hooks.test_rule = test_rule;
  // Coverage of the live rule set. The set holds detection rules only; the correlation rules
  // are those loaded at start-up, which the correlation engine runs (SIGHUP does not reload
  // correlations either).
  auto coverage_correlations = std::make_shared<std::vector<rules::CorrelationRule>>(ctx.correlations);
  hooks.rules_coverage = [&live, coverage_correlations] {
    auto set = live.get();
    std::vector<rules::SigmaRule> detection;
    detection.reserve(set->size());
    for (std::size_t i = 0; i < set->size(); ++i) detection.push_back(set->rule(i));
    return rules::coverage_json(
        rules::compute_coverage(detection, *coverage_correlations, rules::LogsourceMap::builtin()));
  };
  DaemonContext* daemon = &ctx;  // forwarding sets the wake-up after the API starts
  hooks.dead_letters_replayed = [daemon] {
    if (daemon->dead_letters_replayed) daemon->dead_letters_replayed();
  };
  hooks.sources = [daemon] { return daemon->sources ? daemon->sources() : std::vector<api::SourceRow>(); };
  api::ApiOptions options;
  options.workers = cfg->workers;
  auto analyst_api = std::make_unique<api::AnalystApi>(options, ctx.store, tokens->get(), std::move(hooks));
  if (Status st = analyst_api->serve(*ctx.http); !st.ok()) return Error(st);
  return std::unique_ptr<DaemonService>(
      new AnalystApiService(std::move(*tokens), std::move(analyst_api), std::move(grouping), ctx.store));
}

}  // namespace vigil::app
