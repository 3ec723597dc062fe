// vigil: Sigma detection at Hyperscan speed. Command-line entry point.
#include <CLI/CLI.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "app/alerts_command.h"
#include "app/forward_command.h"
#include "app/rule_cache.h"
#include "app/rules_command.h"
#include "app/rules_coverage_command.h"
#include "app/rules_explain_command.h"
#include "app/rules_lint_command.h"
#include "app/rules_test_command.h"
#include "app/run_command.h"
#include "app/scan_command.h"
#include "app/store_command.h"
#include "app/tokens_command.h"
#include "core/cpu.h"
#include "rules/compiler.h"

namespace {

constexpr const char* kDescription =
    "vigil: a SOC log-analysis engine. It matches log events against Sigma rules compiled\n"
    "into Hyperscan databases.\n";

}  // namespace

int main(int argc, char** argv) {
  // Everything vigil creates (the alert store, tokens, checkpoints, caches) is for its owner
  // alone: the store holds every tenant's alerts.
  ::umask(077);
  if (const char* missing = vigil::missing_cpu_feature()) {
    std::fprintf(stderr,
                 "vigil: this build uses %s, which this CPU does not have; build vigil again with "
                 "cmake -DVIGIL_CPU=x86-64\n",
                 missing);
    return 1;
  }
  CLI::App app{kDescription, "vigil"};
  app.require_subcommand(1);
  // Options of `vigil` itself may also follow a subcommand (`vigil scan --no-cache ...`).
  app.fallthrough();
  bool no_cache = false;
  app.add_flag("--no-cache", no_cache,
               "Compile every rule database afresh and store none (by default compiled Hyperscan\n"
               "databases are cached by content: $VIGIL_CACHE_DIR, else ~/.cache/vigil/rules;\n"
               "the daemon uses <data_dir>/rule-cache)");
  app.set_version_flag("--version", [] {
    std::string setting = vigil::build_cpu_setting();
    return std::string("vigil 0.1.0\nbuilt for: ") + vigil::build_march() +
           (setting.empty() ? "" : " (VIGIL_CPU=" + setting + ")") + "\nsimd: " + vigil::simd_path() +
           " (chosen at run time)\nregex engine: " + vigil::rules::regex_engine_version();
  });

  // vigil scan
  vigil::app::ScanOptions scan;
  std::string format_name = "auto", output_name = "jsonl";
  CLI::App* scan_cmd = app.add_subcommand(
      "scan",
      "Hunt offline: match log files (or stdin) against Sigma rules. Alerts go to stdout as JSON\n"
      "lines (or a table), a summary to stderr. Gzip files are read as they are.");
  scan_cmd->add_option("--rules,-r", scan.rule_paths,
                       "Rule file or directory (repeatable; '@bundled' = the packs built into\n"
                       "vigil). Default: the bundled packs.")
      ->allow_extra_args(false);  // one path per --rules, so the log files stay positional
  scan_cmd->add_option("--format,-f", format_name,
                       "Input format: auto, json, rfc3164 (syslog), rfc5424, cef, kv, access, plain, winxml.\n"
                       "auto detects per line.")
      ->capture_default_str();
  scan_cmd->add_option("--threads,-t", scan.threads, "Matcher threads")->capture_default_str();
  scan_cmd->add_option("--output,-o", output_name, "Alert output: jsonl or table")->capture_default_str();
  scan_cmd->add_option("--min-level", scan.min_level,
                       "Only alerts at or above this level (informational, low, medium, high, critical)");
  scan_cmd->add_option("--max-record-bytes", scan.max_record_bytes,
                       "Longer records are counted as oversize and skipped")->capture_default_str();
  std::string logsource;
  scan_cmd->add_option("--logsource", logsource,
                       "Declare the logsource of the input, e.g. product=zeek,service=dns: rules\n"
                       "for logsources vigil cannot recognise by content (cloud, zeek, macOS...)\n"
                       "run only on declared input");
  scan_cmd->add_flag("--validate", scan.validate,
                     "Parse every record in full, so every malformed one is counted (by default\n"
                     "JSON values no rule reads are checked only structurally, and text records\n"
                     "no rule needs only for binary bytes, unclosed JSON and invalid UTF-8)");
  scan_cmd->add_flag("!--no-summary", scan.summary, "Do not print the summary on stderr");
  scan_cmd->add_option("inputs", scan.inputs, "Log files (gzip and EVTX are detected), directories (their files), or '-' for stdin (default: stdin)");

  // vigil rules check
  CLI::App* rules_cmd = app.add_subcommand("rules", "Work with rule trees");
  rules_cmd->require_subcommand(1);
  vigil::app::RulesCheckOptions check;
  CLI::App* check_cmd = rules_cmd->add_subcommand(
      "check",
      "Load and compile rules; list every rule that fails with file, id and reason, totals by\n"
      "reason, compile time and database size. Exit code 0 unless no rule loaded.");
  check_cmd->add_option("paths", check.paths, "Rule files or directories ('@bundled' = built-in packs)")
      ->required();
  check_cmd->add_flag("--verbose,-v", check.verbose, "Also list every rule that loaded");

  // vigil rules test
  vigil::app::RulesTestOptions test;
  CLI::App* test_cmd = rules_cmd->add_subcommand(
      "test",
      "Run the samples embedded in each rule ('vigil: tests:' with 'log:', 'match:' and an\n"
      "optional 'format:') through that rule compiled alone. One FAIL line per sample with the\n"
      "wrong outcome and why, one ERROR line per rule that does not load or has a malformed\n"
      "'vigil:' block, then the totals. Exit code 1 on any failure or error, else 0.");
  test_cmd->add_option("paths", test.paths, "Rule files or directories ('@bundled' = built-in packs)")
      ->required();
  test_cmd->add_option("--junit", test.junit,
                       "Also write a JUnit XML report to this file (a testsuite per rule file,\n"
                       "a testcase per sample)");

  // vigil rules lint
  vigil::app::RulesLintOptions lint;
  CLI::App* lint_cmd = rules_cmd->add_subcommand(
      "lint",
      "Check rules for authoring mistakes: load errors, missing id/title/level, bad levels and\n"
      "duplicate ids (errors); unknown field names, short 'contains' values, rules with no\n"
      "prefilter literal, tags outside attack.*/cve.*/detection.*/car.*, missing or one-sided\n"
      "'vigil: tests' (warnings). Exit code 1 if any error, else 0.");
  lint_cmd->add_option("paths", lint.paths, "Rule files or directories ('@bundled' = built-in packs)")
      ->required();
  lint_cmd->add_option("--sigma-fields", lint.sigma_fields,
                       "Sigma's field-name list (sigma/tests/logsource.json) for checking Windows\n"
                       "field names. Default: $VIGIL_CORPORA/sigma/tests/logsource.json, else\n"
                       "../shared/corpora/sigma/tests/logsource.json; if absent, not checked");

  // vigil rules coverage
  vigil::app::RulesCoverageOptions coverage;
  CLI::App* coverage_cmd = rules_cmd->add_subcommand(
      "coverage",
      "What do we detect? Per logsource (product/category/service) and per parser format, how\n"
      "many rules apply (by level), and which ATT&CK tactics and techniques their tags cover.\n"
      "With no path: the bundled packs.");
  coverage_cmd->add_option("paths", coverage.paths, "Rule files or directories ('@bundled' = built-in packs)");
  coverage_cmd->add_flag("--json", coverage.json, "Print one JSON object (the API's answer) instead of tables");

  // vigil rules explain
  vigil::app::RulesExplainOptions explain;
  std::string explain_format = "auto";
  CLI::App* explain_cmd = rules_cmd->add_subcommand(
      "explain",
      "Explain why a rule does or does not match an event: the fields it reads, the logsource\n"
      "routing, each selection and predicate (matched text highlighted), the condition step by\n"
      "step and the verdict. Exit code 0 when every event matched, 1 when any did not, 2 on a\n"
      "usage error.");
  explain_cmd->add_option("rule", explain.rule, "A rule id, or a rule file (its first rule)")->required();
  explain_cmd->add_option("--log", explain.log, "One log line or JSON event (or --file)");
  explain_cmd->add_option("--file", explain.file, "A log file, explained record by record (or --log)");
  explain_cmd->add_option("--format,-f", explain_format,
                          "Input format: auto, json, rfc3164 (syslog), rfc5424, cef, kv, access, plain")
      ->capture_default_str();
  explain_cmd->add_option("--rules,-r", explain.rule_paths,
                          "Where to find the rule id (repeatable; default: the bundled packs)")
      ->allow_extra_args(false);

  // vigil rules cache
  CLI::App* cache_cmd = rules_cmd->add_subcommand(
      "cache", "The compiled rule database cache: where it is and what it holds (info), or empty it (clear)");
  cache_cmd->require_subcommand(1);
  std::string cache_dir;
  for (CLI::App* c : {cache_cmd->add_subcommand("info", "Print the cache directory, its entries and size"),
                      cache_cmd->add_subcommand("clear", "Remove every cached database")})
    c->add_option("--dir", cache_dir, "The cache directory (default: the CLI's; a daemon's is <data_dir>/rule-cache)");

  // vigil run
  vigil::app::RunOptions run;
  CLI::App* run_cmd = app.add_subcommand(
      "run",
      "Run the streaming daemon: collectors (syslog UDP/TCP/TLS, file tail, HTTP ingest,\n"
      "Elasticsearch bulk API, stdin) feed matcher threads; alerts go to the RocksDB store in the data directory;\n"
      "metrics are served for Prometheus. With no --config it runs the embedded default\n"
      "(see --print-default-config). SIGTERM/SIGINT drain and exit; SIGHUP reloads the rules.");
  run_cmd->add_option("--config,-c", run.config_file, "YAML configuration file (reference: docs/config.md)");
  run_cmd->add_flag("--print-default-config", run.print_default_config,
                    "Print the embedded default configuration and exit");
  run_cmd->add_flag("--check-config", run.check_config,
                    "Validate the configuration and compile the rules, then exit");

  // vigil alerts list|show|ack|assign|close|note|stats
  CLI::App* alerts_cmd = app.add_subcommand(
      "alerts",
      "Review alerts: over the daemon's API when a token is given (--token or VIGIL_TOKEN, --url or\n"
      "VIGIL_URL, default http://127.0.0.1:8080), else straight on the data directory (reads work\n"
      "while the daemon runs; changes need it stopped).");
  alerts_cmd->require_subcommand(1);
  vigil::app::AlertsListOptions alerts_list;
  CLI::App* alerts_list_cmd = alerts_cmd->add_subcommand(
      "list",
      "List stored alerts, newest first, straight from the data directory (works while the\n"
      "daemon runs). Filters combine with AND.");
  alerts_list_cmd->add_option("--data-dir,-d", alerts_list.data_dir, "The daemon's data directory")
      ->capture_default_str();
  alerts_list_cmd->add_option("--min-level", alerts_list.min_level,
                              "informational, low, medium, high or critical");
  alerts_list_cmd->add_option("--status", alerts_list.status, "new, acknowledged, in_progress or closed");
  alerts_list_cmd->add_option("--tenant", alerts_list.tenant, "Tenant (province or unit)");
  alerts_list_cmd->add_option("--rule", alerts_list.rule, "Rule id");
  alerts_list_cmd->add_option("--host", alerts_list.host, "Host named in the event");
  alerts_list_cmd->add_option("--technique", alerts_list.technique,
                              "ATT&CK technique, either revision (T1562.002 finds T1685.001); T1003 finds T1003.001");
  alerts_list_cmd->add_option("--tactic", alerts_list.tactic, "ATT&CK tactic, either revision (defense-evasion finds stealth)");
  alerts_list_cmd->add_option("--text", alerts_list.text, "Text in the raw event (case-sensitive)");
  alerts_list_cmd->add_option("--since", alerts_list.since, "Only alerts created in the last 90s, 30m, 24h, 7d...");
  alerts_list_cmd->add_option("--limit,-n", alerts_list.limit, "At most this many alerts (0 = all)")
      ->capture_default_str();
  alerts_list_cmd->add_flag("--oldest-first", alerts_list.oldest_first, "Oldest alerts first");
  alerts_list_cmd->add_flag("--json", alerts_list.json, "One JSON object per alert per line");
  alerts_list_cmd->add_option("--url", alerts_list.url, "The daemon's API (default $VIGIL_URL, else http://127.0.0.1:8080)");
  alerts_list_cmd->add_option("--token", alerts_list.token, "API token (default $VIGIL_TOKEN); none = the data directory");
  vigil::app::AlertsActionOptions alerts_action;
  std::vector<CLI::App*> alerts_action_cmds;
  auto alerts_subcommand = [&](const char* name, const char* help) {
    CLI::App* c = alerts_cmd->add_subcommand(name, help);
    c->add_option("--data-dir,-d", alerts_action.data_dir, "The daemon's data directory")->capture_default_str();
    c->add_option("--url", alerts_action.url, "The daemon's API (default $VIGIL_URL, else http://127.0.0.1:8080)");
    c->add_option("--token", alerts_action.token, "API token (default $VIGIL_TOKEN); none = the data directory");
    c->add_flag("--json", alerts_action.json, "Print the API's JSON answer");
    c->callback([&alerts_action, name] { alerts_action.action = name; });
    alerts_action_cmds.push_back(c);
    return c;
  };
  alerts_subcommand("show", "One alert: evidence with the matched values, rule, history")
      ->add_option("id", alerts_action.id, "Alert id")->required();
  CLI::App* ack_cmd = alerts_subcommand("ack", "Acknowledge an alert");
  ack_cmd->add_option("id", alerts_action.id, "Alert id")->required();
  ack_cmd->add_option("--note", alerts_action.note, "A note recorded with the change");
  CLI::App* assign_cmd = alerts_subcommand("assign", "Assign an alert (\"\" unassigns)");
  assign_cmd->add_option("id", alerts_action.id, "Alert id")->required();
  assign_cmd->add_option("assignee", alerts_action.assignee, "Who works on it")->required();
  CLI::App* close_cmd = alerts_subcommand("close", "Close an alert with a resolution");
  close_cmd->add_option("id", alerts_action.id, "Alert id")->required();
  close_cmd->add_option("--resolution,-r", alerts_action.resolution,
                        "true_positive, false_positive, benign or duplicate")->required();
  close_cmd->add_option("--note", alerts_action.note, "A note recorded with the change");
  CLI::App* note_cmd = alerts_subcommand("note", "Add a note to an alert");
  note_cmd->add_option("id", alerts_action.id, "Alert id")->required();
  note_cmd->add_option("text", alerts_action.note, "The note")->required();
  CLI::App* stats_cmd = alerts_subcommand("stats", "Alert counts by level, status, tenant, top rules and hosts");
  stats_cmd->add_option("--since", alerts_action.since, "Over the last 30m, 24h, 7d...")->capture_default_str();
  stats_cmd->add_option("--tenant", alerts_action.tenant, "One tenant only");
  stats_cmd->add_option("--bucket", alerts_action.bucket, "Time buckets: 1m, 1h or 1d")->capture_default_str();

  // vigil store check|repair
  CLI::App* store_cmd = app.add_subcommand("store", "Verify the alert store, or rebuild a damaged one");
  store_cmd->require_subcommand(1);
  vigil::app::StoreOptions store;
  CLI::App* store_check_cmd = store_cmd->add_subcommand(
      "check", "Verify every block checksum and record of the store (read-only; the daemon may run).\n"
               "Exit code 0 intact, 1 damaged, 2 no store");
  CLI::App* store_repair_cmd = store_cmd->add_subcommand(
      "repair", "Rebuild a damaged store from what is intact (the daemon must be stopped; the directory\n"
                "is copied aside first)");
  for (CLI::App* c : {store_check_cmd, store_repair_cmd})
    c->add_option("--data-dir,-d", store.data_dir, "The daemon's data directory")->capture_default_str();

  // vigil forward status|dead-letters|replay
  CLI::App* forward_cmd = app.add_subcommand("forward", "Inspect and repair alert forwarding (docs/forwarding.md)");
  forward_cmd->require_subcommand(1);
  vigil::app::ForwardOptions forward;
  CLI::App* forward_status_cmd = forward_cmd->add_subcommand(
      "status", "Pending alerts, age of the oldest, dead letters and cursor per destination");
  CLI::App* forward_dead_cmd = forward_cmd->add_subcommand(
      "dead-letters", "Alerts a destination rejected (4xx), with the reason");
  CLI::App* forward_replay_cmd = forward_cmd->add_subcommand(
      "replay", "Queue dead letters again (the daemon must be stopped; it delivers them on start)");
  for (CLI::App* c : {forward_status_cmd, forward_dead_cmd, forward_replay_cmd}) {
    c->add_option("--data-dir,-d", forward.data_dir, "The daemon's data directory")->capture_default_str();
    c->add_option("--destination", forward.destination, "Only this destination");
  }
  forward_status_cmd->add_flag("--json", forward.json, "One JSON object per destination per line");
  forward_dead_cmd->add_flag("--json", forward.json, "One JSON object per dead letter per line");
  forward_replay_cmd->add_option("ids", forward.alert_ids, "Alert ids to replay");
  forward_replay_cmd->add_flag("--all", forward.all, "Every dead letter (of --destination)");

  // vigil tokens list|create|revoke
  CLI::App* tokens_cmd = app.add_subcommand(
      "tokens",
      "API tokens: over the daemon's API with an admin token (--token or VIGIL_TOKEN, --url or\n"
      "VIGIL_URL), else on the data directory of a stopped daemon (listing works while it runs).");
  tokens_cmd->require_subcommand(1);
  vigil::app::TokensOptions tokens;
  auto tokens_subcommand = [&](const char* name, const char* help) {
    CLI::App* c = tokens_cmd->add_subcommand(name, help);
    c->add_option("--data-dir,-d", tokens.data_dir, "The daemon's data directory")->capture_default_str();
    c->add_option("--url", tokens.url, "The daemon's API (default $VIGIL_URL, else http://127.0.0.1:8080)");
    c->add_option("--token", tokens.token, "Admin API token (default $VIGIL_TOKEN); none = the data directory");
    c->add_flag("--json", tokens.json, "Print the API's JSON answer");
    c->callback([&tokens, name] { tokens.action = name; });
    return c;
  };
  tokens_subcommand("list", "Tokens with role, tenant, created, expiry and last use (never the secrets)");
  CLI::App* token_create_cmd = tokens_subcommand("create", "Create a token; prints the secret once, on stdout");
  token_create_cmd->add_option("name", tokens.name, "A unique name (who or what uses it)")->required();
  token_create_cmd->add_option("--role", tokens.role, "viewer, analyst or admin")->capture_default_str();
  token_create_cmd->add_option("--tenant", tokens.tenant, "Tenant it may see; * = all (default: the caller's own)");
  token_create_cmd->add_option("--expires", tokens.expires, "Expiry as an RFC 3339 time");
  token_create_cmd->add_option("--expires-in-days", tokens.expires_in_days, "Expiry in days from now (1 to 3650)");
  tokens_subcommand("revoke", "Revoke a token by name; it stops working at once")
      ->add_option("name", tokens.name, "The token's name")->required();

  CLI11_PARSE(app, argc, argv);

  if (*run_cmd) return vigil::app::run_daemon(run);
  if (*alerts_list_cmd) return vigil::app::run_alerts_list(alerts_list, stdout, stderr);
  if (no_cache) vigil::app::disable_rule_cache();
  if (*cache_cmd) {
    if (cache_dir.empty()) cache_dir = vigil::rules::DatabaseCache::default_directory();
    if (cache_dir.empty()) {
      std::fprintf(stderr, "vigil rules cache: no cache directory (set VIGIL_CACHE_DIR or HOME, or give --dir)\n");
      return 2;
    }
    vigil::rules::DatabaseCache cache(cache_dir);
    if (!cache.usable()) {
      std::fprintf(stderr, "vigil rules cache: %s\n", cache.why_unusable().c_str());
      return 1;
    }
    if (cache_cmd->got_subcommand("clear")) {
      const long removed = cache.clear();
      std::printf("%ld cache entries removed from %s\n", removed, cache_dir.c_str());
      return removed < 0 ? 1 : 0;
    }
    std::uint64_t entries = 0, bytes = 0;
    cache.usage(&entries, &bytes);
    std::printf("directory: %s\nentries: %llu\nbytes: %llu (bound %llu)\n", cache_dir.c_str(),
                static_cast<unsigned long long>(entries), static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(vigil::rules::DatabaseCache::kDefaultMaxBytes));
    return 0;
  }
  if (!alerts_action.action.empty()) return vigil::app::run_alerts_action(alerts_action, stdout, stderr);
  if (!tokens.action.empty()) return vigil::app::run_tokens(tokens, stdout, stderr);
  if (*store_check_cmd) return vigil::app::run_store_check(store, stdout, stderr);
  if (*store_repair_cmd) return vigil::app::run_store_repair(store, stdout, stderr);
  if (*forward_status_cmd) return vigil::app::run_forward_status(forward, stdout, stderr);
  if (*forward_dead_cmd) return vigil::app::run_forward_dead_letters(forward, stdout, stderr);
  if (*forward_replay_cmd) return vigil::app::run_forward_replay(forward, stdout, stderr);

  if (*scan_cmd) {
    if (!vigil::parse_log_format(format_name, &scan.format)) {
      std::fprintf(stderr, "vigil scan: unknown --format '%s'\n", format_name.c_str());
      return 2;
    }
    std::stringstream parts(logsource);
    std::string part;
    while (std::getline(parts, part, ',')) {
      auto eq = part.find('=');
      std::string key = part.substr(0, eq), value = eq == std::string::npos ? "" : part.substr(eq + 1);
      if (key == "product") scan.declared_product = value;
      else if (key == "category") scan.declared_category = value;
      else if (key == "service") scan.declared_service = value;
      if (value.empty() || (key != "product" && key != "category" && key != "service")) {
        std::fprintf(stderr, "vigil scan: bad --logsource '%s' (want product=X,category=Y,service=Z)\n",
                     logsource.c_str());
        return 2;
      }
    }
    if (output_name == "jsonl" || output_name == "json") scan.output = vigil::app::OutputFormat::kJsonLines;
    else if (output_name == "table") scan.output = vigil::app::OutputFormat::kTable;
    else {
      std::fprintf(stderr, "vigil scan: unknown --output '%s' (jsonl or table)\n", output_name.c_str());
      return 2;
    }
    scan.process_exits_after = true;
    return vigil::app::run_scan(scan, stdout, stderr, nullptr);
  }
  if (*explain_cmd) {
    if (!vigil::parse_log_format(explain_format, &explain.format)) {
      std::fprintf(stderr, "vigil rules explain: unknown --format '%s'\n", explain_format.c_str());
      return 2;
    }
    explain.color = isatty(fileno(stdout)) != 0;
    return vigil::app::run_rules_explain(explain, stdout, stderr);
  }
  if (*check_cmd) return vigil::app::run_rules_check(check, stdout);
  if (*coverage_cmd) return vigil::app::run_rules_coverage(coverage, stdout, stderr);
  if (*test_cmd) return vigil::app::run_rules_test(test, stdout);
  if (*lint_cmd) return vigil::app::run_rules_lint(lint, stdout);
  return 2;
}
