#pragma once
// `vigil alerts list`: reads the alert store straight from the data directory (it works while
// the daemon runs: the store is opened as a RocksDB secondary instance).
#include <cstdio>
#include <string>

namespace vigil::app {

struct AlertsListOptions {
  std::string data_dir = "./vigil-data";
  std::string min_level, status, tenant, rule, host, text;
  std::string since;        // "24h", "30m", "7d" or an RFC 3339 time; "" = all
  std::size_t limit = 50;   // 0 = every matching alert
  bool oldest_first = false;
  bool json = false;
};

int run_alerts_list(const AlertsListOptions& options, std::FILE* out, std::FILE* err);

}  // namespace vigil::app
