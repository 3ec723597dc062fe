#pragma once
// Builds and starts the configured collectors for `vigil run`.
#include <cstdio>
#include <memory>
#include <vector>

#include "core/config.h"
#include "core/metrics.h"
#include "core/pipeline.h"
#include "core/source_assign.h"
#include "net/http_server.h"
#include "storage/alert_store.h"

namespace vigil::app {

struct CollectorContext {
  const Config& config;
  Pipeline& pipeline;
  Metrics& metrics;
  const SourceAssigner& assigner;
  storage::AlertStore& store;  // file tail resumes from the checkpoints stored with the alerts
  net::HttpServer* http;       // null when http is disabled
};

// A started collector; stop() flushes what it holds into the pipeline and joins its threads.
class RunningCollector {
 public:
  virtual ~RunningCollector() = default;
  virtual void stop() = 0;
};

// Starts every collector in config order, printing "vigil: collector NAME (KIND) on ADDR" for
// each (tests read the bound port from it). Fails on the first that cannot start, naming it
// and the config line; the ones already started are stopped.
Result<std::vector<std::unique_ptr<RunningCollector>>> start_collectors(CollectorContext& ctx,
                                                                        std::FILE* err);

}  // namespace vigil::app
