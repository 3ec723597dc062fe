#pragma once
// The daemon's configuration (`vigil run --config FILE`), read from YAML. docs/config.md is
// the reference; kDefaultConfigYaml (core/default_config.cpp) is what `vigil run` uses with no
// --config. Every error names the file, the line and the reason; unknown keys are errors, so a
// typo never silently leaves a default in place.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/status.h"

namespace vigil {

struct ListenAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};

struct TlsConfig {
  std::string cert_file, key_file;  // both set = TLS on
  std::string ca_file;              // optional: require client certificates signed by this CA
  bool enabled() const { return !cert_file.empty(); }
};

// Source identity given to a collector's events (tenant, system, declared logsource, format).
struct SourceDefaults {
  std::string tenant, system;
  std::string product, category, service;
  LogFormat format = LogFormat::kUnknown;
};

enum class CollectorKind { kUdp, kTcp, kTls, kFile, kHttp, kStdin, kElasticsearch, kRelp };
const char* to_string(CollectorKind kind);

// An ingest token bound to a tenant (http collectors): events sent with it belong to `tenant`
// (and `system` when set), whatever the request says.
struct IngestTokenConfig {
  std::string tenant, system;
  std::string token;         // the secret, read from token_file
  std::string token_sha256;  // or its SHA-256 in hex, when only the hash is configured
  int line = 0;
};

struct CollectorConfig {
  std::string name;
  CollectorKind kind = CollectorKind::kTcp;
  int line = 0;                         // where it was defined (for later error messages)
  ListenAddress listen;                 // udp, tcp, tls, elasticsearch, relp
  TlsConfig tls;                        // tls, elasticsearch, relp (optional)
  std::vector<std::string> paths;       // file: glob patterns
  std::uint32_t poll_interval_ms = 200;  // file
  std::uint32_t max_connections = 1024;  // tcp, tls
  std::uint32_t max_connections_per_address = 64;  // tcp, tls
  std::uint32_t idle_timeout_s = 300;    // tcp, tls, relp
  std::uint32_t max_unacked = 1024;      // relp: unanswered commands per connection
  std::string token;                    // http, elasticsearch: bearer token required ("" = none), any tenant
  std::vector<IngestTokenConfig> tokens;  // http, elasticsearch: tokens bound to tenants
  SourceDefaults source;
};

// Source assignment by sender address or by host name (first match wins).
// Whether `host` (a listen address) reaches only this machine: 127.0.0.0/8, ::1, localhost.
bool is_loopback_host(const std::string& host);

struct SourceRuleConfig {
  std::string cidr, host_glob;
  std::string tenant, system, product, category, service;
  int line = 0;
};

struct Config {
  std::string file;                            // "" for the embedded default
  std::string data_dir = "./vigil-data";
  std::vector<std::string> rules = {"@bundled"};  // files, folders, "@bundled"
  // Pipeline.
  unsigned matcher_threads = 2;
  std::size_t max_in_flight_batches = 64;
  std::size_t max_in_flight_bytes = 256u << 20;
  std::uint32_t batch_max_records = 4096;
  std::uint32_t batch_max_delay_ms = 10;
  std::size_t max_record_bytes = 1u << 20;
  // Store.
  bool store_sync = true;
  std::uint32_t retention_days = 90;  // 0 = keep forever
  std::uint64_t store_min_free_mib = 256;  // commits wait while less is free (0 = no check)
  // Endpoints.
  ListenAddress metrics_listen{"127.0.0.1", 9464};
  bool metrics_enabled = true;
  ListenAddress http_listen{"127.0.0.1", 8080};
  TlsConfig http_tls;
  bool http_enabled = true;
  std::uint32_t http_max_connections = 1024;
  std::uint32_t http_max_connections_per_address = 128;
  int metrics_line = 0, http_line = 0;  // where they were configured (0 = the default)
  std::vector<CollectorConfig> collectors;
  std::vector<SourceRuleConfig> sources;
  // Sections read by the feature that owns them (with a ConfigReader on `file`): "api" (the
  // analyst API), "forwarding" (destinations), "correlation". Absent = not configured.
  std::map<std::string, YAML::Node> sections;
};

extern const char* const kDefaultConfigYaml;

// Parses YAML text; `file` is used in error messages ("vigil.yml:12: ...").
Result<Config> parse_config(const std::string& yaml_text, const std::string& file);
Result<Config> load_config_file(const std::string& path);
Result<Config> default_config();

// What the configuration exposes to the network without protection, one "file:line: ..."
// sentence each: listeners off loopback without TLS, syslog that anyone who reaches it can
// feed, TLS without client certificates, metrics readable by anyone. `vigil run` prints them at
// start and with --check-config. (An http collector off loopback without a token is an error,
// not a warning: parse_config refuses it.)
std::vector<std::string> exposure_warnings(const Config& config);

}  // namespace vigil
