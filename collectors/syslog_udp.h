#pragma once
// UdpSyslogCollector: syslog over UDP (RFC 5426), one datagram = one record.
//
// One io_context thread per collector. Datagrams are drained from the socket in runs (one
// readiness wait, then non-blocking reads until the socket is empty), batched by a Batcher in
// drop-when-full mode: UDP senders cannot be slowed down, so when the pipeline is full the
// batch's records are counted as dropped_events instead of blocking the socket (which would
// only move the loss into the kernel, unseen).
//
// A trailing line end of a datagram is stripped. Datagrams longer than max_record_bytes are cut
// and marked oversize. Each sender's address goes through the SourceAssigner (or, without one,
// just becomes SourceInfo::peer).
//
// Lifecycle: create() -> start() -> stop() (also called by the destructor). start() and stop()
// from one controlling thread; stats are readable from anywhere.
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "collectors/batcher.h"
#include "core/ingest.h"
#include "core/source_assign.h"
#include "core/status.h"

namespace vigil::collectors {

struct UdpSyslogOptions {
  std::string name = "syslog-udp";         // Default: "syslog-udp" (the collector label)
  std::string listen_host = "127.0.0.1";   // Default: loopback; "0.0.0.0" or "::" for all
  std::uint16_t port = 5514;               // Default: 5514; 0 = any free port (see local_port())
  std::size_t max_record_bytes = 64u << 10;  // Default: 64 KiB (the largest UDP payload fits)
  int receive_buffer_bytes = 4 << 20;      // Default: 4 MiB SO_RCVBUF; 0 = the OS default
  SourceInfo source;                       // tenant, system, logsource, format of the records
  const SourceAssigner* source_assigner = nullptr;  // Default: none (not owned)
  BatcherOptions batching;                 // mode is forced to kDropWhenFull

  Status validate() const;
};

class UdpSyslogCollector {
 public:
  using Options = UdpSyslogOptions;

  static Result<std::unique_ptr<UdpSyslogCollector>> create(Options options, BatchSink& sink,
                                                             std::shared_ptr<CollectorStats> stats);
  ~UdpSyslogCollector();
  UdpSyslogCollector(const UdpSyslogCollector&) = delete;
  UdpSyslogCollector& operator=(const UdpSyslogCollector&) = delete;

  // Binds and starts receiving. The error names the address and the operating system's reason.
  Status start();
  // The bound port (useful after port 0); 0 before start().
  std::uint16_t local_port() const { return local_port_; }
  // Stops receiving, flushes what was received and joins the io thread. Idempotent.
  void stop();

  const CollectorStats& stats() const { return *stats_; }

 private:
  UdpSyslogCollector(Options options, BatchSink& sink, std::shared_ptr<CollectorStats> stats);
  void wait_for_datagrams();
  void drain_socket();
  const std::shared_ptr<const SourceInfo>& source_for(const boost::asio::ip::udp::endpoint& sender);

  Options options_;
  std::shared_ptr<CollectorStats> stats_;
  std::shared_ptr<const SourceInfo> default_source_;
  std::unique_ptr<SourceAssigner> own_assigner_;  // used when options_.source_assigner is null
  const SourceAssigner* assigner_ = nullptr;

  boost::asio::io_context io_;
  boost::asio::ip::udp::socket socket_;
  Batcher batcher_;
  std::vector<char> datagram_;  // max_record_bytes + 1: one byte more detects oversize
  boost::asio::ip::udp::endpoint last_sender_;
  std::shared_ptr<const SourceInfo> last_source_;
  std::uint64_t datagrams_ = 0;  // numbers the records
  std::uint16_t local_port_ = 0;
  std::thread thread_;
  bool started_ = false;
  bool stopped_ = false;
};

// The address to bind for a configured listen host: an IP address, or a name resolved once.
// Shared by the syslog collectors.
Result<boost::asio::ip::address> resolve_listen_address(const std::string& host);

// "1.2.3.4" for IPv4 and IPv4-mapped IPv6 senders, the IPv6 text otherwise.
std::string peer_ip_text(const boost::asio::ip::address& address);

}  // namespace vigil::collectors
