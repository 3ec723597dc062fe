// Forwarding: the `forwarding:` section of the daemon's config (docs/forwarding.md). Queues each
// qualifying alert for each destination in the commit that stores it (storage/outbox.h), runs
// one sender thread per destination (forward/sender.h), exports per-destination metrics, and in
// national mode accepts provinces' webhooks (collectors/alert_ingest.h).

#include <chrono>

#include "app/daemon_context.h"
#include "collectors/alert_ingest.h"
#include "core/config_reader.h"
#include "forward/config.h"
#include "forward/sender.h"
#include "storage/outbox.h"

namespace vigil::app {

namespace {

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class ForwardingService final : public DaemonService {
 public:
  explicit ForwardingService(DaemonContext& ctx) : ctx_(ctx) {}
  ~ForwardingService() override { stop(); }

  Status start(const forward::ForwardingConfig& config) {
    std::vector<storage::OutboxExtension::Destination> outbox;
    for (const forward::DestinationConfig& d : config.destinations) {
      senders_.push_back(std::make_unique<forward::Sender>(d, config.sender, ctx_.store, ctx_.err));
      forward::AlertFilter filter = d.filter;
      outbox.push_back({d.name, [filter](const Alert& a) { return filter.matches(a); }});
    }
    for (auto& s : senders_)
      if (Status st = s->start(); !st.ok())
        return Status::InvalidArgument("forwarding: destination '" + s->config().name + "': " + st.message());
    if (!senders_.empty()) {
      extension_ = std::make_unique<storage::OutboxExtension>(std::move(outbox));
      extension_->set_on_queued([this](std::size_t index, std::uint64_t n) { senders_[index]->queued(n); });
      ctx_.store.add_commit_extension(extension_.get());
      ctx_.dead_letters_replayed = [this] {
        for (auto& s : senders_) s->rescan();
      };
      register_metrics();
      for (auto& s : senders_)
        std::fprintf(ctx_.err, "vigil: forwarding to %s (%s, %llu pending)\n", s->config().name.c_str(),
                     s->config().kind == forward::DestinationKind::kWebhook ? s->config().url.c_str()
                                                                              : (s->config().host + ":" + std::to_string(s->config().port)).c_str(),
                     static_cast<unsigned long long>(s->counters().pending.load()));
    }
    if (config.receive.enabled) {
      if (!ctx_.http) return Status::InvalidArgument("forwarding: 'receive' needs the http server (http.enabled)");
      collectors::AlertIngestOptions o;
      o.path = config.receive.path;
      for (const auto& s : config.receive.senders) o.senders.push_back({s.name, s.token, s.hmac_secret});
      // The receiver's duplicate checks ("alerts-in/<sender>/<origin id>") go with retention.
      ctx_.store.expire_checkpoints_by_alert_id(collectors::kAlertIngestCheckpointPrefix);
      auto ingest = collectors::AlertIngest::create(*ctx_.http, ctx_.pipeline, ctx_.store, std::move(o));
      if (!ingest) return ingest.error();
      ingest_ = std::move(*ingest);
      if (Status st = ctx_.metrics.add_collector(ingest_->stats()); !st.ok()) return st;
      if (Status st = ingest_->start(); !st.ok()) return st;
      std::fprintf(ctx_.err, "vigil: receiving forwarded alerts on POST %s (%zu senders)\n", config.receive.path.c_str(),
                   config.receive.senders.size());
    }
    return Status::Ok();
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (ingest_) ingest_->stop();
    for (auto id : gauges_) ctx_.metrics.remove_gauge_callback(id);
    gauges_.clear();
    if (extension_) ctx_.store.remove_commit_extension(extension_.get());
    ctx_.dead_letters_replayed = nullptr;
    for (auto& s : senders_) s->stop();
  }

 private:
  void register_metrics() {
    for (auto& s : senders_) {
      const forward::SenderCounters* c = &s->counters();
      std::map<std::string, std::string> labels{{"destination", s->config().name}};
      auto add = [&](const char* name, const char* help, std::function<double()> read) {
        if (auto id = ctx_.metrics.add_gauge_callback(name, help, labels, std::move(read))) gauges_.push_back(*id);
      };
      add("vigil_forward_pending", "Alerts queued for a destination and not yet delivered or dead-lettered",
          [c] { return double(c->pending.load()); });
      add("vigil_forward_oldest_pending_age_seconds", "Age of the oldest alert waiting for a destination (0 = none)",
          [c] {
            std::int64_t oldest = c->oldest_pending_created_unix_ns.load();
            return oldest > 0 && c->pending.load() > 0 ? std::max(0.0, double(wall_ns() - oldest) / 1e9) : 0.0;
          });
      // Counters are read from the sender's atomics at scrape time (as collector counters are).
      add("vigil_forward_sent", "Alerts acknowledged by a destination since start",
          [c] { return double(c->sent.load()); });
      add("vigil_forward_failed", "Alerts dead-lettered for a destination since start (rejected, not retried)",
          [c] { return double(c->failed.load()); });
      add("vigil_forward_retried", "Alerts sent again to a destination after a failed attempt, since start",
          [c] { return double(c->retried.load()); });
      add("vigil_forward_failed_attempts", "Failed delivery attempts (network errors, 5xx, 408, 429) since start",
          [c] { return double(c->attempts_failed.load()); });
    }
  }

  DaemonContext& ctx_;
  std::vector<std::unique_ptr<forward::Sender>> senders_;
  std::unique_ptr<storage::OutboxExtension> extension_;
  std::unique_ptr<collectors::AlertIngest> ingest_;
  std::vector<Metrics::CallbackId> gauges_;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<DaemonService>> start_forwarding(DaemonContext& ctx) {
  auto section = ctx.config.sections.find("forwarding");
  if (section == ctx.config.sections.end() || !section->second.IsDefined() || section->second.IsNull())
    return std::unique_ptr<DaemonService>();
  ConfigReader reader(ctx.config.file.empty() ? "(default config)" : ctx.config.file);
  auto config = forward::parse_forwarding_config(section->second, reader);
  if (!config) return Error(config.error());
  auto service = std::make_unique<ForwardingService>(ctx);
  if (Status st = service->start(*config); !st.ok()) {
    service->stop();
    return Error(st);
  }
  return std::unique_ptr<DaemonService>(std::move(service));
}

}  // namespace vigil::app
