#include "api/analyst_api.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <limits>
#include <string_view>

#include "core/alert_json.h"
#include "core/time_text.h"
#include "core/json_text.h"
#include "rules/attack_mapping.h"
#include "storage/alert_codec.h"
#include "storage/outbox.h"
#include "storage/stats.h"

namespace vigil::api {

namespace {

constexpr std::string_view kPrefix = "/api/v1/";

void key(std::string& out, std::string_view k) {
  append_json_string(out, k);
  out += ':';
}

net::Response error(unsigned status, std::string_view message) { return net::Response::error(status, message); }

net::Response from_status(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kParseError: return error(400, st.message());
    case StatusCode::kNotFound: return error(404, st.message());
    default: return error(500, st.message());
  }
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Parses a JSON request body into a DOM object; an error answer otherwise.
bool parse_object(simdjson::dom::parser& parser, const std::string& body, simdjson::dom::object* out,
                  net::Response* answer) {
  simdjson::dom::element doc;
  if (auto err = parser.parse(body).get(doc); err) {
    *answer = error(400, std::string("malformed JSON body: ") + simdjson::error_message(err));
    return false;
  }
  if (doc.get_object().get(*out) != simdjson::SUCCESS) {
    *answer = error(400, "the JSON body must be an object");
    return false;
  }
  return true;
}

// Reads an optional string member; false (and an answer) if present but not a string.
bool string_member(const simdjson::dom::object& obj, std::string_view name, std::optional<std::string>* out,
                   net::Response* answer) {
  simdjson::dom::element e;
  if (obj.at_key(name).get(e) != simdjson::SUCCESS) return true;
  if (e.is_null()) return true;
  std::string_view v;
  if (e.get_string().get(v) != simdjson::SUCCESS) {
    *answer = error(400, "'" + std::string(name) + "' must be a string");
    return false;
  }
  *out = std::string(v);
  return true;
}

// The change described by a body's status / resolution / assignee / note members.
bool parse_change(const simdjson::dom::object& obj, storage::AlertChange* change, net::Response* answer) {
  std::optional<std::string> status, resolution, assignee, note;
  if (!string_member(obj, "status", &status, answer) || !string_member(obj, "resolution", &resolution, answer) ||
      !string_member(obj, "assignee", &assignee, answer) || !string_member(obj, "note", &note, answer))
    return false;
  if (status) {
    AlertStatus s;
    if (!parse_alert_status(*status, &s)) {
      *answer = error(400, "unknown status '" + *status + "' (new, acknowledged, in_progress, closed)");
      return false;
    }
    change->status = s;
  }
  if (resolution && !resolution->empty()) {
    AlertResolution r;
    if (!parse_alert_resolution(*resolution, &r) || r == AlertResolution::kNone) {
      *answer = error(400, "unknown resolution '" + *resolution + "' (true_positive, false_positive, benign, duplicate)");
      return false;
    }
    change->resolution = r;
  }
  if (assignee) {
    if (assignee->size() > 200) {
      *answer = error(400, "'assignee' is longer than 200 bytes");
      return false;
    }
    change->assignee = *assignee;
  }
  if (note) {
    if (note->size() > 64 * 1024) {
      *answer = error(400, "'note' is longer than 64 KiB");
      return false;
    }
    change->note = *note;
  }
  return true;
}

// Byte offsets of each matched value in the raw event: as written, else JSON-escaped (a JSON
// event holds `C:\\x` for the value `C:\x`).
void append_spans(std::string& out, const Alert& a) {
  out += '[';
  bool first = true;
  for (const AlertField& m : a.matched) {
    if (m.value.empty()) continue;
    std::size_t at = a.raw.find(m.value);
    std::size_t len = m.value.size();
    if (at == std::string::npos) {
      std::string escaped;
      append_json_escaped(escaped, m.value, InvalidUtf8::kKeep);
      at = a.raw.find(escaped);
      len = escaped.size();
    }
    if (at == std::string::npos) {
      // Sigma matching ignores case: find the value case-insensitively.
      auto it = std::search(a.raw.begin(), a.raw.end(), m.value.begin(), m.value.end(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
      });
      if (it == a.raw.end()) continue;
      at = static_cast<std::size_t>(it - a.raw.begin());
      len = m.value.size();
    }
    if (!first) out += ',';
    first = false;
    out += '{';
    key(out, "field"), append_json_string(out, m.name);
    out += ',', key(out, "value"), append_json_string(out, m.value);
    out += ",\"start\":" + std::to_string(at) + ",\"end\":" + std::to_string(at + len) + '}';
  }
  out += ']';
}

std::string alert_body(const Alert& a) {
  std::string out;
  append_alert_json(out, a);
  return out;
}

}  // namespace

bool parse_time_param(std::string_view text, std::int64_t* unix_ns) {
  constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / 1000000000 - 1;
  if (all_digits(text)) {
    const std::int64_t ms = std::stoll(std::string(text));
    // Beyond 2262 (int64 ns): the end of time as far as the store is concerned.
    *unix_ns = ms / 1000 >= kMaxSeconds ? std::numeric_limits<std::int64_t>::max() : ms * 1000000;
    return true;
  }
  if (!parse_rfc3339_ns(text, unix_ns)) return false;
  if (*unix_ns < 0) *unix_ns = 0;  // before 1970: the start of time for the store
  return true;
}

AnalystApi::AnalystApi(ApiOptions options, storage::AlertStore& store, TokenStore* tokens, ApiHooks hooks)
    : options_(options), store_(store), tokens_(tokens), hooks_(std::move(hooks)) {}

AnalystApi::~AnalystApi() { stop(); }

net::Response AnalystApi::handle(const net::Request& request, const Principal& who) {
  try {
    return dispatch(request, who);
  } catch (const std::exception& e) {
    // Nothing here throws on purpose; a bad_alloc on a huge input must not end the daemon.
    return error(500, std::string("internal error: ") + e.what());
  }
}

net::Response AnalystApi::dispatch(const net::Request& req, const Principal& who) {
  std::string_view path = req.path;
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path.substr(0, kPrefix.size()) != kPrefix) return error(404, "no such endpoint");
  const std::string_view route = path.substr(kPrefix.size());
  const bool get = req.method == "GET", post = req.method == "POST";
  auto need = [&](Role role) { return static_cast<int>(who.role) >= static_cast<int>(role); };
  auto forbidden = [&](Role role) {
    return error(403, std::string("this needs the ") + to_string(role) + " role; the token '" + who.name +
                          "' has " + to_string(who.role));
  };
  // The tenant a token may see: its own, or any when scoped to all.
  auto visible = [&](const Alert& a) { return who.all_tenants() || a.tenant == who.tenant; };
  simdjson::dom::parser parser;

  if (route == "health") {
    if (!get) return error(405, "use GET");
    const auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count();
    return net::Response::json(200, "{\"status\":\"ok\",\"version\":\"0.1.0\",\"uptime_s\":" + std::to_string(up) +
                                        ",\"alerts\":" + std::to_string(store_.alert_count_estimate()) + "}");
  }
  if (route == "openapi.json") {
    if (!get) return error(405, "use GET");
    return net::Response::json(200, openapi_document());
  }
  if (route == "whoami") {
    if (!get) return error(405, "use GET");
    std::string out = "{";
    key(out, "name"), append_json_string(out, who.name);
    out += ',', key(out, "role"), append_json_string(out, to_string(who.role));
    out += ',', key(out, "tenant"), append_json_string(out, who.tenant);
    out += '}';
    return net::Response::json(200, out);
  }

  // Forwarding dead letters: alerts a destination refused (4xx), with the reason. They name
  // alerts of every tenant, so they are for admins scoped to all tenants.
  if (route == "forwarding/dead-letters" || route == "forwarding/dead-letters/replay") {
    if (!need(Role::kAdmin)) return forbidden(Role::kAdmin);
    if (!who.all_tenants()) return error(403, "dead letters span every tenant: this needs an admin token for all tenants");
    if (route == "forwarding/dead-letters") {
      if (!get) return error(405, "use GET");
      auto letters = storage::list_dead_letters(store_, req.query_param("destination").value_or(""));
      if (!letters) return from_status(letters.error());
      std::string out = "{\"dead_letters\":[";
      for (std::size_t i = 0; i < letters->size(); ++i) {
        const storage::DeadLetter& d = (*letters)[i];
        if (i) out += ',';
        out += '{';
        key(out, "destination"), append_json_string(out, d.destination);
        out += ',', key(out, "alert_id"), append_json_string(out, d.alert_id);
        out += ',', key(out, "reason"), append_json_string(out, d.reason);
        out += ',', key(out, "attempts"), out += std::to_string(d.attempts);
        out += ',', key(out, "time"), append_json_string(out, format_rfc3339_ns(d.unix_ns));
        out += '}';
      }
      out += "]}";
      return net::Response::json(200, out);
    }
    if (!post) return error(405, "use POST");
    simdjson::dom::object obj;
    net::Response answer;
    if (!parse_object(parser, req.body, &obj, &answer)) return answer;
    std::string destination;
    std::vector<std::string> ids;
    for (auto field : obj) {
      if (field.key == "destination") {
        std::string_view v;
        if (field.value.get(v) != simdjson::SUCCESS) return error(400, "'destination' must be a string");
        destination = std::string(v);
      } else if (field.key == "ids") {
        simdjson::dom::array arr;
        if (field.value.get(arr) != simdjson::SUCCESS) return error(400, "'ids' must be a list of alert ids");
        for (auto item : arr) {
          std::string_view v;
          if (item.get(v) != simdjson::SUCCESS) return error(400, "'ids' must be a list of alert ids");
          ids.emplace_back(v);
        }
      } else {
        return error(400, "unknown field '" + std::string(field.key) + "' (destination, ids)");
      }
    }
    auto replayed = storage::replay_dead_letters(store_, destination, ids);
    if (!replayed) return from_status(replayed.error());
    if (Status st = store_.audit(who.name, "replay_dead_letters", destination.empty() ? "*" : destination,
                                 std::to_string(*replayed) + " alerts");
        !st.ok())
      return from_status(st);
    if (hooks_.dead_letters_replayed) hooks_.dead_letters_replayed();
    return net::Response::json(200, "{\"replayed\":" + std::to_string(*replayed) + "}");
  }

  if (route == "alerts") {
    if (!get) return error(405, "use GET");
    storage::AlertQuery q;
    q.limit = 50;
    for (const auto& [name, value] : req.query) {
      if (name == "from" || name == "to") {
        std::int64_t t = 0;
        if (!parse_time_param(value, &t))
          return error(400, "'" + name + "' must be an RFC 3339 time or unix milliseconds, got '" + value + "'");
        (name == "from" ? q.from_unix_ns : q.to_unix_ns) = t;
      } else if (name == "min_level") {
        AlertLevel l;
        if (!parse_alert_level(value, &l))
          return error(400, "unknown min_level '" + value + "' (informational, low, medium, high, critical)");
        q.min_level = l;
      } else if (name == "status") {
        AlertStatus s;
        if (!parse_alert_status(value, &s))
          return error(400, "unknown status '" + value + "' (new, acknowledged, in_progress, closed)");
        q.status = s;
      } else if (name == "tenant") {
        q.tenant = value;
      } else if (name == "rule") {
        q.rule_id = value;
      } else if (name == "host") {
        q.host = value;
      } else if (name == "technique") {
        // Either ATT&CK revision finds both (T1562.002 and T1685.001), a parent its sub-techniques.
        std::vector<std::string> ids = rules::technique_filter(value);
        if (ids.empty())
          return error(400, "'technique' must be an ATT&CK technique id (T1003, T1003.001), got '" + value + "'");
        q.techniques.insert(q.techniques.end(), ids.begin(), ids.end());
      } else if (name == "tactic") {
        std::vector<std::string> names = rules::tactic_filter(value);
        if (names.empty())
          return error(400, "unknown tactic '" + value + "' (Sigma tactic names: credential-access, stealth...)");
        q.tactics.insert(q.tactics.end(), names.begin(), names.end());
      } else if (name == "q") {
        q.text = value;
      } else if (name == "limit") {
        if (!all_digits(value) || std::stoull(value) < 1 || std::stoull(value) > options_.max_page)
          return error(400, "'limit' must be between 1 and " + std::to_string(options_.max_page));
        q.limit = std::stoull(value);
      } else if (name == "cursor") {
        q.cursor = value;
      } else if (name == "order") {
        if (value != "newest" && value != "oldest") return error(400, "'order' must be newest or oldest");
        q.newest_first = value == "newest";
      } else {
        return error(400, "unknown query parameter '" + name + "'");
      }
    }
    if (!who.all_tenants()) {
      if (!q.tenant.empty() && q.tenant != who.tenant) return net::Response::json(200, "{\"alerts\":[],\"next_cursor\":\"\"}");
      q.tenant = who.tenant;
    }
    auto page = store_.list(q);
    if (!page) return from_status(page.error());
    std::string out = "{\"alerts\":[";
    for (std::size_t i = 0; i < page->alerts.size(); ++i) {
      if (i) out += ',';
      append_alert_json(out, page->alerts[i]);
    }
    out += "],";
    key(out, "next_cursor"), append_json_string(out, page->next_cursor);
    out += '}';
    return net::Response::json(200, out);
  }

  if (route == "alerts/bulk") {
    if (!post) return error(405, "use POST");
    if (!need(Role::kAnalyst)) return forbidden(Role::kAnalyst);
    simdjson::dom::object obj;
    net::Response answer;
    if (!parse_object(parser, req.body, &obj, &answer)) return answer;
    storage::AlertChange change;
    if (!parse_change(obj, &change, &answer)) return answer;
    simdjson::dom::array ids;
    if (obj.at_key("ids").get_array().get(ids) != simdjson::SUCCESS) return error(400, "'ids' must be an array of alert ids");
    if (ids.size() > options_.max_bulk) return error(400, "at most " + std::to_string(options_.max_bulk) + " ids per bulk change");
    if (change.empty()) return error(400, "nothing to change (give status, assignee or note)");
    std::size_t updated = 0;
    std::string errors;
    for (simdjson::dom::element e : ids) {
      std::string_view id;
      std::string message;
      if (e.get_string().get(id) != simdjson::SUCCESS) {
        message = "ids must be strings";
      } else {
        auto result = store_.update(id, change, who.name, who.tenant);
        if (result) ++updated;
        else message = result.error().message();
      }
      if (message.empty()) continue;
      if (!errors.empty()) errors += ',';
      errors += '{';
      key(errors, "id"), append_json_string(errors, id);
      errors += ',', key(errors, "error"), append_json_string(errors, message);
      errors += '}';
    }
    return net::Response::json(200, "{\"updated\":" + std::to_string(updated) + ",\"errors\":[" + errors + "]}");
  }

  if (route.substr(0, 7) == "alerts/") {
    std::string_view rest = route.substr(7);
    std::string_view id = rest.substr(0, rest.find('/'));
    std::string_view action = id.size() < rest.size() ? rest.substr(id.size() + 1) : std::string_view();
    if (action.empty()) {
      if (!get) return error(405, "use GET");
      auto alert = store_.get(id);
      if (!alert) {
        if (alert.error().code() == StatusCode::kInvalidArgument) return error(404, "no alert with id " + std::string(id));
        return from_status(alert.error());
      }
      if (!visible(*alert)) return error(404, "no alert with id " + std::string(id));
      auto history = store_.history(id);
      if (!history) return from_status(history.error());
      std::string out = "{\"alert\":";
      append_alert_json(out, *alert);
      out += ",\"evidence\":{";
      key(out, "raw"), append_json_string(out, alert->raw);
      out += ",\"spans\":";
      append_spans(out, *alert);
      out += "},";
      key(out, "rule_source"), append_json_string(out, hooks_.rule_source ? hooks_.rule_source(*alert) : std::string());
      out += ",\"history\":[";
      for (std::size_t i = 0; i < history->size(); ++i) {
        const storage::HistoryEntry& h = (*history)[i];
        if (i) out += ',';
        out += '{';
        key(out, "time"), append_json_string(out, format_rfc3339_ns(h.time_unix_ns));
        out += ',', key(out, "actor"), append_json_string(out, h.actor);
        out += ',', key(out, "action"), append_json_string(out, h.action);
        out += ',', key(out, "detail"), append_json_string(out, h.detail);
        out += '}';
      }
      out += "],\"delivery\":[";
      auto delivery = storage::delivery_of(store_, id);
      if (!delivery) return from_status(delivery.error());
      for (std::size_t i = 0; i < delivery->size(); ++i) {
        const storage::DeliveryState& d = (*delivery)[i];
        if (i) out += ',';
        out += '{';
        key(out, "destination"), append_json_string(out, d.destination);
        out += ',', key(out, "state"), append_json_string(out, storage::to_string(d.state));
        out += ',', key(out, "attempts"), out += std::to_string(d.attempts);
        out += ',', key(out, "last_error"), append_json_string(out, d.last_error);
        out += ',', key(out, "updated"), append_json_string(out, format_rfc3339_ns(d.updated_unix_ns));
        out += '}';
      }
      out += "]}";
      return net::Response::json(200, out);
    }
    if (action != "status" && action != "assign" && action != "notes") return error(404, "no such endpoint");
    if (!post) return error(405, "use POST");
    if (!need(Role::kAnalyst)) return forbidden(Role::kAnalyst);
    simdjson::dom::object obj;
    net::Response answer;
    if (!parse_object(parser, req.body, &obj, &answer)) return answer;
    storage::AlertChange change;
    if (!parse_change(obj, &change, &answer)) return answer;
    if (action == "status" && !change.status) return error(400, "'status' is required");
    if (action == "assign" && !change.assignee) return error(400, "'assignee' is required (\"\" unassigns)");
    if (action == "notes" && change.note.empty()) return error(400, "'note' is required and must not be empty");
    if (action != "status" && (change.status || change.resolution != AlertResolution::kNone))
      return error(400, "change the status with POST /api/v1/alerts/{id}/status");
    if (action == "notes" && change.assignee) return error(400, "assign with POST /api/v1/alerts/{id}/assign");
    auto updated = store_.update(id, change, who.name, who.tenant);
    if (!updated) {
      if (updated.error().code() == StatusCode::kInvalidArgument && !storage::alert_key_from_id(id))
        return error(404, "no alert with id " + std::string(id));
      return from_status(updated.error());
    }
    return net::Response::json(200, alert_body(*updated));
  }

  if (route == "stats") {
    if (!get) return error(405, "use GET");
    storage::StatsQuery q;
    const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
    q.to_unix_ns = now;
    q.from_unix_ns = now - 24 * 3600 * 1000000000LL;
    for (const auto& [name, value] : req.query) {
      if (name == "from" || name == "to") {
        std::int64_t t = 0;
        if (!parse_time_param(value, &t))
          return error(400, "'" + name + "' must be an RFC 3339 time or unix milliseconds, got '" + value + "'");
        (name == "from" ? q.from_unix_ns : q.to_unix_ns) = t;
      } else if (name == "bucket") {
        if (value == "1m") q.bucket_seconds = 60;
        else if (value == "1h") q.bucket_seconds = 3600;
        else if (value == "1d") q.bucket_seconds = 86400;
        else return error(400, "'bucket' must be 1m, 1h or 1d");
      } else if (name == "tenant") {
        q.tenant = value;
      } else {
        return error(400, "unknown query parameter '" + name + "'");
      }
    }
    if (!who.all_tenants()) {
      if (!q.tenant.empty() && q.tenant != who.tenant) return error(404, "no such tenant");
      q.tenant = who.tenant;
    }
    auto stats = storage::read_stats(store_, q);
    if (!stats) return from_status(stats.error());
    auto counts = [](std::string& out, const std::map<std::string, std::int64_t>& m) {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : m) {
        if (!first) out += ',';
        first = false;
        key(out, k);
        out += std::to_string(v);
      }
      out += '}';
    };
    std::string out = "{\"buckets\":[";
    for (std::size_t i = 0; i < stats->buckets.size(); ++i) {
      if (i) out += ',';
      out += '{';
      key(out, "start"), append_json_string(out, format_rfc3339_ns(stats->buckets[i].start_unix_s * 1000000000));
      out += ",\"by_level\":";
      counts(out, stats->buckets[i].by_level);
      out += '}';
    }
    out += "],\"by_level\":";
    counts(out, stats->by_level);
    out += ",\"by_status\":";
    counts(out, stats->by_status);
    out += ",\"by_tenant\":";
    counts(out, stats->by_tenant);
    out += ",\"top_rules\":[";
    for (std::size_t i = 0; i < stats->top_rules.size(); ++i) {
      if (i) out += ',';
      out += '{';
      key(out, "id"), append_json_string(out, stats->top_rules[i].id);
      out += ',', key(out, "title"), append_json_string(out, stats->top_rules[i].title);
      out += ",\"count\":" + std::to_string(stats->top_rules[i].count) + '}';
    }
    out += "],\"top_hosts\":[";
    for (std::size_t i = 0; i < stats->top_hosts.size(); ++i) {
      if (i) out += ',';
      out += '{';
      key(out, "host"), append_json_string(out, stats->top_hosts[i].first);
      out += ",\"count\":" + std::to_string(stats->top_hosts[i].second) + '}';
    }
    out += "]}";
    return net::Response::json(200, out);
  }

  if (route == "rules") {
    if (!get) return error(405, "use GET");
    auto counts = storage::rule_alert_counts(store_);
    if (!counts) return from_status(counts.error());
    std::string out = "{\"rules\":[";
    bool first = true;
    for (const RuleInfo& r : hooks_.rules ? hooks_.rules() : std::vector<RuleInfo>()) {
      if (!first) out += ',';
      first = false;
      out += '{';
      key(out, "id"), append_json_string(out, r.id);
      out += ',', key(out, "title"), append_json_string(out, r.title);
      out += ',', key(out, "level"), append_json_string(out, r.level);
      out += ",\"tags\":[";
      for (std::size_t i = 0; i < r.tags.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, r.tags[i]);
      }
      out += "],";
      key(out, "path"), append_json_string(out, r.path);
      // The totals count every tenant's alerts: a tenant's token gets null (its own per-rule
      // counts are in /alerts/stats, top_rules).
      auto c = counts->find(r.id);
      out += ",\"matches\":";
      out += who.all_tenants() ? std::to_string(c == counts->end() ? 0 : c->second) : std::string("null");
      out += '}';
    }
    out += "]}";
    return net::Response::json(200, out);
  }

  // Log sources and their cadence (silent sources): a viewer's tenant sees its own.
  if (route == "sources") {
    if (!get) return error(405, "use GET");
    const std::string state(req.query_param("state").value_or(""));
    if (!state.empty() && state != "learning" && state != "ok" && state != "silent" && state != "tampered")
      return error(400, "'state' must be learning, ok, silent or tampered");
    std::size_t limit = 1000;
    if (auto l = req.query_param("limit")) {
      if (!all_digits(*l) || l->size() > 7 || std::stoul(std::string(*l)) == 0)
        return error(400, "'limit' must be a positive integer");
      limit = std::min<std::size_t>(std::stoul(std::string(*l)), 100000);
    }
    std::string out = "{\"sources\":[";
    std::size_t shown = 0, total = 0;
    for (const SourceRow& s : hooks_.sources ? hooks_.sources() : std::vector<SourceRow>()) {
      if (!who.all_tenants() && s.tenant != who.tenant) continue;
      if (!state.empty() && (state == "tampered" ? !s.tampered : s.state != state)) continue;
      ++total;
      if (shown == limit) continue;
      if (shown++) out += ',';
      out += '{';
      key(out, "name"), append_json_string(out, s.name);
      out += ',', key(out, "tenant"), append_json_string(out, s.tenant);
      out += ',', key(out, "collector"), append_json_string(out, s.collector);
      out += ',', key(out, "host"), append_json_string(out, s.host);
      out += ',', key(out, "program"), append_json_string(out, s.program);
      out += ',', key(out, "state"), append_json_string(out, s.state);
      out += ',', key(out, "first_seen"), append_json_string(out, format_rfc3339_ns(s.first_seen_unix_ns));
      out += ',', key(out, "last_seen"), append_json_string(out, format_rfc3339_ns(s.last_seen_unix_ns));
      out += ",\"events\":" + std::to_string(s.events);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3f", double(s.usual_gap_ns) / 1e9);
      out += ",\"usual_gap_s\":" + (s.usual_gap_ns ? std::string(buf) : std::string("null"));
      std::snprintf(buf, sizeof buf, "%.3f", double(s.threshold_ns) / 1e9);
      out += ",\"threshold_s\":" + (s.threshold_ns ? std::string(buf) : std::string("null"));
      out += ",\"tampered\":" + std::string(s.tampered ? "true" : "false");
      if (s.tampered) {
        out += ',', key(out, "tampered_at"), append_json_string(out, format_rfc3339_ns(s.tampered_unix_ns));
        out += ',', key(out, "tamper_reason"), append_json_string(out, s.tamper_reason);
      }
      out += '}';
    }
    out += "],\"total\":" + std::to_string(total) + "}";
    return net::Response::json(200, out);
  }

  if (route == "ingest") {
    if (!get) return error(405, "use GET");
    std::string out = "{\"collectors\":[";
    bool first = true;
    for (const CollectorInfo& c : hooks_.collectors ? hooks_.collectors() : std::vector<CollectorInfo>()) {
      if (!first) out += ',';
      first = false;
      out += '{';
      key(out, "name"), append_json_string(out, c.name);
      out += ',', key(out, "kind"), append_json_string(out, c.kind);
      out += ",\"received\":" + std::to_string(c.received) + ",\"dropped\":" + std::to_string(c.dropped) +
             ",\"parse_errors\":" + std::to_string(c.parse_errors);
      // Events per second since the previous call for this collector.
      double eps = 0;
      {
        std::lock_guard lock(rate_mu_);
        auto now = std::chrono::steady_clock::now();
        auto [it, inserted] = rates_.try_emplace(c.name, RateSample{now, c.received});
        if (!inserted) {
          double seconds = std::chrono::duration<double>(now - it->second.time).count();
          if (seconds > 0.05) {
            eps = static_cast<double>(c.received - it->second.received) / seconds;
            it->second = RateSample{now, c.received};
            it->second.last_rate = eps;
          } else {
            eps = it->second.last_rate;
          }
        }
      }
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f", eps);
      out += ",\"events_per_second\":" + std::string(buf) + '}';
    }
    out += "]}";
    return net::Response::json(200, out);
  }

  if (route == "rules/coverage") {
    if (req.method != "GET") return error(405, "use GET");
    if (!hooks_.rules_coverage) return error(404, "coverage is not available here");
    return net::Response::json(200, hooks_.rules_coverage());
  }

  if (route == "rules/test") {
    if (!post) return error(405, "use POST");
    if (!need(Role::kAnalyst)) return forbidden(Role::kAnalyst);
    simdjson::dom::object obj;
    net::Response answer;
    if (!parse_object(parser, req.body, &obj, &answer)) return answer;
    std::optional<std::string> rule, logs, format;
    if (!string_member(obj, "rule", &rule, &answer) || !string_member(obj, "logs", &logs, &answer) ||
        !string_member(obj, "format", &format, &answer))
      return answer;
    if (!rule || rule->empty()) return error(400, "'rule' (Sigma YAML) is required");
    if (rule->size() > 1 << 20 || (logs && logs->size() > 4 << 20)) return error(413, "rule or logs too large");
    if (!hooks_.test_rule) return error(404, "the rule tester is not available here");
    return net::Response::json(200, hooks_.test_rule(*rule, logs ? *logs : "", format ? *format : "auto"));
  }

  if (route == "tokens" || route.substr(0, 7) == "tokens/") {
    if (!need(Role::kAdmin)) return forbidden(Role::kAdmin);
    if (!tokens_) return error(404, "tokens are managed by the daemon");
    if (route != "tokens") {
      // DELETE /tokens/{name}: revoke. A tenant's admin reaches only its tenant's tokens.
      if (req.method != "DELETE") return error(405, "use DELETE");
      const std::string name(route.substr(7));  // the server decoded the path
      if (Status st = tokens_->revoke(name, who.tenant, who.name); !st.ok()) return from_status(st);
      std::string out = "{";
      key(out, "revoked"), append_json_string(out, name);
      return net::Response::json(200, out + "}");
    }
    if (get) {
      std::string out = "{\"tokens\":[";
      bool first = true;
      for (const Principal& p : tokens_->list()) {
        if (!who.all_tenants() && p.tenant != who.tenant) continue;  // another tenant's business
        if (!first) out += ',';
        first = false;
        out += '{';
        key(out, "name"), append_json_string(out, p.name);
        out += ',', key(out, "role"), append_json_string(out, to_string(p.role));
        out += ',', key(out, "tenant"), append_json_string(out, p.tenant);
        out += ',', key(out, "created"), append_json_string(out, format_rfc3339_ns(p.created_unix_ns));
        out += ',', key(out, "expires");
        if (p.expires_unix_ns) append_json_string(out, format_rfc3339_ns(p.expires_unix_ns));
        else out += "null";
        out += ',', key(out, "last_used");
        if (p.last_used_unix_ns) append_json_string(out, format_rfc3339_ns(p.last_used_unix_ns));
        else out += "null";
        out += '}';
      }
      out += "]}";
      return net::Response::json(200, out);
    }
    if (!post) return error(405, "use GET or POST");
    simdjson::dom::object obj;
    net::Response answer;
    if (!parse_object(parser, req.body, &obj, &answer)) return answer;
    for (auto field : obj)
      if (field.key != "name" && field.key != "role" && field.key != "tenant" && field.key != "expires" &&
          field.key != "expires_in_days")
        return error(400, "unknown field '" + std::string(field.key) + "' (name, role, tenant, expires, expires_in_days)");
    std::optional<std::string> name, role, tenant, expires;
    if (!string_member(obj, "name", &name, &answer) || !string_member(obj, "role", &role, &answer) ||
        !string_member(obj, "tenant", &tenant, &answer) || !string_member(obj, "expires", &expires, &answer))
      return answer;
    Principal p;
    p.name = name.value_or("");
    if (!role || !parse_role(*role, &p.role)) return error(400, "'role' must be viewer, analyst or admin");
    // A token never creates one with more rights or a wider scope than its own: a tenant's
    // admin creates tokens of its tenant (the default when none is named), never of "*".
    if (p.role > who.role) return error(403, "a token cannot create one with a higher role than its own");
    p.tenant = tenant.value_or(who.tenant);
    if (!who.all_tenants() && p.tenant != who.tenant)
      return error(403, "a tenant's token can only create tokens of its own tenant");
    simdjson::dom::element days;
    if (obj.at_key("expires_in_days").get(days) == simdjson::SUCCESS && !days.is_null()) {
      std::int64_t n = 0;
      if (expires) return error(400, "give 'expires' or 'expires_in_days', not both");
      if (days.get_int64().get(n) != simdjson::SUCCESS || n < 1 || n > 3650)
        return error(400, "'expires_in_days' must be a whole number from 1 to 3650");
      p.expires_unix_ns = now_unix_ns() + n * 86'400'000'000'000;
    } else if (expires) {
      if (!parse_rfc3339_ns(*expires, &p.expires_unix_ns))
        return error(400, "'expires' must be an RFC 3339 time such as 2027-06-30T00:00:00Z");
    }
    auto token = tokens_->create(p, who.name);
    if (!token) return from_status(token.error());
    std::string out = "{";
    key(out, "token"), append_json_string(out, *token);
    out += '}';
    net::Response created = net::Response::json(200, out);
    created.headers.emplace_back("Cache-Control", "no-store");  // a secret, shown once
    return created;
  }

  if (route == "audit") {
    if (!get) return error(405, "use GET");
    if (!need(Role::kAdmin)) return forbidden(Role::kAdmin);
    // The audit log records every tenant's actions: only an all-tenant admin reads it.
    if (!who.all_tenants()) return error(403, "the audit log is readable by an all-tenant admin only");
    std::size_t limit = 100;
    std::string cursor;
    for (const auto& [name, value] : req.query) {
      if (name == "limit") {
        if (!all_digits(value) || std::stoull(value) < 1 || std::stoull(value) > options_.max_page)
          return error(400, "'limit' must be between 1 and " + std::to_string(options_.max_page));
        limit = std::stoull(value);
      } else if (name == "cursor") {
        cursor = value;
      } else {
        return error(400, "unknown query parameter '" + name + "'");
      }
    }
    auto page = store_.audit_log(limit, cursor);
    if (!page) return from_status(page.error());
    std::string out = "{\"entries\":[";
    for (std::size_t i = 0; i < page->entries.size(); ++i) {
      const storage::AuditEntry& e = page->entries[i];
      if (i) out += ',';
      out += '{';
      key(out, "time"), append_json_string(out, format_rfc3339_ns(e.time_unix_ns));
      out += ',', key(out, "actor"), append_json_string(out, e.actor);
      out += ',', key(out, "action"), append_json_string(out, e.action);
      out += ',', key(out, "target"), append_json_string(out, e.target);
      out += ',', key(out, "detail"), append_json_string(out, e.detail);
      out += '}';
    }
    out += "],";
    key(out, "next_cursor"), append_json_string(out, page->next_cursor);
    out += '}';
    return net::Response::json(200, out);
  }
  return error(404, "no such endpoint: " + std::string(path));
}

Status AnalystApi::serve(net::HttpServer& server) {
  {
    std::lock_guard lock(mu_);
    for (unsigned i = 0; i < std::max(1u, options_.workers); ++i) workers_.emplace_back([this] { worker(); });
  }
  auto handler = [this](const net::Request& req, net::Responder respond) {
    std::string_view path = req.path;
    const bool open = path == "/api/v1/health" || path == "/api/v1/openapi.json" || path == "/api/v1/health/" ||
                      path == "/api/v1/openapi.json/";
    Principal who;
    if (!open) {
      auto auth = req.header("Authorization");
      if (!auth || auth->size() < 8 || !(auth->substr(0, 7) == "Bearer " || auth->substr(0, 7) == "bearer ")) {
        net::Response r = error(401, "missing bearer token (Authorization: Bearer <token>)");
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
        respond(std::move(r));
        return;
      }
      const TokenCheck check = tokens_ ? tokens_->authenticate(auth->substr(7), now_unix_ns(), &who)
                                       : TokenCheck::kUnknown;
      if (check != TokenCheck::kValid) {
        const bool expired = check == TokenCheck::kExpired;
        net::Response r = error(401, expired ? "token expired" : "unknown token");
        r.headers.emplace_back("WWW-Authenticate", expired ? "Bearer error=\"invalid_token\", error_description=\"expired\""
                                                           : "Bearer error=\"invalid_token\"");
        respond(std::move(r));
        return;
      }
    }
    std::unique_lock lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queued) {
      lock.unlock();
      respond(error(503, "the API is busy; retry"));
      return;
    }
    queue_.push_back([this, req, respond, who] { respond(handle(req, who)); });
    lock.unlock();
    cv_.notify_one();
  };
  for (const char* method : {"GET", "POST", "PUT", "DELETE", "PATCH"}) {
    if (Status st = server.route(method, "/api/v1/*", handler); !st.ok()) return st;
  }
  return Status::Ok();
}

void AnalystApi::worker() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_ && queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

void AnalystApi::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

}  // namespace vigil::api
