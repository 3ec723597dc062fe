#include "forward/transport.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>

#include "core/alert_json.h"
#include "core/hex.h"
#include "core/json_text.h"
#include "forward/cef.h"
#include "net/hmac.h"

namespace vigil::forward {

std::string webhook_body(const std::string& sender, const std::vector<const Alert*>& alerts) {
  std::string out = "{\"sender\":\"";
  append_json_escaped(out, sender, InvalidUtf8::kReplace);
  out += "\",\"alerts\":[";
  for (std::size_t i = 0; i < alerts.size(); ++i) {
    if (i) out.push_back(',');
    append_alert_json(out, *alerts[i]);
  }
  out += "]}";
  return out;
}

Result<std::string> gzip_compress(std::string_view data) {
  z_stream zs{};
  // 16 + MAX_WBITS: a gzip wrapper; level 1: the body is JSON on a fast link, speed wins.
  if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Error(Status::Internal("gzip: deflateInit2 failed"));
  std::string out;
  out.resize(deflateBound(&zs, data.size()) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Error(Status::Internal("gzip: deflate did not finish"));
  return out;
}

Outcome outcome_of_http_status(long status) {
  if (status >= 200 && status < 300) return Outcome::kDelivered;
  if (status == 408 || status == 429 || status >= 500) return Outcome::kRetry;
  if (status >= 400 && status < 500) return Outcome::kRejected;
  return Outcome::kRetry;
}

namespace {

// ---- HTTPS JSON webhook (libcurl: keep-alive, TLS, client certificates, timeouts) ----

class WebhookTransport final : public Transport {
 public:
  WebhookTransport(DestinationConfig config, std::string sender, const std::atomic<bool>* cancel)
      : config_(std::move(config)), sender_(std::move(sender)), cancel_(cancel) {}
  ~WebhookTransport() override {
    if (curl_) curl_easy_cleanup(curl_);
  }

  Status init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    curl_ = curl_easy_init();
    if (!curl_) return Status::Internal("webhook: curl_easy_init failed");
    curl_easy_setopt(curl_, CURLOPT_URL, config_.url.c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.connect_timeout.count() + config_.timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 0L);
    if (!config_.tls.ca_file.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, config_.tls.ca_file.c_str());
    if (!config_.tls.cert_file.empty()) {
      curl_easy_setopt(curl_, CURLOPT_SSLCERT, config_.tls.cert_file.c_str());
      curl_easy_setopt(curl_, CURLOPT_SSLKEY, config_.tls.key_file.c_str());
    }
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, config_.tls.verify ? 1L : 0L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, config_.tls.verify ? 2L : 0L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &WebhookTransport::on_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, &WebhookTransport::on_progress);
    curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, this);
    return Status::Ok();
  }

  DeliveryResult deliver(const std::vector<const Alert*>& alerts) override {
    std::string body = webhook_body(sender_, alerts);
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    if (config_.gzip) {
      auto packed = gzip_compress(body);
      if (!packed) return {Outcome::kRetry, packed.error().message()};
      body = std::move(*packed);
      headers = curl_slist_append(headers, "Content-Encoding: gzip");
    }
    std::string ids = "Idempotency-Key: ";
    for (std::size_t i = 0; i < alerts.size(); ++i) {
      if (i) ids.push_back(',');
      ids += alerts[i]->id;
    }
    headers = curl_slist_append(headers, ids.c_str());
    if (!config_.hmac_secret.empty()) {
      // Timestamp and nonce are signed with the body: a captured request cannot be replayed.
      const std::string timestamp = std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
      unsigned char random[16];
      if (RAND_bytes(random, sizeof random) != 1) return {Outcome::kRetry, "webhook: no random bytes for a nonce"};
      const std::string nonce = to_hex(std::string_view(reinterpret_cast<const char*>(random), sizeof random));
      headers = curl_slist_append(headers, ("X-Vigil-Timestamp: " + timestamp).c_str());
      headers = curl_slist_append(headers, ("X-Vigil-Nonce: " + nonce).c_str());
      headers = curl_slist_append(
          headers, ("X-Vigil-Signature: sha256=" + net::webhook_signature(config_.hmac_secret, timestamp, nonce, body)).c_str());
    }
    if (!config_.bearer_token.empty())
      headers = curl_slist_append(headers, ("Authorization: Bearer " + config_.bearer_token).c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    response_.clear();
    CURLcode rc = curl_easy_perform(curl_);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) return {Outcome::kRetry, std::string("webhook: ") + curl_easy_strerror(rc)};
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    Outcome outcome = outcome_of_http_status(status);
    if (outcome == Outcome::kDelivered) return {outcome, ""};
    std::string snippet = response_.substr(0, 200);
    for (char& c : snippet)
      if (c == '\n' || c == '\r') c = ' ';
    return {outcome, "HTTP " + std::to_string(status) + (snippet.empty() ? "" : ": " + snippet)};
  }

 private:
  static size_t on_body(char* data, size_t size, size_t n, void* self) {
    auto* t = static_cast<WebhookTransport*>(self);
    if (t->response_.size() < 4096) t->response_.append(data, std::min<size_t>(size * n, 4096));
    return size * n;
  }
  static int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* t = static_cast<WebhookTransport*>(self);
    return t->cancel_ && t->cancel_->load() ? 1 : 0;  // non-zero aborts the transfer
  }

  DestinationConfig config_;
  std::string sender_;
  const std::atomic<bool>* cancel_;
  CURL* curl_ = nullptr;
  std::string response_;
};

// ---- CEF over syslog: TCP with octet counting, optionally TLS (OpenSSL) ----

std::string ssl_error_text() {
  unsigned long e = ERR_get_error();
  if (e == 0) return std::strerror(errno);
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

class SyslogCefTransport final : public Transport {
 public:
  SyslogCefTransport(DestinationConfig config, const std::atomic<bool>* cancel)
      : config_(std::move(config)), cancel_(cancel) {}
  ~SyslogCefTransport() override {
    disconnect();
    if (ctx_) SSL_CTX_free(ctx_);
  }

  Status init() {
    if (!config_.tls_enabled) return Status::Ok();
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) return Status::Internal("cef: SSL_CTX_new: " + ssl_error_text());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    if (config_.tls.verify) {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
      int ok = config_.tls.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx_)
                                           : SSL_CTX_load_verify_locations(ctx_, config_.tls.ca_file.c_str(), nullptr);
      if (ok != 1) return Status::InvalidArgument("cef: cannot load CA '" + config_.tls.ca_file + "': " + ssl_error_text());
    }
    if (!config_.tls.cert_file.empty()) {
      if (SSL_CTX_use_certificate_chain_file(ctx_, config_.tls.cert_file.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx_, config_.tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        return Status::InvalidArgument("cef: cannot load client certificate '" + config_.tls.cert_file + "': " + ssl_error_text());
    }
    return Status::Ok();
  }

  DeliveryResult deliver(const std::vector<const Alert*>& alerts) override {
    if (fd_ >= 0 && peer_closed()) disconnect();
    if (fd_ < 0) {
      if (std::string err = connect_now(); !err.empty()) {
        disconnect();
        return {Outcome::kRetry, "cef: " + err};
      }
    }
    std::string frames;
    for (const Alert* a : alerts) append_octet_counted(frames, format_rfc5424(*a, config_.hostname));
    if (std::string err = send_all(frames); !err.empty()) {
      disconnect();
      return {Outcome::kRetry, "cef: send: " + err};
    }
    return {Outcome::kDelivered, ""};
  }

 private:
  // A receiver that closed the connection (restart, idle timeout) shows up as a readable
  // socket at EOF; writing into it would "succeed" into the void, so check first.
  bool peer_closed() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLERR | POLLHUP)) return true;
    char c;
    ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

  bool wait_fd(short events, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (cancel_ && cancel_->load()) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, events, 0};
      int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 200)));
      if (rc > 0) return true;
      if (rc < 0 && errno != EINTR) return false;
    }
  }

  std::string connect_now() {
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    std::string port = std::to_string(config_.port);
    if (int rc = ::getaddrinfo(config_.host.c_str(), port.c_str(), &hints, &res); rc != 0)
      return "resolve " + config_.host + ": " + gai_strerror(rc);
    std::string err = "connect " + config_.host + ":" + port + ": no address";
    auto deadline = std::chrono::steady_clock::now() + config_.connect_timeout;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      fd_ = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd_ < 0) continue;
      int rc = ::connect(fd_, ai->ai_addr, ai->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        if (!wait_fd(POLLOUT, deadline)) {
          err = "connect " + config_.host + ":" + port + ": timed out";
          disconnect();
          continue;
        }
        int so = 0;
        socklen_t len = sizeof so;
        ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so, &len);
        rc = so == 0 ? 0 : -1;
        errno = so;
      }
      if (rc != 0) {
        err = "connect " + config_.host + ":" + port + ": " + std::strerror(errno);
        disconnect();
        continue;
      }
      break;
    }
    ::freeaddrinfo(res);
    if (fd_ < 0) return err;
    if (!ctx_) return "";
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, config_.host.c_str());
    if (config_.tls.verify) SSL_set1_host(ssl_, config_.host.c_str());
    for (;;) {
      int rc = SSL_connect(ssl_);
      if (rc == 1) return "";
      int e = SSL_get_error(ssl_, rc);
      short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (ev == 0) return "TLS handshake: " + ssl_error_text();
      if (!wait_fd(ev, deadline)) return "TLS handshake: timed out";
    }
  }

  std::string send_all(std::string_view data) {
    auto deadline = std::chrono::steady_clock::now() + config_.timeout;
    while (!data.empty()) {
      if (ssl_) {
        int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20)));
        if (n > 0) {
          data.remove_prefix(static_cast<std::size_t>(n));
          continue;
        }
        int e = SSL_get_error(ssl_, n);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0) return ssl_error_text();
        if (!wait_fd(ev, deadline)) return "timed out";
        continue;
      }
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return std::strerror(errno);
      if (!wait_fd(POLLOUT, deadline)) return "timed out";
    }
    return "";
  }

  void disconnect() {
    if (ssl_) SSL_free(ssl_);
    ssl_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  DestinationConfig config_;
  const std::atomic<bool>* cancel_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
};

}  // namespace

Result<std::unique_ptr<Transport>> make_transport(const DestinationConfig& config, const std::string& sender,
                                                  const std::atomic<bool>* cancel) {
  if (config.kind == DestinationKind::kWebhook) {
    auto t = std::make_unique<WebhookTransport>(config, sender, cancel);
    if (Status st = t->init(); !st.ok()) return Error(st);
    return std::unique_ptr<Transport>(std::move(t));
  }
  auto t = std::make_unique<SyslogCefTransport>(config, cancel);
  if (Status st = t->init(); !st.ok()) return Error(st);
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace vigil::forward
