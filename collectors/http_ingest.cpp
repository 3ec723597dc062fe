#include "collectors/http_ingest.h"

#include <simdjson.h>

#include <zlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/ascii.h"
#include "core/json_text.h"
#include "net/hmac.h"
#include "core/sha256.h"

namespace vigil::collectors {

Status HttpIngestOptions::validate() const {
  if (name.empty()) return Status::InvalidArgument("http ingest: the collector needs a name");
  if (path.empty() || path.front() != '/')
    return Status::InvalidArgument("http ingest " + name + ": path '" + path + "' must start with '/'");
  if (max_record_bytes == 0) return Status::InvalidArgument("http ingest " + name + ": max_record_bytes must be positive");
  if (max_decoded_bytes == 0) return Status::InvalidArgument("http ingest " + name + ": max_decoded_bytes must be positive");
  if (batch_max_records == 0 || batch_max_bytes == 0)
    return Status::InvalidArgument("http ingest " + name + ": batch limits must be positive");
  if (submit_threads == 0) return Status::InvalidArgument("http ingest " + name + ": submit_threads must be at least 1");
  if (max_queued_requests == 0)
    return Status::InvalidArgument("http ingest " + name + ": max_queued_requests must be at least 1");
  return Status::Ok();
}

Result<std::string> gunzip(std::string_view compressed, std::size_t max_bytes, std::size_t max_ratio) {
  // A bomb is stopped while it inflates, at whichever bound comes first: the absolute size or
  // `max_ratio` times the compressed size (1 MiB at least, for small bodies of repetitive lines).
  if (max_ratio > 0) max_bytes = std::min(max_bytes, std::max<std::size_t>(1u << 20, compressed.size() * max_ratio));
  z_stream zs{};
  // 16 + MAX_WBITS: gzip wrapper only (a zlib or raw deflate body is a client error).
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return Error(Status::Internal("gzip: inflateInit2 failed"));
  std::string out;
  out.resize(std::min<std::size_t>(max_bytes, std::max<std::size_t>(compressed.size() * 4, 64 * 1024)));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(compressed.size());
  std::size_t produced = 0;
  Status error;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= max_bytes) {
        error = Status::InvalidArgument("gzip body decompresses to more than " + std::to_string(max_bytes) +
                                        " bytes (limits: size, and " + std::to_string(max_ratio) +
                                        " times the compressed size)");
        break;
      }
      out.resize(std::min(max_bytes, out.size() * 2));
    }
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out.size() - produced);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced = out.size() - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // another member follows (as `cat a.gz b.gz` makes)
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      error = Status::ParseError("gzip body is truncated");
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      error = Status::ParseError(std::string("gzip body is corrupt: ") + (zs.msg ? zs.msg : "inflate failed"));
      break;
    }
  }
  inflateEnd(&zs);
  if (!error.ok()) return Error(std::move(error));
  out.resize(produced);
  return out;
}

namespace {

constexpr const char* kElasticProductHeader = "X-Elastic-Product";

// Elasticsearch clients (8.x and later) refuse an answer without this header.
net::Response elastic(net::Response r) {
  r.headers.emplace_back(kElasticProductHeader, "Elasticsearch");
  return r;
}

// The answer to one request, once all of its batches are committed (or one failed): `success`
// builds it then.
struct PendingRequest {
  PendingRequest(net::Responder r, std::size_t batches, std::function<net::Response()> on_success)
      : responder(std::move(r)), remaining(batches), success(std::move(on_success)) {}
  void on_batch(const Status& st) {
    {
      std::lock_guard lock(mutex);
      if (!st.ok() && first_error.ok()) first_error = st;
      if (--remaining != 0) return;
    }
    if (first_error.ok()) responder(success());
    else responder(net::Response::error(503, "records not committed: " + first_error.message()));
  }
  net::Responder responder;
  std::mutex mutex;
  std::size_t remaining;
  std::function<net::Response()> success;
  Status first_error;
};

// One action of a bulk request and what its item in the reply says.
struct BulkItem {
  std::string action;  // index, create, update, delete
  std::string index, id;
  unsigned status = 201;
  std::string error_type, error_reason;  // status >= 400
};

std::string bulk_reply(const std::vector<BulkItem>& items, std::int64_t took_ms) {
  bool errors = false;
  for (const BulkItem& it : items) errors = errors || it.status >= 400;
  std::string out = "{\"took\":" + std::to_string(took_ms) + ",\"errors\":" + (errors ? "true" : "false") +
                    ",\"items\":[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    const BulkItem& it = items[i];
    if (i) out.push_back(',');
    out += "{\"" + it.action + "\":{\"_index\":";
    append_json_string(out, it.index);
    out += ",\"_id\":";
    append_json_string(out, it.id);
    out += ",\"status\":" + std::to_string(it.status);
    if (it.status >= 400) {
      out += ",\"error\":{\"type\":";
      append_json_string(out, it.error_type);
      out += ",\"reason\":";
      append_json_string(out, it.error_reason);
      out += "}";
    } else {
      out += ",\"result\":\"";
      out += it.status == 404 ? "not_found" : "created";
      out += "\",\"_version\":1,\"_seq_no\":0,\"_primary_term\":1,\"_shards\":{\"total\":1,\"successful\":1,\"failed\":0}";
    }
    out += "}}";
  }
  out += "]}";
  return out;
}

// Reads one bulk action line ({"index":{"_index":"x","_id":"y"}}): false when it is not one.
bool parse_bulk_action(simdjson::dom::parser& parser, std::string_view line, BulkItem* item) {
  simdjson::dom::element doc;
  if (parser.parse(line.data(), line.size(), true).get(doc) != simdjson::SUCCESS) return false;
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS || obj.size() != 1) return false;
  for (auto field : obj) {
    item->action = std::string(field.key);
    if (item->action != "index" && item->action != "create" && item->action != "update" && item->action != "delete")
      return false;
    simdjson::dom::object meta;
    if (field.value.get_object().get(meta) != simdjson::SUCCESS) return false;
    std::string_view v;
    if (meta["_index"].get_string().get(v) == simdjson::SUCCESS) item->index = std::string(v);
    if (meta["_id"].get_string().get(v) == simdjson::SUCCESS) item->id = std::string(v);
  }
  return true;
}

// One accepted request, decoded and split into batches on a submit thread: a gzip body can take
// seconds to inflate, which must never hold up the server's I/O threads (the API, the console
// and other senders share them).
struct Job {
  std::shared_ptr<SourceInfo> source;
  std::string body;
  bool gzip = false;
  net::Responder respond;
  std::string index;  // bulk: the index named in the path ("" for /_bulk)
};

// The non-empty lines of a body, a trailing '\r' dropped, each with its line number (empty
// lines counted: the line number is the record number).
struct BodyLines {
  std::string_view body;
  std::size_t pos = 0, line_no = 0;
  bool next(std::string_view* line) {
    while (pos < body.size()) {
      const void* nl = std::memchr(body.data() + pos, '\n', body.size() - pos);
      const std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - body.data()) : body.size();
      *line = body.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
      if (!line->empty()) return true;
    }
    return false;
  }
};

// One request's records, split into batches at the configured bounds; longer records are cut
// and flagged oversize.
struct RequestBatches {
  RequestBatches(const HttpIngestOptions& o, std::shared_ptr<SourceInfo> source) : options(o), builder(std::move(source)) {}
  void add(std::string_view record, std::size_t record_no) {
    const bool cut = record.size() > options.max_record_bytes;
    if (cut) {
      record = record.substr(0, options.max_record_bytes);
      ++oversize;
    }
    builder.add(record, record_no, 0, cut);
    ++records;
    if (builder.size() >= options.batch_max_records || builder.byte_size() >= options.batch_max_bytes)
      batches.push_back(builder.finish());
  }
  // Ends the last batch and counts the request in `stats`.
  void finish(CollectorStats& stats, std::size_t body_bytes) {
    if (!builder.empty()) batches.push_back(builder.finish());
    stats.received_events.fetch_add(records, std::memory_order_relaxed);
    stats.received_bytes.fetch_add(body_bytes, std::memory_order_relaxed);
    stats.oversize_records.fetch_add(oversize, std::memory_order_relaxed);
  }
  const HttpIngestOptions& options;
  IngestBatchBuilder builder;
  std::vector<IngestBatch> batches;
  std::size_t records = 0, oversize = 0;
};

}  // namespace

struct HttpIngest::Impl {
  Impl(BatchSink& s, HttpIngestOptions o)
      : sink(s), options(std::move(o)), stats(std::make_shared<CollectorStats>(options.name, "http")) {}

  BatchSink& sink;
  const HttpIngestOptions options;
  const std::shared_ptr<CollectorStats> stats;

  const std::int64_t started_unix_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::atomic<std::uint64_t> next_bulk_request{0};

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Job> queue;
  bool running = false;
  std::vector<std::thread> threads;

  void handle(net::Request& req, net::Responder respond);
  void worker();
  // Decodes and splits one request's body and submits its batches in order; the answer comes
  // when they are committed. false when the sink is shutting down.
  bool process(Job& job);
  // Submits `batches` in order; `pending` answers once all are committed.
  bool submit_all(std::vector<IngestBatch>& batches, const std::shared_ptr<PendingRequest>& pending);
  // The records of a bulk body: one per index/create document, with the per-item answers.
  bool process_bulk(Job& job, std::string_view body);
};

namespace {

// Header first, then query parameter, then the configured default.
std::string pick(const net::Request& req, std::string_view header, std::string_view param, const std::string& fallback) {
  if (auto h = req.header(header)) return std::string(*h);
  if (auto q = req.query_param(param)) return std::string(*q);
  return fallback;
}

}  // namespace

void HttpIngest::Impl::handle(net::Request& req, net::Responder respond) {
  {
    std::lock_guard lock(mutex);
    if (!running) return respond(net::Response::error(503, "http ingest " + options.name + " is not running"));
  }
  // A web page must never plant events: a browser's cross-site "simple request" (text/plain or
  // a form, no preflight) always carries Origin (and Sec-Fetch-Site in current browsers); log
  // shippers send neither. (Sec-Fetch-Mode alone is not a browser: Node's fetch sends it.)
  if (req.header("Origin") || req.header("Sec-Fetch-Site"))
    return respond(net::Response::error(403, "ingest does not take requests from web pages (Origin header)"));
  if (const auto type = req.header("Content-Type");
      type && type->size() >= 19 && ascii_iequals(type->substr(0, 19), "multipart/form-data"))
    return respond(net::Response::error(415, "ingest takes NDJSON or text lines, not a form upload"));

  const IngestToken* bound = nullptr;
  if (!options.bearer_token.empty() || !options.tokens.empty()) {
    const std::string_view auth = req.header("Authorization").value_or("");
    const std::string_view scheme = "Bearer ";
    bool valid = false;
    if (auth.size() > scheme.size() && ascii_iequals(auth.substr(0, scheme.size()), scheme)) {
      const std::string_view presented = auth.substr(scheme.size());
      if (!options.bearer_token.empty() && net::equal_constant_time(presented, options.bearer_token)) valid = true;
      if (!valid && !options.tokens.empty() && presented.size() <= 512) {
        const std::string digest = sha256_hex(presented);
        for (const IngestToken& t : options.tokens)
          if (net::equal_constant_time(digest, t.sha256)) bound = &t;
        valid = bound != nullptr;
      }
    }
    if (!valid) {
      net::Response r = net::Response::error(401, "a valid bearer token is required");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return respond(std::move(r));
    }
  }

  auto source = std::make_shared<SourceInfo>(options.defaults);
  source->collector = options.name;
  source->peer = req.peer;
  source->tenant = pick(req, "X-Vigil-Tenant", "tenant", options.defaults.tenant);
  source->system = pick(req, "X-Vigil-System", "system", options.defaults.system);
  source->product = pick(req, "X-Vigil-Product", "product", options.defaults.product);
  source->category = pick(req, "X-Vigil-Category", "category", options.defaults.category);
  source->service = pick(req, "X-Vigil-Service", "service", options.defaults.service);
  if (bound) {
    // The token decides whose events these are; a request may repeat it but not change it.
    const bool named_tenant = req.header("X-Vigil-Tenant") || req.query_param("tenant");
    if (named_tenant && source->tenant != bound->tenant)
      return respond(net::Response::error(403, "this token sends events of tenant '" + bound->tenant + "' only"));
    source->tenant = bound->tenant;
    if (!bound->system.empty()) {
      const bool named_system = req.header("X-Vigil-System") || req.query_param("system");
      if (named_system && source->system != bound->system)
        return respond(net::Response::error(403, "this token sends events of system '" + bound->system + "' only"));
      source->system = bound->system;
    }
  }
  const std::string format_name = pick(req, "X-Vigil-Format", "format", "");
  if (!format_name.empty() && !parse_log_format(format_name, &source->format))
    return respond(net::Response::error(400, "unknown format '" + format_name + "'"));

  const std::string_view encoding = req.header("Content-Encoding").value_or("");
  const bool gzip = ascii_iequals(encoding, "gzip") || ascii_iequals(encoding, "x-gzip");
  if (!gzip && !encoding.empty() && !ascii_iequals(encoding, "identity"))
    return respond(net::Response::error(415, "unsupported Content-Encoding '" + std::string(encoding) + "'"));

  Job job{std::move(source), std::move(req.body), gzip, respond, {}};
  if (options.elasticsearch_bulk) {
    // /_bulk or /<index>/_bulk (the server routes every POST of this listener here).
    constexpr std::string_view kBulk = "/_bulk";
    const std::string& path = req.path;
    if (path.size() < kBulk.size() || path.compare(path.size() - kBulk.size(), kBulk.size(), kBulk) != 0)
      return respond(elastic(net::Response::error(404, "no handler for POST " + path)));
    if (path.size() > kBulk.size()) job.index = path.substr(1, path.size() - kBulk.size() - 1);
  }
  std::unique_lock lock(mutex);
  if (!running || queue.size() >= options.max_queued_requests) {
    const bool busy = running;
    lock.unlock();
    net::Response r = net::Response::error(503, busy ? "ingest queue full, retry later" : "http ingest stopped");
    r.headers.emplace_back("Retry-After", "1");
    return respond(std::move(r));
  }
  queue.push_back(std::move(job));
  lock.unlock();
  wake.notify_one();
}

bool HttpIngest::Impl::process(Job& job) {
  std::string decoded;
  std::string_view body = job.body;
  if (job.gzip) {
    auto plain = gunzip(body, options.max_decoded_bytes, options.max_decoded_ratio);
    if (!plain) {
      stats->framing_errors.fetch_add(1, std::memory_order_relaxed);
      const unsigned status = plain.error().code() == StatusCode::kInvalidArgument ? 413 : 400;
      job.respond(net::Response::error(status, plain.error().message()));
      return true;
    }
    decoded = std::move(*plain);
    body = decoded;
  }

  if (options.elasticsearch_bulk) return process_bulk(job, body);

  // One record per line; the line number (empty lines included) is the record number.
  RequestBatches request(options, job.source);
  BodyLines lines{body};
  for (std::string_view line; lines.next(&line);) request.add(line, lines.line_no);
  request.finish(*stats, body.size());
  std::vector<IngestBatch>& batches = request.batches;
  const std::size_t records = request.records;

  if (batches.empty()) {
    job.respond(net::Response::json(200, "{\"accepted\":0}"));
    return true;
  }
  auto pending = std::make_shared<PendingRequest>(job.respond, batches.size(), [records] {
    return net::Response::json(200, "{\"accepted\":" + std::to_string(records) + "}");
  });
  return submit_all(batches, pending);
}

bool HttpIngest::Impl::submit_all(std::vector<IngestBatch>& batches, const std::shared_ptr<PendingRequest>& pending) {
  for (IngestBatch& b : batches) b.on_committed = [pending](const Status& st) { pending->on_batch(st); };
  // In order: the batches of one request are committed in the order of its lines.
  bool open = true;
  for (IngestBatch& b : batches) {
    if (open) {
      // On false the sink has called on_committed with its error already.
      open = sink.submit(std::move(b));
    } else {
      b.on_committed(Status::IoError("the pipeline is shutting down"));
    }
  }
  return open;
}

bool HttpIngest::Impl::process_bulk(Job& job, std::string_view body) {
  const auto started = std::chrono::steady_clock::now();
  // Ids of documents sent without one: this process's start, the request's number and the line.
  const std::string request_id = std::to_string(started_unix_s) + "-" + std::to_string(next_bulk_request++);
  simdjson::dom::parser parser;
  std::vector<BulkItem> items;
  RequestBatches request(options, job.source);
  BodyLines lines{body};
  std::size_t& line_no = lines.line_no;
  std::string_view action_line, doc;
  while (lines.next(&action_line)) {
    BulkItem item;
    if (!parse_bulk_action(parser, action_line, &item)) {
      stats->framing_errors.fetch_add(1, std::memory_order_relaxed);
      net::Response r = net::Response::json(
          400, "{\"error\":{\"type\":\"illegal_argument_exception\",\"reason\":\"Malformed action/metadata line [" +
                   std::to_string(line_no) + "], expected one of index, create, update or delete\"},\"status\":400}");
      job.respond(elastic(std::move(r)));
      return true;
    }
    if (item.index.empty()) item.index = job.index;
    if (item.id.empty()) item.id = request_id + "-" + std::to_string(line_no);
    if (item.action == "delete") {
      item.status = 404;  // vigil keeps alerts, not documents: there is nothing to delete
      items.push_back(std::move(item));
      continue;
    }
    if (!lines.next(&doc)) {
      item.status = 400;
      item.error_type = "action_request_validation_exception";
      item.error_reason = "the action has no document line";
      items.push_back(std::move(item));
      break;
    }
    if (item.action == "update") {
      item.status = 400;
      item.error_type = "illegal_argument_exception";
      item.error_reason = "vigil takes events (index or create), not updates";
      items.push_back(std::move(item));
      continue;
    }
    simdjson::dom::element parsed;
    if (parser.parse(doc.data(), doc.size(), true).get(parsed) != simdjson::SUCCESS || !parsed.is_object()) {
      stats->framing_errors.fetch_add(1, std::memory_order_relaxed);
      item.status = 400;
      item.error_type = "document_parsing_exception";
      item.error_reason = "the document on line " + std::to_string(line_no) + " is not a JSON object";
      items.push_back(std::move(item));
      continue;
    }
    request.add(doc, line_no);
    items.push_back(std::move(item));
  }
  request.finish(*stats, body.size());
  std::vector<IngestBatch>& batches = request.batches;

  auto reply = [items = std::move(items), started] {
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    return elastic(net::Response::json(200, bulk_reply(items, took.count())));
  };
  if (batches.empty()) {
    job.respond(reply());
    return true;
  }
  return submit_all(batches, std::make_shared<PendingRequest>(job.respond, batches.size(), std::move(reply)));
}

void HttpIngest::Impl::worker() {
  bool sink_open = true;
  for (;;) {
    std::optional<Job> job;
    {
      std::unique_lock lock(mutex);
      wake.wait(lock, [&] { return !queue.empty() || !running; });
      if (queue.empty()) return;  // stopped and nothing left
      job.emplace(std::move(queue.front()));
      queue.pop_front();
      if (!running) {
        // Stopping: queued requests are answered 503 rather than submitted.
        lock.unlock();
        job->respond(net::Response::error(503, "http ingest stopped before submitting"));
        continue;
      }
    }
    if (!sink_open) {
      job->respond(net::Response::error(503, "the pipeline is shutting down"));
      continue;
    }
    sink_open = process(*job);
  }
}

Result<std::unique_ptr<HttpIngest>> HttpIngest::create(net::HttpServer& server, BatchSink& sink,
                                                       HttpIngestOptions options) {
  if (Status st = options.validate(); !st.ok()) return Error(std::move(st));
  auto impl = std::make_shared<Impl>(sink, std::move(options));
  // The handler keeps the state alive: the server may outlive this collector.
  auto handler = [impl](net::Request& req, net::Responder respond) { impl->handle(req, std::move(respond)); };
  Status st = impl->options.elasticsearch_bulk ? server.route("POST", "/*", handler)
                                               : server.route("POST", impl->options.path, handler);
  if (!st.ok()) return Error(Status::InvalidArgument("http ingest " + impl->options.name + ": " + st.message()));
  return std::unique_ptr<HttpIngest>(new HttpIngest(std::move(impl)));
}

HttpIngest::~HttpIngest() { stop(); }

Status HttpIngest::start() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->running || !impl_->threads.empty()) return Status::Ok();
  impl_->running = true;
  for (unsigned i = 0; i < impl_->options.submit_threads; ++i)
    impl_->threads.emplace_back([impl = impl_.get()] { impl->worker(); });
  return Status::Ok();
}

void HttpIngest::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->running = false;
    threads.swap(impl_->threads);
  }
  impl_->wake.notify_all();
  for (auto& t : threads) t.join();
}

std::shared_ptr<CollectorStats> HttpIngest::stats() const { return impl_->stats; }

}  // namespace vigil::collectors

namespace vigil::collectors {

Status add_elasticsearch_compat_routes(net::HttpServer& server) {
  // What a client reads from GET /: Beats and Logstash check the major version (7 or 8 both
  // work for them); the clients check the product header.
  static const std::string kInfo =
      R"({"name":"vigil","cluster_name":"vigil","cluster_uuid":"vigil","version":{"number":"8.11.0",)"
      R"("build_flavor":"default","build_type":"deb","lucene_version":"9.8.0",)"
      R"("minimum_wire_compatibility_version":"7.17.0","minimum_index_compatibility_version":"7.0.0"},)"
      R"("tagline":"You Know, for Search"})";
  auto info = [](net::Request&, net::Responder respond) { respond(elastic(net::Response::json(200, kInfo))); };
  for (const char* method : {"GET", "HEAD"})
    if (Status st = server.route(method, "/", info); !st.ok()) return st;
  if (Status st = server.route("GET", "/_license", [](net::Request&, net::Responder respond) {
        respond(elastic(net::Response::json(
            200, R"({"license":{"status":"active","uid":"vigil","type":"basic","mode":"basic","max_nodes":1000}})")));
      });
      !st.ok())
    return st;
  // Template, lifecycle and alias checks and set-up (Beats' setup.*, Logstash's ilm): answered
  // as done, so that a shipper configured for Elasticsearch starts unchanged.
  auto acknowledged = [](net::Request&, net::Responder respond) {
    respond(elastic(net::Response::json(200, R"({"acknowledged":true})")));
  };
  for (const char* method : {"GET", "HEAD", "PUT", "DELETE"})
    if (Status st = server.route(method, "/*", acknowledged); !st.ok()) return st;
  return Status::Ok();
}

}  // namespace vigil::collectors
