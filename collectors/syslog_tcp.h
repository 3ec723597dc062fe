#pragma once
// TcpSyslogCollector: syslog over TCP (RFC 6587) and over TLS (RFC 5425).
//
// One io_context thread per collector, asynchronous accept and reads. Each connection has its
// own StreamFramer (octet counting or newline framing, detected per connection) and its peer
// address is resolved once through the SourceAssigner; its records go to the collector's Batcher
// in blocking mode: when the pipeline is full, the io thread waits in BatchSink::submit(), stops
// reading, and TCP flow control slows every sender down. Nothing is lost.
//
// One misbehaving client never stalls the others: reads are asynchronous and go through one
// bounded buffer (plain TCP shares a single 64 KiB buffer, as only the io thread reads; a TLS
// connection has a 16 KiB record buffer); a record longer than max_record_bytes is cut and
// the rest of it is skipped; idle connections are closed after idle_timeout; a TLS handshake
// must finish within handshake_timeout. Over max_connections, new connections are accepted and
// closed at once (connections_rejected). A failed TLS handshake counts as connections_rejected,
// bytes that break the TLS layer after the handshake as framing_errors.
//
// Lifecycle: create() -> start() -> stop() (also called by the destructor). start() and stop()
// from one controlling thread; stats are readable from anywhere.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "collectors/batcher.h"
#include "core/ingest.h"
#include "core/source_assign.h"
#include "core/status.h"

namespace vigil::collectors {

struct TcpSyslogOptions {
  std::string name = "syslog-tcp";         // Default: "syslog-tcp" (the collector label)
  std::string listen_host = "127.0.0.1";   // Default: loopback; "0.0.0.0" or "::" for all
  std::uint16_t port = 5514;               // Default: 5514 (6514 is the TLS port); 0 = any free
  std::size_t max_record_bytes = 1u << 20;  // Default: 1 MiB; longer records are cut
  std::uint64_t max_octet_count = 256ull << 20;  // Default: 256 MiB; larger counts are garbage
  bool tls = false;                        // Default: plain TCP
  std::string cert_file;                   // TLS: PEM certificate chain (required)
  std::string key_file;                    // TLS: PEM private key (required)
  std::string ca_file;                     // TLS: PEM CAs; when set, clients must present a
                                           // certificate signed by one of them
  // At either limit the connection silent the longest makes room when it has been silent for
  // at least evict_after_idle; otherwise the new connection is closed at once. So idle
  // connections (one address's flood, or dead peers) never lock out a device that has events.
  std::size_t max_connections = 1024;      // Default: 1024 open connections
  std::size_t max_connections_per_address = 64;  // Default: 64 open connections per sender address
  std::chrono::milliseconds evict_after_idle{std::chrono::seconds(5)};  // Default: 5 s
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(300)};     // Default: 300 s
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};  // Default: 10 s (TLS)
  SourceInfo source;                       // tenant, system, logsource, format of the records
  const SourceAssigner* source_assigner = nullptr;  // Default: none (not owned)
  BatcherOptions batching;                 // mode is forced to kBlocking

  Status validate() const;
};

class TcpSyslogCollector {
 public:
  using Options = TcpSyslogOptions;

  static Result<std::unique_ptr<TcpSyslogCollector>> create(Options options, BatchSink& sink,
                                                             std::shared_ptr<CollectorStats> stats);
  ~TcpSyslogCollector();
  TcpSyslogCollector(const TcpSyslogCollector&) = delete;
  TcpSyslogCollector& operator=(const TcpSyslogCollector&) = delete;

  // Loads the TLS certificate and key (errors name the file and the reason), binds and starts
  // accepting (errors name the address and the operating system's reason).
  Status start();
  // The bound port (useful after port 0); 0 before start().
  std::uint16_t local_port() const;
  // Stops accepting, closes every connection (emitting an unterminated last line), flushes
  // and joins the io thread. Waits for a blocked BatchSink::submit() to return. Idempotent.
  void stop();

  const CollectorStats& stats() const;

  struct Impl;  // defined in syslog_tcp.cpp

 private:
  explicit TcpSyslogCollector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::collectors
