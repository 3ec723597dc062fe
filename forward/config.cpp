#include "forward/config.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/source_assign.h"
#include "storage/outbox.h"

namespace vigil::forward {

bool AlertFilter::matches(const Alert& alert) const {
  if (alert.level < min_level) return false;
  if (!tenants.empty() && std::find(tenants.begin(), tenants.end(), alert.tenant) == tenants.end()) return false;
  if (!rule_ids.empty() && std::find(rule_ids.begin(), rule_ids.end(), alert.rule_id) == rule_ids.end()) return false;
  if (!tag_globs.empty()) {
    for (const std::string& tag : alert.tags)
      for (const std::string& glob : tag_globs)
        if (glob_match_icase(glob, tag)) return true;
    return false;
  }
  return true;
}

namespace {

std::string this_host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "vigil";
  return buf;
}

Status check_file(const ConfigReader& r, const YAML::Node& node, const std::string& path, const char* what) {
  std::error_code ec;
  if (!path.empty() && !std::filesystem::is_regular_file(path, ec))
    return r.error(node, std::string(what) + " '" + path + "' is not a readable file");
  return Status::Ok();
}

Status parse_filter(const YAML::Node& n, const ConfigReader& r, AlertFilter* f) {
  if (!n.IsDefined() || n.IsNull()) return Status::Ok();
  if (auto st = r.check_keys(n, "filter", {"min_level", "tenants", "tags", "rules"}); !st.ok()) return st;
  std::string level;
  if (auto st = r.string(n, "min_level", &level); !st.ok()) return st;
  if (!level.empty() && !parse_alert_level(level, &f->min_level))
    return r.error(n["min_level"], "'min_level' must be informational, low, medium, high or critical, got '" + level + "'");
  if (auto st = r.strings(n, "tenants", &f->tenants); !st.ok()) return st;
  if (auto st = r.strings(n, "tags", &f->tag_globs); !st.ok()) return st;
  return r.strings(n, "rules", &f->rule_ids);
}

Status parse_client_tls(const YAML::Node& n, const ConfigReader& r, ClientTls* t) {
  if (auto st = r.check_keys(n, "tls", {"ca", "cert", "key", "verify"}); !st.ok()) return st;
  if (auto st = r.string(n, "ca", &t->ca_file); !st.ok()) return st;
  if (auto st = r.string(n, "cert", &t->cert_file); !st.ok()) return st;
  if (auto st = r.string(n, "key", &t->key_file); !st.ok()) return st;
  if (auto st = r.boolean(n, "verify", &t->verify); !st.ok()) return st;
  if (t->cert_file.empty() != t->key_file.empty()) return r.error(n, "'tls' needs both 'cert' and 'key' for a client certificate");
  if (auto st = check_file(r, n["ca"], t->ca_file, "tls ca"); !st.ok()) return st;
  if (auto st = check_file(r, n["cert"], t->cert_file, "tls cert"); !st.ok()) return st;
  return check_file(r, n["key"], t->key_file, "tls key");
}

Status parse_destination(const YAML::Node& n, const ConfigReader& r, DestinationConfig* d) {
  d->line = n.Mark().line + 1;
  if (!n.IsMap()) return r.error(n, "a destination must be a mapping");
  std::string type;
  if (auto st = r.string(n, "type", &type); !st.ok()) return st;
  if (type == "webhook") d->kind = DestinationKind::kWebhook;
  else if (type == "cef") d->kind = DestinationKind::kCef;
  else return r.error(n["type"].IsDefined() ? n["type"] : n, "destination 'type' must be webhook or cef, got '" + type + "'");
  if (d->kind == DestinationKind::kWebhook) {
    if (auto st = r.check_keys(n, "webhook destination",
                               {"name", "type", "url", "token", "hmac_secret", "gzip", "tls", "filter", "batch_max_alerts",
                                "connect_timeout_ms", "timeout_ms", "retry"});
        !st.ok())
      return st;
  } else {
    if (auto st = r.check_keys(n, "cef destination",
                               {"name", "type", "address", "tls", "hostname", "filter", "batch_max_alerts",
                                "connect_timeout_ms", "timeout_ms", "retry"});
        !st.ok())
      return st;
  }
  if (auto st = r.string(n, "name", &d->name); !st.ok()) return st;
  if (!storage::valid_destination_name(d->name))
    return r.error(n["name"].IsDefined() ? n["name"] : n,
                   "destination 'name' must be 1-64 letters, digits, '.', '_' or '-', got '" + d->name + "'");
  if (auto st = parse_filter(n["filter"], r, &d->filter); !st.ok()) return st;
  if (auto st = r.integer(n, "batch_max_alerts", &d->batch_max_alerts, 1, 10000); !st.ok()) return st;
  long long connect_ms = d->connect_timeout.count(), timeout_ms = d->timeout.count();
  if (auto st = r.integer(n, "connect_timeout_ms", &connect_ms, 10, 600000); !st.ok()) return st;
  if (auto st = r.integer(n, "timeout_ms", &timeout_ms, 10, 3600000); !st.ok()) return st;
  d->connect_timeout = std::chrono::milliseconds(connect_ms);
  d->timeout = std::chrono::milliseconds(timeout_ms);
  if (YAML::Node retry = n["retry"]; retry.IsDefined() && !retry.IsNull()) {
    if (auto st = r.check_keys(retry, "retry", {"initial_ms", "max_ms"}); !st.ok()) return st;
    long long initial = d->retry.initial.count(), max = d->retry.max.count();
    if (auto st = r.integer(retry, "initial_ms", &initial, 1, 3600000); !st.ok()) return st;
    if (auto st = r.integer(retry, "max_ms", &max, 1, 86400000); !st.ok()) return st;
    if (max < initial) return r.error(retry, "'max_ms' must not be less than 'initial_ms'");
    d->retry.initial = std::chrono::milliseconds(initial);
    d->retry.max = std::chrono::milliseconds(max);
  }
  if (YAML::Node tls = n["tls"]; tls.IsDefined() && !tls.IsNull()) {
    if (auto st = parse_client_tls(tls, r, &d->tls); !st.ok()) return st;
    d->tls_enabled = true;
  }
  if (d->kind == DestinationKind::kWebhook) {
    if (auto st = r.string(n, "url", &d->url); !st.ok()) return st;
    if (d->url.rfind("https://", 0) != 0 && d->url.rfind("http://", 0) != 0)
      return r.error(n["url"].IsDefined() ? n["url"] : n, "webhook 'url' must start with https:// or http://, got '" + d->url + "'");
    if (auto st = r.string(n, "token", &d->bearer_token); !st.ok()) return st;
    if (auto st = r.string(n, "hmac_secret", &d->hmac_secret); !st.ok()) return st;
    return r.boolean(n, "gzip", &d->gzip);
  }
  ListenAddress address;
  address.host.clear();
  if (auto st = r.listen(n, "address", &address); !st.ok()) return st;
  if (address.host.empty() || address.port == 0)
    return r.error(n["address"].IsDefined() ? n["address"] : n, "cef destination needs 'address: host:port'");
  d->host = address.host;
  d->port = address.port;
  if (auto st = r.string(n, "hostname", &d->hostname); !st.ok()) return st;
  if (d->hostname.empty()) d->hostname = this_host_name();
  return Status::Ok();
}

}  // namespace

Result<ForwardingConfig> parse_forwarding_config(const YAML::Node& node, const ConfigReader& r) {
  ForwardingConfig out;
  if (auto st = r.check_keys(node, "forwarding", {"sender", "destinations", "receive"}); !st.ok()) return Error(st);
  if (auto st = r.string(node, "sender", &out.sender); !st.ok()) return Error(st);
  if (out.sender.empty()) out.sender = this_host_name();
  if (YAML::Node list = node["destinations"]; list.IsDefined() && !list.IsNull()) {
    if (!list.IsSequence()) return Error(r.error(list, "'destinations' must be a list"));
    std::set<std::string> names;
    for (const auto& item : list) {
      DestinationConfig d;
      if (auto st = parse_destination(item, r, &d); !st.ok()) return Error(st);
      if (!names.insert(d.name).second) return Error(r.error(item, "destination name '" + d.name + "' is used twice"));
      out.destinations.push_back(std::move(d));
    }
  }
  if (YAML::Node rec = node["receive"]; rec.IsDefined() && !rec.IsNull()) {
    if (auto st = r.check_keys(rec, "receive", {"path", "senders"}); !st.ok()) return Error(st);
    out.receive.enabled = true;
    if (auto st = r.string(rec, "path", &out.receive.path); !st.ok()) return Error(st);
    if (out.receive.path.empty() || out.receive.path[0] != '/')
      return Error(r.error(rec["path"], "'path' must start with '/'"));
    YAML::Node senders = rec["senders"];
    if (!senders.IsDefined() || !senders.IsSequence() || senders.size() == 0)
      return Error(r.error(senders.IsDefined() ? senders : rec, "'receive' needs a list 'senders' of {name, token}"));
    std::set<std::string> tokens;
    for (const auto& s : senders) {
      ReceiverSender rs;
      if (auto st = r.check_keys(s, "sender", {"name", "token", "hmac_secret"}); !st.ok()) return Error(st);
      if (auto st = r.string(s, "name", &rs.name); !st.ok()) return Error(st);
      if (auto st = r.string(s, "token", &rs.token); !st.ok()) return Error(st);
      if (auto st = r.string(s, "hmac_secret", &rs.hmac_secret); !st.ok()) return Error(st);
      if (rs.name.empty() || rs.token.empty()) return Error(r.error(s, "a sender needs 'name' (its tenant) and 'token'"));
      if (!tokens.insert(rs.token).second) return Error(r.error(s, "two senders share one token"));
      out.receive.senders.push_back(std::move(rs));
    }
  }
  if (out.destinations.empty() && !out.receive.enabled)
    return Error(r.error(node, "'forwarding' needs 'destinations' or 'receive'"));
  return out;
}

}  // namespace vigil::forward
