// FileTail on real files in a temporary directory (append, partial lines, rename and truncate
// rotation, restart from a checkpoint, glob discovery) and StdinSource on a real pipe.
#include "collectors/file_tail.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "collectors/stdin_source.h"
#include "tests/support/corpora.h"
#include "tests/support/wait.h"

namespace vigil::collectors {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct SeenRecord {
  std::string text;
  std::uint64_t record_no = 0;
  bool oversize = false;
  std::string peer;
  bool operator<(const SeenRecord& o) const { return std::tie(peer, record_no, text) < std::tie(o.peer, o.record_no, o.text); }
};

struct SeenBatch {
  std::vector<SeenRecord> records;
  std::vector<Checkpoint> checkpoints;
};

// Stores what it is given and commits at once (or, after commit_limit batches, never: a crash
// before those commits).
class RecordingSink : public BatchSink {
 public:
  bool submit(IngestBatch&& batch) override {
    if (on_submit) on_submit();
    SeenBatch seen;
    for (const IngestRecord& r : batch.records)
      seen.records.push_back({std::string(r.record.bytes), r.record.record_no, r.record.oversize,
                              batch.sources.at(r.source)->peer});
    // The padding the parsers rely on.
    EXPECT_GE(batch.bytes.size(), kRecordPadding);
    seen.checkpoints = batch.checkpoints;
    std::lock_guard lock(mutex_);
    const bool commit = batches_.size() < commit_limit;
    batches_.push_back(std::move(seen));
    if (commit && batch.on_committed) batch.on_committed(Status::Ok());
    cv_.notify_all();
    return true;
  }
  bool try_submit(IngestBatch& batch) override { return submit(std::move(batch)); }

  // Waits (with a deadline) until at least n records have arrived; returns them in order.
  std::vector<SeenRecord> wait_records(std::size_t n) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, vigil::testing::kWaitTimeout, [&] { return count_locked() >= n; });
    return records_locked();
  }
  std::vector<SeenBatch> batches() {
    std::lock_guard lock(mutex_);
    return batches_;
  }
  std::size_t commit_limit = SIZE_MAX;
  // Called on the submitting thread before a batch is stored (set before the tail starts).
  std::function<void()> on_submit;

 private:
  std::size_t count_locked() const {
    std::size_t n = 0;
    for (const auto& b : batches_) n += b.records.size();
    return n;
  }
  std::vector<SeenRecord> records_locked() const {
    std::vector<SeenRecord> out;
    for (const auto& b : batches_) out.insert(out.end(), b.records.begin(), b.records.end());
    return out;
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<SeenBatch> batches_;
};

std::vector<std::string> texts(const std::vector<SeenRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.text);
  return out;
}

void append(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::app);
  out << s;
}

class FileTailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A hung tail fails the program instead of stalling the suite; well beyond the waits' own
    // deadlines, so a slow machine fails (if at all) on an assertion that says what was missing.
    ::alarm(180);
    dir_ = fs::temp_directory_path() /
           ("vigil-tail-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    ::alarm(0);
  }
  FileTailOptions options(const std::string& pattern) {
    FileTailOptions o;
    o.name = "test-files";
    o.globs = {(dir_ / pattern).string()};
    o.poll_interval = 5ms;
    o.source.tenant = "t1";
    return o;
  }
  std::unique_ptr<FileTail> make(FileTailOptions o, BatchSink& sink) {
    auto t = FileTail::create(std::move(o), sink);
    EXPECT_TRUE(t.has_value()) << t.error().to_string();
    return std::move(*t);
  }
  fs::path dir_;
};

TEST_F(FileTailTest, ReadsAppendedLinesWithLineNumbersPeerAndCheckpoint) {
  const fs::path log = dir_ / "app.log";
  append(log, "a\nb\n");
  RecordingSink sink;
  auto tail = make(options("*.log"), sink);
  ASSERT_TRUE(tail->start().ok());
  ASSERT_EQ(sink.wait_records(2).size(), 2u);
  append(log, "c\r\n\nd\n");
  auto got = sink.wait_records(3);
  tail->stop();
  ASSERT_EQ(texts(got), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(got[0].record_no, 1u);
  EXPECT_EQ(got[2].record_no, 3u);
  EXPECT_EQ(got[3].record_no, 5u);  // the empty line 4 is counted, not submitted
  EXPECT_EQ(got[3].peer, log.string());
  auto batches = sink.batches();
  ASSERT_EQ(batches.back().checkpoints.size(), 1u);
  EXPECT_EQ(batches.back().checkpoints[0].key, "file:" + log.string());
  auto pos = decode_file_position(batches.back().checkpoints[0].value);
  ASSERT_TRUE(pos.has_value());
  EXPECT_EQ(pos->offset, fs::file_size(log));
  EXPECT_EQ(pos->line, 5u);
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(pos->inode, static_cast<std::uint64_t>(st.st_ino));
  EXPECT_EQ(pos->dev, static_cast<std::uint64_t>(st.st_dev));
  EXPECT_EQ(tail->stats()->received_events.load(), 4u);
}

TEST_F(FileTailTest, PartialLineWaitsForItsNewline) {
  const fs::path log = dir_ / "app.log";
  append(log, "one\ntw");
  RecordingSink sink;
  auto tail = make(options("app.log"), sink);
  ASSERT_TRUE(tail->start().ok());
  ASSERT_EQ(sink.wait_records(1).size(), 1u);
  append(log, "o\nthree\n");
  auto got = sink.wait_records(3);
  tail->stop();
  // Had "tw" been emitted early, "tw" and "o" would be two records.
  EXPECT_EQ(texts(got), (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(got[1].record_no, 2u);
}

TEST_F(FileTailTest, FollowsRenameRotationReadingTheOldFileToItsEnd) {
  const fs::path log = dir_ / "app.log";
  append(log, "a1\na2\n");
  RecordingSink sink;
  auto tail = make(options("app.log"), sink);
  ASSERT_TRUE(tail->start().ok());
  ASSERT_EQ(sink.wait_records(2).size(), 2u);

  // The writer keeps its descriptor across the rename, as a daemon does until told to reopen.
  std::FILE* writer = std::fopen(log.c_str(), "a");
  ASSERT_NE(writer, nullptr);
  std::fputs("a3\n", writer);
  std::fflush(writer);
  fs::rename(log, dir_ / "app.log.1");
  std::fputs("a4\na5-unterminated", writer);  // lands in the renamed file
  std::fclose(writer);
  append(log, "b1\nb2\n");  // the new file at the path

  auto got = sink.wait_records(7);
  tail->stop();
  EXPECT_EQ(texts(got), (std::vector<std::string>{"a1", "a2", "a3", "a4", "a5-unterminated", "b1", "b2"}));
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got[4].record_no, 5u);
  EXPECT_EQ(got[5].record_no, 1u);  // the new file counts from 1
  EXPECT_EQ(got[6].record_no, 2u);
  auto last = decode_file_position(sink.batches().back().checkpoints.at(0).value);
  ASSERT_TRUE(last.has_value());
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(last->inode, static_cast<std::uint64_t>(st.st_ino));
  EXPECT_EQ(last->offset, 6u);
}

TEST_F(FileTailTest, TruncationRestartsAtTheTop) {
  const fs::path log = dir_ / "app.log";
  append(log, "x1 long line\nx2 long line\n");
  RecordingSink sink;
  auto tail = make(options("app.log"), sink);
  ASSERT_TRUE(tail->start().ok());
  ASSERT_EQ(sink.wait_records(2).size(), 2u);
  fs::resize_file(log, 0);
  append(log, "y1\n");
  auto got = sink.wait_records(3);
  tail->stop();
  EXPECT_EQ(texts(got), (std::vector<std::string>{"x1 long line", "x2 long line", "y1"}));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].record_no, 1u);
}

TEST_F(FileTailTest, RestartFromCheckpointGivesEveryLineExactlyOnce) {
  const fs::path log = dir_ / "app.log";
  std::string content;
  for (int i = 1; i <= 100; ++i) content += "line " + std::to_string(i) + "\n";
  append(log, content);

  // First run: small batches; only the first 5 are committed (then the process "crashes").
  RecordingSink first;
  first.commit_limit = 5;
  FileTailOptions o = options("app.log");
  o.batch_max_records = 7;
  {
    auto tail = make(o, first);
    ASSERT_TRUE(tail->start().ok());
    ASSERT_EQ(first.wait_records(100).size(), 100u);
    tail->stop();
  }
  auto batches = first.batches();
  ASSERT_GE(batches.size(), 6u);
  std::vector<SeenRecord> committed;
  for (std::size_t i = 0; i < 5; ++i)
    committed.insert(committed.end(), batches[i].records.begin(), batches[i].records.end());
  const Checkpoint stored = batches[4].checkpoints.at(0);

  // Lines written while vigil was down.
  std::string more;
  for (int i = 101; i <= 120; ++i) more += "line " + std::to_string(i) + "\n";
  append(log, more);

  RecordingSink second;
  auto tail = make(o, second);
  std::vector<std::string> asked;
  ASSERT_TRUE(tail->start([&](const std::string& key) -> std::optional<std::string> {
                    asked.push_back(key);
                    if (key == stored.key) return stored.value;
                    return std::nullopt;
                  }).ok());
  auto resumed = second.wait_records(120 - committed.size());
  tail->stop();
  EXPECT_EQ(asked, std::vector<std::string>{"file:" + log.string()});

  std::vector<SeenRecord> all = committed;
  all.insert(all.end(), resumed.begin(), resumed.end());
  ASSERT_EQ(all.size(), 120u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].text, "line " + std::to_string(i + 1));
    EXPECT_EQ(all[i].record_no, i + 1);
  }
}

TEST_F(FileTailTest, CheckpointOfAnotherInodeStartsFromTheBeginning) {
  const fs::path log = dir_ / "app.log";
  append(log, "p1\np2\n");
  RecordingSink sink;
  auto tail = make(options("app.log"), sink);
  ASSERT_TRUE(tail->start([&](const std::string&) -> std::optional<std::string> {
                    return encode_file_position(FilePosition{1, 1, 3, 1});
                  }).ok());
  auto got = sink.wait_records(2);
  tail->stop();
  EXPECT_EQ(texts(got), (std::vector<std::string>{"p1", "p2"}));
}

// Also pins that followed() lists a file before its first record is submitted (it used to be
// updated only at the end of the poll, so a test that had its records could miss the file).
TEST_F(FileTailTest, GlobPicksUpFilesCreatedLater) {
  RecordingSink sink;
  auto tail = make(options("*.log"), sink);
  std::vector<std::vector<std::string>> followed_at_submit;  // tail thread until stop()
  sink.on_submit = [&] { followed_at_submit.push_back(tail->followed()); };
  ASSERT_TRUE(tail->start().ok());
  append(dir_ / "ignored.txt", "not me\n");
  append(dir_ / "late.log", "n1\nn2\n");
  auto got = sink.wait_records(2);
  ASSERT_EQ(texts(got), (std::vector<std::string>{"n1", "n2"}));
  EXPECT_EQ(got[0].peer, (dir_ / "late.log").string());
  const std::vector<std::string> late{(dir_ / "late.log").string()};
  EXPECT_EQ(tail->followed(), late);
  tail->stop();
  tail->stop();  // idempotent
  ASSERT_FALSE(followed_at_submit.empty());
  for (const auto& listed : followed_at_submit) EXPECT_EQ(listed, late);
}

TEST_F(FileTailTest, OversizeLinesAreCutFlaggedAndCounted) {
  const fs::path log = dir_ / "app.log";
  append(log, std::string(25, 'z') + "\nshort\n");
  RecordingSink sink;
  FileTailOptions o = options("app.log");
  o.max_record_bytes = 10;
  o.read_chunk_bytes = 4;  // lines span many reads
  auto tail = make(o, sink);
  ASSERT_TRUE(tail->start().ok());
  auto got = sink.wait_records(2);
  tail->stop();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].text, std::string(10, 'z'));
  EXPECT_TRUE(got[0].oversize);
  EXPECT_EQ(got[1].text, "short");
  EXPECT_FALSE(got[1].oversize);
  EXPECT_EQ(got[1].record_no, 2u);
  EXPECT_EQ(tail->stats()->oversize_records.load(), 1u);
}

TEST_F(FileTailTest, StartAtEndSkipsExistingLinesButNumbersThem) {
  const fs::path log = dir_ / "app.log";
  append(log, "old1\nold2\n");
  RecordingSink sink;
  FileTailOptions o = options("app.log");
  o.start_at = FileTailOptions::StartAt::kEnd;
  auto tail = make(o, sink);
  ASSERT_TRUE(tail->start().ok());
  // Wait until the tail follows the file, so the append below is "new".
  ASSERT_TRUE(vigil::testing::wait_until(vigil::testing::deadline_after(), [&] { return !tail->followed().empty(); }));
  append(log, "new3\n");
  auto got = sink.wait_records(1);
  tail->stop();
  ASSERT_EQ(texts(got), std::vector<std::string>{"new3"});
  EXPECT_EQ(got[0].record_no, 3u);
}

TEST(FilePosition, EncodesAndDecodes) {
  FilePosition p{2049, 1234567, 98765, 321};
  auto back = decode_file_position(encode_file_position(p));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, p);
  EXPECT_FALSE(decode_file_position("").has_value());
  EXPECT_FALSE(decode_file_position("v1 dev=1 inode=x offset=1 line=1").has_value());
  EXPECT_FALSE(decode_file_position("v2 dev=1 inode=1 offset=1 line=1").has_value());
}

TEST(FileTailOptions, ValidateNamesTheProblem) {
  RecordingSink sink;
  FileTailOptions o;
  auto r = FileTail::create(o, sink);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("no file patterns"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// StdinSource

TEST(StdinSource, ReadsAPipeUntilEndOfInput) {
  ::alarm(180);  // beyond the 60 s waits: a hang fails the program, slowness an assertion
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  RecordingSink sink;
  StdinSourceOptions o;
  o.fd = fds[0];
  o.source.tenant = "t";
  auto src = StdinSource::create(o, sink);
  ASSERT_TRUE(src.has_value());
  ASSERT_TRUE((*src)->start().ok());
  const std::string first = "{\"a\":1}\nplain line\n";
  ASSERT_EQ(::write(fds[1], first.data(), first.size()), static_cast<ssize_t>(first.size()));
  // Records arrive while the pipe is still open.
  EXPECT_EQ(sink.wait_records(2).size(), 2u);
  const std::string rest = "{\n  \"pretty\": true\n}\nlast";
  ASSERT_EQ(::write(fds[1], rest.data(), rest.size()), static_cast<ssize_t>(rest.size()));
  ::close(fds[1]);
  ASSERT_TRUE((*src)->wait_finished(vigil::testing::kWaitTimeout));
  auto got = sink.wait_records(4);
  EXPECT_EQ(texts(got), (std::vector<std::string>{"{\"a\":1}", "plain line", "{\n  \"pretty\": true\n}", "last"}));
  EXPECT_EQ(got[3].record_no, 6u);
  EXPECT_TRUE((*src)->status().ok());
  (*src)->stop();
  ::close(fds[0]);
  ::alarm(0);
}

TEST(StdinSource, StopEndsAQuietInput) {
  ::alarm(180);  // beyond the 60 s waits: a hang fails the program, slowness an assertion
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  RecordingSink sink;
  StdinSourceOptions o;
  o.fd = fds[0];
  auto src = StdinSource::create(o, sink);
  ASSERT_TRUE(src.has_value());
  ASSERT_TRUE((*src)->start().ok());
  const std::string line = "only\n";
  ASSERT_EQ(::write(fds[1], line.data(), line.size()), 5);
  EXPECT_EQ(sink.wait_records(1).size(), 1u);
  (*src)->stop();  // the writer never closes: stop() must not hang
  EXPECT_TRUE((*src)->finished());
  ::close(fds[1]);
  ::close(fds[0]);
  ::alarm(0);
}

// An .evtx file dropped into a followed folder (under any name): its records arrive as
// evtx_dump JSON, numbered by the record header, in whole chunks; the checkpoint is a chunk
// boundary, and a restart from it reads nothing twice.
TEST_F(FileTailTest, EvtxFilesAreReadByChunks) {
  VIGIL_REQUIRE_CORPUS("evtx/deepbluecli/password-spray.evtx");
  const fs::path src = fs::path(vigil::testing::corpora_dir()) / "evtx/deepbluecli/password-spray.evtx";
  const std::string bytes = [&] {
    std::ifstream in(src, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  ASSERT_GT(bytes.size(), 4096u + 2 * 65536u);
  // First the header and one chunk (a copy in progress), then the rest.
  const fs::path log = dir_ / "security.log";
  append(log, bytes.substr(0, 4096 + 65536 + 100));
  RecordingSink sink;
  auto tail = make(options("*.log"), sink);
  ASSERT_TRUE(tail->start().ok());
  ASSERT_TRUE(vigil::testing::wait_until(vigil::testing::deadline_after(), [&] { return !sink.batches().empty(); }));
  const std::size_t first_chunk = sink.wait_records(1).size();
  append(log, bytes.substr(4096 + 65536 + 100));
  auto got = sink.wait_records(295);
  tail->stop();
  ASSERT_EQ(got.size(), 295u);  // MANIFEST.txt: 295 records in 3 chunks
  EXPECT_GT(first_chunk, 0u);
  EXPECT_LT(first_chunk, 295u);
  EXPECT_EQ(got[0].text.rfind("{\"Event\":{", 0), 0u) << got[0].text;
  EXPECT_EQ(got[0].record_no, 1u);
  std::set<std::uint64_t> ids;
  for (const auto& r : got) ids.insert(r.record_no);
  EXPECT_EQ(ids.size(), 295u);
  auto pos = decode_file_position(sink.batches().back().checkpoints.at(0).value);
  ASSERT_TRUE(pos.has_value());
  EXPECT_EQ((pos->offset - 4096) % 65536, 0u);
  EXPECT_EQ(pos->line, 295u);
  // A restart from the checkpoint submits nothing of it again. A text file read after it in
  // the same pass (files are read in path order) shows that the pass is over.
  append(dir_ / "zz.log", "marker\n");
  RecordingSink again;
  auto tail2 = make(options("*.log"), again);
  const std::string value = sink.batches().back().checkpoints.at(0).value;
  const std::string key = file_checkpoint_key(log.string());
  ASSERT_TRUE(tail2->start([&](const std::string& k) {
                return k == key ? std::optional<std::string>(value) : std::nullopt;
              }).ok());
  auto after = again.wait_records(1);
  tail2->stop();
  EXPECT_EQ(texts(after), (std::vector<std::string>{"marker"}));
}

}  // namespace
}  // namespace vigil::collectors
