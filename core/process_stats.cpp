#include "core/process_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {
namespace {

// /proc files report a size of 0, so read until EOF rather than by stat size.
Result<std::string> read_proc_file(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error(Status::IoError(std::string("cannot open ") + path + ": " + std::strerror(errno)));
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Error(Status::IoError(std::string("cannot read ") + path + ": " + std::strerror(err)));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

bool parse_u64(std::string_view s, std::uint64_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\n' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// The value of "Key:   123 kB" in a /proc status-style file, in the file's unit.
bool find_status_value(std::string_view text, std::string_view key, std::uint64_t* out) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      std::vector<std::string_view> parts = split_spaces(line.substr(key.size() + 1));
      return !parts.empty() && parse_u64(parts[0], out);
    }
    pos = eol + 1;
  }
  return false;
}

// Seconds since the epoch at which the machine booted: /proc/stat "btime". Constant for the
// life of the process, so it is read once.
Result<std::uint64_t> boot_time_seconds() {
  static const Result<std::uint64_t> cached = []() -> Result<std::uint64_t> {
    Result<std::string> text = read_proc_file("/proc/stat");
    if (!text) return Error(text.error());
    std::string_view all = *text;
    std::size_t at = all.find("\nbtime ");
    std::uint64_t btime = 0;
    if (at == std::string_view::npos) return Error(Status::IoError("/proc/stat has no btime line"));
    std::size_t eol = all.find('\n', at + 1);
    std::vector<std::string_view> parts = split_spaces(all.substr(at + 7, eol - (at + 7)));
    if (parts.empty() || !parse_u64(parts[0], &btime))
      return Error(Status::IoError("/proc/stat: unreadable btime"));
    return btime;
  }();
  return cached;
}

// Open descriptors, not counting the one opendir() itself holds while we count.
Result<std::uint64_t> count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return Error(Status::IoError(std::string("cannot open /proc/self/fd: ") + std::strerror(errno)));
  std::uint64_t n = 0;
  while (const dirent* entry = ::readdir(dir))
    if (entry->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n > 0 ? n - 1 : 0;
}

}  // namespace

Result<ProcessStats> read_process_stats() {
  ProcessStats stats;
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (ticks_per_second <= 0 || page_size <= 0) return Error(Status::IoError("sysconf: no clock tick or page size"));

  Result<std::string> stat = read_proc_file("/proc/self/stat");
  if (!stat) return Error(stat.error());
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. After it, index 0 is field 3 (state) of proc(5).
  std::size_t close_paren = stat->rfind(')');
  if (close_paren == std::string::npos) return Error(Status::IoError("/proc/self/stat: no command name"));
  std::vector<std::string_view> fields = split_spaces(std::string_view(*stat).substr(close_paren + 1));
  constexpr std::size_t kUtime = 14 - 3, kStime = 15 - 3, kStartTime = 22 - 3, kVsize = 23 - 3, kRss = 24 - 3;
  std::uint64_t utime = 0, stime = 0, start_ticks = 0, vsize = 0, rss_pages = 0;
  if (fields.size() <= kRss || !parse_u64(fields[kUtime], &utime) || !parse_u64(fields[kStime], &stime) ||
      !parse_u64(fields[kStartTime], &start_ticks) || !parse_u64(fields[kVsize], &vsize) ||
      !parse_u64(fields[kRss], &rss_pages))
    return Error(Status::IoError("/proc/self/stat: unexpected layout"));
  stats.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(ticks_per_second);
  stats.virtual_bytes = vsize;
  stats.resident_bytes = rss_pages * static_cast<std::uint64_t>(page_size);

  Result<std::uint64_t> boot = boot_time_seconds();
  if (!boot) return Error(boot.error());
  stats.start_time_seconds =
      static_cast<double>(*boot) + static_cast<double>(start_ticks) / static_cast<double>(ticks_per_second);

  Result<std::string> status = read_proc_file("/proc/self/status");
  if (!status) return Error(status.error());
  std::uint64_t hwm_kib = 0;
  if (!find_status_value(*status, "VmHWM", &hwm_kib)) return Error(Status::IoError("/proc/self/status: no VmHWM"));
  stats.peak_resident_bytes = hwm_kib * 1024;

  Result<std::uint64_t> fds = count_open_fds();
  if (!fds) return Error(fds.error());
  stats.open_fds = *fds;

  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return Error(Status::IoError(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno)));
  stats.max_fds = static_cast<std::uint64_t>(limit.rlim_cur);  // RLIM_INFINITY reads as 2^64-1, as in other clients
  return stats;
}

}  // namespace vigil
