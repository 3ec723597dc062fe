#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace vigil {

const char* to_string(CollectorKind kind) {
  switch (kind) {
    case CollectorKind::kUdp: return "udp";
    case CollectorKind::kTcp: return "tcp";
    case CollectorKind::kTls: return "tls";
    case CollectorKind::kFile: return "file";
    case CollectorKind::kHttp: return "http";
    case CollectorKind::kStdin: return "stdin";
  }
  return "?";
}

namespace {

// Reads one YAML document strictly. Every error carries file:line.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  Status error(const YAML::Node& node, const std::string& reason) const {
    int line = node.IsDefined() ? node.Mark().line + 1 : 0;
    return Status::InvalidArgument(file_ + ":" + std::to_string(line > 0 ? line : 1) + ": " + reason);
  }

  // Fails on keys that are not in `allowed`.
  Status check_keys(const YAML::Node& map, const std::string& what,
                    std::initializer_list<const char*> allowed) const {
    if (!map.IsMap()) return error(map, what + " must be a mapping");
    std::set<std::string> ok(allowed.begin(), allowed.end());
    for (const auto& kv : map) {
      std::string key = kv.first.Scalar();
      if (!ok.count(key)) {
        std::string list;
        for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
        return error(kv.first, "unknown key '" + key + "' in " + what + " (known: " + list + ")");
      }
    }
    return Status::Ok();
  }

  Status string(const YAML::Node& map, const char* key, std::string* out) const {
    YAML::Node n = map[key];
    if (!n.IsDefined() || n.IsNull()) return Status::Ok();
    if (!n.IsScalar()) return error(n, std::string("'") + key + "' must be a string");
    *out = n.Scalar();
    return Status::Ok();
  }

  template <typename Int>
  Status integer(const YAML::Node& map, const char* key, Int* out, long long lo, long long hi) const {
    YAML::Node n = map[key];
    if (!n.IsDefined() || n.IsNull()) return Status::Ok();
    long long v = 0;
    if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v))
      return error(n, std::string("'") + key + "' must be an integer");
    if (v < lo || v > hi)
      return error(n, std::string("'") + key + "' must be between " + std::to_string(lo) + " and " +
                          std::to_string(hi) + ", got " + std::to_string(v));
    *out = static_cast<Int>(v);
    return Status::Ok();
  }

  Status boolean(const YAML::Node& map, const char* key, bool* out) const {
    YAML::Node n = map[key];
    if (!n.IsDefined() || n.IsNull()) return Status::Ok();
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v))
      return error(n, std::string("'") + key + "' must be true or false");
    *out = v;
    return Status::Ok();
  }

  Status strings(const YAML::Node& map, const char* key, std::vector<std::string>* out) const {
    YAML::Node n = map[key];
    if (!n.IsDefined() || n.IsNull()) return Status::Ok();
    out->clear();
    if (n.IsScalar()) {
      out->push_back(n.Scalar());
      return Status::Ok();
    }
    if (!n.IsSequence()) return error(n, std::string("'") + key + "' must be a list of strings");
    for (const auto& item : n) {
      if (!item.IsScalar()) return error(item, std::string("'") + key + "' must be a list of strings");
      out->push_back(item.Scalar());
    }
    return Status::Ok();
  }

  // "host:port", "[v6]:port" or ":port".
  Status listen(const YAML::Node& map, const char* key, ListenAddress* out) const {
    YAML::Node n = map[key];
    if (!n.IsDefined() || n.IsNull()) return Status::Ok();
    if (!n.IsScalar()) return error(n, std::string("'") + key + "' must be host:port");
    std::string text = n.Scalar();
    auto colon = text.rfind(':');
    if (colon == std::string::npos) return error(n, "'" + text + "' is not host:port");
    std::string host = text.substr(0, colon), port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty()) host = "0.0.0.0";
    long p = -1;
    if (!port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos)
      p = std::stol(port);
    if (p < 0 || p > 65535) return error(n, "'" + text + "' has no valid port (0-65535)");
    out->host = host;
    out->port = static_cast<std::uint16_t>(p);
    return Status::Ok();
  }

  Status tls(const YAML::Node& map, const char* key, TlsConfig* out) const {
    YAML::Node n = map[key];
    if (!n.IsDefined() || n.IsNull()) return Status::Ok();
    if (auto st = check_keys(n, key, {"cert", "key", "ca"}); !st.ok()) return st;
    if (auto st = string(n, "cert", &out->cert_file); !st.ok()) return st;
    if (auto st = string(n, "key", &out->key_file); !st.ok()) return st;
    if (auto st = string(n, "ca", &out->ca_file); !st.ok()) return st;
    if (out->cert_file.empty() || out->key_file.empty())
      return error(n, std::string("'") + key + "' needs both 'cert' and 'key'");
    return Status::Ok();
  }

  Status logsource(const YAML::Node& map, std::string* product, std::string* category,
                   std::string* service) const {
    YAML::Node n = map["logsource"];
    if (!n.IsDefined() || n.IsNull()) return Status::Ok();
    if (auto st = check_keys(n, "logsource", {"product", "category", "service"}); !st.ok()) return st;
    if (auto st = string(n, "product", product); !st.ok()) return st;
    if (auto st = string(n, "category", category); !st.ok()) return st;
    return string(n, "service", service);
  }

  Status format(const YAML::Node& map, LogFormat* out) const {
    std::string text;
    if (auto st = string(map, "format", &text); !st.ok()) return st;
    if (text.empty()) return Status::Ok();
    if (!parse_log_format(text, out))
      return error(map["format"], "unknown format '" + text +
                                      "' (auto, json, rfc3164, rfc5424, cef, kv, access, plain)");
    return Status::Ok();
  }

  Status collector(const YAML::Node& n, CollectorConfig* c) const {
    if (auto st = check_keys(n, "collector",
                             {"name", "type", "listen", "tls", "paths", "poll_interval_ms",
                              "max_connections", "idle_timeout_s", "token", "tenant", "system",
                              "logsource", "format"});
        !st.ok())
      return st;
    c->line = n.Mark().line + 1;
    std::string type;
    if (auto st = string(n, "type", &type); !st.ok()) return st;
    if (type == "udp") c->kind = CollectorKind::kUdp;
    else if (type == "tcp") c->kind = CollectorKind::kTcp;
    else if (type == "tls") c->kind = CollectorKind::kTls;
    else if (type == "file") c->kind = CollectorKind::kFile;
    else if (type == "http") c->kind = CollectorKind::kHttp;
    else if (type == "stdin") c->kind = CollectorKind::kStdin;
    else return error(n["type"].IsDefined() ? n["type"] : n,
                      "collector 'type' must be udp, tcp, tls, file, http or stdin" +
                          (type.empty() ? std::string() : ", got '" + type + "'"));
    if (auto st = string(n, "name", &c->name); !st.ok()) return st;
    if (c->name.empty()) c->name = type;
    if (auto st = listen(n, "listen", &c->listen); !st.ok()) return st;
    if (auto st = tls(n, "tls", &c->tls); !st.ok()) return st;
    if (auto st = strings(n, "paths", &c->paths); !st.ok()) return st;
    if (auto st = integer(n, "poll_interval_ms", &c->poll_interval_ms, 10, 60000); !st.ok()) return st;
    if (auto st = integer(n, "max_connections", &c->max_connections, 1, 1000000); !st.ok()) return st;
    if (auto st = integer(n, "idle_timeout_s", &c->idle_timeout_s, 1, 86400); !st.ok()) return st;
    if (auto st = string(n, "token", &c->token); !st.ok()) return st;
    if (auto st = string(n, "tenant", &c->source.tenant); !st.ok()) return st;
    if (auto st = string(n, "system", &c->source.system); !st.ok()) return st;
    if (auto st = logsource(n, &c->source.product, &c->source.category, &c->source.service); !st.ok())
      return st;
    if (auto st = format(n, &c->source.format); !st.ok()) return st;
    switch (c->kind) {
      case CollectorKind::kUdp:
      case CollectorKind::kTcp:
        if (!n["listen"].IsDefined()) return error(n, "collector '" + c->name + "' needs 'listen: host:port'");
        break;
      case CollectorKind::kTls:
        if (!n["listen"].IsDefined()) return error(n, "collector '" + c->name + "' needs 'listen: host:port'");
        if (!c->tls.enabled()) return error(n, "tls collector '" + c->name + "' needs 'tls: {cert: FILE, key: FILE}'");
        break;
      case CollectorKind::kFile:
        if (c->paths.empty()) return error(n, "file collector '" + c->name + "' needs 'paths: [GLOB, ...]'");
        break;
      case CollectorKind::kHttp:
      case CollectorKind::kStdin:
        break;
    }
    return Status::Ok();
  }

  Status source_rule(const YAML::Node& n, SourceRuleConfig* r) const {
    if (auto st = check_keys(n, "source rule",
                             {"cidr", "host", "tenant", "system", "logsource"});
        !st.ok())
      return st;
    r->line = n.Mark().line + 1;
    if (auto st = string(n, "cidr", &r->cidr); !st.ok()) return st;
    if (auto st = string(n, "host", &r->host_glob); !st.ok()) return st;
    if (r->cidr.empty() == r->host_glob.empty())
      return error(n, "a source rule needs exactly one of 'cidr' or 'host'");
    if (auto st = string(n, "tenant", &r->tenant); !st.ok()) return st;
    if (auto st = string(n, "system", &r->system); !st.ok()) return st;
    return logsource(n, &r->product, &r->category, &r->service);
  }

  Status document(const YAML::Node& root, Config* c) const {
    if (root.IsNull()) return Status::Ok();  // empty file: every default
    if (auto st = check_keys(root, "the configuration",
                             {"data_dir", "rules", "pipeline", "store", "metrics", "http",
                              "collectors", "sources"});
        !st.ok())
      return st;
    if (auto st = string(root, "data_dir", &c->data_dir); !st.ok()) return st;
    if (c->data_dir.empty()) return error(root["data_dir"], "'data_dir' must not be empty");
    if (auto st = strings(root, "rules", &c->rules); !st.ok()) return st;
    if (YAML::Node p = root["pipeline"]; p.IsDefined() && !p.IsNull()) {
      if (auto st = check_keys(p, "pipeline",
                               {"matcher_threads", "max_in_flight_batches", "max_in_flight_mib", "batch_max_records",
                                "batch_max_delay_ms", "max_record_bytes"});
          !st.ok())
        return st;
      if (auto st = integer(p, "matcher_threads", &c->matcher_threads, 1, 256); !st.ok()) return st;
      if (auto st = integer(p, "max_in_flight_batches", &c->max_in_flight_batches, 1, 100000); !st.ok()) return st;
      std::size_t mib = c->max_in_flight_bytes >> 20;
      if (auto st = integer(p, "max_in_flight_mib", &mib, 1, 1 << 20); !st.ok()) return st;
      c->max_in_flight_bytes = mib << 20;
      if (auto st = integer(p, "batch_max_records", &c->batch_max_records, 1, 1000000); !st.ok()) return st;
      if (auto st = integer(p, "batch_max_delay_ms", &c->batch_max_delay_ms, 0, 10000); !st.ok()) return st;
      if (auto st = integer(p, "max_record_bytes", &c->max_record_bytes, 1024, 1LL << 30); !st.ok()) return st;
    }
    if (YAML::Node s = root["store"]; s.IsDefined() && !s.IsNull()) {
      if (auto st = check_keys(s, "store", {"sync", "retention_days"}); !st.ok()) return st;
      if (auto st = boolean(s, "sync", &c->store_sync); !st.ok()) return st;
      if (auto st = integer(s, "retention_days", &c->retention_days, 0, 36500); !st.ok()) return st;
    }
    if (YAML::Node m = root["metrics"]; m.IsDefined()) {
      if (m.IsScalar() && (m.Scalar() == "off" || m.Scalar() == "false")) {
        c->metrics_enabled = false;
      } else if (!m.IsNull()) {
        if (auto st = check_keys(m, "metrics", {"listen", "enabled"}); !st.ok()) return st;
        if (auto st = listen(m, "listen", &c->metrics_listen); !st.ok()) return st;
        if (auto st = boolean(m, "enabled", &c->metrics_enabled); !st.ok()) return st;
      }
    }
    if (YAML::Node h = root["http"]; h.IsDefined() && !h.IsNull()) {
      if (auto st = check_keys(h, "http", {"listen", "tls", "enabled"}); !st.ok()) return st;
      if (auto st = listen(h, "listen", &c->http_listen); !st.ok()) return st;
      if (auto st = tls(h, "tls", &c->http_tls); !st.ok()) return st;
      if (auto st = boolean(h, "enabled", &c->http_enabled); !st.ok()) return st;
    }
    if (YAML::Node list = root["collectors"]; list.IsDefined() && !list.IsNull()) {
      if (!list.IsSequence()) return error(list, "'collectors' must be a list");
      c->collectors.clear();
      std::set<std::string> names;
      for (const auto& item : list) {
        CollectorConfig cc;
        if (auto st = collector(item, &cc); !st.ok()) return st;
        if (!names.insert(cc.name).second)
          return error(item, "two collectors are named '" + cc.name + "'; names label metrics and must be unique");
        if (cc.kind == CollectorKind::kHttp && !c->http_enabled)
          return error(item, "an http collector needs the http server (http: enabled: true)");
        c->collectors.push_back(std::move(cc));
      }
    }
    if (YAML::Node list = root["sources"]; list.IsDefined() && !list.IsNull()) {
      if (!list.IsSequence()) return error(list, "'sources' must be a list");
      for (const auto& item : list) {
        SourceRuleConfig r;
        if (auto st = source_rule(item, &r); !st.ok()) return st;
        c->sources.push_back(std::move(r));
      }
    }
    return Status::Ok();
  }

 private:
  std::string file_;
};

}  // namespace

Result<Config> parse_config(const std::string& yaml_text, const std::string& file) {
  Config config;
  config.file = file;
  config.collectors.clear();
  Reader reader(file);
  // yaml-cpp reports syntax errors by exception; this is start-up, not the hot path.
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Error(Status::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg));
  }
  try {
    if (auto st = reader.document(root, &config); !st.ok()) return Error(st);
  } catch (const YAML::Exception& e) {
    return Error(Status::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg));
  }
  return config;
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Status::IoError(path + ": cannot open: " + std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

Result<Config> default_config() { return parse_config(kDefaultConfigYaml, "(embedded default)"); }

}  // namespace vigil
