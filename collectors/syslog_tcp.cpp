#include "collectors/syslog_tcp.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>

#include "collectors/framing.h"
#include "collectors/syslog_udp.h"  // resolve_listen_address, peer_ip_text

namespace vigil::collectors {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kPlainReadBufferBytes = 64u << 10;
constexpr std::size_t kTlsReadBufferBytes = 16u << 10;  // one TLS record
// Reads per readiness wakeup: enough to move fast, few enough that one busy sender does not
// starve the others.
constexpr int kReadsPerWakeup = 16;
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

class Session;

}  // namespace

struct TcpSyslogCollector::Impl {
  Impl(TcpSyslogOptions opts, BatchSink& sink, std::shared_ptr<CollectorStats> s)
      : options(std::move(opts)),
        stats(std::move(s)),
        acceptor(io),
        accept_retry(io),
        batcher(io, sink, stats, [&] {
          BatcherOptions b = options.batching;
          b.mode = BatcherOptions::SubmitMode::kBlocking;
          return b;
        }()),
        read_buffer(kPlainReadBufferBytes) {
    auto source = std::make_shared<SourceInfo>(options.source);
    if (source->collector.empty()) source->collector = options.name;
    default_source = std::move(source);
    assigner = options.source_assigner;
    if (!assigner) {
      own_assigner = std::make_unique<SourceAssigner>(std::move(SourceAssigner::create({}).value()));
      assigner = own_assigner.get();
    }
  }

  Status load_tls();
  void accept_next();
  void on_accept(const boost::system::error_code& ec, tcp::socket socket);
  void session_ended(const std::shared_ptr<Session>& session);

  TcpSyslogOptions options;
  std::shared_ptr<CollectorStats> stats;
  std::shared_ptr<const SourceInfo> default_source;
  std::unique_ptr<SourceAssigner> own_assigner;
  const SourceAssigner* assigner = nullptr;

  asio::io_context io;
  std::optional<ssl::context> tls_context;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  Batcher batcher;
  std::vector<char> read_buffer;  // shared by all plain sessions: only the io thread reads
  std::unordered_set<std::shared_ptr<Session>> sessions;
  std::unordered_map<std::string, std::size_t> per_address;  // open sessions per sender address
  std::uint16_t local_port = 0;
  std::thread thread;
  bool started = false;
  bool stopped = false;
  bool stopping = false;  // io thread: no new sessions
};

namespace {

// One connection. Owned by Impl::sessions while open and by its pending handlers.
class Session final : public std::enable_shared_from_this<Session>, private StreamFramer::Handler {
 public:
  Session(TcpSyslogCollector::Impl& owner, tcp::socket socket, std::shared_ptr<const SourceInfo> source,
          std::string address)
      : address_(std::move(address)),
        owner_(owner),
        framer_(StreamFramerOptions{owner.options.max_record_bytes, owner.options.max_octet_count}),
        source_(std::move(source)),
        deadline_(owner.io) {
    if (owner.tls_context) {
      tls_.emplace(std::move(socket), *owner.tls_context);
      tls_buffer_ = std::make_unique<char[]>(kTlsReadBufferBytes);
    } else {
      plain_.emplace(std::move(socket));
    }
  }

  void start() {
    last_activity_ = Clock::now();
    if (tls_) {
      handshaking_ = true;
      arm_deadline(owner_.options.handshake_timeout);
      tls_->async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](const boost::system::error_code& ec) {
                              self->on_handshake(ec);
                            });
      return;
    }
    arm_deadline(owner_.options.idle_timeout);
    boost::system::error_code ec;
    plain_->non_blocking(true, ec);
    if (ec) {
      end();
      return;
    }
    wait_readable();
  }

  const std::string& address() const { return address_; }
  Clock::time_point last_activity() const { return last_activity_; }

  // Closes the connection (idempotent). Emits an unterminated last line.
  void end() {
    if (ended_) return;
    ended_ = true;
    auto self = shared_from_this();  // the owner's reference goes away in session_ended()
    deadline_.cancel();
    boost::system::error_code ignored;
    lowest_layer().close(ignored);
    framer_.finish(*this);
    report_framing_errors();
    owner_.session_ended(self);
  }

 private:
  tcp::socket::lowest_layer_type& lowest_layer() { return tls_ ? tls_->lowest_layer() : plain_->lowest_layer(); }

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

  void feed(std::size_t n, const char* data) {
    last_activity_ = Clock::now();
    framer_.feed(std::string_view(data, n), *this);
    report_framing_errors();
  }

  void arm_deadline(std::chrono::milliseconds after) {
    deadline_.expires_after(after);
    deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->on_deadline();
    });
  }

  // One timer per connection, re-armed for the rest of the idle time instead of being reset on
  // every read (a timer reset per read would cost more than the read).
  void on_deadline() {
    if (ended_) return;
    if (handshaking_) {
      owner_.stats->connections_rejected.fetch_add(1, std::memory_order_relaxed);
      end();
      return;
    }
    const auto idle_for = Clock::now() - last_activity_;
    if (idle_for >= owner_.options.idle_timeout) {
      owner_.stats->idle_timeouts.fetch_add(1, std::memory_order_relaxed);
      end();
      return;
    }
    arm_deadline(std::chrono::ceil<std::chrono::milliseconds>(owner_.options.idle_timeout - idle_for));
  }

  void on_handshake(const boost::system::error_code& ec) {
    if (ended_) return;
    if (ec) {
      // Plain text on the TLS port, an unknown CA, a client that gave up: a TLS failure.
      owner_.stats->connections_rejected.fetch_add(1, std::memory_order_relaxed);
      end();
      return;
    }
    handshaking_ = false;
    last_activity_ = Clock::now();
    read_tls();
  }

  void read_tls() {
    tls_->async_read_some(asio::buffer(tls_buffer_.get(), kTlsReadBufferBytes),
                          [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                            self->on_tls_read(ec, n);
                          });
  }

  void on_tls_read(const boost::system::error_code& ec, std::size_t n) {
    if (ended_) return;
    if (n > 0) feed(n, tls_buffer_.get());
    if (ec) {
      // A peer that closes without close_notify (stream_truncated) just ended its stream; any
      // other TLS-layer error means bytes that are not TLS records arrived.
      if (ec.category() == asio::error::get_ssl_category())
        owner_.stats->framing_errors.fetch_add(1, std::memory_order_relaxed);
      end();
      return;
    }
    read_tls();
  }

  void wait_readable() {
    plain_->async_wait(tcp::socket::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) {
        self->end();
        return;
      }
      self->read_available();
    });
  }

  void read_available() {
    if (ended_) return;
    std::vector<char>& buffer = owner_.read_buffer;
    for (int i = 0; i < kReadsPerWakeup; ++i) {
      boost::system::error_code ec;
      const std::size_t n = plain_->read_some(asio::buffer(buffer), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) {  // eof: the sender closed; anything else: the connection broke
        end();
        return;
      }
      feed(n, buffer.data());
      if (ended_) return;
      if (n < buffer.size()) break;
    }
    wait_readable();
  }

  const std::string address_;  // the sender's address without the port
  TcpSyslogCollector::Impl& owner_;
  std::optional<tcp::socket> plain_;
  std::optional<ssl::stream<tcp::socket>> tls_;
  std::unique_ptr<char[]> tls_buffer_;
  StreamFramer framer_;
  std::shared_ptr<const SourceInfo> source_;
  asio::steady_timer deadline_;
  Clock::time_point last_activity_;
  std::uint64_t records_ = 0;
  std::uint64_t framing_errors_reported_ = 0;
  bool handshaking_ = false;
  bool ended_ = false;
};

// Reads a file's first byte so a missing or unreadable file is reported with the OS reason
// rather than OpenSSL's less helpful one.
Status check_readable(const std::string& what, const std::string& path) {
  if (path.empty()) return Status::InvalidArgument(what + " is not set");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::IoError(what + " '" + path + "': " + std::strerror(errno));
  std::fclose(f);
  return Status::Ok();
}

std::string openssl_reason(const boost::system::error_code& ec) {
  std::string reason = ec.message();
  if (const unsigned long err = ERR_peek_last_error()) {
    char buffer[256];
    ERR_error_string_n(err, buffer, sizeof buffer);
    reason += " (";
    reason += buffer;
    reason += ")";
  }
  ERR_clear_error();
  return reason;
}

}  // namespace

Status TcpSyslogCollector::Impl::load_tls() {
  const std::string who = "TLS syslog collector '" + options.name + "': ";
  for (const auto& [what, path] : {std::pair<std::string, std::string>{"certificate file", options.cert_file},
                                   {"key file", options.key_file}}) {
    if (Status s = check_readable(what, path); !s.ok()) return Status(s.code() == StatusCode::kIoError
                                                                          ? Status::IoError(who + s.message())
                                                                          : Status::InvalidArgument(who + s.message()));
  }
  if (!options.ca_file.empty())
    if (Status s = check_readable("CA file", options.ca_file); !s.ok()) return Status::IoError(who + s.message());
  ERR_clear_error();
  tls_context.emplace(ssl::context::tls_server);
  ssl::context& ctx = *tls_context;
  boost::system::error_code ec;
  // TLS 1.2 and later only (RFC 5425 requires at least 1.2 in practice; older versions are broken).
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                      ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                  ec);
  if (ec) return Status::Internal(who + "cannot set TLS options: " + openssl_reason(ec));
  ctx.use_certificate_chain_file(options.cert_file, ec);
  if (ec)
    return Status::InvalidArgument(who + "certificate file '" + options.cert_file +
                                   "' is not a usable PEM certificate chain: " + openssl_reason(ec));
  ctx.use_private_key_file(options.key_file, ssl::context::pem, ec);
  if (ec)
    return Status::InvalidArgument(who + "key file '" + options.key_file + "' is not a usable PEM private key: " +
                                   openssl_reason(ec));
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument(who + "key file '" + options.key_file + "' does not match certificate file '" +
                                   options.cert_file + "'");
  }
  if (!options.ca_file.empty()) {
    ctx.load_verify_file(options.ca_file, ec);
    if (ec)
      return Status::InvalidArgument(who + "CA file '" + options.ca_file + "' is not a usable PEM file: " +
                                     openssl_reason(ec));
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) return Status::Internal(who + "cannot require client certificates: " + openssl_reason(ec));
  }
  return Status::Ok();
}

void TcpSyslogCollector::Impl::accept_next() {
  acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void TcpSyslogCollector::Impl::on_accept(const boost::system::error_code& ec, tcp::socket socket) {
  if (stopping || ec == asio::error::operation_aborted) return;
  if (ec == asio::error::connection_aborted) {  // the client gave up before we accepted it
    accept_next();
    return;
  }
  if (ec) {
    // Out of file descriptors or memory: try again shortly instead of spinning.
    accept_retry.expires_after(kAcceptRetryDelay);
    accept_retry.async_wait([this](const boost::system::error_code& wait_ec) {
      if (!wait_ec && !stopping) accept_next();
    });
    return;
  }
  boost::system::error_code peer_ec;
  const tcp::endpoint peer = socket.remote_endpoint(peer_ec);
  auto refuse = [&] {
    // The peer is already gone, or a limit with nobody idle: close at once so the sender sees it.
    boost::system::error_code ignored;
    socket.close(ignored);
    if (!peer_ec) stats->connections_rejected.fetch_add(1, std::memory_order_relaxed);
    accept_next();
  };
  if (peer_ec) return refuse();
  std::string address = peer_ip_text(peer.address());
  const bool address_full = per_address[address] >= options.max_connections_per_address;
  if (address_full || sessions.size() >= options.max_connections) {
    // Make room by closing the connection silent the longest (of this address when only its
    // limit is reached), if it has been silent long enough to be a flood or a dead peer.
    std::shared_ptr<Session> victim;
    for (const auto& s : sessions)
      if ((!address_full || s->address() == address) && (!victim || s->last_activity() < victim->last_activity()))
        victim = s;
    if (!victim || Clock::now() - victim->last_activity() < options.evict_after_idle) {
      if (per_address[address] == 0) per_address.erase(address);
      return refuse();
    }
    stats->idle_timeouts.fetch_add(1, std::memory_order_relaxed);
    victim->end();
  }
  auto source = assigner->for_peer(default_source, address);
  ++per_address[address];
  auto session = std::make_shared<Session>(*this, std::move(socket), std::move(source), std::move(address));
  sessions.insert(session);
  stats->connections_open.fetch_add(1, std::memory_order_relaxed);
  stats->connections_total.fetch_add(1, std::memory_order_relaxed);
  session->start();
  accept_next();
}

void TcpSyslogCollector::Impl::session_ended(const std::shared_ptr<Session>& session) {
  if (sessions.erase(session) > 0) {
    stats->connections_open.fetch_sub(1, std::memory_order_relaxed);
    if (auto it = per_address.find(session->address()); it != per_address.end() && --it->second == 0)
      per_address.erase(it);
  }
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

std::uint16_t TcpSyslogCollector::local_port() const { return impl_->local_port; }
const CollectorStats& TcpSyslogCollector::stats() const { return *impl_->stats; }

Status TcpSyslogCollector::start() {
  Impl& d = *impl_;
  if (d.started) return Status::Internal("syslog collector '" + d.options.name + "' started twice");
  const std::string proto = d.options.tls ? "TLS" : "TCP";
  const std::string where = proto + " " + d.options.listen_host + ":" + std::to_string(d.options.port);
  if (d.options.tls) {
    // ssl::context throws only when OpenSSL cannot allocate one; keep even that inside Status.
    try {
      if (Status s = d.load_tls(); !s.ok()) return s;
    } catch (const std::exception& e) {
      return Status::Internal("TLS syslog collector '" + d.options.name + "': " + e.what());
    }
  }
  auto address = resolve_listen_address(d.options.listen_host);
  if (!address)
    return Status::InvalidArgument(proto + " syslog collector '" + d.options.name + "': cannot listen on " + where +
                                   ": " + address.error().message());
  const tcp::endpoint endpoint(*address, d.options.port);
  boost::system::error_code ec;
  auto fail = [&](const char* step) {
    boost::system::error_code ignored;
    d.acceptor.close(ignored);
    return Status::IoError(proto + " syslog collector '" + d.options.name + "': cannot " + step + " " + where + ": " +
                           ec.message());
  };
  if (d.acceptor.open(endpoint.protocol(), ec); ec) return fail("open a socket for");
  // Lets a restarted daemon bind while old connections sit in TIME_WAIT (it does not let two
  // listeners share the port).
  if (d.acceptor.set_option(tcp::acceptor::reuse_address(true), ec); ec) return fail("set SO_REUSEADDR on");
  if (d.acceptor.bind(endpoint, ec); ec) return fail("bind");
  if (d.acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen on");
  const tcp::endpoint bound = d.acceptor.local_endpoint(ec);
  if (ec) return fail("read the bound port of");
  d.local_port = bound.port();
  d.started = true;
  d.accept_next();
  d.thread = std::thread([&d] { d.io.run(); });
  return Status::Ok();
}

void TcpSyslogCollector::stop() {
  Impl& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  if (!d.started) return;
  asio::post(d.io, [&d] {
    d.stopping = true;
    boost::system::error_code ignored;
    d.acceptor.close(ignored);
    d.accept_retry.cancel();
    const std::vector<std::shared_ptr<Session>> open(d.sessions.begin(), d.sessions.end());
    for (const auto& session : open) session->end();
    d.batcher.cancel_timer();
  });
  // run() returns once every handler has seen its operation aborted.
  if (d.thread.joinable()) d.thread.join();
  d.batcher.flush();
}

}  // namespace vigil::collectors
