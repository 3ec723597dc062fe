#include "app/alerts_command.h"

#include <fmt/format.h>

#include <chrono>

#include "core/alert_json.h"
#include "storage/alert_store.h"

namespace vigil::app {

namespace {

// "90s", "30m", "24h", "7d" -> ns; false if malformed.
bool parse_duration_ns(const std::string& text, std::int64_t* out) {
  if (text.size() < 2) return false;
  const char unit = text.back();
  const std::string digits = text.substr(0, text.size() - 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) return false;
  std::int64_t n = std::stoll(digits);
  std::int64_t scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
  if (!scale) return false;
  *out = n * scale * 1000000000LL;
  return true;
}

std::string clip(std::string_view s, std::size_t n) {
  std::string r;
  for (char c : s.substr(0, n)) r += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  if (s.size() > n) r += "...";
  return r;
}

}  // namespace

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
  if (!opt.since.empty()) {
    std::int64_t ago = 0;
    if (!parse_duration_ns(opt.since, &ago)) {
      std::fprintf(err, "vigil alerts: --since wants a duration such as 90s, 30m, 24h or 7d, got '%s'\n",
                   opt.since.c_str());
      return 2;
    }
    const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
    q.from_unix_ns = now - ago;
  }
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
