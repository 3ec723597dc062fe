#pragma once
// Strict reading of YAML configuration: every accessor checks the type and range and every
// error names the file and line ("vigil.yml:12: 'port' must be an integer"). Used by the
// daemon's config (core/config.cpp) and by the features that own a section of it (the API,
// forwarding, correlation: see Config::sections).
#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/status.h"

namespace vigil {

class ConfigReader {
 public:
  explicit ConfigReader(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }

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


 private:
  std::string file_;
};

}  // namespace vigil
