#include "forward/sender.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "storage/outbox.h"

namespace vigil::forward {

namespace {
using Clock = std::chrono::steady_clock;
// How long a part-filled batch waits for more entries before it goes out anyway. Sending each
// commit's few alerts at once would cost a request, a settle write and their CPU per commit,
// beside the matcher; a short wait fills batches under load and adds little latency otherwise.
constexpr std::chrono::milliseconds kBatchLinger{20};
// Added to the sender thread's nice value (see run()).
constexpr int kSenderNiceness = 10;
}

Sender::Sender(DestinationConfig config, std::string sender_name, storage::AlertStore& store, std::FILE* log)
    : config_(std::move(config)), sender_name_(std::move(sender_name)), store_(store), log_(log),
      random_(std::random_device{}()) {}

Sender::~Sender() { stop(); }

Status Sender::start() {
  auto pending = storage::count_pending(store_, config_.name);
  if (!pending) return pending.error();
  counters_.pending = pending->first;
  counters_.oldest_pending_created_unix_ns = pending->second;
  auto transport = make_transport(config_, sender_name_, &stopping_);
  if (!transport) return Status(transport.error());
  transport_ = std::move(*transport);
  thread_ = std::thread([this] { run(); });
  return Status::Ok();
}

void Sender::queued(std::uint64_t count) {
  counters_.pending += count;
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_one();
}

void Sender::rescan() {
  {
    std::lock_guard lock(mutex_);
    rescan_ = true;
    woken_ = true;
  }
  wake_.notify_one();
}

void Sender::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_.exchange(true) && !thread_.joinable()) return;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Sender::wait_for_full_batch(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  wake_.wait_until(lock, deadline, [&] {
    return stopping_.load() || rescan_ || counters_.pending.load() >= config_.batch_max_alerts;
  });
  woken_ = false;
}

bool Sender::wait_until(Clock::time_point deadline, bool wake_on_queue) {
  std::unique_lock lock(mutex_);
  // A backoff pause must not be cut short by new commits (they arrive all the time during an
  // outage); only stop() or a replay ends it early.
  wake_.wait_until(lock, deadline, [&] { return stopping_.load() || rescan_ || (wake_on_queue && woken_); });
  woken_ = false;
  return !stopping_;
}

std::chrono::milliseconds Sender::backoff(std::uint32_t failures) {
  double base = static_cast<double>(config_.retry.initial.count());
  for (std::uint32_t i = 1; i < failures && base < config_.retry.max.count(); ++i) base *= 2;
  base = std::min(base, static_cast<double>(config_.retry.max.count()));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return std::chrono::milliseconds(static_cast<long long>(base * jitter(random_)));
}

void Sender::run() {
  // Forwarding is background work: the outbox is durable and the sender catches up, while the
  // matcher and the store writer are what keeps ingestion from falling behind. Under CPU
  // contention this thread (Linux: niceness is per thread) yields to them; with spare CPU it
  // runs at full speed. If the nice value cannot be set, the thread simply keeps its priority.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()),
                      ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid())) + kSenderNiceness);
  const std::string& name = config_.name;
  std::string read_from;     // next key to read ("" = the start of the queue)
  std::string single_until;  // after a rejected batch: one alert per request up to this key
  std::uint32_t failures = 0;  // failed attempts of the batch at the head
  bool reported_outage = false;
  bool lingered = false;  // the part-filled batch at the head already waited for more entries
  auto settle_error = [&](const Status& st) {
    std::fprintf(log_, "vigil: forwarding %s: %s\n", name.c_str(), st.to_string().c_str());
    std::fflush(log_);
  };
  while (!stopping_) {
    {
      std::lock_guard lock(mutex_);
      if (rescan_) read_from.clear();
      rescan_ = false;
      woken_ = false;
    }
    std::vector<std::string> missing;
    const std::size_t max = single_until.empty() ? config_.batch_max_alerts : 1;
    auto pending = storage::read_pending(store_, name, read_from, max, &missing);
    if (!pending) {
      settle_error(pending.error());
      wait_until(Clock::now() + backoff(++failures), false);
      continue;
    }
    // Queue entries whose alert retention already deleted can never be sent.
    for (const std::string& key : missing) {
      if (Status st = storage::mark_dead_letter(store_, name, key, 0, "alert no longer in the store"); !st.ok()) {
        settle_error(st);
        continue;
      }
      counters_.failed += 1;
      counters_.pending -= std::min<std::uint64_t>(1, counters_.pending);
    }
    if (pending->empty()) {
      if (!missing.empty()) {
        read_from = *std::max_element(missing.begin(), missing.end()) + std::string(1, '\0');
        continue;
      }
      single_until.clear();
      counters_.oldest_pending_created_unix_ns = 0;
      wait_until(Clock::now() + std::chrono::seconds(1), true);
      continue;
    }
    if (!single_until.empty() && pending->front().key > single_until) {
      single_until.clear();
      continue;  // back to whole batches
    }
    counters_.oldest_pending_created_unix_ns = pending->front().alert.created_unix_ns;
    if (pending->size() < max && failures == 0 && !lingered) {
      lingered = true;
      wait_for_full_batch(Clock::now() + kBatchLinger);
      continue;  // read again: the batch may have filled up
    }
    lingered = false;

    std::vector<const Alert*> alerts;
    std::vector<std::string> keys;
    for (const auto& p : *pending) {
      alerts.push_back(&p.alert);
      keys.push_back(p.key);
    }
    if (failures > 0) counters_.retried += alerts.size();
    DeliveryResult result = transport_->deliver(alerts);
    if (stopping_ && result.outcome != Outcome::kDelivered) break;

    if (result.outcome == Outcome::kDelivered) {
      if (Status st = storage::mark_delivered(store_, name, keys, failures + 1); !st.ok()) {
        // Sent but not recorded: the batch goes again (the receiver de-duplicates by id).
        settle_error(st);
        wait_until(Clock::now() + backoff(++failures), false);
        continue;
      }
      if (reported_outage) {
        std::fprintf(log_, "vigil: forwarding %s: delivering again after %u failed attempts\n", name.c_str(), failures);
        std::fflush(log_);
        reported_outage = false;
      }
      failures = 0;
      counters_.sent += keys.size();
      counters_.pending -= std::min<std::uint64_t>(keys.size(), counters_.pending);
      read_from = keys.back() + std::string(1, '\0');
      continue;
    }
    if (result.outcome == Outcome::kRejected) {
      if (keys.size() > 1) {
        single_until = keys.back();  // find which alert the receiver refuses
        continue;
      }
      if (Status st = storage::mark_dead_letter(store_, name, keys[0], failures + 1, result.error); !st.ok()) {
        settle_error(st);
        wait_until(Clock::now() + backoff(++failures), false);
        continue;
      }
      std::fprintf(log_, "vigil: forwarding %s: alert %s dead-lettered: %s\n", name.c_str(), alerts[0]->id.c_str(),
                   result.error.c_str());
      std::fflush(log_);
      failures = 0;
      counters_.failed += 1;
      counters_.pending -= std::min<std::uint64_t>(1, counters_.pending);
      read_from = keys[0] + std::string(1, '\0');
      continue;
    }
    // Retry: the same batch again after a pause; nothing newer overtakes it.
    ++failures;
    counters_.attempts_failed += 1;
    if (Status st = storage::mark_attempt_failed(store_, name, keys, failures, result.error); !st.ok()) settle_error(st);
    if (!reported_outage) {
      std::fprintf(log_, "vigil: forwarding %s: %s (retrying with backoff)\n", name.c_str(), result.error.c_str());
      std::fflush(log_);
      reported_outage = true;
    }
    wait_until(Clock::now() + backoff(failures), false);
  }
}

}  // namespace vigil::forward
