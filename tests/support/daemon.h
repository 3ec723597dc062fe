#pragma once
// Runs the real `vigil run` (VIGIL_BINARY) as a child process for end-to-end tests: writes its
// config, starts it, waits for "vigil: ready", reads the ports it bound from its log (configs
// use port 0), sends signals, and reads the store back with `vigil alerts list --json`.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/vigil_process.h"
#include "tests/support/wait.h"

namespace vigil::testing {

class Daemon {
 public:
  // `config_yaml` is written to <dir>/vigil.yml; it should set data_dir (relative paths are
  // relative to `dir`, the daemon's working directory) and use port 0 everywhere.
  Daemon(fs::path dir, std::string config_yaml) : dir_(std::move(dir)), config_(std::move(config_yaml)) {}
  ~Daemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // Starts the daemon; true once it printed "vigil: ready" (false after `timeout` or if it
  // exited: log() says why).
  bool start(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    Write(dir_ / "vigil.yml", config_);
    log_offset_ = fs::exists(log_path()) ? fs::file_size(log_path()) : 0;
    pid_ = ::fork();
    if (pid_ == 0) {
      if (::chdir(dir_.c_str()) != 0) ::_exit(127);
      int fd = ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 2);
      ::dup2(fd, 1);
      ::execl(VIGIL_BINARY, VIGIL_BINARY, "run", "--config", "vigil.yml", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return wait_for_log("vigil: ready", timeout);
  }

  // Waits until the log (since the last start) contains `text`.
  bool wait_for_log(const std::string& text, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    bool exited = false;
    const bool found = wait_until(deadline_after(timeout), [&] {
      if (log().find(text) != std::string::npos) return true;
      exited = reap();
      return exited;
    });
    // After an exit, what the daemon wrote before it.
    return found && (!exited || log().find(text) != std::string::npos);
  }

  // The log since the last start().
  std::string log() const {
    std::string all = Slurp(log_path());
    return all.size() > log_offset_ ? all.substr(log_offset_) : std::string();
  }
  fs::path log_path() const { return dir_ / "daemon.log"; }

  // Port bound by a collector ("vigil: collector NAME (KIND) on HOST:PORT"), the HTTP server
  // ("http") or metrics ("metrics"). 0 if not found.
  std::uint16_t port(const std::string& name) const {
    std::string text = log();
    std::smatch m;
    std::regex re;
    if (name == "http") re = std::regex(R"(vigil: http on https?://[^ ]*:(\d+))");
    else if (name == "metrics") re = std::regex(R"(vigil: metrics on http://[^ ]*:(\d+)/metrics)");
    else re = std::regex("vigil: collector " + name + R"( \([a-z]+\) on [^ ]*:(\d+))");
    if (!std::regex_search(text, m, re)) return 0;
    return static_cast<std::uint16_t>(std::stoi(m[1]));
  }

  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // SIGTERM and wait; returns the exit code (-1 if killed by a signal or timed out).
  int stop(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    if (pid_ <= 0) return exit_code();
    ::kill(pid_, SIGTERM);
    return wait_exit(timeout);
  }
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int wait_exit(std::chrono::seconds timeout) {
    wait_until(deadline_after(timeout), [&] { return pid_ <= 0 || reap(); });
    if (pid_ > 0) {
      kill9();
      return -1;
    }
    return exit_code();
  }
  // True (and the exit status kept) once the daemon has exited.
  bool reap() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    pid_ = -1;
    exit_status_ = status;
    return true;
  }
  int exit_code() const { return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : -1; }
  pid_t pid() const { return pid_; }

  // Every stored alert as one JSON line each (oldest first), read with the real CLI.
  std::vector<std::string> alerts_json(const std::string& data_dir = "data") const {
    RunResult r = RunVigil("alerts list --json --oldest-first --limit 0 --data-dir " + (dir_ / data_dir).string(),
                           dir_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < r.out.size()) {
      std::size_t end = r.out.find('\n', start);
      if (end == std::string::npos) end = r.out.size();
      if (end > start) lines.push_back(r.out.substr(start, end - start));
      start = end + 1;
    }
    return lines;
  }

 private:
  fs::path dir_;
  std::string config_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
  std::uintmax_t log_offset_ = 0;
};

// A blocking TCP client for tests.
class TcpClient {
 public:
  explicit TcpClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~TcpClient() { close(); }
  bool ok() const { return fd_ >= 0; }
  bool send_all(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

inline bool send_udp(std::uint16_t port, std::string_view datagram) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ssize_t n = ::sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::close(fd);
  return n == static_cast<ssize_t>(datagram.size());
}

// Minimal blocking HTTP/1.1 request (Connection: close); returns status and body.
struct HttpReply {
  int status = 0;
  std::string head;  // status line and headers, as received
  std::string body;
};
inline HttpReply http_request(std::uint16_t port, const std::string& method, const std::string& target,
                              const std::string& body = "",
                              const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  TcpClient c(port);
  HttpReply reply;
  if (!c.ok()) return reply;
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  if (!c.send_all(req)) return reply;
  std::string resp;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(c.fd(), buf, sizeof buf, 0)) > 0) resp.append(buf, static_cast<std::size_t>(n));
  if (resp.size() > 12 && resp.compare(0, 5, "HTTP/") == 0) reply.status = std::stoi(resp.substr(9, 3));
  auto sep = resp.find("\r\n\r\n");
  if (sep != std::string::npos) {
    reply.head = resp.substr(0, sep);
    reply.body = resp.substr(sep + 4);
  }
  return reply;
}

// Sum of the samples of `name` whose labels contain `labels` on the daemon's /metrics page
// (configs must serve metrics).
inline double metric(const Daemon& d, const std::string& name, const std::string& labels = "") {
  HttpReply page = http_request(d.port("metrics"), "GET", "/metrics");
  double sum = 0;
  std::size_t start = 0;
  while (start < page.body.size()) {
    std::size_t end = page.body.find('\n', start);
    if (end == std::string::npos) end = page.body.size();
    const std::string line = page.body.substr(start, end - start);
    start = end + 1;
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : ' ';
    if (next != ' ' && next != '{') continue;
    if (!labels.empty() && line.find(labels) == std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// Waits until collector `name` has received at least `n` events since the daemon started.
inline bool wait_for_received(const Daemon& d, const std::string& name, std::size_t n) {
  return wait_until(deadline_after(), [&] {
    return metric(d, "vigil_events_received_total", "collector=\"" + name + "\"") >= static_cast<double>(n);
  });
}

// What the daemon logs as it stops when it received and processed `events` events.
inline std::string stopped_line(std::size_t events) {
  const std::string n = std::to_string(events);
  return "vigil: stopped: " + n + " events received, " + n + " processed";
}

}  // namespace vigil::testing
