#pragma once
// RelpCollector: RELP, the Reliable Event Logging Protocol of rsyslog's omrelp (and librelp
// clients), over TCP or TLS.
//
// Delivery: a `syslog` command is answered `rsp 200` only after the batch holding its message
// is committed to the store (IngestBatch::on_committed), so whatever vigil acknowledged survives
// a kill -9; a sender resends what was not acknowledged when it reconnects. That is
// at-least-once: a message stored but not yet acknowledged when the connection broke is stored
// again. Answers go out in the order of the commands (open and close answers wait for the
// syslog answers before them).
//
// Why not Debian's librelp (1.11): its server answers `200 OK` itself as soon as the syslog
// callback returns (scsyslog.c), with no way to defer the answer. Deferring it to the commit
// would mean blocking in the callback, which stalls librelp's single event loop and every other
// connection for the length of a commit, one message at a time. The protocol is small (a frame
// grammar and four commands), so vigil speaks it itself on the stream collectors' connection
// handling (collectors/stream_listener.h): limits, TLS and idle handling as for TCP syslog.
//
// Limits: a frame whose DATALEN is over max_frame_bytes, a malformed frame, a transaction
// number out of sequence, an unknown command or a syslog before open is a framing error
// (counted): the connection is closed, and the sender resends the unacknowledged messages.
// At most max_unacked commands per connection wait for their answer; beyond that the
// connection is not read until answers go out (TCP flow control slows the sender).
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

struct RelpOptions {
  std::string name = "relp";               // Default: "relp" (the collector label)
  std::string listen_host = "127.0.0.1";   // Default: loopback; "0.0.0.0" or "::" for all
  std::uint16_t port = 2514;               // Default: 2514 (rsyslog's examples); 0 = any free
  std::size_t max_record_bytes = 1u << 20;  // Default: 1 MiB; longer messages are cut (flagged oversize)
  std::size_t max_frame_bytes = 1u << 20;   // Default: 1 MiB of DATA per frame; larger frames close the connection
  std::size_t max_unacked = 1024;          // Default: 1024 unanswered commands per connection
                                           // (omrelp's window is 128)
  bool tls = false;                        // Default: plain TCP
  std::string cert_file;                   // TLS: PEM certificate chain (required)
  std::string key_file;                    // TLS: PEM private key (required)
  std::string ca_file;                     // TLS: clients must present a certificate signed by it
  std::size_t max_connections = 1024;      // Default: 1024 open connections
  std::size_t max_connections_per_address = 64;  // Default: 64 per sender address
  std::chrono::milliseconds evict_after_idle{std::chrono::seconds(5)};  // Default: 5 s
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(300)};     // Default: 300 s
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};  // Default: 10 s (TLS)
  SourceInfo source;                       // tenant, system, logsource, format of the records
  const SourceAssigner* source_assigner = nullptr;  // Default: none (not owned)
  BatcherOptions batching;                 // mode is forced to kBlocking

  Status validate() const;
};

class RelpCollector {
 public:
  using Options = RelpOptions;

  static Result<std::unique_ptr<RelpCollector>> create(Options options, BatchSink& sink,
                                                        std::shared_ptr<CollectorStats> stats);
  ~RelpCollector();
  RelpCollector(const RelpCollector&) = delete;
  RelpCollector& operator=(const RelpCollector&) = delete;

  // Binds and starts accepting (errors name the address, file or reason).
  Status start();
  // The bound port (useful after port 0); 0 before start().
  std::uint16_t local_port() const;
  // Stops accepting, closes every connection (their unanswered messages will be resent by
  // the senders), flushes and joins the io thread. Idempotent.
  void stop();

  const CollectorStats& stats() const;

  struct Impl;  // defined in relp.cpp

 private:
  explicit RelpCollector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::collectors
