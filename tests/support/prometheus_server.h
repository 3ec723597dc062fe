#pragma once
// Test support for anything that exports Prometheus metrics: a blocking HTTP GET for reading an
// endpoint directly, and PrometheusServer, which runs the real Prometheus (/usr/bin/prometheus,
// Debian package `prometheus`) on 127.0.0.1, scraping the given targets every second, and
// answers PromQL instant queries through its HTTP API.
//
//   if (!PrometheusServer::available()) GTEST_SKIP() << PrometheusServer::kMissingMessage;
//   auto prom = PrometheusServer::start({"127.0.0.1:" + std::to_string(metrics.port())});
//   ASSERT_TRUE(prom) << prom.error().to_string();
//   std::optional<double> v = (*prom)->wait_for("up", [](double x) { return x == 1; });
//
// The server runs with its storage in a fresh temporary directory, is killed (SIGTERM, then
// SIGKILL) by the destructor, and also dies with the test process (PR_SET_PDEATHSIG), so a
// crashed test leaves nothing running. Header-only; needs vigil::core (Status, simdjson).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <simdjson.h>

#include "core/status.h"
#include "tests/support/wait.h"

namespace vigil::testing {

struct HttpResponse {
  int status = 0;
  std::string headers;  // the header block, status line excluded
  std::string body;     // de-chunked
};

namespace http_detail {

inline bool parse_hex(std::string_view s, std::size_t* out) {
  std::size_t value = 0;
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (digit < 0) break;
    value = value * 16 + static_cast<std::size_t>(digit);
  }
  *out = value;
  return i > 0;
}

// Transfer-Encoding: chunked, as Go's net/http (Prometheus) sends larger responses.
inline Result<std::string> dechunk(std::string_view in) {
  std::string out;
  for (;;) {
    std::size_t eol = in.find("\r\n");
    std::size_t size = 0;
    if (eol == std::string_view::npos || !parse_hex(in.substr(0, eol), &size))
      return Error(Status::ParseError("http: bad chunk header"));
    in.remove_prefix(eol + 2);
    if (size == 0) return out;
    if (in.size() < size + 2) return Error(Status::ParseError("http: truncated chunk"));
    out.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

inline bool has_header(std::string_view headers, std::string_view name_colon_value) {
  std::string lower(headers);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find(name_colon_value) != std::string::npos;
}

}  // namespace http_detail

// One HTTP/1.1 GET on a fresh connection to an IPv4 address (Connection: close; the body ends
// at EOF or Content-Length). `timeout` bounds each connect/send/receive step.
inline Result<HttpResponse> http_get(const std::string& host, std::uint16_t port, const std::string& target,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return Error(Status::InvalidArgument("http_get: '" + host + "' is not an IPv4 address"));
  const std::string where = host + ":" + std::to_string(port) + target;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(Status::IoError(std::string("http_get: socket: ") + std::strerror(errno)));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  auto fail = [&](const std::string& what) {
    int err = errno;
    ::close(fd);
    return Error(Status::IoError("http_get " + where + ": " + what + ": " + std::strerror(err)));
  };
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return fail("connect");
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                        "\r\nConnection: close\r\nAccept: */*\r\n\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("send");
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("recv");
    }
    if (n == 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);

  std::size_t header_end = raw.find("\r\n\r\n");
  std::size_t status_end = raw.find("\r\n");
  if (header_end == std::string::npos || raw.compare(0, 5, "HTTP/") != 0)
    return Error(Status::ParseError("http_get " + where + ": no HTTP response header in " + std::to_string(raw.size()) + " bytes"));
  HttpResponse response;
  std::size_t space = raw.find(' ');
  response.status = space < status_end ? std::atoi(raw.c_str() + space + 1) : 0;
  response.headers = raw.substr(status_end + 2, header_end - status_end);
  std::string_view body = std::string_view(raw).substr(header_end + 4);
  if (http_detail::has_header(response.headers, "transfer-encoding: chunked")) {
    Result<std::string> plain = http_detail::dechunk(body);
    if (!plain) return Error(Status::ParseError("http_get " + where + ": " + plain.error().message()));
    response.body = std::move(*plain);
  } else {
    response.body = std::string(body);
  }
  return response;
}

// A port that was free a moment ago on 127.0.0.1. Only for programs that cannot be told to bind
// port 0 and report it (Prometheus); PrometheusServer retries if another process takes it first.
inline Result<std::uint16_t> pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(Status::IoError(std::string("socket: ") + std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    return Error(Status::IoError(std::string("bind 127.0.0.1:0: ") + std::strerror(err)));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline std::string url_encode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

class PrometheusServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/prometheus";
  static constexpr const char* kMissingMessage =
      "/usr/bin/prometheus not found: install the Debian package 'prometheus' to run this test";

  static bool available() { return ::access(kBinary, X_OK) == 0; }

  // Starts Prometheus scraping `targets` ("127.0.0.1:PORT", path /metrics) every second and
  // returns once it reports ready. The error includes the end of Prometheus's log.
  static Result<std::unique_ptr<PrometheusServer>> start(const std::vector<std::string>& targets,
                                                          std::chrono::milliseconds ready_timeout = vigil::testing::kWaitTimeout) {
    namespace fs = std::filesystem;
    std::string dir_template = (fs::temp_directory_path() / "vigil-prometheus-XXXXXX").string();
    if (::mkdtemp(dir_template.data()) == nullptr)
      return Error(Status::IoError(std::string("mkdtemp: ") + std::strerror(errno)));
    std::unique_ptr<PrometheusServer> server(new PrometheusServer(dir_template));

    std::string config =
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: vigil\n    static_configs:\n      - targets: [";
    for (std::size_t i = 0; i < targets.size(); ++i) config += (i ? ", '" : "'") + targets[i] + "'";
    config += "]\n";
    const std::string config_path = server->dir_ + "/prometheus.yml";
    std::ofstream(config_path) << config;

    // A few attempts: the free port we picked can be taken before Prometheus binds it.
    Status last = Status::Internal("prometheus: not started");
    for (int attempt = 0; attempt < 3; ++attempt) {
      Result<std::uint16_t> port = pick_free_port();
      if (!port) return Error(port.error());
      last = server->launch(config_path, *port, ready_timeout);
      if (last.ok()) return server;
    }
    return Error(last);
  }

  ~PrometheusServer() {
    terminate();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string log() const {
    std::ifstream in(dir_ + "/prometheus.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The value of an instant query: the first sample of a vector result, or a scalar. nullopt
  // when the query fails or returns no sample (the series is not scraped yet).
  std::optional<double> query(const std::string& promql) const {
    Result<HttpResponse> response = http_get("127.0.0.1", port_, "/api/v1/query?query=" + url_encode(promql));
    if (!response || response->status != 200) return std::nullopt;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(response->body).get(root)) return std::nullopt;
    std::string_view status, result_type;
    simdjson::dom::array result;
    if (root["status"].get(status) || status != "success" || root["data"]["resultType"].get(result_type))
      return std::nullopt;
    simdjson::dom::array value;  // [timestamp, "value as text"]
    if (result_type == "vector") {
      if (root["data"]["result"].get(result) || result.size() == 0) return std::nullopt;
      if (result.at(0)["value"].get(value)) return std::nullopt;
    } else if (result_type == "scalar") {
      if (root["data"]["result"].get(value)) return std::nullopt;
    } else {
      return std::nullopt;
    }
    std::string_view text;
    if (value.size() != 2 || value.at(1).get(text)) return std::nullopt;
    // strtod reads Prometheus's "NaN", "+Inf" and "-Inf" as well as plain numbers.
    std::string owned(text);
    char* end = nullptr;
    double parsed = std::strtod(owned.c_str(), &end);
    if (end != owned.c_str() + owned.size()) return std::nullopt;
    return parsed;
  }

  // Polls `promql` until `predicate(value)` holds or `timeout` passes; returns the last value
  // seen (so a failed expectation shows what Prometheus actually had).
  std::optional<double> wait_for(const std::string& promql, const std::function<bool(double)>& predicate,
                                 std::chrono::milliseconds timeout = kWaitTimeout) const {
    std::optional<double> last;
    vigil::testing::wait_until(vigil::testing::deadline_after(timeout), [&] {
      std::optional<double> value = query(promql);
      if (value) last = value;
      return value && predicate(*value);
    });
    return last;
  }

 private:
  explicit PrometheusServer(std::string dir) : dir_(std::move(dir)) {}

  Status launch(const std::string& config_path, std::uint16_t port, std::chrono::milliseconds ready_timeout) {
    // Everything the child needs is built before fork(): between fork and exec only
    // async-signal-safe calls are allowed (the test process has other threads).
    std::vector<std::string> args = {kBinary,
                                     "--config.file=" + config_path,
                                     "--storage.tsdb.path=" + dir_ + "/data",
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port)};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log_path = dir_ + "/prometheus.log";
    const pid_t parent = ::getpid();

    pid_t pid = ::fork();
    if (pid < 0) return Status::IoError(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      if (::getppid() != parent) ::_exit(127);
      int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (log >= 0) {
        ::dup2(log, STDOUT_FILENO);
        ::dup2(log, STDERR_FILENO);
      }
      int null_in = ::open("/dev/null", O_RDONLY);
      if (null_in >= 0) ::dup2(null_in, STDIN_FILENO);
      ::execv(kBinary, argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    port_ = port;

    bool exited = false;
    const bool ready = vigil::testing::wait_until(vigil::testing::deadline_after(ready_timeout), [&] {
      int wstatus = 0;
      if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
        pid_ = -1;
        exited = true;
        return true;
      }
      Result<HttpResponse> reply = http_get("127.0.0.1", port_, "/-/ready", std::chrono::seconds(2));
      return reply && reply->status == 200;
    });
    if (exited)
      return Status::IoError("prometheus exited during startup on port " + std::to_string(port) + "; log:\n" +
                             log_tail());
    if (ready) return Status::Ok();
    terminate();
    return Status::IoError("prometheus not ready after " + std::to_string(ready_timeout.count()) + " ms; log:\n" +
                           log_tail());
  }

  void terminate() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    if (vigil::testing::wait_until(vigil::testing::deadline_after(std::chrono::seconds(5)),
                                   [&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; })) {
      pid_ = -1;
      return;
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string log_tail() const {
    std::string text = log();
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  }

  std::string dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace vigil::testing
