#include "app/alerts_command.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "app/api_client.h"
#include "core/alert_json.h"
#include "core/time_text.h"
#include "core/duration.h"
#include "net/http_server.h"
#include "rules/attack_mapping.h"
#include "storage/alert_store.h"

namespace vigil::app {

namespace {

std::string clip(std::string_view s, std::size_t n) {
  std::string r;
  for (char c : s.substr(0, n)) r += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  if (s.size() > n) r += "...";
  return r;
}

std::string row(simdjson::dom::element a) {
  std::string matched;
  simdjson::dom::array m;
  if (a["matched"].get_array().get(m) == simdjson::SUCCESS && m.size() > 0) {
    simdjson::dom::element first = *m.begin();
    matched = get_str(first, "field") + "=" + clip(get_str(first, "value"), 50);
  }
  simdjson::dom::element rule;
  absent_is_default(a["rule"].get(rule));
  std::uint64_t count = 1;
  absent_is_default(a["count"].get_uint64().get(count));
  return fmt::format("{:<32} {:<30} {:<8} {:<12} {:<18} {:<12} {:>5} {:<36} {}\n", get_str(a, "id"), get_str(a, "created"),
                     get_str(rule, "level"), clip(get_str(a, "tenant"), 12), clip(get_str(a, "host"), 18),
                     get_str(a, "status"), count, clip(get_str(rule, "title"), 33), matched);
}

constexpr const char* kRowHeader = "{:<32} {:<30} {:<8} {:<12} {:<18} {:<12} {:>5} {:<36} {}\n";

int run_alerts_list_remote(const AlertsListOptions& opt, std::int64_t from_ns, std::FILE* out, std::FILE* err) {
  Endpoint endpoint(opt.data_dir, opt.url, opt.token);
  std::vector<std::pair<std::string, std::string>> query;
  auto add = [&](const char* k, const std::string& v) {
    if (!v.empty()) query.emplace_back(k, v);
  };
  add("min_level", opt.min_level);
  add("status", opt.status);
  add("tenant", opt.tenant);
  add("rule", opt.rule);
  add("host", opt.host);
  add("technique", opt.technique);
  add("tactic", opt.tactic);
  add("q", opt.text);
  if (from_ns > 0) add("from", std::to_string(from_ns / 1000000));
  add("order", opt.oldest_first ? "oldest" : "newest");
  if (!opt.json) std::fputs(fmt::format(fmt::runtime(kRowHeader), "ID", "CREATED", "LEVEL", "TENANT", "HOST", "STATUS", "COUNT", "RULE", "MATCHED").c_str(), out);
  std::size_t shown = 0;
  std::string cursor;
  for (;;) {
    auto q = query;
    const std::size_t want = opt.limit == 0 ? 1000 : std::min<std::size_t>(1000, opt.limit - shown);
    q.emplace_back("limit", std::to_string(want));
    if (!cursor.empty()) q.emplace_back("cursor", cursor);
    auto reply = endpoint.request("GET", "/api/v1/alerts", q, "");
    std::string next;
    int rc = print_reply("vigil alerts", reply, false, out, err, [&](simdjson::dom::element doc) {
      simdjson::dom::array alerts;
      if (doc["alerts"].get_array().get(alerts) == simdjson::SUCCESS)
        for (simdjson::dom::element a : alerts) {
          ++shown;
          if (opt.json) {
            std::string line = simdjson::to_string(a) + "\n";
            std::fwrite(line.data(), 1, line.size(), out);
          } else {
            std::fputs(row(a).c_str(), out);
          }
        }
      next = get_str(doc, "next_cursor");
    });
    if (rc != 0) return rc;
    if (next.empty() || (opt.limit != 0 && shown >= opt.limit)) break;
    cursor = next;
  }
  if (!opt.json) std::fprintf(err, "%zu alerts\n", shown);
  return 0;
}

}  // namespace

int run_alerts_action(const AlertsActionOptions& opt, std::FILE* out, std::FILE* err) {
  Endpoint endpoint(opt.data_dir, opt.url, opt.token);
  const std::string& a = opt.action;
  auto print_alert_row = [&](simdjson::dom::element alert) {
    std::fputs(fmt::format(fmt::runtime(kRowHeader), "ID", "CREATED", "LEVEL", "TENANT", "HOST", "STATUS", "COUNT", "RULE", "MATCHED").c_str(), out);
    std::fputs(row(alert).c_str(), out);
    std::string assignee = get_str(alert, "assignee"), resolution = get_str(alert, "resolution");
    if (!resolution.empty()) std::fprintf(out, "resolution: %s\n", resolution.c_str());
    if (!assignee.empty()) std::fprintf(out, "assignee: %s\n", assignee.c_str());
  };
  if (a == "show") {
    return print_reply("vigil alerts", endpoint.request("GET", "/api/v1/alerts/" + opt.id, {}, ""), opt.json, out, err,
                       [&](simdjson::dom::element doc) {
      simdjson::dom::element alert;
      if (doc["alert"].get(alert) != simdjson::SUCCESS) return;
      print_alert_row(alert);
      simdjson::dom::element rule;
      absent_is_default(alert["rule"].get(rule));
      std::fprintf(out, "\nrule: %s (%s) %s\n", get_str(rule, "title").c_str(), get_str(rule, "id").c_str(),
                   get_str(rule, "path").c_str());
      std::fprintf(out, "\nraw event:\n%s\n", get_str(doc["evidence"], "raw").c_str());
      simdjson::dom::array arr;
      if (doc["evidence"]["spans"].get_array().get(arr) == simdjson::SUCCESS && arr.size()) {
        std::fprintf(out, "\nmatched:\n");
        for (simdjson::dom::element sp : arr) {
          std::int64_t start = 0, end = 0;
          absent_is_default(sp["start"].get_int64().get(start));
          absent_is_default(sp["end"].get_int64().get(end));
          std::fprintf(out, "  %s = %s  [bytes %lld..%lld]\n", get_str(sp, "field").c_str(),
                       clip(get_str(sp, "value"), 100).c_str(), static_cast<long long>(start), static_cast<long long>(end));
        }
      }
      if (doc["history"].get_array().get(arr) == simdjson::SUCCESS && arr.size()) {
        std::fprintf(out, "\nhistory:\n");
        for (simdjson::dom::element h : arr)
          std::fprintf(out, "  %s  %-16s %-8s %s\n", get_str(h, "time").c_str(), get_str(h, "actor").c_str(),
                       get_str(h, "action").c_str(), get_str(h, "detail").c_str());
      }
    });
  }
  if (a == "ack" || a == "close" || a == "assign" || a == "note") {
    std::string path = "/api/v1/alerts/" + opt.id, body;
    if (a == "ack" || a == "close") {
      path += "/status";
      body = "{\"status\":" + json_quote(a == "ack" ? "acknowledged" : "closed");
      if (a == "close") body += ",\"resolution\":" + json_quote(opt.resolution);
      if (!opt.note.empty()) body += ",\"note\":" + json_quote(opt.note);
      body += "}";
    } else if (a == "assign") {
      path += "/assign";
      body = "{\"assignee\":" + json_quote(opt.assignee) + "}";
    } else {
      path += "/notes";
      body = "{\"note\":" + json_quote(opt.note) + "}";
    }
    return print_reply("vigil alerts", endpoint.request("POST", path, {}, body), opt.json, out, err, print_alert_row);
  }
  if (a == "stats") {
    std::vector<std::pair<std::string, std::string>> q;
    std::int64_t ago = 0;
    if (!parse_duration(opt.since, &ago)) {
      std::fprintf(err, "vigil alerts stats: --since wants a duration such as 30m, 24h or 7d, got '%s'\n", opt.since.c_str());
      return 2;
    }
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
    q.emplace_back("from", std::to_string(now - ago / 1000000));
    q.emplace_back("to", std::to_string(now + 1));
    q.emplace_back("bucket", opt.bucket);
    if (!opt.tenant.empty()) q.emplace_back("tenant", opt.tenant);
    return print_reply("vigil alerts", endpoint.request("GET", "/api/v1/stats", q, ""), opt.json, out, err,
                       [&](simdjson::dom::element doc) {
      auto counts = [&](const char* title, const char* k) {
        simdjson::dom::object o;
        if (doc[k].get_object().get(o) != simdjson::SUCCESS) return;
        std::fprintf(out, "%s:", title);
        for (auto field : o) {
          std::int64_t n = 0;
          absent_is_default(field.value.get_int64().get(n));
          std::fprintf(out, "  %.*s %lld", static_cast<int>(field.key.size()), field.key.data(), static_cast<long long>(n));
        }
        std::fputc('\n', out);
      };
      std::fprintf(out, "alerts created in the last %s\n", opt.since.c_str());
      counts("by level", "by_level");
      counts("by status", "by_status");
      counts("by tenant", "by_tenant");
      simdjson::dom::array arr;
      if (doc["top_rules"].get_array().get(arr) == simdjson::SUCCESS) {
        std::fprintf(out, "top rules:\n");
        for (simdjson::dom::element r : arr) {
          std::int64_t n = 0;
          absent_is_default(r["count"].get_int64().get(n));
          std::fprintf(out, "  %8lld  %s (%s)\n", static_cast<long long>(n), get_str(r, "title").c_str(), get_str(r, "id").c_str());
        }
      }
      if (doc["top_hosts"].get_array().get(arr) == simdjson::SUCCESS) {
        std::fprintf(out, "top hosts:\n");
        for (simdjson::dom::element h : arr) {
          std::int64_t n = 0;
          absent_is_default(h["count"].get_int64().get(n));
          std::fprintf(out, "  %8lld  %s\n", static_cast<long long>(n), get_str(h, "host").c_str());
        }
      }
    });
  }
  std::fprintf(err, "vigil alerts: unknown action '%s'\n", a.c_str());
  return 2;
}

int run_alerts_list(const AlertsListOptions& opt, std::FILE* out, std::FILE* err) {
  storage::AlertQuery q;
  if (!opt.min_level.empty()) {
    AlertLevel level;
    if (!parse_alert_level(opt.min_level, &level)) {
      std::fprintf(err, "vigil alerts: unknown level '%s' (informational, low, medium, high, critical)\n",
                   opt.min_level.c_str());
      return 2;
    }
    q.min_level = level;
  }
  if (!opt.status.empty()) {
    AlertStatus status;
    if (!parse_alert_status(opt.status, &status)) {
      std::fprintf(err, "vigil alerts: unknown status '%s' (new, acknowledged, in_progress, closed)\n",
                   opt.status.c_str());
      return 2;
    }
    q.status = status;
  }
  if (!opt.technique.empty()) {
    q.techniques = rules::technique_filter(opt.technique);
    if (q.techniques.empty()) {
      std::fprintf(err, "vigil alerts: --technique wants an ATT&CK technique id such as T1003 or T1562.002, got '%s'\n",
                   opt.technique.c_str());
      return 2;
    }
  }
  if (!opt.tactic.empty()) {
    q.tactics = rules::tactic_filter(opt.tactic);
    if (q.tactics.empty()) {
      std::fprintf(err, "vigil alerts: unknown tactic '%s' (credential-access, stealth...)\n", opt.tactic.c_str());
      return 2;
    }
  }
  if (!opt.since.empty()) {
    std::int64_t ago = 0;
    if (!parse_duration(opt.since, &ago)) {
      std::fprintf(err, "vigil alerts: --since wants a duration such as 90s, 30m, 24h or 7d, got '%s'\n",
                   opt.since.c_str());
      return 2;
    }
    const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
    q.from_unix_ns = now - ago;
  }
  if (!env_or(opt.token, "VIGIL_TOKEN").empty()) return run_alerts_list_remote(opt, q.from_unix_ns, out, err);
  q.tenant = opt.tenant;
  q.rule_id = opt.rule;
  q.host = opt.host;
  q.text = opt.text;
  q.newest_first = !opt.oldest_first;
  auto store = storage::AlertStore::open_read_only(opt.data_dir);
  if (!store) {
    std::fprintf(err, "vigil alerts: %s\n", store.error().to_string().c_str());
    return 2;
  }
  if (!opt.json)
    std::fputs(fmt::format("{:<32} {:<30} {:<8} {:<12} {:<18} {:<44} {}\n", "ID", "CREATED", "LEVEL",
                           "TENANT", "HOST", "RULE", "MATCHED").c_str(), out);
  std::size_t shown = 0;
  std::string line;
  for (;;) {
    const std::size_t want = opt.limit == 0 ? 1000 : std::min<std::size_t>(1000, opt.limit - shown);
    q.limit = want;
    auto page = (*store)->list(q);
    if (!page) {
      std::fprintf(err, "vigil alerts: %s\n", page.error().to_string().c_str());
      return 2;
    }
    for (const Alert& a : page->alerts) {
      line.clear();
      if (opt.json) {
        append_alert_json(line, a);
        line += '\n';
      } else {
        std::string matched;
        if (!a.matched.empty()) matched = a.matched.front().name + "=" + clip(a.matched.front().value, 50);
        line = fmt::format("{:<32} {:<30} {:<8} {:<12} {:<18} {:<44} {}\n", a.id,
                           format_rfc3339_ns(a.created_unix_ns), to_string(a.level), clip(a.tenant, 12),
                           clip(a.host, 18), clip(a.rule_title, 41), matched);
      }
      std::fwrite(line.data(), 1, line.size(), out);
    }
    shown += page->alerts.size();
    if (page->next_cursor.empty() || (opt.limit != 0 && shown >= opt.limit)) break;
    q.cursor = page->next_cursor;
  }
  if (!opt.json) std::fprintf(err, "%zu alerts\n", shown);
  return 0;
}

}  // namespace vigil::app
