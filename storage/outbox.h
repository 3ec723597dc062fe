#pragma once
// The forwarding outbox: which committed alerts each destination still owes, written in the
// same RocksDB WriteBatch as the alerts themselves (a CommitExtension), so an alert is never
// stored without its outbox entries nor the other way round, whatever crashes when.
//
// Records in the `outbox` column family (alert key = the 16-byte store key, which sorts by
// commit order; destination names contain only [A-Za-z0-9._-], see valid_destination_name):
//   'q' dest '\0' alert-key  -> ""                        pending, in delivery order
//   'd' dest '\0' alert-key  -> time(8) attempts(4) reason dead letters (rejected, not retried)
//   's' alert-key dest       -> state(1) time(8) attempts(4) last_error   delivery state, written
//                               only by the sender (failed attempt, delivered, dead-lettered)
//                               and by replay; never at commit
//
//   'c' dest                 -> alert-key                 cursor: last entry the sender settled
// A pending entry is deleted when its alert is delivered or dead-lettered, in the same write
// that records the new state and moves the cursor. Replaying a dead letter puts its 'q' entry
// back, so it is delivered next (it sorts before every newer pending entry).
//
// Threading: the extension methods run under the store's write lock (AlertStore::commit); the
// functions below may be called from any thread. One sender per destination writes its 'q',
// 'd', 's' and 'c' records; replay may run beside it (it only adds 'q' entries).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/alert.h"
#include "core/status.h"
#include "storage/alert_store.h"

namespace vigil::storage {

// Letters, digits, '.', '_' and '-', 1 to 64 of them.
bool valid_destination_name(std::string_view name);

enum class DeliveryStateKind : std::uint8_t { kPending = 0, kDelivered = 1, kDeadLetter = 2 };
const char* to_string(DeliveryStateKind kind);  // "pending", "delivered", "dead_letter"

// One alert's delivery to one destination: `delivery` in GET /api/v1/alerts/{id}.
struct DeliveryState {
  std::string destination;
  DeliveryStateKind state = DeliveryStateKind::kPending;
  std::uint32_t attempts = 0;     // delivery attempts so far
  std::string last_error;         // "" when the last attempt succeeded or none was made
  std::int64_t updated_unix_ns = 0;
};

struct PendingAlert {
  std::string key;  // 16-byte store key
  Alert alert;
};

struct DeadLetter {
  std::string destination;
  std::string alert_id;
  std::string reason;
  std::uint32_t attempts = 0;
  std::int64_t unix_ns = 0;  // when it was dead-lettered
};

struct OutboxStatus {
  std::string destination;
  std::uint64_t pending = 0;
  std::int64_t oldest_pending_created_unix_ns = 0;  // 0 = nothing pending
  std::string cursor_alert_id;                      // last settled alert ("" = none yet)
  std::uint64_t dead_letters = 0;
};

// The commit extension: one queue key (empty value) per alert per destination whose filter it
// passes; nothing else, since it runs on the path from matcher to store ("pending" is derived
// from the key's existence). Register with AlertStore::add_commit_extension before the pipeline
// starts; remove it (or stop the store) before destroying it.
class OutboxExtension final : public CommitExtension {
 public:
  struct Destination {
    std::string name;
    std::function<bool(const Alert&)> qualifies;  // the destination's filter; called under the store's write lock
  };
  explicit OutboxExtension(std::vector<Destination> destinations);

  Status add_to_batch(const std::vector<Alert>& alerts, rocksdb::WriteBatch& batch,
                      const AlertStore& store) override;
  void committed(const std::vector<Alert>& alerts) override;

  // Called after each commit that queued something for destination `index` with how many
  // entries it queued. Must not block (it runs under the store's write lock). Set before the
  // extension is registered.
  void set_on_queued(std::function<void(std::size_t index, std::uint64_t count)> on_queued) {
    on_queued_ = std::move(on_queued);
  }

 private:
  std::vector<Destination> destinations_;
  std::vector<std::string> queue_prefixes_;  // per destination: 'q' name '\0'
  std::vector<std::uint64_t> staged_;  // per destination, entries of the commit in progress
  std::function<void(std::size_t, std::uint64_t)> on_queued_;
};

// Up to `max` pending alerts of `destination` with keys >= `from_key` (a 16-byte key; "" =
// from the start), oldest first, each read from the alerts column family. An entry whose
// alert is gone (retention) is skipped and reported in *missing_keys if given.
Result<std::vector<PendingAlert>> read_pending(const AlertStore& store, std::string_view destination,
                                               std::string_view from_key, std::size_t max,
                                               std::vector<std::string>* missing_keys = nullptr);
// Number of pending entries and the oldest one's commit time (0 if none).
Result<std::pair<std::uint64_t, std::int64_t>> count_pending(const AlertStore& store,
                                                             std::string_view destination);

// Settles entries: delivered (deletes the 'q' entries, records the state, moves the cursor).
Status mark_delivered(AlertStore& store, std::string_view destination,
                      const std::vector<std::string>& keys, std::uint32_t attempts);
// Records a failed attempt on entries that stay pending.
Status mark_attempt_failed(AlertStore& store, std::string_view destination,
                           const std::vector<std::string>& keys, std::uint32_t attempts,
                           std::string_view error);
// Moves one entry to the dead-letter list with its reason.
Status mark_dead_letter(AlertStore& store, std::string_view destination, std::string_view key,
                        std::uint32_t attempts, std::string_view reason);

// Dead letters of one destination ("" = all), oldest alert first.
Result<std::vector<DeadLetter>> list_dead_letters(const AlertStore& store, std::string_view destination = {});
// Puts dead letters back in their destination's queue: those of `destination` ("" = every
// destination) whose alert id is in `alert_ids` (empty = all of them). Returns how many. The
// admin API (POST /api/v1/forwarding/dead-letters/{id}/replay) calls this with one id; a
// running daemon's senders then pick them up (ForwardingService::wake).
Result<std::size_t> replay_dead_letters(AlertStore& store, std::string_view destination,
                                        const std::vector<std::string>& alert_ids);

// Per destination known to the outbox (any record of it exists).
Result<std::vector<OutboxStatus>> outbox_status(const AlertStore& store);
// The delivery state of one alert for every destination it was queued for. InvalidArgument
// for a malformed id; an empty list when the alert was never queued.
Result<std::vector<DeliveryState>> delivery_of(const AlertStore& store, std::string_view alert_id);

}  // namespace vigil::storage
