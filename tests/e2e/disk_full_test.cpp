// Disk full (hardening): the daemon's data directory on a small tmpfs made by the test. When
// the store cannot write, the daemon stops acknowledging (HTTP ingest replies wait), says so in
// its log and metrics, keeps the store intact, and resumes once space returns; every line whose
// POST was acknowledged is in the store. Needs root (mount); skipped with the reason otherwise.
#include <sys/mount.h>

#include <cstring>
#include <future>
#include <regex>
#include <set>

#include "tests/support/daemon.h"

namespace vigil::testing {
namespace {

using namespace std::chrono_literals;

class DiskFullTest : public TempDirTest {
 protected:
  void TearDown() override {
    if (mounted_) ::umount2((dir_ / "data").c_str(), MNT_DETACH);
    TempDirTest::TearDown();
  }
  bool mount_tmpfs(const std::string& size) {
    fs::create_directories(dir_ / "data");
    const std::string options = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", (dir_ / "data").c_str(), "tmpfs", 0, options.c_str()) != 0) return false;
    mounted_ = true;
    return true;
  }
  bool resize_tmpfs(const std::string& size) {
    const std::string options = "size=" + size + ",mode=0700";
    return ::mount("tmpfs", (dir_ / "data").c_str(), "tmpfs", MS_REMOUNT, options.c_str()) == 0;
  }
  bool mounted_ = false;
};

// `n` failed SSH logins, each from its own host, user and address (so that no two group or
// correlate): one stored alert each, named by its user.
std::string failed_logins(int first, int n) {
  std::string body;
  for (int i = first; i < first + n; ++i)
    body += "Dec  7 10:00:00 host" + std::to_string(i) + " sshd[1]: Failed password for invalid user u" +
            std::to_string(i) + "x from 10." + std::to_string(i / 65536 % 256) + "." + std::to_string(i / 256 % 256) +
            "." + std::to_string(i % 256) + " port 22 ssh2\n";
  return body;
}

TEST_F(DiskFullTest, StopsAcknowledgingWhileFullAndLosesNothingAcknowledged) {
  if (!mount_tmpfs("64m")) GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << std::strerror(errno);
  Daemon d(dir_, "data_dir: data\nrules: ['@bundled']\nmetrics: {listen: '127.0.0.1:0'}\n"
                 "http: {listen: '127.0.0.1:0'}\npipeline: {batch_max_delay_ms: 5}\nstore: {min_free_mib: 16}\n"
                 "collectors:\n  - {name: ingest, type: http}\n");
  ASSERT_TRUE(d.start()) << d.log();
  const std::uint16_t port = d.port("http");
  constexpr int kChunk = 2000;
  int sent = 0, acked = 0;
  std::future<HttpReply> pending;
  // Fill the disk: POSTs until one is not answered within 15 s (the daemon holds it while the
  // store cannot write).
  for (int round = 0; round < 400 && !pending.valid(); ++round) {
    std::string body = failed_logins(sent, kChunk);
    auto reply = std::async(std::launch::async, [port, body] {
      return http_request(port, "POST", "/ingest?tenant=t", body);
    });
    sent += kChunk;
    if (reply.wait_for(15s) == std::future_status::ready) {
      HttpReply r = reply.get();
      if (r.status == 200) acked = sent;
      else FAIL() << "POST answered " << r.status << " " << r.body << "\n" << d.log();
    } else {
      pending = std::move(reply);
    }
  }
  ASSERT_TRUE(pending.valid()) << "the 64 MiB store never filled after " << sent << " lines";
  EXPECT_TRUE(d.wait_for_log("store write failed", 30s)) << d.log();
  EXPECT_GT(metric(d, "vigil_store_write_failures_total"), 0);
  EXPECT_EQ(metric(d, "vigil_store_writable"), 0);
  std::printf("store full after %d acknowledged lines (the next POST of %d waits)\n", acked, kChunk);

  ASSERT_TRUE(resize_tmpfs("512m")) << std::strerror(errno);
  ASSERT_EQ(pending.wait_for(120s), std::future_status::ready) << "no reply after space returned:\n" << d.log();
  EXPECT_EQ(pending.get().status, 200);
  acked = sent;
  HttpReply after = http_request(port, "POST", "/ingest?tenant=t", failed_logins(sent, 10));
  EXPECT_EQ(after.status, 200) << after.body;
  acked += 10;
  EXPECT_TRUE(wait_until(deadline_after(30s), [&] { return metric(d, "vigil_store_writable") == 1; }));
  ASSERT_EQ(d.stop(), 0) << d.log();

  // Every acknowledged line's alert is stored, once.
  std::vector<std::string> stored = d.alerts_json();
  std::set<int> users;
  const std::regex user_re("invalid user u(\\d+)x");
  for (const std::string& a : stored) {
    std::smatch m;
    if (std::regex_search(a, m, user_re)) users.insert(std::stoi(m[1]));
  }
  int missing = 0;
  for (int i = 0; i < acked; ++i) missing += users.count(i) == 0;
  EXPECT_EQ(missing, 0) << "of " << acked << " acknowledged lines";
  EXPECT_EQ(static_cast<int>(users.size()), acked);
}

}  // namespace
}  // namespace vigil::testing
