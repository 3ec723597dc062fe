#pragma once
// AlertIngest: national mode. `POST /ingest/alerts` on a net::HttpServer accepts vigil's own
// webhook payload from provincial vigils (forward/transport.h webhook_body):
//   {"sender":"<name>","alerts":[<alert JSON>,...]}     optionally gzip (Content-Encoding)
// authenticated by the sender's bearer token (which names the province) and, when the sender
// has an HMAC secret, by `X-Vigil-Signature: sha256=<hex HMAC-SHA256 of the body as sent>`.
//
// The alerts are stored as they are (IngestBatch::alerts) with tenant = the province; the
// province's own id and tenant are kept in `fields` as vigil.origin_id and vigil.origin_tenant.
// Each origin id is recorded as a checkpoint in the same commit, so a resent alert (the
// province retrying after a lost acknowledgement) is stored once.
//
//   200 {"accepted":N,"duplicates":M}  once the alerts are durable
//   400 malformed payload (names the problem), 401 unknown token or bad signature,
//   415 unknown Content-Encoding, 503 pipeline busy or shutting down (the sender retries).
//
// Threading: the request is parsed on the server's I/O thread; BatchSink::submit (which blocks
// while the pipeline is full) runs on this collector's own thread.
#include <memory>
#include <string>
#include <vector>

#include "core/alert.h"
#include "core/ingest.h"
#include "core/status.h"
#include "net/http_server.h"
#include "storage/alert_store.h"

namespace vigil::collectors {

struct AlertIngestSender {
  std::string name;         // the province: tenant of its alerts
  std::string token;        // bearer token
  std::string hmac_secret;  // "" = no signature required
};

// Prefix of the duplicate-check checkpoints: "alerts-in/<sender>/<origin alert id>".
inline constexpr const char* kAlertIngestCheckpointPrefix = "alerts-in/";

struct AlertIngestOptions {
  std::string name = "alerts";          // Default: "alerts" (collector name)
  std::string path = "/ingest/alerts";  // Default: /ingest/alerts
  std::vector<AlertIngestSender> senders;  // at least one
  std::size_t max_queued_requests = 64;    // Default: 64 waiting requests, then 503
  // Signed requests (senders with an hmac_secret): X-Vigil-Timestamp must be within this many
  // seconds of the receiver's clock, and each X-Vigil-Nonce is accepted once.
  std::int64_t signature_window_s = 300;   // Default: 300 s
};

// Parses a webhook payload into alerts (ids kept as sent). Errors name the alert index and field.
struct AlertPayload {
  std::string sender;
  std::vector<Alert> alerts;
};
Result<AlertPayload> parse_alert_payload(std::string_view json);

class AlertIngest {
 public:
  // Registers the route on `server` (not started yet). `sink` and `store` must outlive stop().
  static Result<std::unique_ptr<AlertIngest>> create(net::HttpServer& server, BatchSink& sink,
                                                     const storage::AlertStore& store, AlertIngestOptions options);
  ~AlertIngest();
  AlertIngest(const AlertIngest&) = delete;
  AlertIngest& operator=(const AlertIngest&) = delete;

  Status start();  // until then requests get 503
  void stop();     // answers waiting requests with 503 and joins; idempotent

  std::shared_ptr<CollectorStats> stats() const;

  struct Impl;

 private:
  explicit AlertIngest(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace vigil::collectors
