#include "collectors/syslog_tcp.h"

#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "collectors/framing.h"
#include "collectors/stream_listener.h"

namespace vigil::collectors {

namespace asio = boost::asio;

struct TcpSyslogCollector::Impl {
  Impl(TcpSyslogOptions opts, BatchSink& sink, std::shared_ptr<CollectorStats> s)
      : options(std::move(opts)),
        stats(std::move(s)),
        batcher(io, sink, stats, [&] {
          BatcherOptions b = options.batching;
          b.mode = BatcherOptions::SubmitMode::kBlocking;
          return b;
        }()) {
    auto source = std::make_shared<SourceInfo>(options.source);
    if (source->collector.empty()) source->collector = options.name;
    default_source = std::move(source);
    assigner = options.source_assigner;
    if (!assigner) {
      own_assigner = std::make_unique<SourceAssigner>(std::move(SourceAssigner::create({}).value()));
      assigner = own_assigner.get();
    }
    listener.emplace(io, listener_options(), stats, [this](StreamConnection& c) { return make_handler(c); });
  }

  StreamListenerOptions listener_options() const {
    StreamListenerOptions l;
    l.what = std::string(options.tls ? "TLS" : "TCP") + " syslog collector '" + options.name + "'";
    l.listen_host = options.listen_host;
    l.port = options.port;
    l.tls = options.tls;
    l.cert_file = options.cert_file;
    l.key_file = options.key_file;
    l.ca_file = options.ca_file;
    l.max_connections = options.max_connections;
    l.max_connections_per_address = options.max_connections_per_address;
    l.evict_after_idle = options.evict_after_idle;
    l.idle_timeout = options.idle_timeout;
    l.handshake_timeout = options.handshake_timeout;
    return l;
  }

  std::shared_ptr<StreamHandler> make_handler(StreamConnection& connection);

  TcpSyslogOptions options;
  std::shared_ptr<CollectorStats> stats;
  std::shared_ptr<const SourceInfo> default_source;
  std::unique_ptr<SourceAssigner> own_assigner;
  const SourceAssigner* assigner = nullptr;

  asio::io_context io;
  Batcher batcher;
  std::optional<StreamListener> listener;
  std::thread thread;
  bool started = false;
  bool stopped = false;
};

namespace {

// The syslog side of one connection: RFC 6587 framing into the collector's batcher.
class SyslogStream final : public StreamHandler, private StreamFramer::Handler {
 public:
  SyslogStream(TcpSyslogCollector::Impl& owner, std::shared_ptr<const SourceInfo> source)
      : owner_(owner),
        framer_(StreamFramerOptions{owner.options.max_record_bytes, owner.options.max_octet_count}),
        source_(std::move(source)) {}

  void on_data(std::string_view bytes) override {
    framer_.feed(bytes, *this);
    report_framing_errors();
  }

  // Emits an unterminated last line.
  void on_end() override {
    framer_.finish(*this);
    report_framing_errors();
  }

 private:
  void on_record(std::string_view record, bool oversize) override {
    owner_.batcher.add(record, source_, ++records_, oversize);
  }

  void report_framing_errors() {
    const std::uint64_t now = framer_.framing_errors();
    if (now > framing_errors_reported_) {
      owner_.stats->framing_errors.fetch_add(now - framing_errors_reported_, std::memory_order_relaxed);
      framing_errors_reported_ = now;
    }
  }

  TcpSyslogCollector::Impl& owner_;
  StreamFramer framer_;
  std::shared_ptr<const SourceInfo> source_;
  std::uint64_t records_ = 0;
  std::uint64_t framing_errors_reported_ = 0;
};

}  // namespace

std::shared_ptr<StreamHandler> TcpSyslogCollector::Impl::make_handler(StreamConnection& connection) {
  return std::make_shared<SyslogStream>(*this, assigner->for_peer(default_source, connection.address()));
}

Status TcpSyslogOptions::validate() const {
  const std::string who = std::string(tls ? "TLS" : "TCP") + " syslog collector '" + name + "': ";
  if (name.empty()) return Status::InvalidArgument("TCP syslog collector: name must not be empty");
  if (listen_host.empty()) return Status::InvalidArgument(who + "listen host is empty");
  if (max_record_bytes == 0) return Status::InvalidArgument(who + "max_record_bytes must be positive");
  if (max_connections == 0) return Status::InvalidArgument(who + "max_connections must be positive");
  if (max_connections_per_address == 0)
    return Status::InvalidArgument(who + "max_connections_per_address must be positive");
  if (idle_timeout.count() <= 0) return Status::InvalidArgument(who + "idle_timeout must be positive");
  if (handshake_timeout.count() <= 0) return Status::InvalidArgument(who + "handshake_timeout must be positive");
  if (tls && (cert_file.empty() || key_file.empty()))
    return Status::InvalidArgument(who + "TLS needs cert_file and key_file");
  if (!tls && (!cert_file.empty() || !key_file.empty() || !ca_file.empty()))
    return Status::InvalidArgument(who + "cert_file, key_file and ca_file need tls: true");
  return Status::Ok();
}

TcpSyslogCollector::TcpSyslogCollector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<TcpSyslogCollector>> TcpSyslogCollector::create(Options options, BatchSink& sink,
                                                                        std::shared_ptr<CollectorStats> stats) {
  if (Status s = options.validate(); !s.ok()) return Error(std::move(s));
  if (!stats) stats = std::make_shared<CollectorStats>(options.name, options.tls ? "tls" : "tcp");
  return std::unique_ptr<TcpSyslogCollector>(
      new TcpSyslogCollector(std::make_unique<Impl>(std::move(options), sink, std::move(stats))));
}

TcpSyslogCollector::~TcpSyslogCollector() { stop(); }

const CollectorStats& TcpSyslogCollector::stats() const { return *impl_->stats; }

Status TcpSyslogCollector::start() {
  Impl& d = *impl_;
  if (d.started) return Status::Internal("syslog collector '" + d.options.name + "' started twice");
  if (Status s = d.listener->start(); !s.ok()) return s;
  d.started = true;
  d.thread = std::thread([&d] { d.io.run(); });
  return Status::Ok();
}

std::uint16_t TcpSyslogCollector::local_port() const { return impl_->listener->local_port(); }

void TcpSyslogCollector::stop() {
  Impl& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  if (!d.started) return;
  asio::post(d.io, [&d] {
    d.listener->shutdown();
    d.batcher.cancel_timer();
  });
  // run() returns once every handler has seen its operation aborted.
  if (d.thread.joinable()) d.thread.join();
  d.batcher.flush();
}

}  // namespace vigil::collectors
