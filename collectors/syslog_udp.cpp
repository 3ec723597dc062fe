#include "collectors/syslog_udp.h"

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>

#include <boost/asio/ip/tcp.hpp>

namespace vigil::collectors {

namespace asio = boost::asio;
using asio::ip::udp;

std::string peer_ip_text(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  return address.to_string();
}

Result<asio::ip::address> resolve_listen_address(const std::string& host) {
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) return address;
  // A name ("localhost", a local interface's hostname): its first address. Blocking, but only
  // at start-up.
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  const auto results = resolver.resolve(host, "", asio::ip::resolver_base::passive, ec);
  if (ec) return Error(Status::InvalidArgument("'" + host + "' is neither an IP address nor a resolvable name (" +
                                               ec.message() + ")"));
  if (results.empty()) return Error(Status::InvalidArgument("'" + host + "' resolves to no address"));
  return results.begin()->endpoint().address();
}

Status UdpSyslogOptions::validate() const {
  if (name.empty()) return Status::InvalidArgument("UDP syslog collector: name must not be empty");
  if (listen_host.empty()) return Status::InvalidArgument("UDP syslog collector '" + name + "': listen host is empty");
  if (max_record_bytes == 0 || max_record_bytes > (1u << 20))
    return Status::InvalidArgument("UDP syslog collector '" + name + "': max_record_bytes must be 1..1048576");
  if (receive_buffer_bytes < 0)
    return Status::InvalidArgument("UDP syslog collector '" + name + "': receive_buffer_bytes must not be negative");
  return Status::Ok();
}

UdpSyslogCollector::UdpSyslogCollector(Options options, BatchSink& sink, std::shared_ptr<CollectorStats> stats)
    : options_(std::move(options)),
      stats_(std::move(stats)),
      socket_(io_),
      batcher_(io_, sink, stats_, [&] {
        BatcherOptions b = options_.batching;
        b.mode = BatcherOptions::SubmitMode::kDropWhenFull;
        return b;
      }()),
      datagram_(options_.max_record_bytes + 1) {
  auto source = std::make_shared<SourceInfo>(options_.source);
  if (source->collector.empty()) source->collector = options_.name;
  default_source_ = std::move(source);
  assigner_ = options_.source_assigner;
  if (!assigner_) {
    // No rules: the assigner still sets `peer` and caches one SourceInfo per sender.
    own_assigner_ = std::make_unique<SourceAssigner>(std::move(SourceAssigner::create({}).value()));
    assigner_ = own_assigner_.get();
  }
}

Result<std::unique_ptr<UdpSyslogCollector>> UdpSyslogCollector::create(Options options, BatchSink& sink,
                                                                        std::shared_ptr<CollectorStats> stats) {
  if (Status s = options.validate(); !s.ok()) return Error(std::move(s));
  if (!stats) stats = std::make_shared<CollectorStats>(options.name, "udp");
  return std::unique_ptr<UdpSyslogCollector>(new UdpSyslogCollector(std::move(options), sink, std::move(stats)));
}

UdpSyslogCollector::~UdpSyslogCollector() { stop(); }

Status UdpSyslogCollector::start() {
  if (started_) return Status::Internal("UDP syslog collector '" + options_.name + "' started twice");
  const std::string where = "UDP " + options_.listen_host + ":" + std::to_string(options_.port);
  auto address = resolve_listen_address(options_.listen_host);
  if (!address) return Status::InvalidArgument("UDP syslog collector '" + options_.name + "': cannot listen on " +
                                               where + ": " + address.error().message());
  const udp::endpoint endpoint(*address, options_.port);
  boost::system::error_code ec;
  auto fail = [&](const char* step) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    return Status::IoError("UDP syslog collector '" + options_.name + "': cannot " + step + " " + where + ": " +
                           ec.message());
  };
  if (socket_.open(endpoint.protocol(), ec); ec) return fail("open a socket for");
  if (options_.receive_buffer_bytes > 0) {
    socket_.set_option(udp::socket::receive_buffer_size(options_.receive_buffer_bytes), ec);
    if (ec) return fail("set the receive buffer of");
  }
  if (socket_.bind(endpoint, ec); ec) return fail("bind");
  if (socket_.non_blocking(true, ec); ec) return fail("make non-blocking the socket of");
  const udp::endpoint bound = socket_.local_endpoint(ec);
  if (ec) return fail("read the bound port of");
  local_port_ = bound.port();
  started_ = true;
  wait_for_datagrams();
  thread_ = std::thread([this] { io_.run(); });
  return Status::Ok();
}

void UdpSyslogCollector::wait_for_datagrams() {
  socket_.async_wait(udp::socket::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;  // closed by stop()
    drain_socket();
  });
}

void UdpSyslogCollector::drain_socket() {
  // Bounded so the batch timer gets its turn on a flooded socket.
  constexpr int kMaxDatagramsPerWakeup = 512;
  udp::endpoint sender;
  boost::system::error_code ec;
  for (int i = 0; i < kMaxDatagramsPerWakeup; ++i) {
    const std::size_t n = socket_.receive_from(asio::buffer(datagram_), sender, 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) return;
    if (ec) continue;  // a per-datagram error (e.g. an ICMP report): the socket is still good
    std::string_view record(datagram_.data(), n);
    const bool oversize = n > options_.max_record_bytes;
    if (oversize) {
      record = record.substr(0, options_.max_record_bytes);
    } else {
      // Senders end datagrams with LF, CRLF or NUL; none of it is part of the message.
      while (!record.empty() && (record.back() == '\n' || record.back() == '\r' || record.back() == '\0'))
        record.remove_suffix(1);
      if (record.empty()) continue;
    }
    batcher_.add(record, source_for(sender), ++datagrams_, oversize);
  }
  wait_for_datagrams();
}

const std::shared_ptr<const SourceInfo>& UdpSyslogCollector::source_for(const udp::endpoint& sender) {
  if (last_source_ && sender.address() == last_sender_.address()) return last_source_;
  last_sender_ = sender;
  last_source_ = assigner_->for_peer(default_source_, peer_ip_text(sender.address()));
  return last_source_;
}

void UdpSyslogCollector::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    socket_.close(ignored);
    batcher_.cancel_timer();
  });
  if (thread_.joinable()) thread_.join();
  batcher_.flush();  // the io thread has ended: this thread owns the batcher now
}

}  // namespace vigil::collectors
