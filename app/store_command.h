#pragma once
// `vigil store check` and `vigil store repair`: verify a data directory's alert store, and
// rebuild a damaged one from what is intact.
#include <cstdio>
#include <string>

namespace vigil::app {

struct StoreOptions {
  std::string data_dir = "./vigil-data";
};

// Exit code 0 when intact, 1 when damaged, 2 when there is no store.
int run_store_check(const StoreOptions& options, std::FILE* out, std::FILE* err);
// Exit code 0 when repaired and the repaired store checks intact, 1 otherwise.
int run_store_repair(const StoreOptions& options, std::FILE* out, std::FILE* err);

}  // namespace vigil::app
