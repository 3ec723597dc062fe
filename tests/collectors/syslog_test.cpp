// Syslog collectors against real sockets on 127.0.0.1 (port 0), with a BatchSink that stores
// what it receives.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "tests/support/wait.h"

#include "collectors/batcher.h"
#include "collectors/syslog_tcp.h"
#include "collectors/syslog_udp.h"

namespace vigil::collectors {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

struct Received {
  std::string text;
  std::string peer, tenant, system, collector;
  std::uint64_t record_no = 0;
  bool oversize = false;
};

// Stores every batch. With `gate_closed`, submit() blocks until open_gate(); with
// `refuse_try_submit`, try_submit() reports a full queue.
class StoringSink : public BatchSink {
 public:
  bool submit(IngestBatch&& batch) override {
    std::unique_lock<std::mutex> lock(mutex_);
    ++submits_waiting_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !gate_closed_; });
    --submits_waiting_;
    store(batch);
    return true;
  }
  bool try_submit(IngestBatch& batch) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (refuse_try_submit_) return false;
    store(batch);
    return true;
  }
  void close_gate() {
    std::lock_guard<std::mutex> lock(mutex_);
    gate_closed_ = true;
  }
  void open_gate() {
    std::lock_guard<std::mutex> lock(mutex_);
    gate_closed_ = false;
    changed_.notify_all();
  }
  void refuse_try_submit(bool refuse) {
    std::lock_guard<std::mutex> lock(mutex_);
    refuse_try_submit_ = refuse;
  }
  bool wait_for_records(std::size_t n, std::chrono::milliseconds timeout = testing::kWaitTimeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return records_.size() >= n; });
  }
  bool wait_for_blocked_submit(std::chrono::milliseconds timeout = testing::kWaitTimeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return submits_waiting_ > 0; });
  }
  std::vector<Received> records() {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_;
  }
  std::size_t record_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_.size();
  }
  std::size_t batch_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return batches_;
  }

 private:
  void store(const IngestBatch& batch) {
    ++batches_;
    for (const IngestRecord& r : batch.records) {
      const SourceInfo& s = *batch.sources.at(r.source);
      // The padding contract of core/ingest.h: records are followed by readable bytes.
      EXPECT_GE(batch.bytes.data() + batch.bytes.size() - (r.record.bytes.data() + r.record.bytes.size()),
                static_cast<std::ptrdiff_t>(kRecordPadding));
      records_.push_back(Received{std::string(r.record.bytes), s.peer, s.tenant, s.system, s.collector,
                                  r.record.record_no, r.record.oversize});
    }
    changed_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Received> records_;
  std::size_t batches_ = 0;
  int submits_waiting_ = 0;
  bool gate_closed_ = false;
  bool refuse_try_submit_ = false;
};

template <typename Pred>
bool WaitUntil(Pred pred) {
  return testing::wait_until(testing::deadline_after(), pred);
}

std::vector<std::string> Texts(const std::vector<Received>& records) {
  std::vector<std::string> out;
  for (const Received& r : records) out.push_back(r.text);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// ---- plain POSIX clients ----

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset();
    fd_ = std::exchange(o.fd_, -1);
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in Loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

Fd ConnectTcp(std::uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  const sockaddr_in addr = Loopback(port);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return Fd();
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// True when the server closed the connection (read returns 0 or an error) within `timeout`.
bool ClosedByServer(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, 0) <= 0;
}

void SendUdp(std::uint16_t port, std::string_view datagram) {
  static thread_local Fd fd(::socket(AF_INET, SOCK_DGRAM, 0));
  const sockaddr_in addr = Loopback(port);
  ASSERT_EQ(::sendto(fd.get(), datagram.data(), datagram.size(), 0, reinterpret_cast<const sockaddr*>(&addr),
                     sizeof addr),
            static_cast<ssize_t>(datagram.size()));
}

std::string OctetFrame(std::string_view msg) { return std::to_string(msg.size()) + " " + std::string(msg); }

// ---- Batcher ----

TEST(Batcher, FlushesBySizeByBytesAndByDelayWithOneSourceEntryPerSender) {
  asio::io_context io;
  StoringSink sink;
  auto stats = std::make_shared<CollectorStats>("b", "tcp");
  BatcherOptions options;
  options.max_records = 3;
  options.max_bytes = 1000;
  options.max_delay = 20ms;
  Batcher batcher(io, sink, stats, options);
  auto a = std::make_shared<SourceInfo>();
  a->peer = "10.0.0.1";
  auto b = std::make_shared<SourceInfo>();
  b->peer = "10.0.0.2";
  batcher.add("a1", a, 1);
  batcher.add("b1", b, 1);
  EXPECT_EQ(sink.batch_count(), 0u);
  batcher.add("a2", a, 2, true);  // third record: flushed at once
  EXPECT_EQ(sink.batch_count(), 1u);
  EXPECT_EQ(stats->received_events.load(), 3u);
  EXPECT_EQ(stats->received_bytes.load(), 6u);
  EXPECT_EQ(stats->oversize_records.load(), 1u);
  batcher.add(std::string(1200, 'x'), a, 3);  // over max_bytes: flushed at once
  EXPECT_EQ(sink.batch_count(), 2u);
  batcher.add("b2", b, 2);
  EXPECT_EQ(sink.batch_count(), 2u);
  io.run_for(200ms);  // the delay timer flushes the last record
  EXPECT_EQ(sink.batch_count(), 3u);
  const auto records = sink.records();
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].text, "a1");
  EXPECT_EQ(records[0].peer, "10.0.0.1");
  EXPECT_EQ(records[1].peer, "10.0.0.2");
  EXPECT_EQ(records[2].peer, "10.0.0.1");
  EXPECT_TRUE(records[2].oversize);
  EXPECT_EQ(records[2].record_no, 2u);
  EXPECT_EQ(records[4].text, "b2");
  EXPECT_EQ(records[4].peer, "10.0.0.2");
  EXPECT_EQ(stats->received_events.load(), 5u);
  batcher.flush();  // nothing pending: no empty batch
  EXPECT_EQ(sink.batch_count(), 3u);
}

TEST(Batcher, DropWhenFullCountsTheBatch) {
  asio::io_context io;
  StoringSink sink;
  sink.refuse_try_submit(true);
  auto stats = std::make_shared<CollectorStats>("b", "udp");
  BatcherOptions options;
  options.mode = BatcherOptions::SubmitMode::kDropWhenFull;
  Batcher batcher(io, sink, stats, options);
  auto source = std::make_shared<SourceInfo>();
  for (int i = 0; i < 5; ++i) batcher.add("r", source);
  batcher.flush();
  EXPECT_EQ(stats->dropped_events.load(), 5u);
  EXPECT_EQ(stats->received_events.load(), 5u);
  EXPECT_EQ(sink.record_count(), 0u);
}

// ---- UDP ----

TEST(UdpSyslog, EveryDatagramArrivesOnceWithItsSource) {
  StoringSink sink;
  auto rules = SourceAssigner::create({SourceRule{"127.0.0.0/8", "", "loopback-unit", "lab", "", "", ""}});
  ASSERT_TRUE(rules);
  UdpSyslogOptions options;
  options.name = "udp-test";
  options.port = 0;
  options.max_record_bytes = 100;
  options.source.tenant = "default-tenant";
  options.source_assigner = &*rules;
  auto collector = UdpSyslogCollector::create(options, sink, nullptr);
  ASSERT_TRUE(collector) << collector.error().to_string();
  ASSERT_TRUE((*collector)->start().ok());
  const std::uint16_t port = (*collector)->local_port();
  ASSERT_NE(port, 0);

  std::vector<std::string> expected;
  for (int i = 0; i < 500; ++i) {
    const std::string msg = "<13>udp message " + std::to_string(i);
    expected.push_back(msg);
    // Line ends a sender appends are not part of the record.
    SendUdp(port, i % 3 == 0 ? msg + "\n" : i % 3 == 1 ? msg + "\r\n" : msg);
    // UDP has no flow control: a receiver starved of CPU would lose datagrams to a full socket
    // buffer, so the sender waits for each group of 50 to arrive.
    if (i % 50 == 49) {
      ASSERT_TRUE(sink.wait_for_records(expected.size())) << sink.record_count();
    }
  }
  SendUdp(port, "\n");                   // empty after stripping: not a record
  SendUdp(port, std::string(300, 'x'));  // oversize: cut at 100
  ASSERT_TRUE(sink.wait_for_records(501)) << sink.record_count();
  auto records = sink.records();
  ASSERT_EQ(records.size(), 501u);
  const auto oversize = std::find_if(records.begin(), records.end(), [](const Received& r) { return r.oversize; });
  ASSERT_NE(oversize, records.end());
  EXPECT_EQ(oversize->text, std::string(100, 'x'));
  records.erase(oversize);
  EXPECT_EQ(Texts(records), Sorted(expected));
  for (const Received& r : records) {
    EXPECT_EQ(r.peer, "127.0.0.1");
    EXPECT_EQ(r.tenant, "loopback-unit");
    EXPECT_EQ(r.system, "lab");
    EXPECT_EQ(r.collector, "udp-test");
  }
  (*collector)->stop();
  (*collector)->stop();  // idempotent
  const CollectorStats& stats = (*collector)->stats();
  EXPECT_EQ(stats.received_events.load(), 501u);
  EXPECT_EQ(stats.oversize_records.load(), 1u);
  EXPECT_EQ(stats.dropped_events.load(), 0u);
  EXPECT_EQ(stats.kind, "udp");
  EXPECT_LT(sink.batch_count(), 501u);  // batched, not one submit per datagram
}

TEST(UdpSyslog, FullPipelineDropsAndCountsThenRecovers) {
  StoringSink sink;
  sink.refuse_try_submit(true);
  UdpSyslogOptions options;
  options.port = 0;
  auto stats = std::make_shared<CollectorStats>("udp", "udp");
  auto collector = UdpSyslogCollector::create(options, sink, stats);
  ASSERT_TRUE(collector);
  ASSERT_TRUE((*collector)->start().ok());
  for (int i = 0; i < 20; ++i) SendUdp((*collector)->local_port(), "<13>dropped " + std::to_string(i));
  ASSERT_TRUE(WaitUntil([&] { return stats->dropped_events.load() == 20; })) << stats->dropped_events.load();
  EXPECT_EQ(stats->received_events.load(), 20u);
  EXPECT_EQ(sink.record_count(), 0u);
  sink.refuse_try_submit(false);
  SendUdp((*collector)->local_port(), "<13>kept");
  ASSERT_TRUE(sink.wait_for_records(1));
  EXPECT_EQ(sink.records()[0].text, "<13>kept");
  EXPECT_EQ(stats->dropped_events.load(), 20u);
}

TEST(UdpSyslog, BindFailureNamesTheAddressAndReason) {
  StoringSink sink;
  UdpSyslogOptions first_options;
  first_options.port = 0;
  auto first = UdpSyslogCollector::create(first_options, sink, nullptr);
  ASSERT_TRUE(first);
  ASSERT_TRUE((*first)->start().ok());
  UdpSyslogOptions options;
  options.port = (*first)->local_port();
  auto second = UdpSyslogCollector::create(options, sink, nullptr);
  ASSERT_TRUE(second);
  const Status s = (*second)->start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(options.port)), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("in use"), std::string::npos) << s.message();

  options.listen_host = "no-such-host.invalid";
  auto third = UdpSyslogCollector::create(options, sink, nullptr);
  ASSERT_TRUE(third);
  const Status bad_host = (*third)->start();
  EXPECT_FALSE(bad_host.ok());
  EXPECT_NE(bad_host.message().find("no-such-host.invalid"), std::string::npos) << bad_host.message();
}

// ---- TCP ----

std::unique_ptr<TcpSyslogCollector> StartTcp(StoringSink& sink, TcpSyslogOptions options,
                                             std::shared_ptr<CollectorStats> stats = nullptr) {
  options.port = 0;
  auto collector = TcpSyslogCollector::create(std::move(options), sink, std::move(stats));
  EXPECT_TRUE(collector) << collector.error().to_string();
  if (!collector) return nullptr;
  const Status s = (*collector)->start();
  EXPECT_TRUE(s.ok()) << s.to_string();
  if (!s.ok()) return nullptr;
  return std::move(*collector);
}

TEST(TcpSyslog, ManyClientsBothFramingsEveryRecordOnce) {
  StoringSink sink;
  auto rules = SourceAssigner::create({SourceRule{"127.0.0.0/8", "", "loopback-unit", "", "", "", ""}});
  ASSERT_TRUE(rules);
  TcpSyslogOptions options;
  options.name = "tcp-test";
  options.source_assigner = &*rules;
  options.source.system = "configured-system";
  auto collector = StartTcp(sink, options);
  ASSERT_TRUE(collector);
  constexpr int kClients = 8, kRecords = 2000;
  std::vector<std::string> expected;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    std::string stream;
    for (int i = 0; i < kRecords; ++i) {
      const std::string msg = "<13>client " + std::to_string(c) + " record " + std::to_string(i) +
                              (c % 2 ? " octet\ncounted" : " newline");
      expected.push_back(msg);
      stream += c % 2 ? OctetFrame(msg) : msg + (i % 2 ? "\r\n" : "\n");
    }
    clients.emplace_back([stream, port = collector->local_port(), c] {
      Fd fd = ConnectTcp(port);
      ASSERT_GE(fd.get(), 0);
      std::mt19937 random(static_cast<unsigned>(c));
      std::string_view rest = stream;
      while (!rest.empty()) {  // random cuts: records split across reads
        const std::size_t n = std::min<std::size_t>(rest.size(), 1 + random() % 3000);
        ASSERT_TRUE(SendAll(fd.get(), rest.substr(0, n)));
        rest.remove_prefix(n);
      }
    });
  }
  for (auto& t : clients) t.join();
  ASSERT_TRUE(sink.wait_for_records(expected.size())) << sink.record_count();
  const auto records = sink.records();
  EXPECT_EQ(Texts(records), Sorted(expected));
  for (const Received& r : records) {
    EXPECT_EQ(r.peer, "127.0.0.1");
    EXPECT_EQ(r.tenant, "loopback-unit");
    EXPECT_EQ(r.system, "configured-system");
    EXPECT_EQ(r.collector, "tcp-test");
    EXPECT_FALSE(r.oversize);
  }
  ASSERT_TRUE(WaitUntil([&] { return collector->stats().connections_open.load() == 0; }));
  EXPECT_EQ(collector->stats().connections_total.load(), static_cast<std::uint64_t>(kClients));
  EXPECT_EQ(collector->stats().received_events.load(), expected.size());
  EXPECT_EQ(collector->stats().framing_errors.load(), 0u);
}

TEST(TcpSyslog, BlockedPipelineStallsTheSenderAndLosesNothing) {
  StoringSink sink;
  sink.close_gate();
  auto collector = StartTcp(sink, TcpSyslogOptions{});
  ASSERT_TRUE(collector);
  std::string stream;
  std::size_t count = 0;
  while (stream.size() < (48u << 20)) {
    stream += "<13>backpressure record " + std::to_string(count++) + " " + std::string(80, 'p') + "\n";
  }
  Fd fd = ConnectTcp(collector->local_port());
  ASSERT_GE(fd.get(), 0);
  ASSERT_EQ(::fcntl(fd.get(), F_SETFL, O_NONBLOCK), 0);
  // Write without blocking until the socket is full while the collector sits in a blocked
  // submit: from then on it reads nothing, so the rest of the stream can only wait.
  std::size_t sent = 0;
  const auto deadline = testing::deadline_after();
  for (;;) {
    const ssize_t n = ::send(fd.get(), stream.data() + sent, stream.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      ASSERT_LT(sent, stream.size()) << "the whole stream was accepted: no backpressure";
      continue;
    }
    ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
    if (sink.wait_for_blocked_submit(0ms)) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the collector never submitted";
    pollfd p{fd.get(), POLLOUT, 0};
    ::poll(&p, 1, 10);  // until the collector reads some more (or 10 ms pass, to look again)
  }
  EXPECT_TRUE(sink.wait_for_blocked_submit());
  EXPECT_EQ(sink.record_count(), 0u);
  sink.open_gate();
  ASSERT_EQ(::fcntl(fd.get(), F_SETFL, 0), 0);
  ASSERT_TRUE(SendAll(fd.get(), std::string_view(stream).substr(sent)));
  fd.reset();
  ASSERT_TRUE(sink.wait_for_records(count)) << sink.record_count() << " of " << count;
  const auto records = sink.records();
  ASSERT_EQ(records.size(), count);
  // One connection: its records arrive in order, numbered from 1.
  for (std::size_t i = 0; i < count; ++i) {
    ASSERT_EQ(records[i].record_no, i + 1);
    ASSERT_EQ(records[i].text, "<13>backpressure record " + std::to_string(i) + " " + std::string(80, 'p'));
  }
}

TEST(TcpSyslog, GarbageAndOversizeLinesLeaveOtherConnectionsWorking) {
  StoringSink sink;
  TcpSyslogOptions options;
  options.max_record_bytes = 64 << 10;
  auto collector = StartTcp(sink, options);
  ASSERT_TRUE(collector);
  const std::uint16_t port = collector->local_port();

  // A 20 MB line (sent from a thread while other clients work), then a normal record.
  std::thread huge([port] {
    Fd fd = ConnectTcp(port);
    ASSERT_GE(fd.get(), 0);
    ASSERT_TRUE(SendAll(fd.get(), "<13>huge "));
    const std::string chunk(1 << 20, 'h');
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(SendAll(fd.get(), chunk));
    ASSERT_TRUE(SendAll(fd.get(), "\n<13>after huge\n"));
  });
  // Octet counting, then a broken count, then binary garbage.
  {
    Fd fd = ConnectTcp(port);
    ASSERT_GE(fd.get(), 0);
    std::string garbage = OctetFrame("<13>framed ok") + "12x!! broken count\n";
    std::mt19937 random(7);
    for (int i = 0; i < 100000; ++i) garbage.push_back(static_cast<char>(random()));
    garbage += "\n<13>after garbage\n";
    ASSERT_TRUE(SendAll(fd.get(), garbage));
  }
  std::vector<std::string> expected;
  {
    Fd fd = ConnectTcp(port);
    ASSERT_GE(fd.get(), 0);
    for (int i = 0; i < 1000; ++i) {
      expected.push_back("<13>well behaved " + std::to_string(i));
      ASSERT_TRUE(SendAll(fd.get(), expected.back() + "\n"));
    }
  }
  huge.join();
  auto has = [&](const std::string& text) {
    const auto records = sink.records();
    return std::any_of(records.begin(), records.end(), [&](const Received& r) { return r.text == text; });
  };
  ASSERT_TRUE(WaitUntil([&] { return has("<13>after huge") && has("<13>after garbage"); }));
  ASSERT_TRUE(WaitUntil([&] { return collector->stats().connections_open.load() == 0; }));
  const auto records = sink.records();
  std::vector<std::string> well_behaved;
  std::size_t oversize = 0;
  for (const Received& r : records) {
    if (r.text.rfind("<13>well behaved", 0) == 0) well_behaved.push_back(r.text);
    EXPECT_LE(r.text.size(), options.max_record_bytes);
    if (r.oversize) {
      ++oversize;
      if (r.text.rfind("<13>huge ", 0) == 0) {
        EXPECT_EQ(r.text.size(), options.max_record_bytes);
      }
    }
  }
  EXPECT_EQ(Sorted(well_behaved), Sorted(expected));
  EXPECT_TRUE(has("<13>framed ok"));
  EXPECT_TRUE(has("12x!! broken count"));  // the bad header's bytes stay visible
  EXPECT_GE(oversize, 1u);
  EXPECT_EQ(collector->stats().oversize_records.load(), oversize);
  EXPECT_EQ(collector->stats().framing_errors.load(), 1u);
}

TEST(TcpSyslog, IdleConnectionsAndASlowSenderDoNotDelayOthers) {
  StoringSink sink;
  TcpSyslogOptions options;
  options.max_connections_per_address = 1024;  // every test client is 127.0.0.1
  auto collector = StartTcp(sink, options);
  ASSERT_TRUE(collector);
  const std::uint16_t port = collector->local_port();
  std::vector<Fd> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(ConnectTcp(port));
    ASSERT_GE(idle.back().get(), 0);
  }
  ASSERT_TRUE(WaitUntil([&] { return collector->stats().connections_open.load() == 200; }));

  Fd slow = ConnectTcp(port);
  ASSERT_GE(slow.get(), 0);
  const std::string slow_record = "<13>slow sender, one byte at a time";
  ASSERT_TRUE(SendAll(slow.get(), slow_record.substr(0, 5)));  // starts, then dawdles

  std::vector<std::string> expected;
  {
    Fd fd = ConnectTcp(port);
    ASSERT_GE(fd.get(), 0);
    std::string stream;
    for (int i = 0; i < 2000; ++i) {
      expected.push_back("<13>busy " + std::to_string(i));
      stream += expected.back() + "\n";
    }
    ASSERT_TRUE(SendAll(fd.get(), stream));
  }
  ASSERT_TRUE(sink.wait_for_records(expected.size()));
  EXPECT_EQ(Texts(sink.records()), Sorted(expected));

  // The rest of the slow record, one byte per send (each its own segment).
  const int one = 1;
  ASSERT_EQ(::setsockopt(slow.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  for (std::size_t i = 5; i < slow_record.size(); ++i) ASSERT_TRUE(SendAll(slow.get(), slow_record.substr(i, 1)));
  ASSERT_TRUE(SendAll(slow.get(), "\n"));
  ASSERT_TRUE(sink.wait_for_records(expected.size() + 1));
  EXPECT_EQ(sink.records().back().text, slow_record);
  EXPECT_EQ(collector->stats().connections_open.load(), 201u);
  idle.clear();
  slow.reset();
  ASSERT_TRUE(WaitUntil([&] { return collector->stats().connections_open.load() == 0; }));
}

TEST(TcpSyslog, ConnectionsOverTheLimitAreClosedAndCounted) {
  StoringSink sink;
  TcpSyslogOptions options;
  options.max_connections = 3;
  auto collector = StartTcp(sink, options);
  ASSERT_TRUE(collector);
  std::vector<Fd> kept;
  for (int i = 0; i < 3; ++i) kept.push_back(ConnectTcp(collector->local_port()));
  ASSERT_TRUE(WaitUntil([&] { return collector->stats().connections_open.load() == 3; }));
  Fd extra = ConnectTcp(collector->local_port());
  ASSERT_GE(extra.get(), 0);
  EXPECT_TRUE(ClosedByServer(extra.get(), testing::kWaitTimeout));
  ASSERT_TRUE(WaitUntil([&] { return collector->stats().connections_rejected.load() == 1; }));
  for (std::size_t i = 0; i < kept.size(); ++i) ASSERT_TRUE(SendAll(kept[i].get(), "<13>kept " + std::to_string(i) + "\n"));
  ASSERT_TRUE(sink.wait_for_records(3));
  EXPECT_EQ(Texts(sink.records()), Sorted({"<13>kept 0", "<13>kept 1", "<13>kept 2"}));
}

// Security finding (medium), syslog side: idle connections from one address could fill every
// slot. Per address at most max_connections_per_address; at a limit the connection silent the
// longest (past evict_after_idle) makes room for a sender with events.
TEST(TcpSyslog, IdleConnectionsFromOneAddressMakeRoomForASender) {
  StoringSink sink;
  TcpSyslogOptions options;
  options.max_connections_per_address = 4;
  options.evict_after_idle = 0ms;  // any silent connection may make room
  auto collector = StartTcp(sink, options);
  ASSERT_TRUE(collector);
  std::vector<Fd> flood;
  for (int i = 0; i < 4; ++i) flood.push_back(ConnectTcp(collector->local_port()));
  ASSERT_TRUE(WaitUntil([&] { return collector->stats().connections_open.load() == 4; }));
  Fd device = ConnectTcp(collector->local_port());
  ASSERT_TRUE(SendAll(device.get(), "<13>device event\n"));
  ASSERT_TRUE(sink.wait_for_records(1));
  EXPECT_EQ(Texts(sink.records()), Sorted({"<13>device event"}));
  EXPECT_TRUE(ClosedByServer(flood[0].get(), testing::kWaitTimeout)) << "the longest-silent connection made room";
  EXPECT_EQ(collector->stats().connections_open.load(), 4u);
  EXPECT_EQ(collector->stats().connections_rejected.load(), 0u);
}

TEST(TcpSyslog, IdleConnectionsTimeOut) {
  StoringSink sink;
  TcpSyslogOptions options;
  // Far above the 20 ms between the active connection's ticks, so only a machine that stalls
  // this test for a whole second could let the active connection look idle.
  options.idle_timeout = 1s;
  auto collector = StartTcp(sink, options);
  ASSERT_TRUE(collector);
  Fd active = ConnectTcp(collector->local_port());
  Fd idle = ConnectTcp(collector->local_port());
  // Activity pushes the deadline back: the active connection ticks until the idle one, opened
  // at the same moment, is closed, and is still open then.
  std::size_t ticks = 0;
  auto longest_gap = std::chrono::steady_clock::duration::zero();
  auto last_tick = std::chrono::steady_clock::now();
  const auto deadline = testing::deadline_after();
  while (!ClosedByServer(idle.get(), 20ms)) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the idle connection was never closed";
    ASSERT_TRUE(SendAll(active.get(), "<13>tick\n"));
    ++ticks;
    const auto now = std::chrono::steady_clock::now();
    longest_gap = std::max(longest_gap, now - last_tick);
    last_tick = now;
  }
  EXPECT_GE(ticks, 10u);  // the idle connection did outlast several ticks
  EXPECT_FALSE(ClosedByServer(active.get(), 0ms))
      << "longest pause between ticks: " << std::chrono::duration_cast<std::chrono::milliseconds>(longest_gap).count()
      << " ms";
  ASSERT_TRUE(WaitUntil([&] { return collector->stats().idle_timeouts.load() == 1; }));
  EXPECT_TRUE(ClosedByServer(active.get(), testing::kWaitTimeout));
  ASSERT_TRUE(sink.wait_for_records(ticks));
}

TEST(TcpSyslog, StopEmitsTheUnterminatedLastLineAndIsIdempotent) {
  StoringSink sink;
  auto collector = StartTcp(sink, TcpSyslogOptions{});
  ASSERT_TRUE(collector);
  Fd fd = ConnectTcp(collector->local_port());
  ASSERT_TRUE(SendAll(fd.get(), "<13>complete\n<13>no line end yet"));
  // Both parts went out in one small send, so they arrive in one read: once the first record
  // is out, the second part sits in the connection's framer.
  ASSERT_TRUE(sink.wait_for_records(1));
  collector->stop();
  collector->stop();
  EXPECT_EQ(Texts(sink.records()), Sorted({"<13>complete", "<13>no line end yet"}));
  EXPECT_TRUE(ClosedByServer(fd.get(), testing::kWaitTimeout));
}

TEST(TcpSyslog, Ipv6ListenerReportsTheIpv6Peer) {
  StoringSink sink;
  TcpSyslogOptions options;
  options.listen_host = "::1";
  options.port = 0;
  auto collector = TcpSyslogCollector::create(options, sink, nullptr);
  ASSERT_TRUE(collector);
  if (Status s = (*collector)->start(); !s.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << s.to_string();
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({asio::ip::make_address("::1"), (*collector)->local_port()}, ec);
  ASSERT_FALSE(ec) << ec.message();
  asio::write(socket, asio::buffer(std::string("<13>over ipv6\n")), ec);
  ASSERT_FALSE(ec);
  ASSERT_TRUE(sink.wait_for_records(1));
  EXPECT_EQ(sink.records()[0].peer, "::1");
  EXPECT_EQ(sink.records()[0].text, "<13>over ipv6");
}

TEST(TcpSyslog, BadOptionsAreRefused) {
  StoringSink sink;
  TcpSyslogOptions options;
  options.tls = true;  // without certificate and key
  auto r = TcpSyslogCollector::create(options, sink, nullptr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("cert_file"), std::string::npos);
  options = TcpSyslogOptions{};
  options.max_connections = 0;
  EXPECT_FALSE(TcpSyslogCollector::create(options, sink, nullptr));
}

// ---- TLS ----

class TlsSyslog : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("vigil-syslog-tls-" + std::to_string(::getpid())));
    std::filesystem::create_directories(*dir_);
    const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout '" +
                                key() + "' -out '" + cert() + "' >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(*dir_, ec);
    delete dir_;
  }
  static std::string cert() { return (*dir_ / "cert.pem").string(); }
  static std::string key() { return (*dir_ / "key.pem").string(); }
  static std::string path(const char* name) { return (*dir_ / name).string(); }

  static TcpSyslogOptions TlsOptions() {
    TcpSyslogOptions options;
    options.name = "tls-test";
    options.tls = true;
    options.cert_file = cert();
    options.key_file = key();
    return options;
  }

  // Connects, verifies the server's certificate against the generated one, sends, closes.
  static void SendTls(std::uint16_t port, const std::string& data) {
    asio::io_context io;
    ssl::context ctx(ssl::context::tls_client);
    boost::system::error_code ec;
    ctx.load_verify_file(cert(), ec);
    ASSERT_FALSE(ec) << ec.message();
    ctx.set_verify_mode(ssl::verify_peer, ec);
    ssl::stream<asio::ip::tcp::socket> stream(io, ctx);
    stream.lowest_layer().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    ASSERT_FALSE(ec) << ec.message();
    stream.handshake(ssl::stream_base::client, ec);
    ASSERT_FALSE(ec) << ec.message();
    asio::write(stream, asio::buffer(data), ec);
    ASSERT_FALSE(ec) << ec.message();
    stream.shutdown(ec);  // close_notify; the server closing first is fine too
  }

  static std::filesystem::path* dir_;
};
std::filesystem::path* TlsSyslog::dir_ = nullptr;

TEST_F(TlsSyslog, RecordsArriveOverTls) {
  StoringSink sink;
  auto collector = StartTcp(sink, TlsOptions());
  ASSERT_TRUE(collector);
  EXPECT_EQ(collector->stats().kind, "tls");
  std::vector<std::string> expected;
  std::string stream;
  for (int i = 0; i < 3000; ++i) {
    expected.push_back("<13>over tls " + std::to_string(i) + std::string(static_cast<std::size_t>(i % 50), 't'));
    stream += OctetFrame(expected.back());
  }
  SendTls(collector->local_port(), stream);
  ASSERT_TRUE(sink.wait_for_records(expected.size())) << sink.record_count();
  const auto records = sink.records();
  EXPECT_EQ(Texts(records), Sorted(expected));
  for (const Received& r : records) EXPECT_EQ(r.peer, "127.0.0.1");
  EXPECT_EQ(collector->stats().framing_errors.load(), 0u);
}

TEST_F(TlsSyslog, BrokenHandshakesAreCountedAndOthersStillWork) {
  StoringSink sink;
  TcpSyslogOptions options = TlsOptions();
  options.handshake_timeout = 300ms;
  auto collector = StartTcp(sink, options);
  ASSERT_TRUE(collector);
  Fd plain = ConnectTcp(collector->local_port());
  ASSERT_TRUE(SendAll(plain.get(), "<13>plain text on the TLS port\n"));
  EXPECT_TRUE(ClosedByServer(plain.get(), testing::kWaitTimeout));
  ASSERT_TRUE(WaitUntil([&] { return collector->stats().connections_rejected.load() == 1; }));

  Fd silent = ConnectTcp(collector->local_port());  // never starts the handshake
  EXPECT_TRUE(ClosedByServer(silent.get(), testing::kWaitTimeout));
  ASSERT_TRUE(WaitUntil([&] { return collector->stats().connections_rejected.load() == 2; }));

  SendTls(collector->local_port(), "<13>a real TLS client\n");
  ASSERT_TRUE(sink.wait_for_records(1));
  const auto records = sink.records();
  ASSERT_EQ(records.size(), 1u);  // the plain text never became a record
  EXPECT_EQ(records[0].text, "<13>a real TLS client");
}

TEST_F(TlsSyslog, CertificateProblemsFailStartWithTheFileAndReason) {
  StoringSink sink;
  TcpSyslogOptions missing = TlsOptions();
  missing.cert_file = path("does-not-exist.pem");
  auto a = TcpSyslogCollector::create(missing, sink, nullptr);
  ASSERT_TRUE(a);
  Status s = (*a)->start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does-not-exist.pem"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s.message();

  {
    std::ofstream(path("garbage.pem")) << "this is not a certificate\n";
  }
  TcpSyslogOptions garbage = TlsOptions();
  garbage.cert_file = path("garbage.pem");
  auto b = TcpSyslogCollector::create(garbage, sink, nullptr);
  ASSERT_TRUE(b);
  s = (*b)->start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("garbage.pem"), std::string::npos) << s.message();

  TcpSyslogOptions bad_key = TlsOptions();
  bad_key.key_file = path("garbage.pem");
  auto c = TcpSyslogCollector::create(bad_key, sink, nullptr);
  ASSERT_TRUE(c);
  s = (*c)->start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("key file"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("garbage.pem"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace vigil::collectors
