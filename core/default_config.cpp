#include "core/config.h"

namespace vigil {

// What `vigil run` does with no --config (DESIGN.md, "Interfaces people touch"). Kept in YAML so
// `vigil run --print-default-config` shows a starting point that is exactly what runs.
const char* const kDefaultConfigYaml = R"(# vigil run: embedded default configuration (docs/config.md is the reference)
data_dir: ./vigil-data
rules:
  - "@bundled"            # the rule packs compiled into vigil; add files or folders here
pipeline:
  matcher_threads: 2
  max_in_flight_batches: 64
  max_in_flight_mib: 256      # record bytes received and not yet committed (memory bound)
  batch_max_records: 4096
  batch_max_delay_ms: 10
  max_record_bytes: 1048576
store:
  sync: true
  retention_days: 90
silence:                   # a log source that normally sends and goes quiet raises an alert
  factor: 10               #   after 10 x its usual gap between events,
  minimum: 5m              #   and never sooner than this (docs/sources.md)
metrics:
  listen: 127.0.0.1:9464
http:
  listen: 127.0.0.1:8080   # HTTP ingest (POST /ingest); the analyst API and console later
collectors:
  - name: syslog-udp
    type: udp
    listen: 127.0.0.1:5514
  - name: syslog-tcp
    type: tcp
    listen: 127.0.0.1:5514
  - name: http-ingest
    type: http
)";

}  // namespace vigil
