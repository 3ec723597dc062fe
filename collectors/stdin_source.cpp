#include "collectors/stdin_source.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace vigil::collectors {

Status StdinSourceOptions::validate() const {
  if (name.empty()) return Status::InvalidArgument("stdin source: the collector needs a name");
  if (fd < 0) return Status::InvalidArgument("stdin source " + name + ": bad file descriptor " + std::to_string(fd));
  if (batch_max_records == 0 || batch_max_bytes == 0)
    return Status::InvalidArgument("stdin source " + name + ": batch limits must be positive");
  return Status::Ok();
}

struct StdinSource::Impl {
  Impl(StdinSourceOptions o, BatchSink& s)
      : options(std::move(o)), sink(s), stats(std::make_shared<CollectorStats>(options.name, "stdin")) {}
  ~Impl() {
    for (int fd : {pipe_read, pipe_write, wake_read, wake_write})
      if (fd >= 0) ::close(fd);
  }

  const StdinSourceOptions options;
  BatchSink& sink;
  const std::shared_ptr<CollectorStats> stats;

  int pipe_read = -1, pipe_write = -1;  // pump -> reader
  int wake_read = -1, wake_write = -1;  // stop() -> pump
  std::thread pump_thread, reader_thread;
  bool started = false;

  mutable std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  Status status;

  void pump();
  void read_records(std::unique_ptr<RecordReader> reader);
  void set_status(Status st) {
    std::lock_guard lock(mutex);
    if (status.ok()) status = std::move(st);
  }
};

void StdinSource::Impl::pump() {
  std::vector<char> buf(64 * 1024);
  for (;;) {
    pollfd in[2] = {{options.fd, POLLIN, 0}, {wake_read, POLLIN, 0}};
    if (::poll(in, 2, -1) < 0) {
      if (errno == EINTR) continue;
      set_status(Status::IoError(options.name + ": poll failed: " + std::strerror(errno)));
      break;
    }
    if (in[1].revents != 0) break;  // stop()
    if (in[0].revents == 0) continue;
    const ssize_t got = ::read(options.fd, buf.data(), buf.size());
    if (got == 0) break;  // end of input
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      set_status(Status::IoError(options.name + ": read failed: " + std::strerror(errno)));
      break;
    }
    // Hand everything on; a full pipe (a slow pipeline) makes us wait here, which is the
    // backpressure on whoever writes to our input.
    std::size_t sent = 0;
    bool stopping = false;
    while (sent < static_cast<std::size_t>(got) && !stopping) {
      const ssize_t w = ::write(pipe_write, buf.data() + sent, static_cast<std::size_t>(got) - sent);
      if (w > 0) {
        sent += static_cast<std::size_t>(w);
        continue;
      }
      if (w < 0 && errno != EAGAIN && errno != EINTR) {
        set_status(Status::IoError(options.name + ": internal pipe: " + std::strerror(errno)));
        stopping = true;
        break;
      }
      pollfd out[2] = {{pipe_write, POLLOUT, 0}, {wake_read, POLLIN, 0}};
      if (::poll(out, 2, -1) > 0 && out[1].revents != 0) stopping = true;
    }
    if (stopping) break;
  }
  // End of input for the reader.
  ::close(pipe_write);
  pipe_write = -1;
}

void StdinSource::Impl::read_records(std::unique_ptr<RecordReader> reader) {
  auto source = std::make_shared<SourceInfo>(options.source);
  source->collector = options.name;
  source->peer = "";
  std::vector<Record> records;
  IngestBatchBuilder builder(source);
  std::uint64_t record_bytes = 0, oversize = 0;
  bool open = true;
  auto flush = [&] {
    if (builder.empty()) return;
    IngestBatch batch = builder.finish();
    stats->received_events.fetch_add(batch.records.size(), std::memory_order_relaxed);
    stats->received_bytes.fetch_add(record_bytes, std::memory_order_relaxed);
    stats->oversize_records.fetch_add(oversize, std::memory_order_relaxed);
    record_bytes = oversize = 0;
    if (open) open = sink.submit(std::move(batch));
  };
  while (open && reader->next_batch(records)) {
    for (const Record& r : records) {
      builder.add(r.bytes, r.record_no, 0, r.oversize);
      record_bytes += r.bytes.size();
      oversize += r.oversize ? 1 : 0;
      if (builder.size() >= options.batch_max_records || record_bytes >= options.batch_max_bytes) flush();
    }
    // A pipe delivers what is there: do not hold records back waiting for more.
    flush();
  }
  flush();
  if (Status st = reader->status(); !st.ok()) set_status(std::move(st));
  std::lock_guard lock(mutex);
  done = true;
  done_cv.notify_all();
}

StdinSource::StdinSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StdinSource::~StdinSource() { stop(); }

Result<std::unique_ptr<StdinSource>> StdinSource::create(StdinSourceOptions options, BatchSink& sink) {
  if (Status st = options.validate(); !st.ok()) return Error(std::move(st));
  return std::unique_ptr<StdinSource>(new StdinSource(std::make_unique<Impl>(std::move(options), sink)));
}

Status StdinSource::start() {
  Impl& d = *impl_;
  if (d.started) return Status::Ok();
  int data[2], wake[2];
  if (::pipe2(data, O_CLOEXEC) != 0 || ::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0)
    return Status::IoError(d.options.name + ": cannot create a pipe: " + std::strerror(errno));
  d.pipe_read = data[0];
  d.pipe_write = data[1];
  d.wake_read = wake[0];
  d.wake_write = wake[1];
  (void)::fcntl(d.pipe_write, F_SETFL, O_NONBLOCK);
  auto reader = RecordReader::open("/dev/fd/" + std::to_string(d.pipe_read), d.options.reader);
  if (!reader) return reader.error();
  d.started = true;
  d.pump_thread = std::thread([&d] { d.pump(); });
  d.reader_thread = std::thread([&d, r = std::move(*reader)]() mutable { d.read_records(std::move(r)); });
  return Status::Ok();
}

void StdinSource::stop() {
  Impl& d = *impl_;
  if (!d.started) return;
  if (d.pump_thread.joinable()) {
    const char byte = 1;
    (void)!::write(d.wake_write, &byte, 1);
    d.pump_thread.join();
  }
  if (d.reader_thread.joinable()) d.reader_thread.join();
}

bool StdinSource::wait_finished(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  return impl_->done_cv.wait_for(lock, timeout, [&] { return impl_->done; });
}

bool StdinSource::finished() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->done;
}

Status StdinSource::status() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->status;
}

std::shared_ptr<CollectorStats> StdinSource::stats() const { return impl_->stats; }

}  // namespace vigil::collectors
