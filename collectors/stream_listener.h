#pragma once
// StreamListener: the connection handling shared by the stream collectors (TCP/TLS syslog,
// RELP): listening, TLS, connection limits with eviction of idle connections, idle and
// handshake deadlines, bounded asynchronous reads, ordered asynchronous writes. What the bytes
// mean is left to a StreamHandler, one per connection, made by the collector's factory.
//
// One misbehaving client never stalls the others: reads are asynchronous and go through one
// bounded buffer (plain TCP shares a single 64 KiB buffer, as only the io thread reads; a TLS
// connection has a 16 KiB record buffer); idle connections are closed after idle_timeout; a
// TLS handshake must finish within handshake_timeout. Over max_connections (or
// max_connections_per_address), the connection silent the longest makes room if it has been
// silent for evict_after_idle; otherwise the new connection is closed at once
// (connections_rejected). A failed TLS handshake counts as connections_rejected, bytes that
// break the TLS layer after the handshake as framing_errors.
//
// Threading: everything runs on the io_context passed in, driven by one thread the collector
// owns; handlers are called on that thread. start() before that thread runs; shutdown() on it.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "core/ingest.h"
#include "core/status.h"

namespace vigil::collectors {

struct StreamListenerOptions {
  std::string what = "TCP syslog collector 'syslog-tcp'";  // names the listener in errors
  std::string listen_host = "127.0.0.1";   // Default: loopback
  std::uint16_t port = 0;                  // Default: 0 = any free port
  bool tls = false;                        // Default: plain TCP
  std::string cert_file;                   // TLS: PEM certificate chain (required)
  std::string key_file;                    // TLS: PEM private key (required)
  std::string ca_file;                     // TLS: when set, clients must present a certificate signed by it
  std::size_t max_connections = 1024;      // Default: 1024 open connections
  std::size_t max_connections_per_address = 64;  // Default: 64 per sender address
  std::chrono::milliseconds evict_after_idle{std::chrono::seconds(5)};   // Default: 5 s
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(300)};     // Default: 300 s
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};  // Default: 10 s (TLS)
};

// One accepted connection, as its handler sees it. io thread only. Valid until the handler's
// on_end() has returned; the handler must not use it afterwards.
class StreamConnection {
 public:
  virtual ~StreamConnection() = default;
  // The sender's address without the port.
  virtual const std::string& address() const = 0;
  // Queues bytes to send; writes go out in the order queued. A write error closes the connection.
  virtual void write(std::string bytes) = 0;
  // Stops reading (the handler cannot take more yet: TCP flow control then slows the sender);
  // resume_reading() starts again. Bytes already handed over stay the handler's.
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
  // Closes once every queued write is sent (at once when none is queued).
  virtual void close_after_writes() = 0;
  // Closes now; queued writes are dropped.
  virtual void close() = 0;
};

// The protocol of one connection. Called on the io thread only.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  // Bytes read from the connection (a view into a shared buffer: copy what must be kept).
  // Activity also keeps the connection from the idle timeout.
  virtual void on_data(std::string_view bytes) = 0;
  // The connection is closed (by the peer, an error, a deadline, eviction or shutdown). Called
  // once; after it the connection must not be used.
  virtual void on_end() = 0;
};

// Makes the handler of a newly accepted connection. The handler is kept alive by the
// connection while it is open; a shared_ptr so a handler may hand out weak references to itself.
using StreamHandlerFactory = std::function<std::shared_ptr<StreamHandler>(StreamConnection&)>;

class StreamListener {
 public:
  StreamListener(boost::asio::io_context& io, StreamListenerOptions options, std::shared_ptr<CollectorStats> stats,
                 StreamHandlerFactory factory);
  ~StreamListener();
  StreamListener(const StreamListener&) = delete;
  StreamListener& operator=(const StreamListener&) = delete;

  // Loads the TLS certificate and key (errors name the file and the reason), binds and starts
  // accepting (errors name the address and the operating system's reason). Before the io
  // thread runs.
  Status start();
  // The bound port (useful after port 0); 0 before start().
  std::uint16_t local_port() const;
  // io thread: stops accepting and closes every connection (each handler's on_end() runs).
  void shutdown();

  struct Impl;  // defined in stream_listener.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::collectors
