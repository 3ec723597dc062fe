#pragma once
// Sender: one thread per destination that drains the destination's outbox queue in order.
//
// Loop: read up to batch_max_alerts pending alerts (oldest first; a part-filled batch first
//   waits up to 20 ms for more, so commits are not answered one request each) -> Transport::deliver ->
//   delivered: settle them (delete the queue entries, record "delivered", move the cursor);
//   retry:     record the attempt and error on the batch, wait with exponential backoff and
//              jitter, send the same batch again (order is kept: nothing newer goes first);
//   rejected:  a batch of several is resent one alert at a time to find the culprit; a single
//              rejected alert goes to the dead-letter list with the reason, and the queue moves on.
// An alert is settled only after the receiver acknowledged it, so a crash at any point resends
// at most the batch in flight (at-least-once; the alert id lets the receiver de-duplicate).
//
// The thread runs 10 nice levels lower than its creator (forwarding must not slow matching).
// Lifecycle: construct, start(), wake() after commits and replays, stop() (joins; a request in
// flight is aborted). Counters may be read from any thread.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "forward/config.h"
#include "forward/transport.h"
#include "storage/alert_store.h"

namespace vigil::forward {

struct SenderCounters {
  std::atomic<std::uint64_t> pending{0};   // queue entries not settled
  std::atomic<std::int64_t> oldest_pending_created_unix_ns{0};  // 0 = none known
  std::atomic<std::uint64_t> sent{0};      // alerts acknowledged by the receiver
  std::atomic<std::uint64_t> failed{0};    // alerts dead-lettered
  std::atomic<std::uint64_t> retried{0};   // alerts sent again after a failed attempt
  std::atomic<std::uint64_t> attempts_failed{0};  // failed delivery attempts (batches)
};

class Sender {
 public:
  // `store` must outlive the sender. The transport is made on start().
  Sender(DestinationConfig config, std::string sender_name, storage::AlertStore& store, std::FILE* log);
  ~Sender();
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  // Counts the queue, creates the transport and starts the thread.
  Status start();
  // New entries were queued (from the outbox extension, under the store's write lock: cheap).
  void queued(std::uint64_t count);
  // Something was put back below the read position (a replay): rescan from the start.
  void rescan();
  void stop();

  const DestinationConfig& config() const { return config_; }
  const SenderCounters& counters() const { return counters_; }

 private:
  void run();
  // Sleeps until `deadline`, stop, a rescan or (wake_on_queue) new entries; true unless stopping.
  bool wait_until(std::chrono::steady_clock::time_point deadline, bool wake_on_queue);
  std::chrono::milliseconds backoff(std::uint32_t failures);
  // Sleeps until `deadline`, stop, a rescan or a full batch pending.
  void wait_for_full_batch(std::chrono::steady_clock::time_point deadline);

  DestinationConfig config_;
  std::string sender_name_;
  storage::AlertStore& store_;
  std::FILE* log_;
  std::unique_ptr<Transport> transport_;
  SenderCounters counters_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool woken_ = false;   // guarded by mutex_
  bool rescan_ = false;  // guarded by mutex_
  std::mt19937_64 random_;
  std::thread thread_;
};

}  // namespace vigil::forward
