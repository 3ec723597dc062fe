// RELP: the frame parser on its own, and the collector against a plain socket client with a
// sink whose commits the test performs, so the order "commit, then answer" can be seen.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/wait.h"

#include "collectors/relp.h"
#include "collectors/relp_frame.h"

namespace vigil::collectors {
namespace {

using namespace std::chrono_literals;

// ---- frame parser ----

struct Parsed {
  std::vector<std::string> frames;  // "txnr command data"
  RelpFrameParser::Next last = RelpFrameParser::Next::kNeedMore;
};

void Drain(RelpFrameParser& p, Parsed& out) {
  RelpFrame f;
  while ((out.last = p.next(f)) == RelpFrameParser::Next::kFrame)
    out.frames.push_back(std::to_string(f.txnr) + " " + std::string(f.command) + " " + std::string(f.data));
}

Parsed ParseAll(std::string_view bytes, std::size_t max_data = 1000, std::size_t chunk = 0) {
  RelpFrameParser p(max_data);
  Parsed out;
  if (chunk == 0) chunk = bytes.size();
  for (std::size_t i = 0; i < bytes.size() && out.last != RelpFrameParser::Next::kError; i += chunk) {
    p.append(bytes.substr(i, chunk));
    Drain(p, out);
  }
  return out;
}

const std::string kGood =
    "1 open 46 relp_version=0\nrelp_software=t\ncommands=syslog\n"
    "2 syslog 25 <13>Mar 1 host app: hello\n"
    "3 syslog 12 with\nnewline\n"
    "4 close 0\n";

TEST(RelpFrameParser, GoodFramesIncludingOneWithoutData) {
  const Parsed p = ParseAll(kGood);
  ASSERT_EQ(p.last, RelpFrameParser::Next::kNeedMore);
  EXPECT_EQ(p.frames, (std::vector<std::string>{"1 open relp_version=0\nrelp_software=t\ncommands=syslog",
                                                "2 syslog <13>Mar 1 host app: hello", "3 syslog with\nnewline",
                                                "4 close "}));
}

TEST(RelpFrameParser, FramesSplitAcrossReadsAtEveryByte) {
  const Parsed whole = ParseAll(kGood);
  for (std::size_t chunk : {1, 2, 3, 7, 13}) {
    const Parsed split = ParseAll(kGood, 1000, chunk);
    EXPECT_EQ(split.frames, whole.frames) << "chunk " << chunk;
    EXPECT_EQ(split.last, RelpFrameParser::Next::kNeedMore);
  }
}

TEST(RelpFrameParser, OversizeIsRefusedBeforeItsDataArrives) {
  RelpFrameParser p(100);
  p.append("1 syslog 101 ");
  RelpFrame f;
  EXPECT_EQ(p.next(f), RelpFrameParser::Next::kError);
  EXPECT_EQ(p.error(), RelpFrameError::kTooLarge);
  // Exactly at the limit is fine.
  const Parsed ok = ParseAll("1 syslog 3 abc\n", 3);
  EXPECT_EQ(ok.frames.size(), 1u);
}

TEST(RelpFrameParser, BadTxnrCommandLengthAndTrailerAreErrors) {
  const std::pair<std::string, RelpFrameError> cases[] = {
      {"x open 0\n", RelpFrameError::kBadTxnr},
      {"1234567890 open 0\n", RelpFrameError::kBadTxnr},
      {" 1 open 0\n", RelpFrameError::kBadTxnr},
      {"1-open 0\n", RelpFrameError::kBadTxnr},
      {"1 op3n 0\n", RelpFrameError::kBadCommand},
      {"1  open 0\n", RelpFrameError::kBadCommand},
      {"1 " + std::string(33, 'a') + " 0\n", RelpFrameError::kBadCommand},
      {"1 syslog x\n", RelpFrameError::kBadDataLength},
      {"1 syslog 3\nabc\n", RelpFrameError::kBadDataLength},
      {"1 syslog 1234567890 ", RelpFrameError::kBadDataLength},
      {"1 syslog 3 abcX", RelpFrameError::kMissingTrailer},
      {"1 close 0 \n", RelpFrameError::kMissingTrailer},
  };
  for (const auto& [bytes, want] : cases) {
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}}) {
      RelpFrameParser p(1u << 30);
      Parsed out;
      for (std::size_t i = 0; i < bytes.size() && out.last != RelpFrameParser::Next::kError; i += chunk ? chunk : bytes.size()) {
        p.append(std::string_view(bytes).substr(i, chunk ? chunk : bytes.size()));
        Drain(p, out);
      }
      EXPECT_EQ(out.last, RelpFrameParser::Next::kError) << bytes;
      EXPECT_EQ(p.error(), want) << bytes << " -> " << to_string(p.error());
      EXPECT_TRUE(out.frames.empty()) << bytes;
    }
  }
}

// ---- collector ----

// Keeps submitted batches uncommitted until commit() (in submission order, as the store writer).
class CommitSink : public BatchSink {
 public:
  bool submit(IngestBatch&& batch) override {
    std::lock_guard lock(mutex_);
    for (const IngestRecord& r : batch.records) records_.emplace_back(r.record.bytes);
    held_.push_back(std::move(batch));
    return true;
  }
  bool try_submit(IngestBatch&) override { return false; }
  // Commits every batch held now; returns how many records they had.
  std::size_t commit(const Status& status = Status::Ok()) {
    std::vector<IngestBatch> batches;
    {
      std::lock_guard lock(mutex_);
      batches.swap(held_);
    }
    std::size_t n = 0;
    for (IngestBatch& b : batches) {
      n += b.records.size();
      if (b.on_committed) b.on_committed(status);
    }
    return n;
  }
  std::vector<std::string> records() {
    std::lock_guard lock(mutex_);
    return records_;
  }
  std::size_t record_count() {
    std::lock_guard lock(mutex_);
    return records_.size();
  }

 private:
  std::mutex mutex_;
  std::vector<IngestBatch> held_;
  std::vector<std::string> records_;
};

class RelpClient {
 public:
  explicit RelpClient(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)), parser_(1u << 20) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RelpClient() { ::close(fd_); }
  bool connected() const { return connected_; }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  bool frame(std::uint32_t txnr, std::string_view command, std::string_view data) {
    std::string f = std::to_string(txnr) + " " + std::string(command) + " " + std::to_string(data.size());
    if (!data.empty()) f += " " + std::string(data);
    return send(f + "\n");
  }
  bool open() { return frame(1, "open", "relp_version=0\nrelp_software=test\ncommands=syslog"); }

  // Answers received within `timeout` ("txnr data"), until `n` are there or the server closes.
  std::vector<std::string> answers(std::size_t n, std::chrono::milliseconds timeout = testing::kWaitTimeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (answers_.size() < n && !closed_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      const ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
      if (got <= 0) {
        closed_ = true;
        break;
      }
      parser_.append(std::string_view(buf, static_cast<std::size_t>(got)));
      RelpFrame f;
      while (parser_.next(f) == RelpFrameParser::Next::kFrame) {
        EXPECT_EQ(f.command, "rsp");
        answers_.push_back(std::to_string(f.txnr) + " " + std::string(f.data));
      }
    }
    return answers_;
  }
  // True when the server closes the connection within the wait timeout.
  bool closed_by_server() {
    answers(static_cast<std::size_t>(-1));
    return closed_;
  }

 private:
  int fd_;
  bool connected_ = false;
  bool closed_ = false;
  RelpFrameParser parser_;
  std::vector<std::string> answers_;
};

const std::string kOpenAnswer = "1 200 OK\nrelp_version=0\nrelp_software=vigil\ncommands=syslog";

std::unique_ptr<RelpCollector> StartRelp(CommitSink& sink, RelpOptions o = {}) {
  o.port = 0;
  o.batching.max_delay = 1ms;
  auto c = RelpCollector::create(std::move(o), sink, nullptr);
  EXPECT_TRUE(c.has_value());
  if (!c) return nullptr;
  EXPECT_TRUE((*c)->start().ok());
  return std::move(*c);
}

bool WaitRecords(CommitSink& sink, std::size_t n) {
  return testing::wait_until(testing::deadline_after(), [&] { return sink.record_count() >= n; });
}

TEST(RelpCollector, AnswersSyslogOnlyAfterCommitAndInOrder) {
  CommitSink sink;
  auto relp = StartRelp(sink);
  RelpClient c(relp->local_port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.open());
  ASSERT_EQ(c.answers(1), std::vector<std::string>{kOpenAnswer});  // open needs no commit
  for (std::uint32_t t = 2; t <= 4; ++t) ASSERT_TRUE(c.frame(t, "syslog", "<13>msg " + std::to_string(t) + "\n"));
  ASSERT_TRUE(WaitRecords(sink, 3));
  EXPECT_EQ(sink.records(), (std::vector<std::string>{"<13>msg 2", "<13>msg 3", "<13>msg 4"}));
  // Received but not committed: nothing is acknowledged.
  EXPECT_EQ(c.answers(2, 200ms).size(), 1u);
  ASSERT_EQ(sink.commit(), 3u);
  EXPECT_EQ(c.answers(4), (std::vector<std::string>{kOpenAnswer, "2 200 OK", "3 200 OK", "4 200 OK"}));
  // close is answered after the syslog before it is committed, then the server closes.
  ASSERT_TRUE(c.frame(5, "syslog", "<13>msg 5"));
  ASSERT_TRUE(c.frame(6, "close", ""));
  ASSERT_TRUE(WaitRecords(sink, 4));
  EXPECT_EQ(c.answers(5, 200ms).size(), 4u);
  sink.commit();
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(c.answers(6), (std::vector<std::string>{kOpenAnswer, "2 200 OK", "3 200 OK", "4 200 OK", "5 200 OK",
                                                    "6 "}));
  EXPECT_EQ(relp->stats().received_events.load(), 4u);
  EXPECT_EQ(relp->stats().framing_errors.load(), 0u);
}

TEST(RelpCollector, AFailedCommitClosesWithoutAnswer) {
  CommitSink sink;
  auto relp = StartRelp(sink);
  RelpClient c(relp->local_port());
  ASSERT_TRUE(c.open());
  ASSERT_TRUE(c.frame(2, "syslog", "<13>lost"));
  ASSERT_TRUE(WaitRecords(sink, 1));
  sink.commit(Status::IoError("disk full"));
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(c.answers(2), std::vector<std::string>{kOpenAnswer});  // the sender keeps and resends txnr 2
}

TEST(RelpCollector, MalformedInputClosesTheConnectionAndIsCounted) {
  CommitSink sink;
  auto relp = StartRelp(sink);
  const std::string bad[] = {
      "garbage\n",                    // not a frame
      "1 syslog 5 early\n",           // syslog before open
      "1 open 0\n3 syslog 1 x\n",     // txnr out of sequence
      "1 open 0\n2 syslog 99999999 ",  // over max_frame_bytes
      "1 open 0\n2 bogus 0\n",        // unknown command: answered 500, then closed
  };
  std::uint64_t errors = 0;
  for (const std::string& bytes : bad) {
    RelpClient c(relp->local_port());
    ASSERT_TRUE(c.send(bytes));
    EXPECT_TRUE(c.closed_by_server()) << bytes;
    EXPECT_EQ(relp->stats().framing_errors.load(), ++errors) << bytes;
  }
  // Another connection still works.
  RelpClient good(relp->local_port());
  ASSERT_TRUE(good.open());
  ASSERT_TRUE(good.frame(2, "syslog", "<13>fine"));
  ASSERT_TRUE(WaitRecords(sink, 1));
  sink.commit();
  EXPECT_EQ(good.answers(2), (std::vector<std::string>{kOpenAnswer, "2 200 OK"}));
  EXPECT_EQ(sink.records(), std::vector<std::string>{"<13>fine"});
}

TEST(RelpCollector, AFullWindowStopsReadingUntilAnswersGoOut) {
  CommitSink sink;
  RelpOptions o;
  o.max_unacked = 2;
  auto relp = StartRelp(sink, o);
  RelpClient c(relp->local_port());
  ASSERT_TRUE(c.open());
  ASSERT_EQ(c.answers(1).size(), 1u);
  for (std::uint32_t t = 2; t <= 6; ++t) ASSERT_TRUE(c.frame(t, "syslog", "m" + std::to_string(t)));
  std::size_t committed = 0;
  while (committed < 5) {
    ASSERT_TRUE(WaitRecords(sink, std::min<std::size_t>(committed + 2, 5)));
    EXPECT_LE(sink.record_count(), committed + 2);  // never more than the window in flight
    committed += sink.commit();
  }
  EXPECT_EQ(c.answers(6).size(), 6u);
  EXPECT_EQ(sink.records(), (std::vector<std::string>{"m2", "m3", "m4", "m5", "m6"}));
}

TEST(RelpCollector, BadOptionsAreRefused) {
  CommitSink sink;
  RelpOptions o;
  o.max_unacked = 0;
  EXPECT_FALSE(RelpCollector::create(o, sink, nullptr).has_value());
  o = {};
  o.cert_file = "x.pem";
  EXPECT_FALSE(RelpCollector::create(o, sink, nullptr).has_value());
}

}  // namespace
}  // namespace vigil::collectors
