#include "net/http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "core/ascii.h"
#include "core/json_text.h"

namespace vigil::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

// ---------------------------------------------------------------------------------------------
// Options, Request, Response

Status HttpServerOptions::validate() const {
  if (threads == 0) return Status::InvalidArgument("http server: threads must be at least 1");
  if (max_body_bytes == 0) return Status::InvalidArgument("http server: max_body_bytes must be positive");
  if (max_header_bytes < 1024) return Status::InvalidArgument("http server: max_header_bytes must be at least 1024");
  if (max_connections == 0) return Status::InvalidArgument("http server: max_connections must be at least 1");
  if (max_connections_per_address == 0)
    return Status::InvalidArgument("http server: max_connections_per_address must be at least 1");
  if (header_timeout.count() <= 0 || idle_timeout.count() <= 0 || body_timeout.count() <= 0 ||
      write_timeout.count() <= 0)
    return Status::InvalidArgument("http server: timeouts must be positive");
  if (tls_cert_file.empty() != tls_key_file.empty())
    return Status::InvalidArgument("http server: TLS needs both a certificate file and a key file");
  error_code ec;
  asio::ip::make_address(address, ec);
  if (ec) return Status::InvalidArgument("http server: '" + address + "' is not an IP address");
  return Status::Ok();
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (ascii_iequals(key, name)) return std::string_view(value);
  return std::nullopt;
}

std::optional<std::string_view> Request::query_param(std::string_view name) const {
  for (const auto& [key, value] : query)
    if (key == name) return std::string_view(value);
  return std::nullopt;
}

Response Response::json(unsigned status, std::string json_body) {
  return bytes(status, "application/json", std::move(json_body));
}
Response Response::text(unsigned status, std::string text_body) {
  return bytes(status, "text/plain; charset=utf-8", std::move(text_body));
}
Response Response::bytes(unsigned status, std::string content_type, std::string body) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}
Response Response::error(unsigned status, std::string_view message) {
  std::string body = "{\"error\":\"";
  append_json_escaped(body, message, InvalidUtf8::kReplace);
  body += "\"}";
  return json(status, std::move(body));
}

bool percent_decode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

namespace detail {

// ---------------------------------------------------------------------------------------------
// Shared state. Every connection holds the core, so the io_context (and the services its
// sockets use) outlives the last connection, even one kept alive by a late Responder.

class SessionBase;

struct Route {
  std::string method;
  std::string pattern;  // without the trailing '*' for prefixes
  bool prefix = false;
  Handler handler;
};

struct ServerCore {
  explicit ServerCore(HttpServerOptions opts)
      : options(std::move(opts)), ioc(static_cast<int>(options.threads)), acceptor(asio::make_strand(ioc)) {}

  HttpServerOptions options;
  asio::io_context ioc;  // declared before everything that uses it, so destroyed after
  std::optional<ssl::context> tls;
  tcp::acceptor acceptor;  // on its own strand: stop() closes it from another thread
  // Keeps run() going while stop() posts the closing handlers: without it the io_context could
  // run out of work between two posts (a connection waiting for a deferred answer has no
  // operation pending) and stop, leaving the later handlers unrun.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<Route> routes;  // fixed after start()

  std::mutex mutex;       // guards stopping (with respect to posting) and sessions
  std::atomic<bool> stopping{false};
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
  std::unordered_map<std::string, std::size_t> per_address;  // open connections per peer address
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_evicted{0};
  std::atomic<std::size_t> open_connections{0};  // sessions.size(), readable without the mutex
  std::atomic<std::uint64_t> connections_rejected{0};
};

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  SessionBase(std::shared_ptr<ServerCore> core, std::string address)
      : core_(std::move(core)), address_(std::move(address)) {}
  virtual ~SessionBase() = default;
  const std::string& address() const { return address_; }
  // Since when the connection waits for a request header (a new connection, or keep-alive
  // between requests), in steady ns; 0 while a request is read, handled or answered. Idle
  // connections are the ones closed to make room at the connection limits.
  std::int64_t idle_since() const { return idle_since_.load(std::memory_order_relaxed); }
  // Chosen to make room: never chosen twice.
  bool mark_evicted() { return !evicted_.exchange(true); }
  bool evicted() const { return evicted_.load(); }
  // Any thread: hands the response to the connection's strand, unless the server stopped.
  virtual void deliver(Response response) = 0;
  // Any thread: closes the connection on its strand.
  virtual void close_from_outside() = 0;

 protected:
  // First member: destroyed last, so the io_context outlives the socket.
  std::shared_ptr<ServerCore> core_;
  const std::string address_;  // the peer's address without its port
  std::atomic<std::int64_t> idle_since_{steady_now_ns()};
  std::atomic<bool> evicted_{false};
};

struct ResponderState {
  explicit ResponderState(std::shared_ptr<SessionBase> s) : session(std::move(s)) {}
  ~ResponderState() {
    if (!answered.exchange(true)) session->deliver(Response::error(500, "the handler did not answer"));
  }
  std::shared_ptr<SessionBase> session;
  std::atomic<bool> answered{false};
};

}  // namespace detail

void Responder::operator()(Response response) const {
  if (state_->answered.exchange(true)) return;
  state_->session->deliver(std::move(response));
}

bool Responder::answered() const { return state_->answered.load(); }

namespace detail {

namespace {

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

// Lowest layer of either stream type.
inline beast::tcp_stream& lowest(beast::tcp_stream& s) { return s; }
inline beast::tcp_stream& lowest(beast::ssl_stream<beast::tcp_stream>& s) { return s.next_layer(); }

template <class Stream>
class Session final : public SessionBase {
 public:
  Session(std::shared_ptr<ServerCore> core, Stream stream, std::string peer, std::string address)
      : SessionBase(std::move(core), std::move(address)), stream_(std::move(stream)), peer_(std::move(peer)) {}

  Session(std::shared_ptr<ServerCore> core, tcp::socket socket, ssl::context& ctx, std::string peer,
          std::string address)
      : SessionBase(std::move(core), std::move(address)), stream_(std::move(socket), ctx), peer_(std::move(peer)) {}

  ~Session() override {
    std::lock_guard lock(core_->mutex);
    core_->sessions.erase(this);
    core_->open_connections.store(core_->sessions.size(), std::memory_order_relaxed);
    if (auto it = core_->per_address.find(address_); it != core_->per_address.end() && --it->second == 0)
      core_->per_address.erase(it);
  }

  void run() {
    if (core_->stopping) return close_now();
    if constexpr (kTls) {
      lowest(stream_).expires_after(core_->options.header_timeout);
      auto self = shared_from_this();
      stream_.async_handshake(ssl::stream_base::server,
                              [this, self](error_code ec) { on_handshake(ec); });
    } else {
      read_request();
    }
  }

  void deliver(Response response) override {
    std::lock_guard lock(core_->mutex);
    if (core_->stopping) return;
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), this, r = std::move(response)]() mutable { write_response(std::move(r)); });
  }

  void close_from_outside() override {
    asio::post(stream_.get_executor(), [self = shared_from_this(), this] {
      error_code ec;
      lowest(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
      lowest(stream_).close();
    });
  }

 private:
  static constexpr bool kTls = std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>;

  void on_handshake(error_code ec) {
    if (ec) {
      // A client that is not speaking TLS, or one with a certificate problem: nothing to answer.
      core_->connections_rejected.fetch_add(1, std::memory_order_relaxed);
      return close_now();
    }
    read_request();
  }

  void read_request() {
    if (core_->stopping) return close_now();
    parser_.emplace();
    parser_->body_limit(core_->options.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(core_->options.max_header_bytes));
    auto deadline = core_->options.header_timeout;
    // Keep-alive between requests: the full idle timeout only while the server has room; past
    // half its connections, an idle client gets just the header timeout.
    if (requests_ > 0 && core_->open_connections.load(std::memory_order_relaxed) <= core_->options.max_connections / 2)
      deadline += core_->options.idle_timeout;
    lowest(stream_).expires_after(deadline);
    idle_since_.store(steady_now_ns(), std::memory_order_relaxed);
    auto self = shared_from_this();
    http::async_read_header(stream_, buffer_, *parser_,
                            [this, self](error_code ec, std::size_t) { on_header(ec); });
  }

  void on_header(error_code ec) {
    if (ec) return on_read_error(ec);
    idle_since_.store(0, std::memory_order_relaxed);
    ++requests_;
    const auto length = parser_->content_length();
    if (length && *length > core_->options.max_body_bytes)
      return reply_and_close(Response::error(413, "request body over the limit of " +
                                                      std::to_string(core_->options.max_body_bytes) + " bytes"));
    auto& req = parser_->get();
    // Only "chunked" is a transfer coding a request may use here. Anything else ("chunked,
    // identity", "gzip, chunked") would be read with another idea of where the body ends than
    // a proxy in front may have: the rest of the body could run as a second request.
    if (const auto te = req[http::field::transfer_encoding]; !te.empty() &&
        !ascii_iequals(trim_spaces(std::string_view(te.data(), te.size())), "chunked"))
      return reply_and_close(Response::error(501, "unsupported Transfer-Encoding (only chunked)"));
    const auto expect = req[http::field::expect];
    if (ascii_iequals(std::string_view(expect.data(), expect.size()), "100-continue") && !parser_->is_done()) {
      // Clients such as curl wait for this before sending a large body.
      continue_.emplace(http::status::continue_, req.version());
      lowest(stream_).expires_after(core_->options.write_timeout);
      auto self = shared_from_this();
      http::async_write(stream_, *continue_, [this, self](error_code wec, std::size_t) {
        if (wec) return close_now();
        read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    lowest(stream_).expires_after(core_->options.body_timeout);
    auto self = shared_from_this();
    http::async_read(stream_, buffer_, *parser_, [this, self](error_code ec, std::size_t) { on_body(ec); });
  }

  void on_read_error(error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == ssl::error::stream_truncated || core_->stopping)
      return close_now();
    if (ec == http::error::body_limit)
      return reply_and_close(Response::error(
          413, "request body over the limit of " + std::to_string(core_->options.max_body_bytes) + " bytes"));
    if (ec == http::error::header_limit) return reply_and_close(Response::error(431, "request header too large"));
    if (ec.category() == http::make_error_code(http::error::bad_method).category())
      return reply_and_close(Response::error(400, "malformed request: " + ec.message()));
    close_now();  // a socket error: there is nobody to answer
  }

  void on_body(error_code ec) {
    if (ec) return on_read_error(ec);
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();

    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.peer = peer_;
    req.tls = kTls;
    const std::string_view target = req.target;
    if (target.empty() || target.front() != '/')
      return reply_and_close(Response::error(400, "malformed request: the target must start with '/'"));
    const std::size_t q = target.find('?');
    if (!percent_decode(target.substr(0, q), false, &req.path))
      return reply_and_close(Response::error(400, "malformed request: bad percent-escape in the path"));
    if (q != std::string_view::npos && !parse_query(target.substr(q + 1), &req.query))
      return reply_and_close(Response::error(400, "malformed request: bad percent-escape in the query"));
    req.headers.reserve(16);
    for (const auto& field : msg)
      req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    req.body = std::move(msg.body());
    dispatch(req);
  }

  static bool parse_query(std::string_view query, std::vector<std::pair<std::string, std::string>>* out) {
    while (!query.empty()) {
      const std::size_t amp = query.find('&');
      const std::string_view item = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (item.empty()) continue;
      const std::size_t eq = item.find('=');
      std::string key, value;
      if (!percent_decode(item.substr(0, eq), true, &key)) return false;
      if (eq != std::string_view::npos && !percent_decode(item.substr(eq + 1), true, &value)) return false;
      out->emplace_back(std::move(key), std::move(value));
    }
    return true;
  }

  void dispatch(Request& req) {
    const Route* best = nullptr;
    std::string allowed;
    std::size_t best_len = 0;
    bool any_path_match = false;
    // The longest matching pattern decides; among patterns of that length, the method picks.
    std::size_t longest = 0;
    for (const Route& r : core_->routes)
      if (matches(r, req.path)) longest = std::max(longest, r.pattern.size() + (r.prefix ? 0 : 1));
    for (const Route& r : core_->routes) {
      if (!matches(r, req.path) || r.pattern.size() + (r.prefix ? 0 : 1) != longest) continue;
      any_path_match = true;
      if (r.method == req.method) {
        best = &r;
        best_len = longest;
      } else if (allowed.find(r.method) == std::string::npos) {
        if (!allowed.empty()) allowed += ", ";
        allowed += r.method;
      }
    }
    (void)best_len;
    if (best == nullptr) {
      if (!any_path_match) return write_response(Response::error(404, "no such path"));
      Response r = Response::error(405, "method " + req.method + " is not allowed for " + req.path);
      r.headers.emplace_back("Allow", allowed);
      return write_response(std::move(r));
    }
    Responder responder(std::make_shared<ResponderState>(shared_from_this()));
    try {
      best->handler(req, responder);
    } catch (const std::exception& e) {
      responder(Response::error(500, std::string("handler failed: ") + e.what()));
    } catch (...) {
      responder(Response::error(500, "handler failed"));
    }
  }

  static bool matches(const Route& r, std::string_view path) {
    if (r.prefix) return path.substr(0, r.pattern.size()) == r.pattern;
    return path == r.pattern;
  }

  void reply_and_close(Response response) {
    keep_alive_ = false;
    if (version_ == 0) version_ = 11;
    response.close = true;
    write_response(std::move(response));
  }

  void write_response(Response r) {
    if (core_->stopping) return close_now();
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(version_ == 0 ? 11 : version_);
    res->result(r.status);
    res->set(http::field::server, core_->options.server_header);
    res->set(http::field::content_type, r.content_type);
    // Browsers must take every answer as the type it declares (a JSON error is never HTML).
    res->set("X-Content-Type-Options", "nosniff");
    for (auto& [name, value] : r.headers) res->set(name, value);
    res->body() = std::move(r.body);
    const bool keep = keep_alive_ && !r.close;
    res->keep_alive(keep);
    res->prepare_payload();
    lowest(stream_).expires_after(core_->options.write_timeout);
    auto self = shared_from_this();
    http::async_write(stream_, *res, [this, self, res, keep](error_code ec, std::size_t) {
      if (ec) return close_now();
      if (!keep) return graceful_close();
      read_request();
    });
  }

  void graceful_close() {
    if constexpr (kTls) {
      lowest(stream_).expires_after(std::chrono::seconds(2));
      auto self = shared_from_this();
      stream_.async_shutdown([this, self](error_code) { close_now(); });
    } else {
      error_code ec;
      // Half-close, then read and discard what the client still sends for a moment: closing
      // with unread bytes would make the kernel send a reset that can destroy the response
      // (a 413 sent before the body was read) before the client has read it.
      lowest(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
      lowest(stream_).expires_after(std::chrono::seconds(2));
      drain();
    }
  }

  void drain() {
    auto self = shared_from_this();
    lowest(stream_).async_read_some(asio::buffer(discard_), [this, self](error_code ec, std::size_t) {
      if (ec || core_->stopping) return close_now();
      drain();
    });
  }

  void close_now() {
    error_code ec;
    lowest(stream_).socket().close(ec);
  }

  Stream stream_;
  std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::array<char, 4096> discard_{};
  std::uint64_t requests_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = false;
};

void accept_next(const std::shared_ptr<ServerCore>& core);

void on_accept(const std::shared_ptr<ServerCore>& core, error_code ec, tcp::socket socket) {
  if (core->stopping) return;
  if (ec) {
    // Out of file descriptors and similar: keep accepting; the peers that failed are gone.
    if (ec == asio::error::operation_aborted) return;
    return accept_next(core);
  }
  core->connections_total.fetch_add(1, std::memory_order_relaxed);
  error_code pec;
  const auto remote = socket.remote_endpoint(pec);
  std::string peer = pec ? std::string("unknown") : endpoint_text(remote);
  std::string address = pec ? std::string("unknown") : remote.address().to_string();
  // Declared before the lock: the last reference to a session may be dropped here, and its
  // destructor takes the mutex.
  std::shared_ptr<SessionBase> victim;
  {
    std::lock_guard lock(core->mutex);
    // At a limit, the connection idle the longest (of this address for the per-address limit)
    // makes room: idle keep-alive or silent connections never lock out a client with a request,
    // such as an admin logging in during a flood. Busy connections are never closed; when all
    // are busy the new one is.
    const bool address_full = core->per_address[address] >= core->options.max_connections_per_address;
    const bool server_full = core->sessions.size() >= core->options.max_connections;
    if (address_full || server_full) {
      const std::weak_ptr<SessionBase>* oldest_session = nullptr;
      std::int64_t oldest = 0;
      for (auto& [ptr, weak] : core->sessions) {
        const std::int64_t idle = ptr->idle_since();
        if (idle == 0 || ptr->evicted() || (address_full && ptr->address() != address)) continue;
        if (oldest == 0 || idle < oldest) {
          oldest_session = &weak;
          oldest = idle;
        }
      }
      if (oldest_session) victim = oldest_session->lock();
      if (!victim || !victim->mark_evicted()) {
        core->connections_rejected.fetch_add(1, std::memory_order_relaxed);
        if (core->per_address[address] == 0) core->per_address.erase(address);
        socket.close(pec);
        return accept_next(core);
      }
      core->connections_evicted.fetch_add(1, std::memory_order_relaxed);
      victim->close_from_outside();
    }
    ++core->per_address[address];
  }
  if (core->tls) {
    auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(core, std::move(socket), *core->tls,
                                                                            std::move(peer), std::move(address));
    {
      std::lock_guard lock(core->mutex);
      core->sessions.emplace(s.get(), s);
      core->open_connections.store(core->sessions.size(), std::memory_order_relaxed);
    }
    s->run();
  } else {
    auto s = std::make_shared<Session<beast::tcp_stream>>(core, beast::tcp_stream(std::move(socket)), std::move(peer),
                                                          std::move(address));
    {
      std::lock_guard lock(core->mutex);
      core->sessions.emplace(s.get(), s);
      core->open_connections.store(core->sessions.size(), std::memory_order_relaxed);
    }
    s->run();
  }
  accept_next(core);
}

void accept_next(const std::shared_ptr<ServerCore>& core) {
  // Each connection gets its own strand: its handlers never run concurrently.
  core->acceptor.async_accept(asio::make_strand(core->ioc), [core](error_code ec, tcp::socket socket) {
    on_accept(core, ec, std::move(socket));
  });
}

}  // namespace
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// HttpServer

HttpServer::HttpServer(std::shared_ptr<detail::ServerCore> core) : core_(std::move(core)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::create(HttpServerOptions options) {
  if (Status st = options.validate(); !st.ok()) return Error(std::move(st));
  auto core = std::make_shared<detail::ServerCore>(std::move(options));
  const HttpServerOptions& o = core->options;
  if (!o.tls_cert_file.empty()) {
    core->tls.emplace(ssl::context::tls_server);
    ssl::context& ctx = *core->tls;
    error_code ec;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                    ec);
    if (ec) return Error(Status::Internal("http server: TLS options: " + ec.message()));
    ctx.use_certificate_chain_file(o.tls_cert_file, ec);
    if (ec)
      return Error(Status::InvalidArgument("http server: TLS certificate " + o.tls_cert_file + ": " + ec.message()));
    ctx.use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
    if (ec) return Error(Status::InvalidArgument("http server: TLS key " + o.tls_key_file + ": " + ec.message()));
    if (::SSL_CTX_check_private_key(ctx.native_handle()) != 1)
      return Error(Status::InvalidArgument("http server: TLS key " + o.tls_key_file +
                                           " does not belong to the certificate " + o.tls_cert_file));
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(core)));
}

Status HttpServer::route(std::string method, std::string path, Handler handler) {
  if (started_) return Status::InvalidArgument("http server: route " + path + " added after start()");
  if (method.empty()) return Status::InvalidArgument("http server: route " + path + " has no method");
  if (path.empty() || path.front() != '/')
    return Status::InvalidArgument("http server: route '" + path + "' must start with '/'");
  if (!handler) return Status::InvalidArgument("http server: route " + path + " has no handler");
  detail::Route r;
  r.method = std::move(method);
  r.prefix = path.back() == '*';
  if (r.prefix) path.pop_back();
  if (path.find('*') != std::string::npos)
    return Status::InvalidArgument("http server: route '" + path + "*': '*' only at the end");
  r.pattern = std::move(path);
  r.handler = std::move(handler);
  for (const auto& existing : core_->routes)
    if (existing.method == r.method && existing.pattern == r.pattern && existing.prefix == r.prefix)
      return Status::InvalidArgument("http server: route " + r.method + " " + r.pattern + " registered twice");
  core_->routes.push_back(std::move(r));
  return Status::Ok();
}

Status HttpServer::start() {
  if (started_) return Status::Ok();
  const HttpServerOptions& o = core_->options;
  const std::string where = (o.address.find(':') != std::string::npos ? "[" + o.address + "]" : o.address) + ":" +
                            std::to_string(o.port);
  error_code ec;
  const tcp::endpoint endpoint(asio::ip::make_address(o.address, ec), o.port);
  if (ec) return Status::InvalidArgument("http server: '" + o.address + "' is not an IP address");
  auto& acc = core_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (ec) return Status::IoError("http server: cannot open a socket for " + where + ": " + ec.message());
  acc.set_option(asio::socket_base::reuse_address(true), ec);
  acc.bind(endpoint, ec);
  if (ec) {
    error_code ignored;
    acc.close(ignored);
    return Status::IoError("http server: cannot bind " + where + ": " + ec.message());
  }
  acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acc.close(ignored);
    return Status::IoError("http server: cannot listen on " + where + ": " + ec.message());
  }
  local_port_ = acc.local_endpoint(ec).port();
  started_ = true;
  core_->work.emplace(core_->ioc.get_executor());
  detail::accept_next(core_);
  threads_.reserve(o.threads);
  for (unsigned i = 0; i < o.threads; ++i)
    threads_.emplace_back([core = core_] {
      // Runs until stop() has closed the acceptor and every connection and their last
      // completion handlers have run.
      core->ioc.run();
    });
  return Status::Ok();
}

void HttpServer::stop() {
  if (!started_ || stopped_) {
    stopped_ = true;
    return;
  }
  stopped_ = true;
  std::vector<std::shared_ptr<detail::SessionBase>> open;
  {
    // Under the mutex, so no Responder posts onto an io_context whose threads may be gone.
    std::lock_guard lock(core_->mutex);
    core_->stopping = true;
    for (auto& [ptr, weak] : core_->sessions)
      if (auto s = weak.lock()) open.push_back(std::move(s));
  }
  asio::post(core_->acceptor.get_executor(), [core = core_] {
    error_code ec;
    core->acceptor.close(ec);
  });
  for (auto& s : open) s->close_from_outside();
  open.clear();
  core_->work.reset();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

bool HttpServer::tls() const { return core_->tls.has_value(); }
const HttpServerOptions& HttpServer::options() const { return core_->options; }
std::uint64_t HttpServer::connections_open() const {
  std::lock_guard lock(core_->mutex);
  return core_->sessions.size();
}
std::uint64_t HttpServer::connections_total() const { return core_->connections_total.load(); }
std::uint64_t HttpServer::connections_rejected() const { return core_->connections_rejected.load(); }
std::uint64_t HttpServer::connections_evicted() const { return core_->connections_evicted.load(); }

}  // namespace vigil::net
