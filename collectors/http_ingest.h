#pragma once
// HttpIngest: `POST /ingest` on a net::HttpServer. The body holds one record per line (NDJSON
// or plain text lines, optionally gzip with `Content-Encoding: gzip`); empty lines are skipped.
// With elasticsearch_bulk, Elasticsearch's `POST /_bulk` instead (see the option).
//
//   curl -H 'X-Vigil-Tenant: province-a' -H 'X-Vigil-System: dvc-portal'
//        --data-binary @events.ndjson http://127.0.0.1:8080/ingest   (one command line)
//   -> 200 {"accepted":N} once the records' batches are durable in the store,
//      503 {"error":"..."} when the pipeline could not commit them (the client retries),
//      400 bad format name or undecodable gzip, 401 missing/wrong bearer token, 403 a request
//      from a web page (Origin or Sec-Fetch-Site header: shippers send neither, browsers
//      do) or naming a tenant its token is not bound to, 413 body (or decompressed body) too
//      large, 415 unknown Content-Encoding or a form upload (multipart/form-data).
//
// Who and what: tenant, system, logsource (product/category/service) and format come from the
// headers X-Vigil-Tenant, X-Vigil-System, X-Vigil-Product, X-Vigil-Category, X-Vigil-Service,
// X-Vigil-Format, else from the query parameters tenant, system, product, category, service,
// format, else from options.defaults. SourceInfo::peer is the client's address.
//
// Threading: the server's I/O thread only checks the headers and queues the body; this
// collector's own submit threads inflate it (bounded in size and ratio while inflating), split
// it into batches and call BatchSink::submit, which blocks while the pipeline is full. So a
// gzip bomb or a full pipeline holds back HTTP answers (backpressure on the clients) but never
// the server's other routes (API, console). When more
// than max_queued_requests requests wait for a submit thread, new ones get 503 with
// Retry-After at once instead of piling up in memory.
//
// A request that fails after some of its batches were committed is answered 503 as a whole: a
// retrying client may then deliver those records twice (at-least-once, never lost).
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/ingest.h"
#include "core/status.h"
#include "net/http_server.h"

namespace vigil::collectors {

// A token bound to a tenant: requests carrying it are that tenant's (and that system's, when
// set); a request naming another tenant or system is refused (403).
struct IngestToken {
  std::string sha256;  // lowercase hex SHA-256 of the token (the token itself is not kept)
  std::string tenant, system;
};

struct HttpIngestOptions {
  std::string name = "http";  // Default: "http" (collector label in metrics and alerts)
  std::string path = "/ingest";  // Default: "/ingest"
  // Tenant, system, logsource and format for requests that do not say; collector and peer are
  // set by the collector.
  SourceInfo defaults;
  std::string bearer_token;  // Default: "" (no token required); else "Authorization: Bearer <token>", any tenant
  std::vector<IngestToken> tokens;  // Default: none. With bearer_token or tokens, a token is required
  std::size_t max_record_bytes = 1u << 20;   // Default: 1 MiB; longer lines are cut, flagged oversize
  std::size_t max_decoded_bytes = 64u << 20;  // Default: 64 MiB of decompressed body (413 above)
  std::size_t max_decoded_ratio = 100;  // Default: 100 x the compressed size (1 MiB at least; 413 above)
  std::size_t batch_max_records = 4096;      // Default: 4096 records per batch
  std::size_t batch_max_bytes = 1u << 20;    // Default: 1 MiB of record bytes per batch
  unsigned submit_threads = 2;               // Default: 2
  std::size_t max_queued_requests = 64;      // Default: 64 requests waiting for a submit thread
  // Elasticsearch's bulk API instead of one record per line (collector type `elasticsearch`):
  // POST /_bulk and POST /<index>/_bulk take NDJSON action/document pairs (index and create
  // carry a document: one record each; delete and update are answered per item and not
  // ingested), and the reply, once the documents are committed, is Elasticsearch's: errors and
  // one item per action with its status (201, or 400 for a document that is not a JSON object,
  // which is not ingested while the others are). A malformed action line fails the request (400)
  // as Elasticsearch does. `path` is ignored. Every answer carries X-Elastic-Product.
  bool elasticsearch_bulk = false;

  Status validate() const;
};

class HttpIngest {
 public:
  // Registers the route on `server`, which must not be started yet. `sink` must outlive stop().
  static Result<std::unique_ptr<HttpIngest>> create(net::HttpServer& server, BatchSink& sink,
                                                    HttpIngestOptions options);
  ~HttpIngest();  // stop()
  HttpIngest(const HttpIngest&) = delete;
  HttpIngest& operator=(const HttpIngest&) = delete;

  // Starts the submit threads; until then (and after stop()) requests get 503. Idempotent.
  Status start();
  // Answers queued requests with 503, waits for submits in progress, joins the threads.
  // Idempotent. Stop collectors before the pipeline, so those submits can finish.
  void stop();

  std::shared_ptr<CollectorStats> stats() const;

  struct Impl;

 private:
  explicit HttpIngest(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;  // shared with the route handler, which may outlive this object
};

// The calls Beats, Fluent Bit, Logstash and the Elasticsearch clients make before they send
// (GET / for the version, the license, template and lifecycle checks and set-up), answered as
// an Elasticsearch 8 cluster that has what they ask for, on a server of its own (collector
// type `elasticsearch`). The console and API stay on the daemon's `http` server.
Status add_elasticsearch_compat_routes(net::HttpServer& server);

// Decompresses a gzip body (one or more members). Fails on corrupt data (ParseError) or, while
// inflating, as soon as the output passes `max_bytes` or `max_ratio` times the compressed size
// (1 MiB at least; 0 = no ratio bound) (InvalidArgument).
Result<std::string> gunzip(std::string_view compressed, std::size_t max_bytes, std::size_t max_ratio = 100);

}  // namespace vigil::collectors
