#pragma once
// `vigil run`: the streaming daemon (collectors -> pipeline -> RocksDB store, Prometheus metrics).
#include <string>

namespace vigil::app {

struct RunOptions {
  std::string config_file;  // "" = the embedded default (core/default_config.cpp)
  bool print_default_config = false;
  bool check_config = false;  // load and validate config and rules, then exit
};

// Runs until SIGTERM or SIGINT (drains, commits, exits 0). SIGHUP reloads the rules.
// Returns 2 when start-up fails (the reason is on stderr).
int run_daemon(const RunOptions& options);

}  // namespace vigil::app
