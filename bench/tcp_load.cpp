// vigil_tcp_load: the load process of bench/daemon_bench.sh. Streams the lines of a file over
// TCP syslog (newline framing) to 127.0.0.1:PORT, cycling through the file until --events lines
// are sent, at full speed or at a steady --rate (events/s, paced per millisecond), over
// --connections connections. Prints one line: events sent, seconds, events/s.
//
//   vigil_tcp_load --port P --file F --events N [--rate R] [--connections C]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("vigil_tcp_load: connect");
    std::exit(2);
  }
  return fd;
}

bool send_all(int fd, const char* p, std::size_t n) {
  while (n) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, connections = 1;
  long long events = 0;
  double rate = 0;
  std::string file;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port") port = std::atoi(v.c_str());
    else if (k == "--file") file = v;
    else if (k == "--events") events = std::atoll(v.c_str());
    else if (k == "--rate") rate = std::atof(v.c_str());
    else if (k == "--connections") connections = std::max(1, std::atoi(v.c_str()));
    else {
      std::fprintf(stderr, "vigil_tcp_load: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (!port || file.empty() || events <= 0) {
    std::fprintf(stderr, "usage: vigil_tcp_load --port P --file F --events N [--rate R] [--connections C]\n");
    return 2;
  }
  // The lines, each with its newline, and their offsets, so any run of lines is one send().
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (!text.empty() && text.back() != '\n') text.push_back('\n');
  std::vector<std::size_t> starts;
  for (std::size_t p = 0; p < text.size();) {
    starts.push_back(p);
    std::size_t nl = text.find('\n', p);
    p = nl + 1;
  }
  const long long lines = static_cast<long long>(starts.size());
  if (lines == 0) {
    std::fprintf(stderr, "vigil_tcp_load: %s has no lines\n", file.c_str());
    return 2;
  }
  starts.push_back(text.size());

  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    const long long share = events / connections + (c < events % connections ? 1 : 0);
    const double my_rate = rate / connections;
    threads.emplace_back([&, share, my_rate, c] {
      int fd = connect_to(port);
      long long sent = 0;
      long long line = (static_cast<long long>(c) * 7919) % lines;  // different phase per connection
      auto start = std::chrono::steady_clock::now();
      while (sent < share) {
        long long want = share - sent;
        if (my_rate > 0) {
          // Steady pacing: send what is due by now, then sleep until the next millisecond.
          double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          long long due = static_cast<long long>(elapsed * my_rate) + 1 - sent;
          if (due <= 0) {
            std::this_thread::sleep_for(std::chrono::microseconds(500));
            continue;
          }
          want = std::min(want, due);
        }
        want = std::min(want, 4096LL);
        while (want > 0) {
          long long run = std::min(want, lines - line);
          if (!send_all(fd, text.data() + starts[line], starts[line + run] - starts[line])) {
            std::fprintf(stderr, "vigil_tcp_load: send failed after %lld events\n", sent);
            std::exit(1);
          }
          sent += run;
          want -= run;
          line = (line + run) % lines;
        }
      }
      ::shutdown(fd, SHUT_WR);
      char buf[256];
      while (::recv(fd, buf, sizeof buf, 0) > 0) {
      }
      ::close(fd);
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("sent %lld events in %.3f s = %.0f events/s\n", events, secs, events / secs);
  return 0;
}
