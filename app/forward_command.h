#pragma once
// `vigil forward status|dead-letters|replay`: the forwarding outbox of a data directory
// (storage/outbox.h). status and dead-letters work while the daemon runs (read-only store);
// replay writes, so it needs the daemon stopped (RocksDB allows one writer): the daemon sends
// the replayed alerts when it starts again.
#include <cstdio>
#include <string>
#include <vector>

namespace vigil::app {

struct ForwardOptions {
  std::string data_dir = "./vigil-data";
  std::string destination;             // "" = every destination
  std::vector<std::string> alert_ids;  // replay: these alerts; empty with --all = every dead letter
  bool all = false;                    // replay: every dead letter (of --destination)
  bool json = false;                   // status, dead-letters: JSON lines
};

int run_forward_status(const ForwardOptions& options, std::FILE* out, std::FILE* err);
int run_forward_dead_letters(const ForwardOptions& options, std::FILE* out, std::FILE* err);
int run_forward_replay(const ForwardOptions& options, std::FILE* out, std::FILE* err);

}  // namespace vigil::app
