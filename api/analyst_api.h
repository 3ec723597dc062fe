#pragma once
// The analyst REST API v1 (docs/api.md, /tmp contract mirrored in openapi.cpp): alerts with
// filters and cursor paging, one alert with its evidence, lifecycle changes (single and bulk),
// statistics, rules, ingest health, the rule tester, tokens and the audit log.
//
// AnalystApi::handle() answers one request for an authenticated principal, synchronously: the
// daemon calls it on a worker thread (serve() registers the routes, checks tokens and hands each
// request to a small worker pool so the HTTP I/O threads never wait on RocksDB), and
// `vigil alerts` calls it in-process on a stopped daemon's data directory.
//
// Threading: handle() may run on any number of threads at once.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/tokens.h"
#include "core/alert.h"
#include "net/http_server.h"
#include "storage/alert_store.h"

namespace vigil::api {

struct RuleInfo {
  std::string id, title, level, path;
  std::vector<std::string> tags;
};

struct CollectorInfo {
  std::string name, kind;
  std::uint64_t received = 0, dropped = 0, parse_errors = 0;
};

// One log source and how it sends (core/source_cadence.h; GET /api/v1/sources).
struct SourceRow {
  std::string name, tenant, collector, host, program;
  std::string state;  // learning, ok, silent
  std::int64_t first_seen_unix_ns = 0, last_seen_unix_ns = 0;
  std::uint64_t events = 0;
  std::int64_t usual_gap_ns = 0, threshold_ns = 0;  // 0: not learnt / never silent
  bool tampered = false;
  std::int64_t tampered_unix_ns = 0;
  std::string tamper_reason;
};

// What the API reads from the running daemon (all optional: absent = empty answers).
struct ApiHooks {
  std::function<std::vector<RuleInfo>()> rules;                  // the live rule set
  std::function<std::string(const Alert&)> rule_source;          // the rule's YAML, "" if unknown
  std::function<std::vector<CollectorInfo>()> collectors;        // collector counters now
  // POST /api/v1/rules/test: the whole JSON answer for the pasted rule and log lines.
  std::function<std::string(std::string_view rule_yaml, std::string_view logs, std::string_view format)> test_rule;
  // GET /api/v1/rules/coverage: the coverage JSON of the live rule set (rules/coverage.h).
  std::function<std::string()> rules_coverage;
  // After POST /api/v1/forwarding/dead-letters/replay put alerts back in a queue: wake the
  // senders. Optional.
  std::function<void()> dead_letters_replayed;
  // GET /api/v1/sources: every tracked source (the API keeps those the token's tenant may see).
  std::function<std::vector<SourceRow>()> sources;
};

struct ApiOptions {
  unsigned workers = 2;              // Default: 2 worker threads for API requests
  std::size_t max_queued = 256;      // Default: 256 requests waiting; more get 503
  std::size_t max_page = 1000;       // Default: 1000 alerts per page at most
  std::size_t max_bulk = 1000;       // Default: 1000 ids per bulk change at most
};

class AnalystApi {
 public:
  // `tokens` may be null (no token endpoints: the CLI on a data directory).
  AnalystApi(ApiOptions options, storage::AlertStore& store, TokenStore* tokens, ApiHooks hooks);
  ~AnalystApi();
  AnalystApi(const AnalystApi&) = delete;
  AnalystApi& operator=(const AnalystApi&) = delete;

  // Answers `request` for `who` (roles and tenant scope checked here). Never throws.
  net::Response handle(const net::Request& request, const Principal& who);

  // Registers /api/v1/* on `server` (before it starts) and starts the worker threads.
  Status serve(net::HttpServer& server);
  // Joins the workers; queued requests get 503. Idempotent.
  void stop();

 private:
  net::Response dispatch(const net::Request& request, const Principal& who);
  void worker();

  ApiOptions options_;
  storage::AlertStore& store_;
  TokenStore* tokens_;
  ApiHooks hooks_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  struct RateSample {
    std::chrono::steady_clock::time_point time;
    std::uint64_t received = 0;
    double last_rate = 0;
  };
  std::mutex rate_mu_;
  std::map<std::string, RateSample> rates_;  // per collector, for events_per_second

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// The OpenAPI 3 document of /api/v1 (GET /api/v1/openapi.json).
const char* openapi_document();

// Parses "2026-01-02T03:04:05Z", "...05.123+07:00" or unix milliseconds into unix ns.
bool parse_time_param(std::string_view text, std::int64_t* unix_ns);

}  // namespace vigil::api
