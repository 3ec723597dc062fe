#include "core/config.h"
#include "core/config_reader.h"

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
    case CollectorKind::kElasticsearch: return "elasticsearch";
    case CollectorKind::kRelp: return "relp";
  }
  return "?";
}

namespace {

// Reads one YAML document strictly. Every error carries file:line.
class Reader : public ConfigReader {
 public:
  using ConfigReader::ConfigReader;

  Status collector(const YAML::Node& n, CollectorConfig* c) const {
    if (auto st = check_keys(n, "collector",
                             {"name", "type", "listen", "tls", "paths", "poll_interval_ms",
                              "max_connections", "max_connections_per_address", "idle_timeout_s", "max_unacked", "token", "tokens", "tenant", "system",
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
    else if (type == "elasticsearch") c->kind = CollectorKind::kElasticsearch;
    else if (type == "relp") c->kind = CollectorKind::kRelp;
    else return error(n["type"].IsDefined() ? n["type"] : n,
                      "collector 'type' must be udp, tcp, tls, file, http, elasticsearch, relp or stdin" +
                          (type.empty() ? std::string() : ", got '" + type + "'"));
    if (auto st = string(n, "name", &c->name); !st.ok()) return st;
    if (c->name.empty()) c->name = type;
    if (auto st = listen(n, "listen", &c->listen); !st.ok()) return st;
    if (auto st = tls(n, "tls", &c->tls); !st.ok()) return st;
    if (auto st = strings(n, "paths", &c->paths); !st.ok()) return st;
    if (auto st = integer(n, "poll_interval_ms", &c->poll_interval_ms, 10, 60000); !st.ok()) return st;
    if (auto st = integer(n, "max_connections", &c->max_connections, 1, 1000000); !st.ok()) return st;
    if (auto st = integer(n, "max_connections_per_address", &c->max_connections_per_address, 1, 1000000); !st.ok())
      return st;
    if (auto st = integer(n, "idle_timeout_s", &c->idle_timeout_s, 1, 86400); !st.ok()) return st;
    if (auto st = integer(n, "max_unacked", &c->max_unacked, 1, 1000000); !st.ok()) return st;
    if (auto st = string(n, "token", &c->token); !st.ok()) return st;
    if (YAML::Node list = n["tokens"]; list.IsDefined() && !list.IsNull()) {
      if (!list.IsSequence()) return error(list, "'tokens' must be a list of {tenant, token_file | token_sha256}");
      for (const auto& item : list) {
        IngestTokenConfig t;
        if (auto st = ingest_token(item, &t); !st.ok()) return st;
        c->tokens.push_back(std::move(t));
      }
    }
    if (auto st = string(n, "tenant", &c->source.tenant); !st.ok()) return st;
    if (auto st = string(n, "system", &c->source.system); !st.ok()) return st;
    if (auto st = logsource(n, &c->source.product, &c->source.category, &c->source.service); !st.ok())
      return st;
    if (auto st = format(n, &c->source.format); !st.ok()) return st;
    switch (c->kind) {
      case CollectorKind::kUdp:
      case CollectorKind::kTcp:
      case CollectorKind::kRelp:
        if (!n["listen"].IsDefined()) return error(n, "collector '" + c->name + "' needs 'listen: host:port'");
        break;
      case CollectorKind::kElasticsearch:
        if (!n["listen"].IsDefined())
          return error(n, "collector '" + c->name + "' needs 'listen: host:port' (shippers' default is 9200)");
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

  Status ingest_token(const YAML::Node& n, IngestTokenConfig* t) const {
    if (auto st = check_keys(n, "ingest token", {"tenant", "system", "token_file", "token_sha256"}); !st.ok())
      return st;
    t->line = n.Mark().line + 1;
    std::string file;
    if (auto st = string(n, "tenant", &t->tenant); !st.ok()) return st;
    if (auto st = string(n, "system", &t->system); !st.ok()) return st;
    if (auto st = string(n, "token_file", &file); !st.ok()) return st;
    if (auto st = string(n, "token_sha256", &t->token_sha256); !st.ok()) return st;
    if (t->tenant.empty()) return error(n, "an ingest token needs the 'tenant' its events belong to");
    if (file.empty() == t->token_sha256.empty())
      return error(n, "an ingest token needs exactly one of 'token_file' or 'token_sha256'");
    if (!t->token_sha256.empty() &&
        (t->token_sha256.size() != 64 || t->token_sha256.find_first_not_of("0123456789abcdef") != std::string::npos))
      return error(n["token_sha256"], "'token_sha256' must be 64 lowercase hex digits (sha256sum of the token)");
    if (!file.empty()) {
      std::ifstream in(file, std::ios::binary);
      if (!in) return error(n["token_file"], "cannot read token_file '" + file + "': " + std::strerror(errno));
      std::stringstream text;
      text << in.rdbuf();
      t->token = text.str();
      while (!t->token.empty() && (t->token.back() == '\n' || t->token.back() == '\r' || t->token.back() == ' '))
        t->token.pop_back();
      if (t->token.size() < 16)
        return error(n["token_file"], "the token in '" + file + "' is shorter than 16 characters");
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
                              "collectors", "sources", "api", "forwarding", "correlation", "silence"});
        !st.ok())
      return st;
    // Sections owned by a feature, which reads them itself with a ConfigReader.
    for (const char* section : {"api", "forwarding", "correlation", "silence"})
      if (YAML::Node n = root[section]; n.IsDefined() && !n.IsNull()) c->sections[section] = n;
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
      if (auto st = check_keys(s, "store", {"sync", "retention_days", "min_free_mib"}); !st.ok()) return st;
      if (auto st = boolean(s, "sync", &c->store_sync); !st.ok()) return st;
      if (auto st = integer(s, "min_free_mib", &c->store_min_free_mib, 0, 1 << 30); !st.ok()) return st;
      if (auto st = integer(s, "retention_days", &c->retention_days, 0, 36500); !st.ok()) return st;
    }
    if (YAML::Node m = root["metrics"]; m.IsDefined()) {
      if (m.IsScalar() && (m.Scalar() == "off" || m.Scalar() == "false")) {
        c->metrics_enabled = false;
      } else if (!m.IsNull()) {
        if (auto st = check_keys(m, "metrics", {"listen", "enabled"}); !st.ok()) return st;
        c->metrics_line = m.Mark().line + 1;
        if (auto st = listen(m, "listen", &c->metrics_listen); !st.ok()) return st;
        if (auto st = boolean(m, "enabled", &c->metrics_enabled); !st.ok()) return st;
      }
    }
    if (YAML::Node h = root["http"]; h.IsDefined() && !h.IsNull()) {
      if (auto st = check_keys(h, "http", {"listen", "tls", "enabled", "max_connections", "max_connections_per_address"});
          !st.ok())
        return st;
      if (auto st = integer(h, "max_connections", &c->http_max_connections, 1, 1000000); !st.ok()) return st;
      if (auto st = integer(h, "max_connections_per_address", &c->http_max_connections_per_address, 1, 1000000);
          !st.ok())
        return st;
      c->http_line = h.Mark().line + 1;
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
        // Off loopback, an ingest without a token lets anyone who reaches the port plant alerts
        // under any tenant.
        if (cc.kind == CollectorKind::kHttp && !is_loopback_host(c->http_listen.host) && cc.token.empty() &&
            cc.tokens.empty())
          return error(item, "collector '" + cc.name + "' takes events from the network (http listen " +
                                 c->http_listen.text() +
                                 ") without a token: set 'tokens' (one per tenant) or 'token', or listen on 127.0.0.1");
        if (cc.kind == CollectorKind::kElasticsearch && !is_loopback_host(cc.listen.host) && cc.token.empty() &&
            cc.tokens.empty())
          return error(item, "collector '" + cc.name + "' takes events from the network (listen " + cc.listen.text() +
                                 ") without a token: set 'tokens' (one per tenant) or 'token', or listen on 127.0.0.1");
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

};

}  // namespace

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::vector<std::string> exposure_warnings(const Config& c) {
  std::vector<std::string> out;
  auto at = [&](int line) { return c.file + ":" + std::to_string(line) + ": "; };
  if (c.metrics_enabled && !is_loopback_host(c.metrics_listen.host))
    out.push_back(at(c.metrics_line) + "metrics on " + c.metrics_listen.text() +
                  " are readable by anyone who reaches the port (rule names, alert and event counts); keep them "
                  "on 127.0.0.1 or allow only the Prometheus server in the firewall");
  if (c.http_enabled && !is_loopback_host(c.http_listen.host) && !c.http_tls.enabled())
    out.push_back(at(c.http_line) + "the HTTP server on " + c.http_listen.text() +
                  " (API, console, ingest) is plain HTTP off loopback: tokens and alerts cross the network in "
                  "clear; set http.tls");
  for (const CollectorConfig& cc : c.collectors) {
    const bool remote = !is_loopback_host(cc.listen.host);
    if ((cc.kind == CollectorKind::kUdp || cc.kind == CollectorKind::kTcp) && remote)
      out.push_back(at(cc.line) + "collector '" + cc.name + "' (" + to_string(cc.kind) + ") on " + cc.listen.text() +
                    " accepts events from anyone who reaches it, unauthenticated and in clear; allow only your "
                    "senders in the firewall, or use a tls collector with 'ca'");
    if (cc.kind == CollectorKind::kRelp && remote && (!cc.tls.enabled() || cc.tls.ca_file.empty()))
      out.push_back(at(cc.line) + "collector '" + cc.name + "' (relp) on " + cc.listen.text() +
                    (cc.tls.enabled() ? " does not check client certificates: anyone who reaches it can send events; "
                                        "set tls.ca"
                                      : " accepts events from anyone who reaches it, unauthenticated and in clear; "
                                        "allow only your senders in the firewall, or set tls with 'ca'"));
    if (cc.kind == CollectorKind::kElasticsearch && remote && !cc.tls.enabled())
      out.push_back(at(cc.line) + "collector '" + cc.name + "' (elasticsearch) on " + cc.listen.text() +
                    " is plain HTTP off loopback: its tokens and events cross the network in clear; set tls");
    if (cc.kind == CollectorKind::kTls && remote && cc.tls.ca_file.empty())
      out.push_back(at(cc.line) + "collector '" + cc.name + "' (tls) on " + cc.listen.text() +
                    " does not check client certificates: anyone who reaches it can send events; set tls.ca");
  }
  return out;
}

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
