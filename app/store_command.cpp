#include "app/store_command.h"

#include "storage/alert_store.h"

namespace vigil::app {

namespace {

void print_report(const storage::StoreCheckReport& report, const std::string& dir, std::FILE* out) {
  std::fprintf(out, "store: %s (%llu SST files)\n", dir.c_str(), static_cast<unsigned long long>(report.sst_files));
  for (const auto& [cf, n] : report.records)
    std::fprintf(out, "  %-12s %llu records\n", cf.c_str(), static_cast<unsigned long long>(n));
  for (const std::string& p : report.problems) std::fprintf(out, "  problem: %s\n", p.c_str());
  std::fprintf(out, "result: %s\n", report.ok() ? "intact" : "DAMAGED");
}

}  // namespace

int run_store_check(const StoreOptions& options, std::FILE* out, std::FILE* err) {
  auto report = storage::AlertStore::check(options.data_dir);
  if (!report) {
    std::fprintf(err, "vigil store check: %s\n", report.error().to_string().c_str());
    return 2;
  }
  print_report(*report, options.data_dir, out);
  if (!report->ok())
    std::fprintf(out,
                 "what to do: stop the daemon, then `vigil store repair --data-dir %s` (it copies the "
                 "directory aside first, then keeps every record it can read)\n",
                 options.data_dir.c_str());
  return report->ok() ? 0 : 1;
}

int run_store_repair(const StoreOptions& options, std::FILE* out, std::FILE* err) {
  std::string copy;
  if (Status st = storage::AlertStore::repair(options.data_dir, &copy); !st.ok()) {
    std::fprintf(err, "vigil store repair: %s\n", st.to_string().c_str());
    return 1;
  }
  std::fprintf(out, "repaired %s (the directory as it was is in %s)\n", options.data_dir.c_str(), copy.c_str());
  auto report = storage::AlertStore::check(options.data_dir);
  if (!report) {
    std::fprintf(err, "vigil store repair: %s\n", report.error().to_string().c_str());
    return 1;
  }
  print_report(*report, options.data_dir, out);
  return report->ok() ? 0 : 1;
}

}  // namespace vigil::app
