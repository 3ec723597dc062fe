#pragma once
// What `vigil run` hands to the features that plug into it (the analyst API, forwarding,
// correlation), each in its own app/feature_*.cpp: the config, the store, the pipeline, the
// metrics, the HTTP server (routes may be added until it starts) and the live rule set.
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include "api/analyst_api.h"
#include "app/match_stage.h"
#include "core/config.h"
#include "core/metrics.h"
#include "core/pipeline.h"
#include "net/http_server.h"
#include "rules/correlation_rule.h"
#include "storage/alert_store.h"

namespace vigil::app {

struct DaemonContext {
  const Config& config;
  storage::AlertStore& store;
  Pipeline& pipeline;         // constructed, started after the features
  Metrics& metrics;
  net::HttpServer* http;      // null when http is disabled; not started yet
  LiveRuleSet& rules;
  // The correlation rules loaded with the rules at start-up (a SIGHUP reloads the detection
  // rules only).
  const std::vector<rules::CorrelationRule>& correlations;
  std::FILE* err;             // start-up and runtime messages
  // Added to by the features that watch the matcher threads (correlation and suppression,
  // silent sources); before the pipeline starts, and they must outlive it.
  std::vector<MatchObserver*> observers;
  // Set by forwarding: wakes its senders after an admin replayed dead letters through the API
  // (so they rescan their queues at once). Empty when forwarding is off.
  std::function<void()> dead_letters_replayed;
  // Set by silent sources: every tracked source now (GET /api/v1/sources). Empty when off.
  std::function<std::vector<api::SourceRow>()> sources;
};

// A running feature. stop() is called after the collectors stopped and the pipeline drained,
// before the store closes; it must finish what it owes (e.g. persist a cursor) and join.
class DaemonService {
 public:
  virtual ~DaemonService() = default;
  virtual void stop() = 0;
};

// Each returns nullptr when its section is absent from the config and the feature has nothing
// to do; an error stops start-up (the message names the config file and line).
Result<std::unique_ptr<DaemonService>> start_analyst_api(DaemonContext& ctx);
Result<std::unique_ptr<DaemonService>> start_forwarding(DaemonContext& ctx);
Result<std::unique_ptr<DaemonService>> start_correlation(DaemonContext& ctx);
Result<std::unique_ptr<DaemonService>> start_sources(DaemonContext& ctx);

}  // namespace vigil::app
