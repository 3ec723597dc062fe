#include "collectors/relp.h"

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "collectors/relp_frame.h"
#include "collectors/stream_listener.h"

namespace vigil::collectors {

namespace asio = boost::asio;

namespace {

class RelpSession;

// The offers vigil answers an open with: protocol version 0 (the only one there is) and the
// one command it serves.
constexpr std::string_view kOpenAnswer = "200 OK\nrelp_version=0\nrelp_software=vigil\ncommands=syslog";

// "Committed up to message `seq` of this session", for one session of one batch.
struct AckMark {
  std::weak_ptr<RelpSession> session;
  std::uint64_t seq = 0;
};

// Lets on_committed (store writer thread) reach the io thread only while the collector exists.
struct AckRoute {
  std::mutex mutex;
  asio::io_context* io = nullptr;  // null once the collector is going away
};

}  // namespace

struct RelpCollector::Impl {
  Impl(RelpOptions opts, BatchSink& sink, std::shared_ptr<CollectorStats> s)
      : options(std::move(opts)),
        stats(std::move(s)),
        batcher(io, sink, stats, [&] {
          BatcherOptions b = options.batching;
          b.mode = BatcherOptions::SubmitMode::kBlocking;
          return b;
        }()),
        route(std::make_shared<AckRoute>()) {
    auto source = std::make_shared<SourceInfo>(options.source);
    if (source->collector.empty()) source->collector = options.name;
    default_source = std::move(source);
    assigner = options.source_assigner;
    if (!assigner) {
      own_assigner = std::make_unique<SourceAssigner>(std::move(SourceAssigner::create({}).value()));
      assigner = own_assigner.get();
    }
    route->io = &io;
    batcher.set_before_submit([this](IngestBatch& batch) { attach_acks(batch); });
    StreamListenerOptions l;
    l.what = std::string(options.tls ? "RELP (TLS)" : "RELP") + " collector '" + options.name + "'";
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
    listener.emplace(io, std::move(l), stats, [this](StreamConnection& c) { return make_session(c); });
  }

  ~Impl() {
    std::lock_guard lock(route->mutex);
    route->io = nullptr;
  }

  std::shared_ptr<StreamHandler> make_session(StreamConnection& connection);

  // Called by a session before it adds a message to the batcher (which may submit at once).
  void mark(const std::shared_ptr<RelpSession>& session, std::uint64_t seq) {
    if (!marks.empty() && marks.back().session.lock() == session) {
      marks.back().seq = seq;  // messages come in runs from one connection
      return;
    }
    marks.push_back(AckMark{session, seq});
  }

  // The batch about to be submitted holds exactly the messages marked since the last one.
  void attach_acks(IngestBatch& batch) {
    if (marks.empty()) return;
    batch.on_committed = [route = route, acks = std::move(marks)](const Status& st) {
      std::lock_guard lock(route->mutex);
      if (!route->io) return;
      asio::post(*route->io, [acks, ok = st.ok()] { deliver(acks, ok); });
    };
    marks.clear();
  }

  static void deliver(const std::vector<AckMark>& acks, bool ok);

  RelpOptions options;
  std::shared_ptr<CollectorStats> stats;
  std::shared_ptr<const SourceInfo> default_source;
  std::unique_ptr<SourceAssigner> own_assigner;
  const SourceAssigner* assigner = nullptr;

  asio::io_context io;
  Batcher batcher;
  std::shared_ptr<AckRoute> route;
  std::vector<AckMark> marks;  // io thread: messages in the batcher's current batch
  std::optional<StreamListener> listener;
  std::thread thread;
  bool started = false;
  bool stopped = false;
};

namespace {

// The RELP side of one connection: frames in, messages to the batcher, answers out in order
// once what they answer is committed.
class RelpSession final : public StreamHandler, public std::enable_shared_from_this<RelpSession> {
 public:
  RelpSession(RelpCollector::Impl& owner, StreamConnection& connection, std::shared_ptr<const SourceInfo> source)
      : owner_(owner), connection_(connection), parser_(owner.options.max_frame_bytes), source_(std::move(source)) {}

  void on_data(std::string_view bytes) override {
    parser_.append(bytes);
    process();
  }

  void on_end() override { ended_ = true; }

  // io thread: the messages of this session up to `seq` are committed (ok) or will not be.
  void committed(std::uint64_t seq, bool ok) {
    if (ended_) return;
    if (!ok) {
      // Not stored (the pipeline is stopping, or the store failed): no answer, so the sender
      // keeps the messages and resends them.
      connection_.close();
      return;
    }
    committed_seq_ = std::max(committed_seq_, seq);
    answer_ready();
    if (!ended_ && paused_) process();
  }

 private:
  struct Pending {
    std::uint64_t after_seq;  // answered once messages up to this one are committed
    std::uint32_t txnr;
    std::string text;         // the rsp data
    bool close_after = false;
  };

  void process() {
    while (!closing_ && !ended_ && pending_.size() < owner_.options.max_unacked) {
      RelpFrame frame;
      const RelpFrameParser::Next next = parser_.next(frame);
      if (next == RelpFrameParser::Next::kNeedMore) break;
      if (next == RelpFrameParser::Next::kError) return protocol_error();
      handle(frame);
    }
    if (ended_) return;
    answer_ready();
    if (ended_) return;
    if (closing_) {
      connection_.pause_reading();  // nothing after a close is read
      return;
    }
    const bool full = pending_.size() >= owner_.options.max_unacked;
    if (full && !paused_) {
      paused_ = true;
      connection_.pause_reading();
    } else if (!full && paused_) {
      paused_ = false;
      connection_.resume_reading();
    }
  }

  void handle(const RelpFrame& frame) {
    // Clients number their commands 1, 2, ... (after 999999999 comes 1 again), as librelp's
    // server checks: a gap means a lost or forged frame.
    if (frame.txnr != expected_txnr_) return protocol_error();
    expected_txnr_ = frame.txnr == RelpFrameParser::kMaxTxnr ? 1 : frame.txnr + 1;
    if (frame.command == "syslog") {
      if (!opened_) return protocol_error();
      std::string_view message = frame.data;
      // omrelp's templates may end a message with LF (RSYSLOG_TraditionalForwardFormat does
      // not; user templates often do): the record is the line without it.
      if (!message.empty() && message.back() == '\n') message.remove_suffix(1);
      if (!message.empty()) {
        const bool oversize = message.size() > owner_.options.max_record_bytes;
        if (oversize) message = message.substr(0, owner_.options.max_record_bytes);
        ++seq_;
        owner_.mark(shared_from_this(), seq_);  // before add(): add() may submit the batch
        owner_.batcher.add(message, source_, seq_, oversize);
      }
      pending_.push_back(Pending{seq_, frame.txnr, "200 OK"});
    } else if (frame.command == "open") {
      if (opened_) {
        pending_.push_back(Pending{seq_, frame.txnr, "200 connection already open"});
      } else if (!offers_syslog(frame.data)) {
        pending_.push_back(Pending{seq_, frame.txnr, "500 required command syslog not offered by client", true});
        closing_ = true;
      } else {
        opened_ = true;
        pending_.push_back(Pending{seq_, frame.txnr, std::string(kOpenAnswer)});
      }
    } else if (frame.command == "close") {
      pending_.push_back(Pending{seq_, frame.txnr, "", true});
      closing_ = true;
    } else {
      pending_.push_back(Pending{seq_, frame.txnr, "500 unknown command", true});
      closing_ = true;
      owner_.stats->framing_errors.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // The client's offers are lines `name=value,value`; a client that offers commands must
  // offer syslog (a client that offers none gets syslog anyway, as from librelp).
  static bool offers_syslog(std::string_view offers) {
    bool any_commands = false;
    while (!offers.empty()) {
      const std::size_t nl = offers.find('\n');
      std::string_view line = offers.substr(0, nl);
      offers = nl == std::string_view::npos ? std::string_view() : offers.substr(nl + 1);
      if (line.substr(0, 9) != "commands=") continue;
      any_commands = true;
      line.remove_prefix(9);
      while (!line.empty()) {
        const std::size_t comma = line.find(',');
        if (line.substr(0, comma) == "syslog") return true;
        line = comma == std::string_view::npos ? std::string_view() : line.substr(comma + 1);
      }
    }
    return !any_commands;
  }

  // Malformed input: counted; the connection is closed at once without further answers, so
  // the sender resends whatever was not acknowledged.
  void protocol_error() {
    owner_.stats->framing_errors.fetch_add(1, std::memory_order_relaxed);
    connection_.close();
  }

  // Writes the answers whose messages are committed, in order, in one write.
  void answer_ready() {
    std::string out;
    bool close = false;
    while (!pending_.empty() && pending_.front().after_seq <= committed_seq_) {
      const Pending& p = pending_.front();
      out += std::to_string(p.txnr);
      out += " rsp ";
      out += std::to_string(p.text.size());
      if (!p.text.empty()) {
        out += ' ';
        out += p.text;
      }
      out += '\n';
      close = p.close_after;
      pending_.pop_front();
      if (close) break;
    }
    if (!out.empty()) connection_.write(std::move(out));
    if (close) connection_.close_after_writes();
  }

  RelpCollector::Impl& owner_;
  StreamConnection& connection_;
  RelpFrameParser parser_;
  std::shared_ptr<const SourceInfo> source_;
  std::deque<Pending> pending_;  // unanswered commands, in order
  std::uint64_t seq_ = 0;            // messages of this connection handed to the batcher
  std::uint64_t committed_seq_ = 0;  // of those, committed
  std::uint32_t expected_txnr_ = 1;
  bool opened_ = false;
  bool closing_ = false;  // close (or a refused open) seen: nothing more is read
  bool paused_ = false;
  bool ended_ = false;
};

}  // namespace

std::shared_ptr<StreamHandler> RelpCollector::Impl::make_session(StreamConnection& connection) {
  return std::make_shared<RelpSession>(*this, connection, assigner->for_peer(default_source, connection.address()));
}

void RelpCollector::Impl::deliver(const std::vector<AckMark>& acks, bool ok) {
  for (const AckMark& a : acks)
    if (auto session = a.session.lock()) session->committed(a.seq, ok);
}

Status RelpOptions::validate() const {
  const std::string who = "RELP collector '" + name + "': ";
  if (name.empty()) return Status::InvalidArgument("RELP collector: name must not be empty");
  if (listen_host.empty()) return Status::InvalidArgument(who + "listen host is empty");
  if (max_record_bytes == 0) return Status::InvalidArgument(who + "max_record_bytes must be positive");
  if (max_frame_bytes == 0 || max_frame_bytes > RelpFrameParser::kMaxTxnr)
    return Status::InvalidArgument(who + "max_frame_bytes must be 1..999999999 (RELP's 9-digit DATALEN)");
  if (max_unacked == 0) return Status::InvalidArgument(who + "max_unacked must be positive");
  if (max_connections == 0) return Status::InvalidArgument(who + "max_connections must be positive");
  if (max_connections_per_address == 0)
    return Status::InvalidArgument(who + "max_connections_per_address must be positive");
  if (idle_timeout.count() <= 0) return Status::InvalidArgument(who + "idle_timeout must be positive");
  if (handshake_timeout.count() <= 0) return Status::InvalidArgument(who + "handshake_timeout must be positive");
  if (tls && (cert_file.empty() || key_file.empty())) return Status::InvalidArgument(who + "TLS needs cert_file and key_file");
  if (!tls && (!cert_file.empty() || !key_file.empty() || !ca_file.empty()))
    return Status::InvalidArgument(who + "cert_file, key_file and ca_file need tls: true");
  return Status::Ok();
}

RelpCollector::RelpCollector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<RelpCollector>> RelpCollector::create(Options options, BatchSink& sink,
                                                              std::shared_ptr<CollectorStats> stats) {
  if (Status s = options.validate(); !s.ok()) return Error(std::move(s));
  if (!stats) stats = std::make_shared<CollectorStats>(options.name, "relp");
  return std::unique_ptr<RelpCollector>(new RelpCollector(std::make_unique<Impl>(std::move(options), sink, std::move(stats))));
}

RelpCollector::~RelpCollector() { stop(); }

std::uint16_t RelpCollector::local_port() const { return impl_->listener->local_port(); }
const CollectorStats& RelpCollector::stats() const { return *impl_->stats; }

Status RelpCollector::start() {
  Impl& d = *impl_;
  if (d.started) return Status::Internal("RELP collector '" + d.options.name + "' started twice");
  if (Status s = d.listener->start(); !s.ok()) return s;
  d.started = true;
  d.thread = std::thread([&d] { d.io.run(); });
  return Status::Ok();
}

void RelpCollector::stop() {
  Impl& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  if (!d.started) return;
  asio::post(d.io, [&d] {
    d.listener->shutdown();
    d.batcher.cancel_timer();
  });
  if (d.thread.joinable()) d.thread.join();
  // The last batch is still stored; its senders were disconnected and resend it (a duplicate).
  d.batcher.flush();
}

}  // namespace vigil::collectors
