#pragma once
// A real HTTPS webhook receiver for forwarding tests: net::HttpServer with TLS on 127.0.0.1
// (certificate made by the openssl CLI at run time). It checks the bearer token and the
// HMAC-SHA256 signature of every request, parses vigil's payload (gzip or not), can fail with
// 500 for a while and reject chosen alerts with 400, and records the ids it acknowledged.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "collectors/alert_ingest.h"
#include "collectors/http_ingest.h"
#include "forward/transport.h"
#include "net/http_server.h"
#include "tests/support/wait.h"

namespace vigil::testing {

// Writes cert.pem / key.pem for 127.0.0.1 and localhost into `dir`.
inline bool make_test_certificate(const std::filesystem::path& dir) {
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                          "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
                          (dir / "key.pem").string() + " -out " + (dir / "cert.pem").string() + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

class WebhookReceiver {
 public:
  struct Options {
    std::filesystem::path cert_dir;  // holds cert.pem and key.pem
    std::uint16_t port = 0;
    std::string token = "test-token";
    std::string hmac_secret = "test-secret";
    int fail_first = 0;  // answer this many requests with 500 before accepting
    // Once this many alerts were acknowledged, requests are held unanswered until stop(), so a
    // test can kill the sender while a delivery is surely in flight (see held()).
    std::size_t hold_after = SIZE_MAX;
    // Alerts for which this returns true make the whole request fail with 400.
    std::function<bool(const Alert&)> reject;
  };

  explicit WebhookReceiver(Options o) : o_(std::move(o)) {}
  ~WebhookReceiver() { stop(); }

  bool start() {
    net::HttpServerOptions ho;
    ho.port = o_.port;
    ho.tls_cert_file = (o_.cert_dir / "cert.pem").string();
    ho.tls_key_file = (o_.cert_dir / "key.pem").string();
    auto server = net::HttpServer::create(ho);
    if (!server) return false;
    server_ = std::move(*server);
    if (!server_->route("POST", "/hook", [this](const net::Request& r, net::Responder respond) { handle(r, std::move(respond)); }).ok())
      return false;
    if (!server_->start().ok()) return false;
    o_.port = server_->local_port();
    return true;
  }
  void stop() {
    if (server_) server_->stop();
    server_.reset();
    std::lock_guard lock(mutex_);
    held_.clear();  // the server is gone: dropping them answers nothing
  }
  std::uint16_t port() const { return o_.port; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(o_.port) + "/hook"; }

  // Ids acknowledged (200), in arrival order, duplicates included.
  std::vector<std::string> acknowledged() const {
    std::lock_guard lock(mutex_);
    return acked_;
  }
  std::vector<Alert> acknowledged_alerts() const {
    std::lock_guard lock(mutex_);
    return acked_alerts_;
  }
  int requests() const { return requests_; }
  // Requests held unanswered (Options::hold_after).
  std::size_t held() const {
    std::lock_guard lock(mutex_);
    return held_.size();
  }
  int failures_sent() const { return failed_; }
  int bad_signatures() const { return bad_signatures_; }
  std::string last_idempotency_key() const {
    std::lock_guard lock(mutex_);
    return last_key_;
  }
  void set_reject(std::function<bool(const Alert&)> reject) {
    std::lock_guard lock(mutex_);
    o_.reject = std::move(reject);
  }

  // Waits until at least `n` distinct ids were acknowledged.
  bool wait_for_distinct(std::size_t n, std::chrono::seconds timeout = vigil::testing::kWaitTimeout) const {
    return vigil::testing::wait_until(vigil::testing::deadline_after(timeout), [&] {
      auto ids = acknowledged();
      return std::set<std::string>(ids.begin(), ids.end()).size() >= n;
    });
  }

 private:
  void handle(const net::Request& r, net::Responder respond) {
    ++requests_;
    auto auth = r.header("Authorization");
    if (!auth || *auth != "Bearer " + o_.token) return respond(net::Response::error(401, "bad token"));
    auto sig = r.header("X-Vigil-Signature");
    const std::string_view timestamp = r.header("X-Vigil-Timestamp").value_or("");
    const std::string_view nonce = r.header("X-Vigil-Nonce").value_or("");
    if (!sig || timestamp.empty() || nonce.empty() ||
        *sig != "sha256=" + net::webhook_signature(o_.hmac_secret, timestamp, nonce, r.body)) {
      ++bad_signatures_;
      return respond(net::Response::error(401, "bad signature"));
    }
    if (failed_ < o_.fail_first) {
      ++failed_;
      return respond(net::Response::error(500, "receiver warming up"));
    }
    std::string body = r.body;
    if (auto enc = r.header("Content-Encoding"); enc && *enc == "gzip") {
      auto plain = collectors::gunzip(r.body, 1u << 30);
      if (!plain) return respond(net::Response::error(400, "bad gzip"));
      body = std::move(*plain);
    }
    auto payload = collectors::parse_alert_payload(body);
    if (!payload) return respond(net::Response::error(400, payload.error().message()));
    std::lock_guard lock(mutex_);
    if (acked_.size() >= o_.hold_after) {
      held_.push_back(std::move(respond));
      return;
    }
    for (const Alert& a : payload->alerts)
      if (o_.reject && o_.reject(a)) return respond(net::Response::error(400, "rule " + a.rule_id + " not accepted here"));
    if (auto key = r.header("Idempotency-Key")) last_key_ = std::string(*key);
    for (Alert& a : payload->alerts) {
      acked_.push_back(a.id);
      acked_alerts_.push_back(std::move(a));
    }
    respond(net::Response::json(200, "{}"));
  }

  Options o_;
  std::unique_ptr<net::HttpServer> server_;
  mutable std::mutex mutex_;
  std::vector<std::string> acked_;
  std::vector<Alert> acked_alerts_;
  std::string last_key_;
  std::vector<net::Responder> held_;
  std::atomic<int> requests_{0}, failed_{0}, bad_signatures_{0};
};

}  // namespace vigil::testing
