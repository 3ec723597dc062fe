// vigil_correlation_latency: the attack side of bench/correlation_latency.sh (issue 28). While
// a background load streams into `vigil run`, it injects ATTACKS SSH brute forces over their own
// TCP syslog connection, each from its own address (198.18.x.y, absent from any corpus): nine
// failed logins, a pause, then the tenth, the deciding event of the bundled "SSH Brute Force From
// One Source" (gte 10). The wall time just before the tenth line is sent is the attack's start.
// Afterwards it reads the store with `vigil alerts list --json` and checks first: exactly one
// brute-force alert per attack address (no more, no fewer) and nothing from an address it did not
// use. Only if that holds does it print p50 / p99 / max of (alert commit time "created" - start):
// a fast wrong answer is not a result. Exit 1 on a failed check, 2 on bad arguments.
//
//   vigil_correlation_latency --port P --vigil BIN --data-dir D [--attacks N] [--gap-ms G]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

const char* kBruteForceId = "e7c29363-3762-4fb9-b5d3-06a78a9eae53";

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string bsd_stamp(std::int64_t unix_ns) {
  const time_t secs = static_cast<time_t>(unix_ns / 1000000000LL);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%b %e %H:%M:%S", &t);
  return buf;
}

bool send_all(int fd, const std::string& s) {
  const char* p = s.data();
  std::size_t n = s.size();
  while (n) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// The JSON string value after "key":" in `line` ("" if absent). Alert JSON escapes quotes, and
// the values read here (addresses, times, counts) hold none.
std::string json_value(const std::string& line, const std::string& key) {
  const std::string tag = "\"" + key + "\":\"";
  const std::size_t at = line.find(tag);
  if (at == std::string::npos) return "";
  const std::size_t from = at + tag.size();
  return line.substr(from, line.find('"', from) - from);
}

std::int64_t parse_utc_ns(const std::string& text) {
  tm t{};
  if (text.size() < 19 || !strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &t)) return 0;
  std::int64_t ns = static_cast<std::int64_t>(timegm(&t)) * 1000000000LL;
  if (text.size() > 20 && text[19] == '.') {
    std::int64_t frac = 0;
    int digits = 0;
    for (std::size_t i = 20; i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 9; ++i, ++digits)
      frac = frac * 10 + (text[i] - '0');
    for (; digits < 9; ++digits) frac *= 10;
    ns += frac;
  }
  return ns;
}

std::vector<std::string> stored_brute_force(const std::string& vigil, const std::string& data_dir) {
  const std::string cmd = vigil + " alerts list --json --oldest-first --limit 0 --rule " + kBruteForceId +
                          " --data-dir " + data_dir + " 2>/dev/null";
  std::vector<std::string> lines;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return lines;
  std::string line;
  char buf[65536];
  while (std::fgets(buf, sizeof buf, p)) {
    line += buf;
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      lines.push_back(std::move(line));
      line.clear();
    }
  }
  ::pclose(p);
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, attacks = 200, gap_ms = 100;
  std::string vigil, data_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--port") port = std::atoi(v.c_str());
    else if (k == "--attacks") attacks = std::atoi(v.c_str());
    else if (k == "--gap-ms") gap_ms = std::atoi(v.c_str());
    else if (k == "--vigil") vigil = v;
    else if (k == "--data-dir") data_dir = v;
    else {
      std::fprintf(stderr, "vigil_correlation_latency: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (port <= 0 || vigil.empty() || data_dir.empty() || attacks <= 0 || attacks > 60000) {
    std::fprintf(stderr, "usage: vigil_correlation_latency --port P --vigil BIN --data-dir D [--attacks N<=60000] [--gap-ms G]\n");
    return 2;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("vigil_correlation_latency: connect");
    return 2;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  std::map<std::string, std::int64_t> started;  // address -> wall time before its tenth failure
  for (int k = 0; k < attacks; ++k) {
    const std::string ip = "198.18." + std::to_string(k / 250) + "." + std::to_string(k % 250 + 1);
    auto failure = [&](int i) {
      return "<38>" + bsd_stamp(wall_ns()) + " bench01 sshd[" + std::to_string(1000 + k) + "]: Failed password for root from " +
             ip + " port " + std::to_string(40000 + i) + " ssh2\n";
    };
    std::string nine;
    for (int i = 1; i <= 9; ++i) nine += failure(i);
    if (!send_all(fd, nine)) return 2;
    // The nine are in (received, matched) before the tenth is timed, so the figure is the tenth's.
    std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
    const std::string tenth = failure(10);
    started[ip] = wall_ns();
    if (!send_all(fd, tenth)) return 2;
    std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
  }
  ::close(fd);

  // Check: one alert per attack address, raised at the tenth failure (event_count 10 at first;
  // it stays 10 since no eleventh comes), and none from another 198.18.* address.
  std::vector<std::string> alerts;
  std::map<std::string, std::pair<int, std::int64_t>> seen;  // address -> (alerts, created)
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    alerts = stored_brute_force(vigil, data_dir);
    seen.clear();
    for (const std::string& line : alerts) {
      const std::string ip = json_value(line, "source_ip");
      if (ip.rfind("198.18.", 0) != 0) continue;
      auto& s = seen[ip];
      s.first++;
      s.second = parse_utc_ns(json_value(line, "created"));
    }
    if (seen.size() >= started.size() || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::vector<double> ms;
  int failures = 0;
  for (const auto& [ip, t0] : started) {
    auto s = seen.find(ip);
    if (s == seen.end() || s->second.first != 1 || s->second.second <= 0) {
      if (failures++ < 5)
        std::fprintf(stderr, "check failed: %s has %d brute-force alerts\n", ip.c_str(),
                     s == seen.end() ? 0 : s->second.first);
      continue;
    }
    ms.push_back((s->second.second - t0) / 1e6);
  }
  for (const auto& [ip, s] : seen)
    if (!started.count(ip) && failures++ < 5) std::fprintf(stderr, "check failed: alert for unused %s\n", ip.c_str());
  if (failures > 0) {
    std::fprintf(stderr, "vigil_correlation_latency: %d failed checks: no figure\n", failures);
    return 1;
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(p * (ms.size() - 1) + 0.5))]; };
  std::printf("attacks %zu, deciding event sent -> brute-force alert committed: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              ms.size(), pct(0.50), pct(0.99), ms.back());
  return 0;
}
