// The HTTP request handling shared by ingest, the API and the national receiver: bytes from a
// client go to the real HttpServer (Boost.Beast parsing, header and body limits, chunked and
// other transfer codings, keep-alive, routing, query and header decoding) on loopback, and the
// handlers read what a handler reads (query parameters, headers, the body). Every input is one
// connection; the answer is read until the server closes it or a short deadline passes. A
// crash, sanitizer report or hang in the server is the finding.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "net/http_server.h"

namespace {

std::uint16_t start_server() {
  using namespace vigil::net;
  HttpServerOptions options;
  options.port = 0;
  options.threads = 1;
  options.max_body_bytes = 1 << 20;
  options.header_timeout = std::chrono::milliseconds(500);
  options.idle_timeout = std::chrono::milliseconds(500);
  options.body_timeout = std::chrono::milliseconds(500);
  auto created = HttpServer::create(options);
  if (!created) std::abort();
  static std::unique_ptr<HttpServer> server = std::move(*created);
  auto echo = [](Request& r, Responder respond) {
    std::string out = r.method + " " + r.path + "\n";
    for (const char* name : {"tenant", "system", "token", "q"})
      if (auto v = r.query_param(name)) out.append(name).append("=").append(*v).append("\n");
    for (const char* name : {"Content-Type", "Content-Encoding", "Origin", "Authorization", "Sec-Fetch-Site"})
      if (auto v = r.header(name)) out.append(name).append(": ").append(*v).append("\n");
    out += std::to_string(r.body.size());
    respond(Response::text(200, std::move(out)));
  };
  for (const char* method : {"GET", "POST", "PUT", "DELETE"}) {
    (void)server->route(method, "/ingest", echo);
    (void)server->route(method, "/api/v1/*", echo);
  }
  (void)server->route("GET", "/healthz", [](Request&, Responder respond) { respond(Response::text(200, "ok")); });
  // A handler that answers from another thread later, as ingest does after its commit.
  (void)server->route("POST", "/deferred", [](Request& r, Responder respond) {
    std::thread([respond, n = r.body.size()] { respond(Response::text(200, std::to_string(n))); }).detach();
  });
  if (!server->start().ok()) std::abort();
  return server->local_port();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::uint16_t port = start_server();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return 0;
  }
  std::size_t sent = 0;
  while (sent < size) {
    const ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  // Until the server closes (it does after an answer to a closed request or a bad one), or
  // 1 s: an incomplete request waits for its header timeout.
  while (::poll(&p, 1, 1000) > 0 && ::recv(fd, buf, sizeof buf, 0) > 0) {
  }
  ::close(fd);
  return 0;
}
