#include "app/alerts_command.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "api/analyst_api.h"
#include "core/alert_json.h"
#include "net/http_server.h"
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

std::string env_or(const std::string& value, const char* name) {
  if (!value.empty()) return value;
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Percent-encodes a query value.
std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out.push_back(static_cast<char>(c));
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

struct Reply {
  unsigned status = 0;
  std::string body;
};

// One request to the daemon's API (plain HTTP; the daemon's address from --url/VIGIL_URL, else
// the default configuration's 127.0.0.1:8080).
Result<Reply> call_api(const std::string& url, const std::string& token, const std::string& method,
                       const std::string& target, const std::string& body) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  std::string rest = url;
  if (rest.rfind("https://", 0) == 0)
    return Error(Status::Unsupported("vigil alerts speaks plain HTTP; for a TLS daemon use curl or a local proxy"));
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  std::string host = rest, port = "80";
  if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  try {
    boost::asio::io_context io;
    boost::asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(host, port));
    http::request<http::string_body> req(method == "POST" ? http::verb::post : http::verb::get, target, 11);
    req.set(http::field::host, host);
    req.set(http::field::authorization, "Bearer " + token);
    if (method == "POST") {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    http::read(stream, buffer, parser);
    beast::error_code ec;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    return Reply{parser.get().result_int(), parser.get().body()};
  } catch (const std::exception& e) {
    return Error(Status::IoError("cannot reach the vigil API at " + url + ": " + e.what()));
  }
}

// Where requests go: the daemon's API, or the request handler run here on the data directory.
class Endpoint {
 public:
  Endpoint(std::string data_dir, std::string url, std::string token)
      : data_dir_(std::move(data_dir)), url_(env_or(url, "VIGIL_URL")), token_(env_or(token, "VIGIL_TOKEN")) {
    if (url_.empty()) url_ = "http://127.0.0.1:8080";
  }
  bool remote() const { return !token_.empty(); }

  Result<Reply> request(const std::string& method, const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& query, const std::string& body) {
    if (remote()) {
      std::string target = path;
      for (std::size_t i = 0; i < query.size(); ++i)
        target += (i ? "&" : "?") + query[i].first + "=" + url_encode(query[i].second);
      return call_api(url_, token_, method, target, body);
    }
    const bool write = method == "POST";
    if (!store_) {
      if (write) {
        std::error_code ec;
        if (!std::filesystem::exists(std::filesystem::path(data_dir_) / "CURRENT", ec))
          return Error(Status::NotFound("no alert store in '" + data_dir_ + "' (see --data-dir)"));
        storage::StoreOptions o;
        o.dir = data_dir_;
        auto s = storage::AlertStore::open(o);
        if (!s) {
          if (s.error().message().find("another vigil process") != std::string::npos)
            return Error(Status::InvalidArgument(
                "the daemon is running on " + data_dir_ + ": change alerts through its API with --token (or "
                "VIGIL_TOKEN; the first admin token is in " + data_dir_ + "/admin.token) and --url"));
          return Error(s.error());
        }
        store_ = std::move(*s);
      } else {
        auto s = storage::AlertStore::open_read_only(data_dir_);
        if (!s) return Error(s.error());
        store_ = std::move(*s);
      }
      api_ = std::make_unique<api::AnalystApi>(api::ApiOptions{}, *store_, nullptr, api::ApiHooks{});
    }
    net::Request req;
    req.method = method;
    req.path = path;
    req.target = path;
    req.query = query;
    req.body = body;
    api::Principal who;
    const char* user = std::getenv("USER");
    who.name = std::string("local:") + (user ? user : "unknown");
    who.role = api::Role::kAdmin;
    who.tenant = "*";
    net::Response r = api_->handle(req, who);
    return Reply{r.status, std::move(r.body)};
  }

 private:
  std::string data_dir_, url_, token_;
  std::unique_ptr<storage::AlertStore> store_;
  std::unique_ptr<api::AnalystApi> api_;
};

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

// A missing member leaves the default value in place.
void absent_is_default(simdjson::error_code) {}

std::string get_str(simdjson::dom::element e, std::string_view k) {
  std::string_view v;
  if (e.at_key(k).get_string().get(v) == simdjson::SUCCESS) return std::string(v);
  return {};
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

// Prints an API answer: errors on stderr (exit 1), --json as is, else `table`.
int print_reply(const Result<Reply>& reply, bool json, std::FILE* out, std::FILE* err,
                const std::function<void(simdjson::dom::element)>& table) {
  if (!reply) {
    std::fprintf(err, "vigil alerts: %s\n", reply.error().message().c_str());
    return 2;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(reply->body).get(doc) != simdjson::SUCCESS) {
    std::fprintf(err, "vigil alerts: HTTP %u with a body that is not JSON: %.200s\n", reply->status, reply->body.c_str());
    return 1;
  }
  if (reply->status != 200) {
    std::fprintf(err, "vigil alerts: %s (HTTP %u)\n", get_str(doc, "error").c_str(), reply->status);
    return 1;
  }
  if (json) {
    std::fwrite(reply->body.data(), 1, reply->body.size(), out);
    std::fputc('\n', out);
  } else {
    table(doc);
  }
  return 0;
}

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
    int rc = print_reply(reply, false, out, err, [&](simdjson::dom::element doc) {
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
    return print_reply(endpoint.request("GET", "/api/v1/alerts/" + opt.id, {}, ""), opt.json, out, err,
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
    return print_reply(endpoint.request("POST", path, {}, body), opt.json, out, err, print_alert_row);
  }
  if (a == "stats") {
    std::vector<std::pair<std::string, std::string>> q;
    std::int64_t ago = 0;
    if (!parse_duration_ns(opt.since, &ago)) {
      std::fprintf(err, "vigil alerts stats: --since wants a duration such as 30m, 24h or 7d, got '%s'\n", opt.since.c_str());
      return 2;
    }
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
    q.emplace_back("from", std::to_string(now - ago / 1000000));
    q.emplace_back("to", std::to_string(now + 1));
    q.emplace_back("bucket", opt.bucket);
    if (!opt.tenant.empty()) q.emplace_back("tenant", opt.tenant);
    return print_reply(endpoint.request("GET", "/api/v1/stats", q, ""), opt.json, out, err,
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
