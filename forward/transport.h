#pragma once
// A destination's wire protocol: delivers one batch of alerts, in order, and says whether the
// receiver took it, whether to retry, or whether it refused it for good.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/alert.h"
#include "core/status.h"
#include "forward/config.h"
#include "net/hmac.h"

namespace vigil::forward {

// The webhook signature (shared with the national receiver, collectors/alert_ingest.cpp).
using net::equal_constant_time;
using net::hmac_sha256_hex;

enum class Outcome {
  kDelivered,  // the receiver acknowledged the whole batch (2xx; for syslog: written to the socket)
  kRetry,      // network error, timeout, 5xx, 408, 429: try the same batch again later
  kRejected,   // any other 4xx: retrying the same bytes cannot help
};

struct DeliveryResult {
  Outcome outcome = Outcome::kRetry;
  std::string error;  // "" when delivered; else e.g. "HTTP 500: <body start>", "connect: refused"
};

// Lifecycle: created by make_transport, used by one sender thread only (not thread-safe),
// destroyed after that thread ended. deliver() returns within connect_timeout + timeout; it
// returns early with kRetry when *cancel becomes true (the daemon is stopping).
class Transport {
 public:
  virtual ~Transport() = default;
  virtual DeliveryResult deliver(const std::vector<const Alert*>& alerts) = 0;
};

// `sender`: the name put in webhook payloads. `cancel` must outlive the transport.
Result<std::unique_ptr<Transport>> make_transport(const DestinationConfig& config, const std::string& sender,
                                                  const std::atomic<bool>* cancel);

// Webhook payload (vigil's own format, accepted by a national vigil's POST /ingest/alerts):
// {"sender":"<sender>","alerts":[<alert JSON as core/alert_json.h>,...]}
std::string webhook_body(const std::string& sender, const std::vector<const Alert*>& alerts);
// gzip (one member) of `data`.
Result<std::string> gzip_compress(std::string_view data);

// Outcome of an HTTP status code (2xx delivered; 408, 429, 5xx retry; other 4xx rejected;
// anything else, e.g. 3xx, retry: a redirect is a misconfiguration an admin fixes).
Outcome outcome_of_http_status(long status);

}  // namespace vigil::forward
