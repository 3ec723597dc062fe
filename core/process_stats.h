#pragma once
// What the operating system knows about this process (CPU time, memory, file descriptors),
// read from /proc/self on Linux. The metrics exporter reads it at scrape time and publishes it
// under the standard names every Prometheus client library uses (process_cpu_seconds_total,
// process_resident_memory_bytes, ...), so stock dashboards and alerts work unchanged.
//
// Thread-safety: read_process_stats() may be called from any thread at any time.
#include <cstdint>

#include "core/status.h"

namespace vigil {

struct ProcessStats {
  double cpu_seconds = 0;                // user + system CPU time
  std::uint64_t resident_bytes = 0;      // resident set size now
  std::uint64_t peak_resident_bytes = 0; // high-water mark of the resident set (VmHWM)
  std::uint64_t virtual_bytes = 0;       // virtual memory size
  std::uint64_t open_fds = 0;            // open file descriptors
  std::uint64_t max_fds = 0;             // soft limit on open file descriptors (RLIMIT_NOFILE)
  double start_time_seconds = 0;         // process start, seconds since the Unix epoch
};

// Reads /proc/self/stat, /proc/self/status, /proc/self/fd and /proc/stat (boot time, read
// once per process). Fails with kIoError when /proc is not mounted or not Linux-shaped.
Result<ProcessStats> read_process_stats();

}  // namespace vigil
