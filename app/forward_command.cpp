#include "app/forward_command.h"

#include <chrono>
#include <filesystem>

#include "core/time_text.h"
#include "core/json_text.h"
#include "storage/alert_store.h"
#include "storage/outbox.h"

namespace vigil::app {

namespace {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  append_json_escaped(out, s, InvalidUtf8::kReplace);
  out += '"';
  return out;
}

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

int run_forward_status(const ForwardOptions& opt, std::FILE* out, std::FILE* err) {
  auto store = storage::AlertStore::open_read_only(opt.data_dir);
  if (!store) {
    std::fprintf(err, "vigil forward: %s\n", store.error().to_string().c_str());
    return 2;
  }
  auto status = storage::outbox_status(**store);
  if (!status) {
    std::fprintf(err, "vigil forward: %s\n", status.error().to_string().c_str());
    return 1;
  }
  if (!opt.json) std::fprintf(out, "%-24s %10s %14s %12s  %s\n", "DESTINATION", "PENDING", "OLDEST_AGE_S", "DEAD_LETTERS", "CURSOR");
  for (const auto& s : *status) {
    if (!opt.destination.empty() && s.destination != opt.destination) continue;
    double age = s.oldest_pending_created_unix_ns > 0 ? double(wall_ns() - s.oldest_pending_created_unix_ns) / 1e9 : 0.0;
    if (opt.json)
      std::fprintf(out, "{\"destination\":%s,\"pending\":%llu,\"oldest_pending_age_s\":%.3f,\"dead_letters\":%llu,\"cursor\":%s}\n",
                   json_string(s.destination).c_str(), static_cast<unsigned long long>(s.pending), age,
                   static_cast<unsigned long long>(s.dead_letters), json_string(s.cursor_alert_id).c_str());
    else
      std::fprintf(out, "%-24s %10llu %14.1f %12llu  %s\n", s.destination.c_str(), static_cast<unsigned long long>(s.pending),
                   age, static_cast<unsigned long long>(s.dead_letters), s.cursor_alert_id.empty() ? "-" : s.cursor_alert_id.c_str());
  }
  return 0;
}

int run_forward_dead_letters(const ForwardOptions& opt, std::FILE* out, std::FILE* err) {
  auto store = storage::AlertStore::open_read_only(opt.data_dir);
  if (!store) {
    std::fprintf(err, "vigil forward: %s\n", store.error().to_string().c_str());
    return 2;
  }
  auto dead = storage::list_dead_letters(**store, opt.destination);
  if (!dead) {
    std::fprintf(err, "vigil forward: %s\n", dead.error().to_string().c_str());
    return 1;
  }
  if (!opt.json && !dead->empty()) std::fprintf(out, "%-20s %-32s %-30s %8s  %s\n", "DESTINATION", "ALERT", "WHEN", "ATTEMPTS", "REASON");
  for (const auto& d : *dead) {
    if (opt.json)
      std::fprintf(out, "{\"destination\":%s,\"alert_id\":%s,\"time\":%s,\"attempts\":%u,\"reason\":%s}\n",
                   json_string(d.destination).c_str(), json_string(d.alert_id).c_str(),
                   json_string(format_rfc3339_ns(d.unix_ns)).c_str(), d.attempts, json_string(d.reason).c_str());
    else
      std::fprintf(out, "%-20s %-32s %-30s %8u  %s\n", d.destination.c_str(), d.alert_id.c_str(),
                   format_rfc3339_ns(d.unix_ns).c_str(), d.attempts, d.reason.c_str());
  }
  if (!opt.json) std::fprintf(err, "%zu dead letters\n", dead->size());
  return 0;
}

int run_forward_replay(const ForwardOptions& opt, std::FILE* out, std::FILE* err) {
  if (opt.alert_ids.empty() && !opt.all) {
    std::fprintf(err, "vigil forward replay: name alert ids, or --all for every dead letter\n");
    return 2;
  }
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(opt.data_dir) / "CURRENT", ec)) {
    std::fprintf(err, "vigil forward replay: no alert store in '%s'\n", opt.data_dir.c_str());
    return 2;
  }
  storage::StoreOptions so;
  so.dir = opt.data_dir;
  auto store = storage::AlertStore::open(so);
  if (!store) {
    std::fprintf(err, "vigil forward replay: %s (replay needs the daemon stopped)\n", store.error().to_string().c_str());
    return 2;
  }
  auto n = storage::replay_dead_letters(**store, opt.destination, opt.alert_ids);
  if (!n) {
    std::fprintf(err, "vigil forward replay: %s\n", n.error().to_string().c_str());
    return 1;
  }
  std::fprintf(out, "%zu dead letters queued again; the daemon delivers them when it runs\n", *n);
  if (*n == 0 && !opt.alert_ids.empty()) return 1;  // the ids named are not dead letters
  return 0;
}

}  // namespace vigil::app
