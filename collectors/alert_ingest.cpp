#include "collectors/alert_ingest.h"

#include <simdjson.h>

#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "collectors/http_ingest.h"  // gunzip
#include "core/time_text.h"
#include "net/hmac.h"

namespace vigil::collectors {

namespace {

using simdjson::dom::element;

Status field_error(std::size_t index, const char* field) {
  return Status::ParseError("alerts[" + std::to_string(index) + "]." + field + " is missing or has the wrong type");
}

Status read_string(element obj, const char* key, std::size_t index, std::string* out, bool required = false) {
  std::string_view v;
  auto e = obj[key];
  if (e.error() == simdjson::NO_SUCH_FIELD && !required) return Status::Ok();
  if (e.get_string().get(v)) return field_error(index, key);
  *out = std::string(v);
  return Status::Ok();
}

Status read_fields(element obj, const char* key, std::size_t index, std::vector<AlertField>* out) {
  auto e = obj[key];
  if (e.error() == simdjson::NO_SUCH_FIELD) return Status::Ok();
  simdjson::dom::array list;
  simdjson::dom::object map;
  if (!e.get_array().get(list)) {  // [{"field","value"}]
    for (element item : list) {
      std::string_view f, v;
      if (item["field"].get_string().get(f) || item["value"].get_string().get(v)) return field_error(index, key);
      out->push_back(AlertField{std::string(f), std::string(v)});
    }
    return Status::Ok();
  }
  if (!e.get_object().get(map)) {  // {"name":"value"}
    for (auto kv : map) {
      std::string_view v;
      if (kv.value.get_string().get(v)) return field_error(index, key);
      out->push_back(AlertField{std::string(kv.key), std::string(v)});
    }
    return Status::Ok();
  }
  return field_error(index, key);
}

Status read_alert(element obj, std::size_t i, Alert* a) {
  if (!obj.is_object()) return Status::ParseError("alerts[" + std::to_string(i) + "] is not an object");
  if (auto st = read_string(obj, "id", i, &a->id, true); !st.ok()) return st;
  std::string text;
  if (auto st = read_string(obj, "created", i, &text); !st.ok()) return st;
  if (!text.empty() && !parse_rfc3339_ns(text, &a->created_unix_ns)) return field_error(i, "created");
  text.clear();
  if (auto st = read_string(obj, "received", i, &text); !st.ok()) return st;
  if (!text.empty() && !parse_rfc3339_ns(text, &a->received_unix_ns)) return field_error(i, "received");
  if (auto st = read_string(obj, "event_time", i, &a->event_time); !st.ok()) return st;
  element rule;
  if (obj["rule"].get(rule) || !rule.is_object()) return field_error(i, "rule");
  if (auto st = read_string(rule, "id", i, &a->rule_id, true); !st.ok()) return st;
  if (auto st = read_string(rule, "title", i, &a->rule_title); !st.ok()) return st;
  if (auto st = read_string(rule, "path", i, &a->rule_path); !st.ok()) return st;
  text.clear();
  if (auto st = read_string(rule, "level", i, &text, true); !st.ok()) return st;
  if (!parse_alert_level(text, &a->level)) return field_error(i, "rule.level");
  simdjson::dom::array tags;
  if (rule["tags"].error() != simdjson::NO_SUCH_FIELD) {
    if (rule["tags"].get_array().get(tags)) return field_error(i, "rule.tags");
    for (element t : tags) {
      std::string_view v;
      if (t.get_string().get(v)) return field_error(i, "rule.tags");
      a->tags.emplace_back(v);
    }
  }
  // "attack" (core/alert_json.h) is absent from alerts of senders older than it.
  if (obj["attack"].error() != simdjson::NO_SUCH_FIELD) {
    element attack;
    if (obj["attack"].get(attack) || !attack.is_object()) return field_error(i, "attack");
    for (auto [key, out] : {std::pair{"tactics", &a->attack_tactics}, {"techniques", &a->attack_techniques}}) {
      if (attack[key].error() == simdjson::NO_SUCH_FIELD) continue;
      simdjson::dom::array list;
      if (attack[key].get_array().get(list)) return field_error(i, "attack");
      for (element t : list) {
        std::string_view v;
        if (t.get_string().get(v)) return field_error(i, "attack");
        out->emplace_back(v);
      }
    }
  }
  for (auto [key, out] : {std::pair{"tenant", &a->tenant}, {"system", &a->system}, {"host", &a->host},
                          {"collector", &a->collector}, {"peer", &a->peer}, {"format", &a->format},
                          {"raw", &a->raw}, {"assignee", &a->assignee}})
    if (auto st = read_string(obj, key, i, out); !st.ok()) return st;
  std::uint64_t n = 0;
  if (obj["record"].error() != simdjson::NO_SUCH_FIELD) {
    if (obj["record"].get_uint64().get(n)) return field_error(i, "record");
    a->record_no = n;
  }
  if (obj["count"].error() != simdjson::NO_SUCH_FIELD) {
    if (obj["count"].get_uint64().get(n) || n == 0 || n > 0xffffffffu) return field_error(i, "count");
    a->count = static_cast<std::uint32_t>(n);
  }
  if (auto st = read_fields(obj, "matched", i, &a->matched); !st.ok()) return st;
  return read_fields(obj, "fields", i, &a->fields);
}

}  // namespace

Result<AlertPayload> parse_alert_payload(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  if (auto err = parser.parse(padded).get(root); err)
    return Error(Status::ParseError(std::string("payload is not JSON: ") + simdjson::error_message(err)));
  if (!root.is_object()) return Error(Status::ParseError("payload must be a JSON object"));
  AlertPayload out;
  std::string_view sender;
  if (root["sender"].error() != simdjson::NO_SUCH_FIELD) {
    if (root["sender"].get_string().get(sender)) return Error(Status::ParseError("'sender' must be a string"));
    out.sender = std::string(sender);
  }
  simdjson::dom::array alerts;
  if (root["alerts"].get_array().get(alerts)) return Error(Status::ParseError("payload needs an array 'alerts'"));
  std::size_t i = 0;
  for (element a : alerts) {
    Alert alert;
    if (Status st = read_alert(a, i++, &alert); !st.ok()) return Error(st);
    out.alerts.push_back(std::move(alert));
  }
  return out;
}

struct AlertIngest::Impl {
  AlertIngestOptions options;
  BatchSink& sink;
  const storage::AlertStore& store;
  std::shared_ptr<CollectorStats> stats;
  std::shared_ptr<const SourceInfo> source;

  struct Job {
    IngestBatch batch;
    std::size_t duplicates = 0;
    net::Responder respond{std::shared_ptr<net::detail::ResponderState>()};
  };
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<Job> queue;
  bool running = false;
  bool stopping = false;
  std::thread thread;

  Impl(AlertIngestOptions o, BatchSink& s, const storage::AlertStore& st)
      : options(std::move(o)), sink(s), store(st) {}

  // Nonces of signed requests seen within the signature window (sender/nonce -> time seen).
  // Bounded: past max_remembered_nonces the oldest are forgotten, which only reopens a replay
  // for requests still inside the window.
  std::mutex nonce_mutex;
  std::unordered_map<std::string, std::int64_t> nonces;
  std::deque<std::pair<std::int64_t, std::string>> nonce_order;
  bool remember_nonce(const std::string& key, std::int64_t now) {
    std::lock_guard lock(nonce_mutex);
    while (!nonce_order.empty() && (nonce_order.front().first < now - 2 * options.signature_window_s ||
                                    nonce_order.size() > kMaxRememberedNonces)) {
      nonces.erase(nonce_order.front().second);
      nonce_order.pop_front();
    }
    if (!nonces.emplace(key, now).second) return false;
    nonce_order.emplace_back(now, key);
    return true;
  }
  static constexpr std::size_t kMaxRememberedNonces = 1'000'000;

  void handle(const net::Request& req, net::Responder respond) {
    const AlertIngestSender* sender = nullptr;
    if (auto auth = req.header("Authorization"); auth && auth->rfind("Bearer ", 0) == 0) {
      std::string_view token = auth->substr(7);
      for (const auto& s : options.senders)
        if (net::equal_constant_time(s.token, token)) sender = &s;
    }
    if (!sender) return respond(net::Response::error(401, "unknown or missing bearer token"));
    if (!sender->hmac_secret.empty()) {
      const auto sig = req.header("X-Vigil-Signature");
      const std::string_view timestamp = req.header("X-Vigil-Timestamp").value_or("");
      const std::string_view nonce = req.header("X-Vigil-Nonce").value_or("");
      if (!sig || sig->rfind("sha256=", 0) != 0 || timestamp.empty() || nonce.size() < 16 || nonce.size() > 128 ||
          !net::equal_constant_time(sig->substr(7), net::webhook_signature(sender->hmac_secret, timestamp, nonce, req.body)))
        return respond(net::Response::error(401, "missing or wrong X-Vigil-Signature (with X-Vigil-Timestamp and X-Vigil-Nonce)"));
      // A genuine request replayed: refused outside the window by its signed time, inside it by
      // its nonce.
      std::int64_t sent = 0;
      const auto [end, err] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), sent);
      const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch()).count();
      if (err != std::errc() || end != timestamp.data() + timestamp.size() ||
          std::abs(now - sent) > options.signature_window_s)
        return respond(net::Response::error(401, "X-Vigil-Timestamp is outside the accepted window of " +
                                                     std::to_string(options.signature_window_s) + " s (check the clocks)"));
      if (!remember_nonce(sender->name + "/" + std::string(nonce), now))
        return respond(net::Response::error(401, "this signed request was already received (replay)"));
    }
    std::string decoded;
    std::string_view body = req.body;
    if (auto enc = req.header("Content-Encoding"); enc && !enc->empty() && *enc != "identity") {
      if (*enc != "gzip") return respond(net::Response::error(415, "unsupported Content-Encoding"));
      auto plain = gunzip(req.body, 64u << 20);
      if (!plain) return respond(net::Response::error(400, plain.error().message()));
      decoded = std::move(*plain);
      body = decoded;
    }
    auto payload = parse_alert_payload(body);
    if (!payload) return respond(net::Response::error(400, payload.error().message()));
    stats->received_events += payload->alerts.size();
    stats->received_bytes += req.body.size();

    Job job;
    job.respond = std::move(respond);
    job.batch.sources.push_back(source);
    job.batch.received_unix_ns = IngestBatchBuilder::now_ns();
    for (Alert& a : payload->alerts) {
      // One checkpoint per origin alert, committed with it: a resent alert is recognised.
      std::string key = kAlertIngestCheckpointPrefix + sender->name + "/" + a.id;
      auto seen = store.checkpoint(key);
      if (!seen) return job.respond(net::Response::error(503, seen.error().message()));
      bool in_this_request = false;
      for (const Checkpoint& c : job.batch.checkpoints) in_this_request |= c.key == key;
      if (seen->has_value() || in_this_request) {
        ++job.duplicates;
        continue;
      }
      job.batch.checkpoints.push_back(Checkpoint{key, ""});
      a.fields.push_back(AlertField{"vigil.origin_id", a.id});
      if (!a.tenant.empty()) a.fields.push_back(AlertField{"vigil.origin_tenant", a.tenant});
      a.id.clear();
      a.created_unix_ns = 0;
      a.tenant = sender->name;
      if (a.received_unix_ns == 0) a.received_unix_ns = job.batch.received_unix_ns;
      job.batch.alerts.push_back(std::move(a));
    }
    std::unique_lock lock(mutex);
    if (!running || stopping) return job.respond(net::Response::error(503, "alert ingest is not running"));
    if (queue.size() >= options.max_queued_requests) {
      net::Response r = net::Response::error(503, "too many requests waiting");
      r.headers.emplace_back("Retry-After", "1");
      return job.respond(std::move(r));
    }
    queue.push_back(std::move(job));
    cv.notify_one();
  }

  void run() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;
        job = std::move(queue.front());
        queue.pop_front();
      }
      const std::size_t accepted = job.batch.alerts.size(), duplicates = job.duplicates;
      std::string ok = "{\"accepted\":" + std::to_string(accepted) + ",\"duplicates\":" + std::to_string(duplicates) + "}";
      if (accepted == 0) {
        job.respond(net::Response::json(200, ok));
        continue;
      }
      net::Responder respond = job.respond;
      job.batch.on_committed = [respond, ok](const Status& st) {
        if (st.ok()) respond(net::Response::json(200, ok));
        else respond(net::Response::error(503, st.message()));
      };
      sink.submit(std::move(job.batch));  // on failure on_committed already answered 503
    }
  }
};

Result<std::unique_ptr<AlertIngest>> AlertIngest::create(net::HttpServer& server, BatchSink& sink,
                                                         const storage::AlertStore& store, AlertIngestOptions options) {
  if (options.senders.empty()) return Error(Status::InvalidArgument("alert ingest: no senders configured"));
  auto impl = std::make_shared<Impl>(std::move(options), sink, store);
  impl->stats = std::make_shared<CollectorStats>(impl->options.name, "http");
  auto source = std::make_shared<SourceInfo>();
  source->collector = impl->options.name;
  impl->source = source;
  std::weak_ptr<Impl> weak = impl;
  Status st = server.route("POST", impl->options.path, [weak](const net::Request& req, net::Responder respond) {
    auto self = weak.lock();
    if (!self) return respond(net::Response::error(503, "alert ingest stopped"));
    self->handle(req, std::move(respond));
  });
  if (!st.ok()) return Error(st);
  return std::unique_ptr<AlertIngest>(new AlertIngest(std::move(impl)));
}

AlertIngest::~AlertIngest() { stop(); }

Status AlertIngest::start() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->running) return Status::Ok();
  impl_->running = true;
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
  return Status::Ok();
}

void AlertIngest::stop() {
  std::deque<Impl::Job> left;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    left.swap(impl_->queue);
  }
  impl_->cv.notify_all();
  for (auto& job : left) job.respond(net::Response::error(503, "shutting down"));
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::shared_ptr<CollectorStats> AlertIngest::stats() const { return impl_->stats; }

}  // namespace vigil::collectors
