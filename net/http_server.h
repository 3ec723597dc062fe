#pragma once
// HttpServer: an HTTP/1.1 server (Boost.Beast) shared by HTTP ingest, the analyst API and the
// browser console.
//
// Lifecycle: create() -> route()... -> start() -> stop(). Routes are fixed once start() has
// been called. stop() is idempotent, closes every connection and joins the I/O threads; the
// destructor calls it.
//
// Threading: the server runs its own io_context on `threads` threads. Each connection lives on
// its own strand, so a connection's handler calls never overlap; handlers of different
// connections run in parallel. Handlers run on an I/O thread and must not block: work that may
// wait (a full pipeline, a database) is handed to another thread, which answers later through
// the Responder. A connection reads its next request only after the current one is answered
// (no pipelining), so a deferred answer holds back only its own connection.
//
// Hostile input: malformed requests get 400 and the connection is closed, bodies over
// max_body_bytes get 413, headers must arrive within header_timeout, idle keep-alive
// connections are closed after idle_timeout (after header_timeout alone once half of
// max_connections are open), and at max_connections or max_connections_per_address the
// longest-idle connection makes room for the new one, so a flood of idle connections never
// locks out a client with a request. A handler that throws or drops its Responder unanswered produces a 500.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/status.h"

namespace vigil::net {

struct HttpServerOptions {
  std::string address = "127.0.0.1";  // Default: loopback only
  std::uint16_t port = 8080;           // Default: 8080; 0 = any free port (see local_port())
  unsigned threads = 2;                // Default: 2 I/O threads
  std::size_t max_body_bytes = 64u << 20;   // Default: 64 MiB; larger bodies get 413
  std::size_t max_header_bytes = 64u << 10;  // Default: 64 KiB; larger headers get 431
  // From connect (or from the end of the previous response) until the request's header is
  // complete; a keep-alive connection gets idle_timeout + header_timeout for its next header.
  std::chrono::milliseconds header_timeout{10'000};  // Default: 10 s (includes the TLS handshake)
  std::chrono::milliseconds idle_timeout{60'000};    // Default: 60 s between keep-alive requests
  std::chrono::milliseconds body_timeout{120'000};   // Default: 120 s to receive the body
  std::chrono::milliseconds write_timeout{60'000};   // Default: 60 s to send a response
  // At either limit the connection idle the longest (waiting for a request header: new or
  // keep-alive) is closed to make room; a new connection is refused only when none is idle.
  std::size_t max_connections = 1024;  // Default: 1024 open connections
  std::size_t max_connections_per_address = 128;  // Default: 128 open connections per client address
  // TLS: both set = HTTPS only; both empty = plain HTTP. PEM files.
  std::string tls_cert_file;  // Default: "" (certificate chain)
  std::string tls_key_file;   // Default: "" (private key)
  std::string server_header = "vigil";  // Default: "vigil" (the Server: response header)

  Status validate() const;
};

// One request as the handler sees it. Everything is owned: a handler that answers later copies
// (or moves out of a copy of) what it needs.
struct Request {
  std::string method;  // as sent: "GET", "POST"...
  std::string target;  // raw request target: "/ingest?tenant=a%20b"
  std::string path;    // percent-decoded path without the query: "/ingest"
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order ('+' = space)
  std::vector<std::pair<std::string, std::string>> headers;  // as sent, in order
  std::string body;
  std::string peer;  // "127.0.0.1:51234" ("[::1]:51234" for IPv6)
  bool tls = false;

  // First header with this name (ASCII case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  // First query parameter with exactly this name, or nullopt.
  std::optional<std::string_view> query_param(std::string_view name) const;
};

struct Response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  bool close = false;  // close the connection after this response

  static Response json(unsigned status, std::string json_body);
  static Response text(unsigned status, std::string text_body);
  static Response bytes(unsigned status, std::string content_type, std::string body);
  // {"error":"<message>"} with the given status.
  static Response error(unsigned status, std::string_view message);
};

namespace detail {
struct ResponderState;
}

// Answers one request. Copyable; may be called from any thread, once: the first call wins and
// later ones are ignored. The response is posted to the connection's strand. When the last copy
// is destroyed unanswered, the client gets 500. After the server has stopped, calls are ignored
// (the connection is gone).
class Responder {
 public:
  explicit Responder(std::shared_ptr<detail::ResponderState> state) : state_(std::move(state)) {}
  void operator()(Response response) const;
  bool answered() const;

 private:
  std::shared_ptr<detail::ResponderState> state_;
};

// The handler may move what it keeps out of the request (a large body, say): the request is
// not used after the handler returns.
using Handler = std::function<void(Request&, Responder)>;

namespace detail {
struct ServerCore;
}

class HttpServer {
 public:
  // Validates the options and loads the TLS certificate and key (errors name the file).
  static Result<std::unique_ptr<HttpServer>> create(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers `handler` for `method` ("GET", "POST"... exact, case-sensitive as HTTP says) and
  // `path`: an exact path ("/ingest"), or a prefix when it ends in '*' ("/static/*" matches
  // "/static/" and everything under it). The longest matching pattern wins; a path that matches
  // a pattern only under other methods gets 405 with an Allow header, no pattern at all 404.
  // Only before start(); returns InvalidArgument otherwise or for a malformed pattern.
  Status route(std::string method, std::string path, Handler handler);

  // Binds, listens and starts the I/O threads. Errors name the address and the reason.
  Status start();
  // The bound port (useful with port 0); 0 before start().
  std::uint16_t local_port() const { return local_port_; }
  // Stops accepting, closes every connection, joins the threads. Idempotent. Not from a
  // handler (it would join its own thread).
  void stop();

  bool tls() const;
  const HttpServerOptions& options() const;
  // Connections currently open / accepted since start / refused at a limit with none idle.
  std::uint64_t connections_open() const;
  std::uint64_t connections_total() const;
  std::uint64_t connections_rejected() const;
  // Idle connections closed to make room for a new one at a connection limit.
  std::uint64_t connections_evicted() const;

 private:
  explicit HttpServer(std::shared_ptr<detail::ServerCore> core);
  std::shared_ptr<detail::ServerCore> core_;
  std::vector<std::thread> threads_;
  std::uint16_t local_port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

// Percent-decodes `in` ("%2F" -> "/"; with plus_is_space also "+" -> " "). False for a bad escape.
bool percent_decode(std::string_view in, bool plus_is_space, std::string* out);

}  // namespace vigil::net
