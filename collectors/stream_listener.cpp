#include "collectors/stream_listener.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

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

struct StreamListener::Impl {
  Impl(asio::io_context& io_, StreamListenerOptions opts, std::shared_ptr<CollectorStats> s,
       StreamHandlerFactory f)
      : io(io_),
        options(std::move(opts)),
        stats(std::move(s)),
        factory(std::move(f)),
        acceptor(io),
        accept_retry(io),
        read_buffer(kPlainReadBufferBytes) {}

  Status load_tls();
  void accept_next();
  void on_accept(const boost::system::error_code& ec, tcp::socket socket);
  void session_ended(const std::shared_ptr<Session>& session);

  asio::io_context& io;
  StreamListenerOptions options;
  std::shared_ptr<CollectorStats> stats;
  StreamHandlerFactory factory;
  std::optional<ssl::context> tls_context;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  std::vector<char> read_buffer;  // shared by all plain sessions: only the io thread reads
  std::unordered_set<std::shared_ptr<Session>> sessions;
  std::unordered_map<std::string, std::size_t> per_address;  // open sessions per sender address
  std::uint16_t local_port = 0;
  bool stopping = false;  // io thread: no new sessions
};

namespace {

// One connection. Owned by Impl::sessions while open and by its pending handlers.
class Session final : public std::enable_shared_from_this<Session>, public StreamConnection {
 public:
  Session(StreamListener::Impl& owner, tcp::socket socket, std::string address)
      : address_(std::move(address)), owner_(owner), deadline_(owner.io) {
    if (owner.tls_context) {
      tls_.emplace(std::move(socket), *owner.tls_context);
      tls_buffer_ = std::make_unique<char[]>(kTlsReadBufferBytes);
    } else {
      plain_.emplace(std::move(socket));
    }
  }

  void set_handler(std::shared_ptr<StreamHandler> handler) { handler_ = std::move(handler); }

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

  const std::string& address() const override { return address_; }
  Clock::time_point last_activity() const { return last_activity_; }

  void write(std::string bytes) override {
    if (ended_ || bytes.empty()) return;
    last_activity_ = Clock::now();
    queued_ += bytes;
    if (!writing_ && !handshaking_) start_write();
  }

  void pause_reading() override { paused_ = true; }

  // Deferred to a handler of its own: resume_reading() may be called from inside on_data(),
  // while a read loop is still running.
  void resume_reading() override {
    if (!paused_) return;
    paused_ = false;
    asio::post(owner_.io, [self = shared_from_this()] { self->arm_read(); });
  }

  void close_after_writes() override {
    if (ended_) return;
    close_after_writes_ = true;
    paused_ = true;  // whatever arrives now would go unanswered
    if (!writing_ && queued_.empty()) end();
  }

  void close() override { end(); }

  // Closes the connection (idempotent); the handler's on_end() runs once.
  void end() {
    if (ended_) return;
    ended_ = true;
    auto self = shared_from_this();  // the owner's reference goes away in session_ended()
    deadline_.cancel();
    boost::system::error_code ignored;
    lowest_layer().close(ignored);
    if (handler_) {
      handler_->on_end();
      handler_.reset();  // the handler may refer to this connection: it goes first
    }
    owner_.session_ended(self);
  }

 private:
  tcp::socket::lowest_layer_type& lowest_layer() { return tls_ ? tls_->lowest_layer() : plain_->lowest_layer(); }

  void feed(std::size_t n, const char* data) {
    last_activity_ = Clock::now();
    // A local reference: the handler may close the connection, which lets go of handler_.
    if (auto handler = handler_) handler->on_data(std::string_view(data, n));
  }

  void start_write() {
    writing_ = true;
    in_flight_.swap(queued_);
    queued_.clear();
    auto done = [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) { self->on_written(ec); };
    if (tls_) asio::async_write(*tls_, asio::buffer(in_flight_), std::move(done));
    else asio::async_write(*plain_, asio::buffer(in_flight_), std::move(done));
  }

  void on_written(const boost::system::error_code& ec) {
    writing_ = false;
    in_flight_.clear();
    if (ended_) return;
    if (ec) {  // the peer is gone
      end();
      return;
    }
    if (!queued_.empty()) start_write();
    else if (close_after_writes_) end();
  }

  void arm_read() {
    if (ended_ || paused_ || read_armed_ || handshaking_) return;
    if (tls_) read_tls();
    else wait_readable();
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
    if (!queued_.empty() && !writing_) start_write();
    arm_read();
  }

  void read_tls() {
    read_armed_ = true;
    tls_->async_read_some(asio::buffer(tls_buffer_.get(), kTlsReadBufferBytes),
                          [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                            self->on_tls_read(ec, n);
                          });
  }

  void on_tls_read(const boost::system::error_code& ec, std::size_t n) {
    read_armed_ = false;
    if (ended_) return;
    if (n > 0) feed(n, tls_buffer_.get());
    if (ended_) return;
    if (ec) {
      // A peer that closes without close_notify (stream_truncated) just ended its stream; any
      // other TLS-layer error means bytes that are not TLS records arrived.
      if (ec.category() == asio::error::get_ssl_category())
        owner_.stats->framing_errors.fetch_add(1, std::memory_order_relaxed);
      end();
      return;
    }
    arm_read();
  }

  void wait_readable() {
    read_armed_ = true;
    plain_->async_wait(tcp::socket::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
      self->read_armed_ = false;
      if (ec) {
        self->end();
        return;
      }
      self->read_available();
    });
  }

  void read_available() {
    if (ended_ || paused_) return;
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
      if (ended_ || paused_) return;
      if (n < buffer.size()) break;
    }
    arm_read();
  }

  const std::string address_;  // the sender's address without the port
  StreamListener::Impl& owner_;
  std::optional<tcp::socket> plain_;
  std::optional<ssl::stream<tcp::socket>> tls_;
  std::unique_ptr<char[]> tls_buffer_;
  std::shared_ptr<StreamHandler> handler_;
  asio::steady_timer deadline_;
  Clock::time_point last_activity_;
  std::string queued_;     // bytes to write after the write in flight
  std::string in_flight_;  // the bytes of the write in flight (kept alive until it completes)
  bool handshaking_ = false;
  bool ended_ = false;
  bool paused_ = false;
  bool read_armed_ = false;  // a read or readiness wait is outstanding
  bool writing_ = false;
  bool close_after_writes_ = false;
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
Status StreamListener::Impl::load_tls() {
  const std::string who = options.what + ": ";
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

void StreamListener::Impl::accept_next() {
  acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void StreamListener::Impl::on_accept(const boost::system::error_code& ec, tcp::socket socket) {
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
  ++per_address[address];
  auto session = std::make_shared<Session>(*this, std::move(socket), std::move(address));
  session->set_handler(factory(*session));
  sessions.insert(session);
  stats->connections_open.fetch_add(1, std::memory_order_relaxed);
  stats->connections_total.fetch_add(1, std::memory_order_relaxed);
  session->start();
  accept_next();
}

void StreamListener::Impl::session_ended(const std::shared_ptr<Session>& session) {
  if (sessions.erase(session) > 0) {
    stats->connections_open.fetch_sub(1, std::memory_order_relaxed);
    if (auto it = per_address.find(session->address()); it != per_address.end() && --it->second == 0)
      per_address.erase(it);
  }
}

StreamListener::StreamListener(asio::io_context& io, StreamListenerOptions options,
                               std::shared_ptr<CollectorStats> stats, StreamHandlerFactory factory)
    : impl_(std::make_unique<Impl>(io, std::move(options), std::move(stats), std::move(factory))) {}

StreamListener::~StreamListener() = default;

std::uint16_t StreamListener::local_port() const { return impl_->local_port; }

Status StreamListener::start() {
  Impl& d = *impl_;
  const std::string proto = d.options.tls ? "TLS" : "TCP";
  const std::string where = proto + " " + d.options.listen_host + ":" + std::to_string(d.options.port);
  if (d.options.tls) {
    // ssl::context throws only when OpenSSL cannot allocate one; keep even that inside Status.
    try {
      if (Status s = d.load_tls(); !s.ok()) return s;
    } catch (const std::exception& e) {
      return Status::Internal(d.options.what + ": " + e.what());
    }
  }
  auto address = resolve_listen_address(d.options.listen_host);
  if (!address)
    return Status::InvalidArgument(d.options.what + ": cannot listen on " + where + ": " + address.error().message());
  const tcp::endpoint endpoint(*address, d.options.port);
  boost::system::error_code ec;
  auto fail = [&](const char* step) {
    boost::system::error_code ignored;
    d.acceptor.close(ignored);
    return Status::IoError(d.options.what + ": cannot " + step + " " + where + ": " + ec.message());
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
  d.accept_next();
  return Status::Ok();
}

void StreamListener::shutdown() {
  Impl& d = *impl_;
  d.stopping = true;
  boost::system::error_code ignored;
  d.acceptor.close(ignored);
  d.accept_retry.cancel();
  const std::vector<std::shared_ptr<Session>> open(d.sessions.begin(), d.sessions.end());
  for (const auto& session : open) session->end();
}

}  // namespace vigil::collectors
