#pragma once
// The `forwarding:` section of the daemon's config (docs/forwarding.md is the reference):
// where qualifying alerts go (HTTPS JSON webhooks, CEF over syslog), and, for a national
// instance, the provinces whose webhooks it accepts.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/alert.h"
#include "core/config_reader.h"
#include "core/status.h"

namespace vigil::forward {

// Which alerts a destination receives. Every set criterion must hold; an empty one holds.
struct AlertFilter {
  AlertLevel min_level = AlertLevel::kInformational;  // Default: informational (all)
  std::vector<std::string> tenants;    // exact tenant names; Default: any
  std::vector<std::string> tag_globs;  // "attack.*", "attack.t1110": at least one tag must match one glob (case-insensitive); Default: any
  std::vector<std::string> rule_ids;   // exact rule ids; Default: any

  bool matches(const Alert& alert) const;
};

enum class DestinationKind { kWebhook, kCef };

struct RetryPolicy {
  std::chrono::milliseconds initial{500};  // Default: 500 ms before the first retry
  std::chrono::milliseconds max{60'000};   // Default: 60 s between retries at most
  // Each retry waits min(max, initial * 2^(n-1)) scaled by a random factor in [0.5, 1.0] so a
  // fleet of provinces does not retry in lock-step.
};

struct ClientTls {
  std::string ca_file;    // verify the server against this CA bundle; Default: "" = system CAs
  std::string cert_file;  // client certificate (PEM); Default: none
  std::string key_file;   // its key; Default: none
  bool verify = true;     // Default: true (peer certificate and host name)
};

struct DestinationConfig {
  std::string name;  // [A-Za-z0-9._-]{1,64}: metrics label, outbox key, CLI name
  DestinationKind kind = DestinationKind::kWebhook;
  int line = 0;
  AlertFilter filter;
  RetryPolicy retry;
  std::size_t batch_max_alerts = 100;  // Default: 100 alerts per request (webhook) or write (cef)
  std::chrono::milliseconds connect_timeout{5'000};  // Default: 5 s
  std::chrono::milliseconds timeout{30'000};         // Default: 30 s for a whole request
  ClientTls tls;
  bool tls_enabled = false;  // cef: TLS on the TCP connection (webhook: the URL's scheme decides)
  // webhook
  std::string url;           // http:// or https://
  std::string bearer_token;  // Default: none ("Authorization: Bearer <token>")
  std::string hmac_secret;   // Default: none; else X-Vigil-Signature: sha256=<hex HMAC of the body as sent>
  bool gzip = false;         // Default: false (Content-Encoding: gzip)
  // cef
  std::string host;  // syslog receiver
  std::uint16_t port = 0;
  std::string hostname;  // RFC 5424 HOSTNAME; Default: this machine's host name
};

struct ReceiverSender {
  std::string name;   // the province: becomes the tenant of its alerts
  std::string token;  // its bearer token
  std::string hmac_secret;  // Default: none; else the signature header is required and checked
};

// National mode: POST <path> accepts vigil's own webhook payload.
struct ReceiveConfig {
  bool enabled = false;
  std::string path = "/ingest/alerts";  // Default: /ingest/alerts
  std::vector<ReceiverSender> senders;  // at least one
};

struct ForwardingConfig {
  std::string sender;  // name put in outgoing payloads ("sender"); Default: the host name
  std::vector<DestinationConfig> destinations;
  ReceiveConfig receive;
};

// Reads the section (`node` = Config::sections["forwarding"]); every error names the file and
// line. Checks unique destination names, URLs, addresses and TLS files.
Result<ForwardingConfig> parse_forwarding_config(const YAML::Node& node, const ConfigReader& reader);

}  // namespace vigil::forward
