#include "app/collector_setup.h"

#include <algorithm>

#include "collectors/file_tail.h"
#include "collectors/http_ingest.h"
#include "collectors/relp.h"
#include "collectors/stdin_source.h"
#include "collectors/syslog_tcp.h"
#include "collectors/syslog_udp.h"
#include "net/hmac.h"
#include "core/sha256.h"

namespace vigil::app {

namespace {

template <typename C>
class Holder final : public RunningCollector {
 public:
  explicit Holder(std::unique_ptr<C> c) : c_(std::move(c)) {}
  void stop() override { c_->stop(); }

 private:
  std::unique_ptr<C> c_;
};

// The `elasticsearch` collector: a server of its own (shippers expect Elasticsearch's API at
// the root of their own port) with the bulk ingest on it. The ingest stops first, so that its
// queued requests are answered, then the server.
class ElasticsearchHolder final : public RunningCollector {
 public:
  ElasticsearchHolder(std::unique_ptr<net::HttpServer> server, std::unique_ptr<collectors::HttpIngest> ingest)
      : server_(std::move(server)), ingest_(std::move(ingest)) {}
  void stop() override {
    ingest_->stop();
    server_->stop();
  }

 private:
  std::unique_ptr<net::HttpServer> server_;
  std::unique_ptr<collectors::HttpIngest> ingest_;
};

collectors::HttpIngestOptions ingest_options_of(const Config& cfg, const CollectorConfig& c) {
  collectors::HttpIngestOptions o;
  o.name = c.name;
  o.bearer_token = c.token;
  for (const IngestTokenConfig& t : c.tokens)
    o.tokens.push_back(collectors::IngestToken{t.token.empty() ? t.token_sha256 : sha256_hex(t.token), t.tenant, t.system});
  o.max_record_bytes = cfg.max_record_bytes;
  o.batch_max_records = cfg.batch_max_records;
  return o;
}

SourceInfo source_of(const CollectorConfig& c) {
  SourceInfo s;
  s.collector = c.name;
  s.tenant = c.source.tenant;
  s.system = c.source.system;
  s.product = c.source.product;
  s.category = c.source.category;
  s.service = c.source.service;
  s.format = c.source.format;
  return s;
}

collectors::BatcherOptions batching_of(const Config& cfg) {
  collectors::BatcherOptions b;
  b.max_records = cfg.batch_max_records;
  b.max_delay = std::chrono::milliseconds(cfg.batch_max_delay_ms);
  return b;
}

// The fields the TCP/TLS syslog and RELP collectors share: both sit on collectors/stream_listener.
template <class StreamOptions>
void fill_stream_options(StreamOptions& o, const CollectorConfig& c, const Config& cfg, const SourceAssigner& assigner) {
  o.name = c.name;
  o.listen_host = c.listen.host;
  o.port = c.listen.port;
  o.max_record_bytes = cfg.max_record_bytes;
  o.cert_file = c.tls.cert_file;
  o.key_file = c.tls.key_file;
  o.ca_file = c.tls.ca_file;
  o.max_connections = c.max_connections;
  o.max_connections_per_address = c.max_connections_per_address;
  o.idle_timeout = std::chrono::seconds(c.idle_timeout_s);
  o.source = source_of(c);
  o.source_assigner = &assigner;
  o.batching = batching_of(cfg);
}

Status located(const Config& cfg, const CollectorConfig& c, const Status& st) {
  return Status::InvalidArgument(cfg.file + ":" + std::to_string(c.line) + ": collector '" + c.name +
                                 "': " + st.message());
}

}  // namespace

Result<std::vector<std::unique_ptr<RunningCollector>>> start_collectors(CollectorContext& ctx,
                                                                        std::FILE* err) {
  const Config& cfg = ctx.config;
  std::vector<std::unique_ptr<RunningCollector>> started;
  auto fail = [&](const CollectorConfig& c, const Status& st) {
    for (auto& s : started) s->stop();
    return Error(located(cfg, c, st));
  };
  for (const CollectorConfig& c : cfg.collectors) {
    auto stats = std::make_shared<CollectorStats>(c.name, to_string(c.kind));
    switch (c.kind) {
      case CollectorKind::kUdp: {
        collectors::UdpSyslogOptions o;
        o.name = c.name;
        o.listen_host = c.listen.host;
        o.port = c.listen.port;
        o.max_record_bytes = std::min<std::size_t>(cfg.max_record_bytes, 64u << 10);
        o.source = source_of(c);
        o.source_assigner = &ctx.assigner;
        o.batching = batching_of(cfg);
        auto col = collectors::UdpSyslogCollector::create(o, ctx.pipeline, stats);
        if (!col) return fail(c, col.error());
        if (Status st = (*col)->start(); !st.ok()) return fail(c, st);
        std::fprintf(err, "vigil: collector %s (udp) on %s:%u\n", c.name.c_str(), c.listen.host.c_str(),
                     (*col)->local_port());
        started.push_back(std::make_unique<Holder<collectors::UdpSyslogCollector>>(std::move(*col)));
        break;
      }
      case CollectorKind::kTcp:
      case CollectorKind::kTls: {
        collectors::TcpSyslogOptions o;
        fill_stream_options(o, c, cfg, ctx.assigner);
        o.tls = c.kind == CollectorKind::kTls;
        auto col = collectors::TcpSyslogCollector::create(o, ctx.pipeline, stats);
        if (!col) return fail(c, col.error());
        if (Status st = (*col)->start(); !st.ok()) return fail(c, st);
        std::fprintf(err, "vigil: collector %s (%s) on %s:%u\n", c.name.c_str(), to_string(c.kind),
                     c.listen.host.c_str(), (*col)->local_port());
        started.push_back(std::make_unique<Holder<collectors::TcpSyslogCollector>>(std::move(*col)));
        break;
      }
      case CollectorKind::kRelp: {
        collectors::RelpOptions o;
        fill_stream_options(o, c, cfg, ctx.assigner);
        // A frame may carry a little more than a record (omrelp's trailing LF): longer messages
        // are cut like on the other collectors; only frames far beyond that close the connection.
        o.max_frame_bytes = std::min<std::size_t>(cfg.max_record_bytes * 2, 999999999);
        o.max_unacked = c.max_unacked;
        o.tls = c.tls.enabled();
        auto col = collectors::RelpCollector::create(o, ctx.pipeline, stats);
        if (!col) return fail(c, col.error());
        if (Status st = (*col)->start(); !st.ok()) return fail(c, st);
        std::fprintf(err, "vigil: collector %s (relp%s) on %s:%u\n", c.name.c_str(), o.tls ? ", tls" : "",
                     c.listen.host.c_str(), (*col)->local_port());
        started.push_back(std::make_unique<Holder<collectors::RelpCollector>>(std::move(*col)));
        break;
      }
      case CollectorKind::kHttp: {
        if (!ctx.http) return fail(c, Status::InvalidArgument("needs the http server (http: enabled: true)"));
        collectors::HttpIngestOptions o = ingest_options_of(cfg, c);
        o.defaults = source_of(c);
        auto col = collectors::HttpIngest::create(*ctx.http, ctx.pipeline, o);
        if (!col) return fail(c, col.error());
        if (Status st = (*col)->start(); !st.ok()) return fail(c, st);
        stats = (*col)->stats();
        std::fprintf(err, "vigil: collector %s (http) on POST /ingest\n", c.name.c_str());
        started.push_back(std::make_unique<Holder<collectors::HttpIngest>>(std::move(*col)));
        break;
      }
      case CollectorKind::kFile: {
        collectors::FileTailOptions o;
        o.name = c.name;
        o.globs = c.paths;
        o.poll_interval = std::chrono::milliseconds(c.poll_interval_ms);
        o.max_record_bytes = cfg.max_record_bytes;
        o.batch_max_records = cfg.batch_max_records;
        o.source = source_of(c);
        auto col = collectors::FileTail::create(o, ctx.pipeline);
        if (!col) return fail(c, col.error());
        // Resume exactly after the last batch whose alerts were committed.
        storage::AlertStore& store = ctx.store;
        Status st = (*col)->start([&store](const std::string& key) -> std::optional<std::string> {
          auto v = store.checkpoint(key);
          return v ? *v : std::nullopt;
        });
        if (!st.ok()) return fail(c, st);
        stats = (*col)->stats();
        std::string globs;
        for (const auto& g : c.paths) globs += (globs.empty() ? "" : ", ") + g;
        std::fprintf(err, "vigil: collector %s (file) on %s\n", c.name.c_str(), globs.c_str());
        started.push_back(std::make_unique<Holder<collectors::FileTail>>(std::move(*col)));
        break;
      }
      case CollectorKind::kElasticsearch: {
        net::HttpServerOptions hopt;
        hopt.address = c.listen.host;
        hopt.port = c.listen.port;
        hopt.tls_cert_file = c.tls.cert_file;
        hopt.tls_key_file = c.tls.key_file;
        hopt.max_body_bytes = std::max<std::size_t>(100u << 20, cfg.max_record_bytes * 2);  // Elasticsearch's http.max_content_length
        hopt.max_connections = c.max_connections;
        hopt.max_connections_per_address = c.max_connections_per_address;
        hopt.server_header = "vigil (Elasticsearch bulk API)";
        auto server = net::HttpServer::create(hopt);
        if (!server) return fail(c, server.error());
        if (Status st = collectors::add_elasticsearch_compat_routes(**server); !st.ok()) return fail(c, st);
        collectors::HttpIngestOptions o = ingest_options_of(cfg, c);
        o.defaults = source_of(c);
        o.elasticsearch_bulk = true;
        auto col = collectors::HttpIngest::create(**server, ctx.pipeline, o);
        if (!col) return fail(c, col.error());
        if (Status st = (*col)->start(); !st.ok()) return fail(c, st);
        if (Status st = (*server)->start(); !st.ok()) return fail(c, st);
        stats = (*col)->stats();
        std::fprintf(err, "vigil: collector %s (elasticsearch) on %s:%u, POST /_bulk\n", c.name.c_str(),
                     c.listen.host.c_str(), (*server)->local_port());
        started.push_back(std::make_unique<ElasticsearchHolder>(std::move(*server), std::move(*col)));
        break;
      }
      case CollectorKind::kStdin: {
        collectors::StdinSourceOptions o;
        o.name = c.name;
        o.source = source_of(c);
        o.reader.max_record_bytes = cfg.max_record_bytes;
        o.batch_max_records = cfg.batch_max_records;
        auto col = collectors::StdinSource::create(o, ctx.pipeline);
        if (!col) return fail(c, col.error());
        if (Status st = (*col)->start(); !st.ok()) return fail(c, st);
        stats = (*col)->stats();
        std::fprintf(err, "vigil: collector %s (stdin)\n", c.name.c_str());
        started.push_back(std::make_unique<Holder<collectors::StdinSource>>(std::move(*col)));
        break;
      }
    }
    if (Status st = ctx.metrics.add_collector(stats); !st.ok()) return fail(c, st);
  }
  return started;
}

}  // namespace vigil::app
