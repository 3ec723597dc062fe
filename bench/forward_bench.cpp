// Forwarding speed on loopback.
//  BM_WebhookDelivery: alerts/s from the outbox to an HTTPS webhook receiver (net::HttpServer,
//    openssl-made certificate) with batching; the receiver parses every payload and the run is
//    checked (every alert acknowledged exactly once, in order) before its time counts.
//  BM_CommitPath/0 and /1: the store writer's commit rate (the stage after matching) without
//    and with a webhook destination queueing every alert and its sender draining concurrently:
//    forwarding must not slow the path from matcher to store. The receiver runs in this
//    process, so on a small machine it takes CPU a real (remote) receiver would not.
//    Figures: docs/forwarding.md, "Speed".
//
//   ./build-bench/bench/vigil_forward_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "collectors/alert_ingest.h"
#include "forward/sender.h"
#include "net/http_server.h"
#include "storage/alert_store.h"
#include "storage/outbox.h"

namespace {

namespace fs = std::filesystem;
using namespace vigil;

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("vigil-forward-bench-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

Alert sample_alert(int i) {
  Alert a;
  a.rule_id = "a3b1c2d4-0000-4000-8000-00000000000" + std::to_string(i % 10);
  a.rule_title = "Suspicious logon burst";
  a.level = AlertLevel::kHigh;
  a.tags = {"attack.t1110", "attack.credential_access"};
  a.tenant = "province-a";
  a.system = "dvc-portal";
  a.host = "web-" + std::to_string(i % 50);
  a.collector = "tcp";
  a.peer = "10.1.2.3:514";
  a.format = "rfc3164";
  a.matched = {{"message", "Failed password"}};
  a.raw = "<38>Nov 26 01:02:03 web-1 sshd[1234]: Failed password for invalid user admin from 203.0.113.9 port 5022 ssh2 #" +
          std::to_string(i);
  a.received_unix_ns = 1700000000000000000LL + i;
  return a;
}

// An HTTPS receiver that parses every payload and keeps the ids.
struct Receiver {
  std::unique_ptr<net::HttpServer> server;
  std::mutex mutex;
  std::vector<std::string> ids;
  bool start(const fs::path& dir) {
    std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout " +
                      (dir / "key.pem").string() + " -out " + (dir / "cert.pem").string() + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return false;
    net::HttpServerOptions o;
    o.port = 0;
    o.tls_cert_file = (dir / "cert.pem").string();
    o.tls_key_file = (dir / "key.pem").string();
    auto s = net::HttpServer::create(o);
    if (!s) return false;
    server = std::move(*s);
    if (!server->route("POST", "/hook", [this](const net::Request& r, net::Responder respond) {
          auto p = collectors::parse_alert_payload(r.body);
          if (!p) return respond(net::Response::error(400, p.error().message()));
          std::lock_guard lock(mutex);
          for (auto& a : p->alerts) ids.push_back(std::move(a.id));
          respond(net::Response::json(200, "{}"));
        }).ok())
      return false;
    return server->start().ok();
  }
};

forward::DestinationConfig destination(const fs::path& dir, std::uint16_t port, std::size_t batch) {
  forward::DestinationConfig d;
  d.name = "national";
  d.url = "https://127.0.0.1:" + std::to_string(port) + "/hook";
  d.tls.ca_file = (dir / "cert.pem").string();
  d.batch_max_alerts = batch;
  d.hmac_secret = "bench-secret";
  return d;
}

void BM_WebhookDelivery(benchmark::State& state) {
  const int n = 100000;
  const std::size_t batch = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    fs::path dir = temp_dir("delivery");
    Receiver receiver;
    if (!receiver.start(dir)) return state.SkipWithError("receiver did not start (openssl?)");
    storage::StoreOptions so;
    so.dir = (dir / "data").string();
    so.sync = false;
    auto store = storage::AlertStore::open(so);
    storage::OutboxExtension ext({{"national", [](const Alert&) { return true; }}});
    (*store)->add_commit_extension(&ext);
    std::vector<std::string> committed;
    for (int i = 0; i < n; i += 500) {
      std::vector<Alert> alerts;
      for (int j = i; j < i + 500; ++j) alerts.push_back(sample_alert(j));
      if (!(*store)->commit(alerts, {}).ok()) return state.SkipWithError("commit failed");
      for (auto& a : alerts) committed.push_back(a.id);
    }
    (*store)->remove_commit_extension(&ext);
    forward::Sender sender(destination(dir, receiver.server->local_port(), batch), "bench", **store, stderr);
    state.ResumeTiming();
    auto t0 = std::chrono::steady_clock::now();
    if (!sender.start().ok()) return state.SkipWithError("sender did not start");
    while (sender.counters().sent.load() < static_cast<std::uint64_t>(n)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.PauseTiming();
    sender.stop();
    receiver.server->stop();
    // Check before the figure counts: every alert exactly once, in commit order.
    if (receiver.ids != committed) return state.SkipWithError("receiver did not get every alert exactly once in order");
    state.counters["alerts_per_s"] = n / seconds;
    state.counters["requests"] = static_cast<double>((n + batch - 1) / batch);
    store->reset();
    fs::remove_all(dir);
    state.ResumeTiming();
  }
}
BENCHMARK(BM_WebhookDelivery)->Arg(100)->Arg(500)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

// Commit path: batches of 256 alerts as the store writer commits them after matching.
void BM_CommitPath(benchmark::State& state) {
  const bool forwarding = state.range(0) != 0;
  fs::path dir = temp_dir(forwarding ? "commit-fwd" : "commit");
  Receiver receiver;
  if (forwarding && !receiver.start(dir)) return state.SkipWithError("receiver did not start");
  storage::StoreOptions so;
  so.dir = (dir / "data").string();
  so.sync = false;
  auto store = storage::AlertStore::open(so);
  std::unique_ptr<forward::Sender> sender;
  storage::OutboxExtension ext({{"national", [](const Alert& a) { return a.level >= AlertLevel::kMedium; }}});
  if (forwarding) {
    sender = std::make_unique<forward::Sender>(destination(dir, receiver.server->local_port(), 500), "bench", **store, stderr);
    ext.set_on_queued([&](std::size_t, std::uint64_t k) { sender->queued(k); });
    (*store)->add_commit_extension(&ext);
    if (!sender->start().ok()) return state.SkipWithError("sender did not start");
  }
  std::vector<Alert> proto;
  for (int j = 0; j < 256; ++j) proto.push_back(sample_alert(j));
  std::int64_t alerts = 0;
  for (auto _ : state) {
    std::vector<Alert> batch = proto;
    if (!(*store)->commit(batch, {}).ok()) return state.SkipWithError("commit failed");
    alerts += static_cast<std::int64_t>(batch.size());
  }
  state.SetItemsProcessed(alerts);
  if (forwarding) {
    // The sender keeps up: wait for it to drain, then check the receiver got everything.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (sender->counters().pending.load() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    sender->stop();
    (*store)->remove_commit_extension(&ext);
    std::lock_guard lock(receiver.mutex);
    if (receiver.ids.size() != static_cast<std::size_t>(alerts)) state.SkipWithError("receiver missed alerts");
    state.counters["forwarded"] = static_cast<double>(receiver.ids.size());
  }
  if (receiver.server) receiver.server->stop();
  store->reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_CommitPath)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->MinTime(3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
