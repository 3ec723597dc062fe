#include "collectors/file_tail.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "core/evtx/evtx_file.h"

namespace vigil::collectors {

Status FileTailOptions::validate() const {
  if (name.empty()) return Status::InvalidArgument("file tail: the collector needs a name");
  if (globs.empty()) return Status::InvalidArgument("file tail " + name + ": no file patterns");
  for (const auto& g : globs)
    if (g.empty()) return Status::InvalidArgument("file tail " + name + ": empty file pattern");
  if (poll_interval.count() <= 0) return Status::InvalidArgument("file tail " + name + ": poll_interval must be positive");
  if (max_record_bytes == 0 || read_chunk_bytes == 0 || batch_max_records == 0 || batch_max_bytes == 0)
    return Status::InvalidArgument("file tail " + name + ": sizes must be positive");
  return Status::Ok();
}

std::string file_checkpoint_key(const std::string& path) { return "file:" + path; }

std::string encode_file_position(const FilePosition& p) {
  return "v1 dev=" + std::to_string(p.dev) + " inode=" + std::to_string(p.inode) + " offset=" +
         std::to_string(p.offset) + " line=" + std::to_string(p.line);
}

std::optional<FilePosition> decode_file_position(std::string_view value) {
  FilePosition p;
  auto field = [&](std::string_view name, std::uint64_t* out) {
    const std::size_t at = value.find(" " + std::string(name) + "=");
    if (at == std::string_view::npos) return false;
    const char* begin = value.data() + at + name.size() + 2;
    const char* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(begin, end, *out);
    return ec == std::errc() && ptr != begin && (ptr == end || *ptr == ' ');
  };
  if (value.substr(0, 3) != "v1 ") return std::nullopt;
  if (!field("dev", &p.dev) || !field("inode", &p.inode) || !field("offset", &p.offset) || !field("line", &p.line))
    return std::nullopt;
  return p;
}

namespace {

struct TailedFile {
  std::string path;
  int fd = -1;
  std::uint64_t dev = 0, inode = 0;
  std::uint64_t offset = 0;    // just after the last complete line consumed
  std::uint64_t read_pos = 0;  // next byte to read
  std::uint64_t line = 0;      // lines consumed
  std::string pending;         // the unfinished line (at most max_record_bytes of it)
  bool pending_oversize = false;
  std::shared_ptr<const SourceInfo> source;
  // An EVTX file (its magic seen at offset 0): read by whole 64 KiB chunks, each record
  // submitted as evtx_dump JSON; offset is then the next chunk's, line the records submitted.
  std::unique_ptr<evtx::ChunkDecoder> evtx;
  std::uint64_t evtx_chunks_in_use = 0;  // the file header's chunk count

  ~TailedFile() {
    if (fd >= 0) ::close(fd);
  }
};

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

struct FileTail::Impl {
  Impl(FileTailOptions o, BatchSink& s)
      : options(std::move(o)), sink(s), stats(std::make_shared<CollectorStats>(options.name, "file")) {}

  const FileTailOptions options;
  BatchSink& sink;
  const std::shared_ptr<CollectorStats> stats;
  CheckpointLoader load_checkpoint;

  std::mutex mutex;  // guards stop_requested, followed_paths, last_error
  std::condition_variable wake;
  bool stop_requested = false;
  std::vector<std::string> followed_paths;
  Status last_error;
  std::thread thread;

  // Tail thread only.
  std::map<std::string, std::unique_ptr<TailedFile>> files;
  std::vector<char> chunk;
  bool first_scan = true;
  bool sink_closed = false;

  void run();
  void poll_once();
  void scan_globs();
  std::unique_ptr<TailedFile> open_file(const std::string& path, bool first_scan);
  // Reads everything appended; returns false when the sink refused a batch.
  bool read_available(TailedFile& f);
  bool read_evtx_chunks(TailedFile& f);
  // Whatever its name, an EVTX file is known by its header (its first 128 bytes).
  static void detect_evtx(TailedFile& f) {
    unsigned char head[128];
    if (::pread(f.fd, head, sizeof head, 0) == static_cast<ssize_t>(sizeof head) &&
        evtx::is_evtx(std::string_view(reinterpret_cast<const char*>(head), sizeof head))) {
      f.evtx = std::make_unique<evtx::ChunkDecoder>();
      f.evtx_chunks_in_use = static_cast<std::uint64_t>(head[42] | head[43] << 8);
      if (f.read_pos < evtx::kFileHeaderSize) f.offset = f.read_pos = evtx::kFileHeaderSize;
    }
  }
  std::vector<std::uint8_t> evtx_block = std::vector<std::uint8_t>(evtx::kChunkSize);
  std::string evtx_text;
  std::vector<evtx::DecodedRecord> evtx_records;
  bool flush(TailedFile& f, IngestBatchBuilder& builder, std::uint64_t& record_bytes);
  bool emit_partial(TailedFile& f);
  void publish_followed() {
    std::lock_guard lock(mutex);
    followed_paths.clear();
    for (const auto& [path, f] : files) followed_paths.push_back(path);
  }
  void note_error(Status st) {
    std::lock_guard lock(mutex);
    last_error = std::move(st);
  }
};

void FileTail::Impl::run() {
  chunk.resize(options.read_chunk_bytes);
  for (;;) {
    poll_once();
    publish_followed();  // files closed during the poll
    std::unique_lock lock(mutex);
    if (sink_closed) return;
    if (wake.wait_for(lock, options.poll_interval, [&] { return stop_requested; })) return;
  }
}

void FileTail::Impl::poll_once() {
  scan_globs();
  first_scan = false;
  // Before any line of a new file is submitted: whoever has seen a record of a file must find
  // that file in followed().
  publish_followed();
  for (auto it = files.begin(); it != files.end() && !sink_closed;) {
    TailedFile& f = *it->second;
    if (!read_available(f)) {
      sink_closed = true;
      return;
    }
    struct stat at_path {};
    const bool exists = ::stat(f.path.c_str(), &at_path) == 0;
    const bool same = exists && static_cast<std::uint64_t>(at_path.st_dev) == f.dev &&
                      static_cast<std::uint64_t>(at_path.st_ino) == f.inode;
    if (same) {
      ++it;
      continue;
    }
    // The path was renamed away (or deleted). Read what the writer appended since, once more:
    // the loop above may have run before its last writes.
    if (!read_available(f)) {
      sink_closed = true;
      return;
    }
    struct stat own {};
    const bool deleted = ::fstat(f.fd, &own) == 0 && own.st_nlink == 0;
    if (!exists && !deleted) {
      // Renamed, no new file yet: keep following the old one (the writer may not have reopened).
      ++it;
      continue;
    }
    if (!emit_partial(f)) {
      sink_closed = true;
      return;
    }
    const std::string path = f.path;
    it = files.erase(it);  // closes the old file
    if (exists) {
      // The new file at the path: from its beginning, whatever the first scan said.
      auto fresh = open_file(path, false);
      if (fresh) {
        auto [pos, inserted] = files.emplace(path, std::move(fresh));
        (void)inserted;
        // Read it in this same pass (map order may already have passed this key).
        if (!read_available(*pos->second)) {
          sink_closed = true;
          return;
        }
      }
    }
  }
}

void FileTail::Impl::scan_globs() {
  for (const std::string& pattern : options.globs) {
    glob_t g{};
    const int rc = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g);
    if (rc == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) {
        const std::string path = g.gl_pathv[i];
        if (files.count(path) != 0) continue;
        auto f = open_file(path, first_scan);
        if (f) files.emplace(path, std::move(f));
      }
    } else if (rc != GLOB_NOMATCH) {
      note_error(Status::IoError("file tail " + options.name + ": pattern " + pattern + ": glob failed"));
    }
    ::globfree(&g);
  }
}

std::unique_ptr<TailedFile> FileTail::Impl::open_file(const std::string& path, bool at_startup) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    note_error(Status::IoError("file tail " + options.name + ": " + path + ": " + errno_text(errno)));
    return nullptr;
  }
  auto f = std::make_unique<TailedFile>();
  f->fd = fd;
  f->path = path;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    note_error(Status::IoError("file tail " + options.name + ": " + path + ": " + errno_text(errno)));
    return nullptr;
  }
  if (!S_ISREG(st.st_mode)) return nullptr;  // directories and devices matched by a pattern
  f->dev = static_cast<std::uint64_t>(st.st_dev);
  f->inode = static_cast<std::uint64_t>(st.st_ino);
  const auto size = static_cast<std::uint64_t>(st.st_size);

  std::optional<FilePosition> resume;
  // Only at startup: a file that appears while running is new (its inode number may even be
  // a deleted file's, which a stale checkpoint would wrongly match).
  if (at_startup && load_checkpoint) {
    if (auto value = load_checkpoint(file_checkpoint_key(path))) resume = decode_file_position(*value);
  }
  detect_evtx(*f);
  if (resume && resume->dev == f->dev && resume->inode == f->inode && resume->offset <= size) {
    f->offset = f->read_pos = resume->offset;
    f->line = resume->line;
  } else if (f->evtx && at_startup && options.start_at == FileTailOptions::StartAt::kEnd) {
    // After the last complete chunk.
    if (size > evtx::kFileHeaderSize)
      f->offset = f->read_pos = size - (size - evtx::kFileHeaderSize) % evtx::kChunkSize;
  } else if (at_startup && options.start_at == FileTailOptions::StartAt::kEnd && size > 0) {
    // Start after the last complete line; the line count keeps record numbers true.
    auto lines = count_line_ends(path, 0, size);
    if (!lines) {
      note_error(lines.error());
    } else {
      // Back up to just after the last newline so a partial last line is not cut in two.
      std::uint64_t end = size;
      char c = 0;
      while (end > 0 && ::pread(fd, &c, 1, static_cast<off_t>(end - 1)) == 1 && c != '\n') --end;
      f->offset = f->read_pos = end;
      f->line = *lines;
    }
  }
  auto source = std::make_shared<SourceInfo>(options.source);
  source->collector = options.name;
  source->peer = path;
  f->source = std::move(source);
  return f;
}

bool FileTail::Impl::flush(TailedFile& f, IngestBatchBuilder& builder, std::uint64_t& record_bytes) {
  if (builder.empty()) return true;
  builder.batch().checkpoints.push_back(
      Checkpoint{file_checkpoint_key(f.path), encode_file_position(FilePosition{f.dev, f.inode, f.offset, f.line})});
  IngestBatch batch = builder.finish();
  std::uint64_t oversize = 0;
  for (const auto& r : batch.records) oversize += r.record.oversize ? 1 : 0;
  stats->received_events.fetch_add(batch.records.size(), std::memory_order_relaxed);
  stats->received_bytes.fetch_add(record_bytes, std::memory_order_relaxed);
  stats->oversize_records.fetch_add(oversize, std::memory_order_relaxed);
  record_bytes = 0;
  return sink.submit(std::move(batch));
}

bool FileTail::Impl::read_available(TailedFile& f) {
  struct stat st {};
  if (::fstat(f.fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < f.read_pos) {
    // Truncated in place (copytruncate): what was cut is gone; start again at the top. The
    // unfinished line read before the cut is kept as a record rather than lost.
    if (!emit_partial(f)) return false;
    f.offset = f.read_pos = 0;
    f.line = 0;
  }
  if (!f.evtx && f.read_pos == 0 && f.pending.empty()) detect_evtx(f);  // was too short to tell
  if (f.evtx) return read_evtx_chunks(f);
  IngestBatchBuilder builder(f.source);
  std::uint64_t record_bytes = 0;
  for (;;) {
    const ssize_t got = ::pread(f.fd, chunk.data(), chunk.size(), static_cast<off_t>(f.read_pos));
    if (got < 0) {
      if (errno == EINTR) continue;
      note_error(Status::IoError("file tail " + options.name + ": " + f.path + ": read failed: " + errno_text(errno)));
      break;
    }
    if (got == 0) break;
    const std::string_view data(chunk.data(), static_cast<std::size_t>(got));
    std::size_t pos = 0;
    while (pos < data.size()) {
      const void* nl = std::memchr(data.data() + pos, '\n', data.size() - pos);
      const std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - data.data()) : data.size();
      // Keep at most max_record_bytes (+1 for a '\r' that a CRLF line end will strip).
      const std::size_t room = options.max_record_bytes + 1 > f.pending.size()
                                   ? options.max_record_bytes + 1 - f.pending.size()
                                   : 0;
      const std::size_t piece = end - pos;
      f.pending.append(data.substr(pos, std::min(piece, room)));
      if (piece > room) f.pending_oversize = true;
      if (!nl) {
        pos = data.size();
        break;
      }
      pos = end + 1;
      ++f.line;
      f.offset = f.read_pos + pos;
      std::string_view rec = f.pending;
      if (!rec.empty() && rec.back() == '\r') rec.remove_suffix(1);
      bool oversize = f.pending_oversize;
      if (rec.size() > options.max_record_bytes) {
        rec = rec.substr(0, options.max_record_bytes);
        oversize = true;
      }
      if (!rec.empty()) {
        builder.add(rec, f.line, 0, oversize);
        record_bytes += rec.size();
      }
      f.pending.clear();
      f.pending_oversize = false;
      if (builder.size() >= options.batch_max_records || record_bytes >= options.batch_max_bytes) {
        if (!flush(f, builder, record_bytes)) return false;
      }
    }
    f.read_pos += static_cast<std::uint64_t>(got);
    if (static_cast<std::size_t>(got) < chunk.size()) break;  // at the end for now
    {
      std::lock_guard lock(mutex);
      if (stop_requested) break;
    }
  }
  return flush(f, builder, record_bytes);
}

// EVTX: the complete 64 KiB chunks after the checkpoint, decoded record by record. A chunk is
// read once, when the whole of it is in the file (a file being copied in grows chunk by chunk);
// Windows rewriting a chunk of a live log in place is not followed. Records that do not decode
// are counted as framing errors (the container's framing) and skipped.
bool FileTail::Impl::read_evtx_chunks(TailedFile& f) {
  IngestBatchBuilder builder(f.source);
  std::uint64_t record_bytes = 0, damaged = 0;
  evtx::EvtxStats evtx_stats;
  if (f.read_pos < evtx::kFileHeaderSize) f.offset = f.read_pos = evtx::kFileHeaderSize;  // after a truncation
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return true;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  while (f.read_pos + evtx::kChunkSize <= size) {
    std::size_t got = 0;
    while (got < evtx::kChunkSize) {
      const ssize_t n = ::pread(f.fd, evtx_block.data() + got, evtx::kChunkSize - got,
                                static_cast<off_t>(f.read_pos + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    if (got < evtx::kChunkSize) {
      note_error(Status::IoError("file tail " + options.name + ": " + f.path + ": read failed"));
      break;
    }
    const std::uint64_t index = (f.read_pos - evtx::kFileHeaderSize) / evtx::kChunkSize;
    const bool is_chunk = std::memcmp(evtx_block.data(), "ElfChnk\0", 8) == 0;
    evtx_text.clear();
    evtx_records.clear();
    if (is_chunk || index < f.evtx_chunks_in_use)  // past the chunks in use: space not in use
      f.evtx->decode(evtx_block.data(), 0, evtx_text, evtx_records, evtx_stats);
    for (const evtx::DecodedRecord& d : evtx_records) {
      if (d.damage != evtx::EvtxDamage::kNone) {
        ++damaged;
        continue;
      }
      std::string_view rec(evtx_text.data() + d.offset, d.size);
      const bool oversize = rec.size() > options.max_record_bytes;
      if (oversize) rec = rec.substr(0, options.max_record_bytes);
      builder.add(rec, d.record_id, 0, oversize);
      record_bytes += rec.size();
      ++f.line;
    }
    f.read_pos += evtx::kChunkSize;
    f.offset = f.read_pos;
    if (builder.size() >= options.batch_max_records || record_bytes >= options.batch_max_bytes) {
      if (!flush(f, builder, record_bytes)) return false;
    }
    std::lock_guard lock(mutex);
    if (stop_requested) break;
  }
  if (damaged > 0) stats->framing_errors.fetch_add(damaged, std::memory_order_relaxed);
  return flush(f, builder, record_bytes);
}

bool FileTail::Impl::emit_partial(TailedFile& f) {
  if (f.pending.empty()) return true;
  IngestBatchBuilder builder(f.source);
  std::string_view rec = f.pending;
  bool oversize = f.pending_oversize;
  if (rec.size() > options.max_record_bytes) {
    rec = rec.substr(0, options.max_record_bytes);
    oversize = true;
  }
  ++f.line;
  f.offset = f.read_pos;
  builder.add(rec, f.line, 0, oversize);
  std::uint64_t record_bytes = rec.size();
  f.pending.clear();
  f.pending_oversize = false;
  return flush(f, builder, record_bytes);
}

FileTail::FileTail(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FileTail::~FileTail() { stop(); }

Result<std::unique_ptr<FileTail>> FileTail::create(FileTailOptions options, BatchSink& sink) {
  if (Status st = options.validate(); !st.ok()) return Error(std::move(st));
  return std::unique_ptr<FileTail>(new FileTail(std::make_unique<Impl>(std::move(options), sink)));
}

Status FileTail::start(CheckpointLoader load_checkpoint) {
  if (impl_->thread.joinable()) return Status::Ok();
  impl_->load_checkpoint = std::move(load_checkpoint);
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stop_requested = false;
  }
  impl_->files.clear();
  impl_->first_scan = true;
  impl_->sink_closed = false;
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
  return Status::Ok();
}

void FileTail::stop() {
  if (!impl_->thread.joinable()) return;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stop_requested = true;
  }
  impl_->wake.notify_all();
  impl_->thread.join();
  impl_->files.clear();
}

std::shared_ptr<CollectorStats> FileTail::stats() const { return impl_->stats; }

std::vector<std::string> FileTail::followed() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->followed_paths;
}

Status FileTail::last_error() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->last_error;
}

}  // namespace vigil::collectors
