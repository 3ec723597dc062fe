#pragma once
// `vigil alerts list|show|ack|assign|close|note|stats`.
//
// Over the daemon's API when a token is given (--token or VIGIL_TOKEN; --url or VIGIL_URL, else
// the default http://127.0.0.1:8080), else straight on the data directory: reads open the store
// as a RocksDB secondary (they work while the daemon runs), changes open it for writing, which
// works only while the daemon is stopped (the store's LOCK says so). Both paths run the same
// request handler (api::AnalystApi), so they answer alike. Table output for people, --json for
// scripts (the API's JSON answer as it is).
#include <cstdio>
#include <string>

namespace vigil::app {

struct AlertsListOptions {
  std::string data_dir = "./vigil-data";
  std::string min_level, status, tenant, rule, host, text;
  // ATT&CK technique id or tactic name, either revision (as the API's technique= / tactic=).
  std::string technique, tactic;
  std::string since;        // "24h", "30m", "7d" or an RFC 3339 time; "" = all
  std::size_t limit = 50;   // 0 = every matching alert
  bool oldest_first = false;
  bool json = false;
  std::string url, token;   // API mode when token is set (see above)
};

int run_alerts_list(const AlertsListOptions& options, std::FILE* out, std::FILE* err);

struct AlertsActionOptions {
  std::string action;  // "show", "ack", "assign", "close", "note", "stats"
  std::string data_dir = "./vigil-data";
  std::string url, token;
  bool json = false;
  std::string id;          // show, ack, assign, close, note
  std::string assignee;    // assign
  std::string resolution;  // close
  std::string note;        // ack, close (optional), note (required)
  std::string since = "24h", tenant, bucket = "1h";  // stats
};

int run_alerts_action(const AlertsActionOptions& options, std::FILE* out, std::FILE* err);

}  // namespace vigil::app
