// HttpIngest on a real HttpServer on a loopback port, with a sink that commits at once, later,
// or with an error.
#include "collectors/http_ingest.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "net/hmac.h"
#include "tests/net/http_test_client.h"
#include "tests/support/wait.h"
#include "core/sha256.h"

namespace vigil::collectors {
namespace {

using namespace std::chrono_literals;
using vigil::testing::TestConnection;

struct IngestedRecord {
  std::string text;
  std::uint64_t record_no = 0;
  bool oversize = false;
  SourceInfo source;
};

class IngestSink : public BatchSink {
 public:
  enum class Mode { kCommit, kHoldCommit, kFailCommit, kBlockSubmit };
  explicit IngestSink(Mode mode = Mode::kCommit) : mode_(mode) {}

  bool submit(IngestBatch&& batch) override {
    std::unique_lock lock(mutex_);
    for (const IngestRecord& r : batch.records)
      records_.push_back({std::string(r.record.bytes), r.record.record_no, r.record.oversize, *batch.sources.at(r.source)});
    ++batches_;
    cv_.notify_all();
    if (mode_ == Mode::kBlockSubmit) {
      // Backpressure: a full pipeline.
      cv_.wait(lock, [&] { return released_; });
    }
    if (mode_ == Mode::kHoldCommit) {
      held_.push_back(std::move(batch.on_committed));
      return true;
    }
    lock.unlock();
    if (batch.on_committed)
      batch.on_committed(mode_ == Mode::kFailCommit ? Status::IoError("disk full") : Status::Ok());
    return true;
  }
  bool try_submit(IngestBatch& batch) override { return submit(std::move(batch)); }

  std::size_t wait_batches(std::size_t n) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, vigil::testing::kWaitTimeout, [&] { return batches_ >= n; });
    return batches_;
  }
  // Commits every held batch with `outcome` (store writer thread stand-in).
  void commit_held(const Status& outcome = Status::Ok()) {
    std::vector<std::function<void(const Status&)>> held;
    {
      std::lock_guard lock(mutex_);
      held.swap(held_);
    }
    for (auto& f : held) f(outcome);
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    cv_.notify_all();
  }
  std::vector<IngestedRecord> records() {
    std::lock_guard lock(mutex_);
    return records_;
  }

 private:
  Mode mode_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<IngestedRecord> records_;
  std::vector<std::function<void(const Status&)>> held_;
  std::size_t batches_ = 0;
  bool released_ = false;
};

std::string gzip(const std::string& plain) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, plain.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

class HttpIngestTest : public vigil::testing::WatchdogTest {
 protected:
  void Build(IngestSink& sink, HttpIngestOptions o = {}) {
    net::HttpServerOptions server_options;
    server_options.port = 0;
    auto server = net::HttpServer::create(server_options);
    ASSERT_TRUE(server.has_value()) << server.error().to_string();
    server_ = std::move(*server);
    ASSERT_TRUE(server_->route("GET", "/health", [](const net::Request&, net::Responder r) {
                         r(net::Response::text(200, "up"));
                       }).ok());
    auto ingest = HttpIngest::create(*server_, sink, std::move(o));
    ASSERT_TRUE(ingest.has_value()) << ingest.error().to_string();
    ingest_ = std::move(*ingest);
    ASSERT_TRUE(ingest_->start().ok());
    Status st = server_->start();
    ASSERT_TRUE(st.ok()) << st.to_string();
  }
  void TearDown() override {
    // Collectors stop before the server and the sink go away.
    if (ingest_) ingest_->stop();
    if (server_) server_->stop();
    vigil::testing::WatchdogTest::TearDown();
  }
  std::unique_ptr<net::HttpServer> server_;
  std::unique_ptr<HttpIngest> ingest_;
};

TEST_F(HttpIngestTest, NdjsonWithHeadersIsAcceptedAfterCommit) {
  IngestSink sink;
  HttpIngestOptions o;
  o.name = "http-main";
  o.defaults.tenant = "default-tenant";
  o.defaults.system = "default-system";
  Build(sink, o);
  TestConnection c(server_->local_port());
  auto r = c.request("POST", "/ingest", "{\"a\":1}\n\n{\"b\":2}\r\nplain words\n",
                     {{"X-Vigil-Tenant", "province-a"},
                      {"x-vigil-product", "windows"},
                      {"X-Vigil-Category", "process_creation"},
                      {"X-Vigil-Format", "json"}});
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "{\"accepted\":3}");
  EXPECT_EQ(r[boost::beast::http::field::content_type], "application/json");
  auto got = sink.records();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].text, "{\"a\":1}");
  EXPECT_EQ(got[1].text, "{\"b\":2}");
  EXPECT_EQ(got[1].record_no, 3u);
  EXPECT_EQ(got[2].text, "plain words");
  EXPECT_EQ(got[0].source.tenant, "province-a");
  EXPECT_EQ(got[0].source.system, "default-system");
  EXPECT_EQ(got[0].source.product, "windows");
  EXPECT_EQ(got[0].source.category, "process_creation");
  EXPECT_EQ(got[0].source.format, LogFormat::kJson);
  EXPECT_EQ(got[0].source.collector, "http-main");
  EXPECT_EQ(got[0].source.peer.rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(ingest_->stats()->received_events.load(), 3u);
}

TEST_F(HttpIngestTest, QueryParametersAndHeaderPrecedence) {
  IngestSink sink;
  Build(sink);
  TestConnection c(server_->local_port());
  auto r = c.request("POST", "/ingest?tenant=q-tenant&system=q%20sys&service=sshd&format=rfc3164", "line\n",
                     {{"X-Vigil-System", "h-sys"}});
  EXPECT_EQ(r.result_int(), 200);
  auto got = sink.records();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].source.tenant, "q-tenant");
  EXPECT_EQ(got[0].source.system, "h-sys");
  EXPECT_EQ(got[0].source.service, "sshd");
  EXPECT_EQ(got[0].source.format, LogFormat::kRfc3164);

  r = c.request("POST", "/ingest?format=nonsense", "line\n");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_NE(r.body().find("nonsense"), std::string::npos);
  r = c.request("POST", "/ingest", "");
  EXPECT_EQ(r.body(), "{\"accepted\":0}");
  r = c.request("GET", "/ingest");
  EXPECT_EQ(r.result_int(), 405);
}

// The answer reports the outcome of the commit, which the test decides only after the batch
// was submitted: an answer sent before the commit could not carry it.
TEST_F(HttpIngestTest, ReplyWaitsForTheCommit) {
  IngestSink sink(IngestSink::Mode::kHoldCommit);
  Build(sink);
  TestConnection failed(server_->local_port());
  failed.send("POST", "/ingest", "e1\ne2\n");
  ASSERT_EQ(sink.wait_batches(1), 1u);
  sink.commit_held(Status::IoError("disk failed after the submit"));
  auto r = failed.read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 503);
  EXPECT_NE(r->body().find("disk failed after the submit"), std::string::npos) << r->body();

  TestConnection committed(server_->local_port());
  committed.send("POST", "/ingest", "e3\ne4\n");
  ASSERT_EQ(sink.wait_batches(2), 2u);
  sink.commit_held();
  r = committed.read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(r->body(), "{\"accepted\":2}");
}

TEST_F(HttpIngestTest, CommitFailureIs503WithTheReason) {
  IngestSink sink(IngestSink::Mode::kFailCommit);
  Build(sink);
  TestConnection c(server_->local_port());
  auto r = c.request("POST", "/ingest", "e1\n");
  EXPECT_EQ(r.result_int(), 503);
  EXPECT_NE(r.body().find("disk full"), std::string::npos);
}

TEST_F(HttpIngestTest, BlockedSubmitDoesNotStallTheServer) {
  IngestSink sink(IngestSink::Mode::kBlockSubmit);
  HttpIngestOptions o;
  o.submit_threads = 1;
  o.max_queued_requests = 1;
  Build(sink, o);
  TestConnection blocked(server_->local_port());
  blocked.send("POST", "/ingest", "first\n");
  ASSERT_EQ(sink.wait_batches(1), 1u);  // the submit thread now blocks in submit()
  TestConnection queued(server_->local_port());
  queued.send("POST", "/ingest", "second\n");
  // Other routes are served meanwhile.
  TestConnection other(server_->local_port());
  EXPECT_EQ(other.request("GET", "/health").body(), "up");
  // The queue (1) holds "second", so a third request is refused at once.
  TestConnection third(server_->local_port());
  auto refused = third.request("POST", "/ingest", "third\n");
  EXPECT_EQ(refused.result_int(), 503);
  EXPECT_EQ(refused[boost::beast::http::field::retry_after], "1");
  sink.release();
  auto r1 = blocked.read();
  auto r2 = queued.read();
  ASSERT_TRUE(r1.has_value() && r2.has_value());
  EXPECT_EQ(r1->result_int(), 200);
  EXPECT_EQ(r2->result_int(), 200);
  std::vector<std::string> texts;
  for (auto& rec : sink.records()) texts.push_back(rec.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"first", "second"}));
}

TEST_F(HttpIngestTest, GzipBodiesAndBadEncodings) {
  IngestSink sink;
  Build(sink);
  TestConnection c(server_->local_port());
  std::string plain;
  for (int i = 0; i < 1000; ++i) plain += "{\"n\":" + std::to_string(i) + "}\n";
  auto r = c.request("POST", "/ingest", gzip(plain), {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "{\"accepted\":1000}");
  auto got = sink.records();
  ASSERT_EQ(got.size(), 1000u);
  EXPECT_EQ(got[999].text, "{\"n\":999}");

  r = c.request("POST", "/ingest", "definitely not gzip", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(r.result_int(), 400);
  std::string truncated = gzip(plain);
  truncated.resize(truncated.size() / 2);
  r = c.request("POST", "/ingest", truncated, {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(r.result_int(), 400);
  r = c.request("POST", "/ingest", "x\n", {{"Content-Encoding", "br"}});
  EXPECT_EQ(r.result_int(), 415);
  EXPECT_EQ(sink.records().size(), 1000u);  // nothing of the bad requests went in
}

TEST_F(HttpIngestTest, DecompressedSizeIsBounded) {
  IngestSink sink;
  HttpIngestOptions o;
  o.max_decoded_bytes = 1000;
  Build(sink, o);
  TestConnection c(server_->local_port());
  auto r = c.request("POST", "/ingest", gzip(std::string(5000, 'a') + "\n"), {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(r.result_int(), 413);
}

// Security finding (medium): a 299 KB gzip body inflated to 300 MiB on an HTTP I/O thread, and
// four at once held /health for 9 s. Inflating stops at 100 x the compressed size, on the
// collector's own threads; the server's other routes answer meanwhile.
TEST_F(HttpIngestTest, AGzipBombIsStoppedWhileInflatingAndNeverHoldsUpOtherRoutes) {
  IngestSink sink;
  Build(sink);  // default limits
  const std::string bomb = gzip(std::string(300u << 20, '\0'));
  ASSERT_LT(bomb.size(), 400u << 10);
  std::vector<std::thread> senders;
  std::vector<unsigned> statuses(4);
  std::vector<std::string> messages(4);
  for (int i = 0; i < 4; ++i)
    senders.emplace_back([&, i] {
      TestConnection c(server_->local_port());
      auto r = c.request("POST", "/ingest", bomb, {{"Content-Encoding", "gzip"}});
      statuses[i] = r.result_int();
      messages[i] = r.body();
    });
  for (int i = 0; i < 5; ++i) {
    TestConnection probe(server_->local_port());
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(probe.request("GET", "/health").body(), "up");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "probe " << i;
  }
  for (auto& t : senders) t.join();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(statuses[i], 413u) << messages[i];
    EXPECT_NE(messages[i].find("100 times the compressed size"), std::string::npos) << messages[i];
  }
  EXPECT_TRUE(sink.records().empty());
}

TEST_F(HttpIngestTest, BearerTokenIsRequiredWhenConfigured) {
  IngestSink sink;
  HttpIngestOptions o;
  o.bearer_token = "s3cret";
  Build(sink, o);
  TestConnection c(server_->local_port());
  auto r = c.request("POST", "/ingest", "x\n");
  EXPECT_EQ(r.result_int(), 401);
  EXPECT_EQ(r[boost::beast::http::field::www_authenticate], "Bearer");
  r = c.request("POST", "/ingest", "x\n", {{"Authorization", "Bearer wrong"}});
  EXPECT_EQ(r.result_int(), 401);
  r = c.request("POST", "/ingest", "x\n", {{"Authorization", "Bearer s3cret"}});
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(sink.records().size(), 1u);
}

// Security finding (medium): a browser page's "simple request" (text/plain from any Origin)
// planted events. Requests from web pages and form uploads are refused; shippers are not hurt.
TEST_F(HttpIngestTest, RequestsFromWebPagesAreRefused) {
  IngestSink sink;
  Build(sink);
  TestConnection c(server_->local_port());
  auto r = c.request("POST", "/ingest", "x\n", {{"Origin", "https://evil.example"}, {"Content-Type", "text/plain"}});
  EXPECT_EQ(r.result_int(), 403);
  r = c.request("POST", "/ingest", "x\n", {{"Sec-Fetch-Site", "cross-site"}});
  EXPECT_EQ(r.result_int(), 403);
  r = c.request("POST", "/ingest", "--b\r\n\r\nx\r\n--b--\r\n", {{"Content-Type", "multipart/form-data; boundary=b"}});
  EXPECT_EQ(r.result_int(), 415);
  EXPECT_TRUE(sink.records().empty());
  // What shippers and curl send is taken.
  for (const char* type : {"application/x-ndjson", "application/json", "text/plain", "application/x-www-form-urlencoded"}) {
    r = c.request("POST", "/ingest", "x\n", {{"Content-Type", type}});
    EXPECT_EQ(r.result_int(), 200) << type;
  }
  EXPECT_EQ(sink.records().size(), 4u);
}

// Security finding (medium): the sender chose the tenant. A token bound to a tenant decides it.
TEST_F(HttpIngestTest, TokensBoundToTenantsDecideTheTenant) {
  IngestSink sink;
  HttpIngestOptions o;
  o.tokens.push_back(IngestToken{sha256_hex("alpha-token-0123456789"), "alpha", ""});
  o.tokens.push_back(IngestToken{sha256_hex("beta-token-0123456789"), "beta", "dvc"});
  Build(sink, o);
  TestConnection c(server_->local_port());
  EXPECT_EQ(c.request("POST", "/ingest", "x\n").result_int(), 401);
  EXPECT_EQ(c.request("POST", "/ingest", "x\n", {{"Authorization", "Bearer alpha-token-wrong"}}).result_int(), 401);
  const std::pair<std::string, std::string> alpha{"Authorization", "Bearer alpha-token-0123456789"};
  const std::pair<std::string, std::string> beta{"Authorization", "Bearer beta-token-0123456789"};
  EXPECT_EQ(c.request("POST", "/ingest", "a1\n", {alpha}).result_int(), 200);
  EXPECT_EQ(c.request("POST", "/ingest?tenant=alpha", "a2\n", {alpha}).result_int(), 200);
  EXPECT_EQ(c.request("POST", "/ingest", "a3\n", {alpha, {"X-Vigil-Tenant", "beta"}}).result_int(), 403);
  EXPECT_EQ(c.request("POST", "/ingest?tenant=beta", "a4\n", {alpha}).result_int(), 403);
  EXPECT_EQ(c.request("POST", "/ingest", "b1\n", {beta}).result_int(), 200);
  EXPECT_EQ(c.request("POST", "/ingest?system=other", "b2\n", {beta}).result_int(), 403);
  auto records = sink.records();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].source.tenant, "alpha");
  EXPECT_EQ(records[1].source.tenant, "alpha");
  EXPECT_EQ(records[2].source.tenant, "beta");
  EXPECT_EQ(records[2].source.system, "dvc");
}

TEST_F(HttpIngestTest, OversizeRecordsAreCutFlaggedAndCounted) {
  IngestSink sink;
  HttpIngestOptions o;
  o.max_record_bytes = 8;
  o.batch_max_records = 2;  // and a request spans several batches
  Build(sink, o);
  TestConnection c(server_->local_port());
  auto r = c.request("POST", "/ingest", "0123456789abcdef\nok\nthree\nfour\nfive\n");
  EXPECT_EQ(r.body(), "{\"accepted\":5}");
  auto got = sink.records();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].text, "01234567");
  EXPECT_TRUE(got[0].oversize);
  EXPECT_FALSE(got[1].oversize);
  EXPECT_EQ(got[4].text, "five");
  EXPECT_EQ(ingest_->stats()->oversize_records.load(), 1u);
  EXPECT_EQ(sink.wait_batches(3), 3u);
}

TEST_F(HttpIngestTest, StoppedCollectorAnswers503) {
  IngestSink sink;
  Build(sink);
  ingest_->stop();
  ingest_->stop();
  TestConnection c(server_->local_port());
  auto r = c.request("POST", "/ingest", "x\n");
  EXPECT_EQ(r.result_int(), 503);
  EXPECT_TRUE(sink.records().empty());
}

TEST(Gunzip, ConcatenatedMembersAndLimits) {
  auto both = gunzip(gzip("a\n") + gzip("b\n"), 100);
  ASSERT_TRUE(both.has_value());
  EXPECT_EQ(*both, "a\nb\n");
  auto big = gunzip(gzip(std::string(1000, 'x')), 999);
  ASSERT_FALSE(big.has_value());
  auto exact = gunzip(gzip(std::string(1000, 'x')), 1000);
  ASSERT_TRUE(exact.has_value());
  EXPECT_EQ(exact->size(), 1000u);
  // The ratio bound: 1 MiB at least, then 100 x the compressed size.
  const std::string zeros = gzip(std::string(4u << 20, '\0'));
  EXPECT_FALSE(gunzip(zeros, 64u << 20).has_value());
  EXPECT_TRUE(gunzip(zeros, 64u << 20, 0).has_value()) << "0 = no ratio bound";
  EXPECT_TRUE(gunzip(gzip(std::string(1u << 20, 'x')), 64u << 20).has_value()) << "1 MiB is always allowed";
}

}  // namespace
}  // namespace vigil::collectors
