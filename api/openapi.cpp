// The OpenAPI 3 description of /api/v1, served at GET /api/v1/openapi.json. Kept beside the
// handlers (analyst_api.cpp) so a new endpoint is described in the same change.
#include "api/analyst_api.h"

namespace vigil::api {

const char* openapi_document() {
  return R"JSON({
"openapi": "3.0.3",
"info": {"title": "vigil analyst API", "version": "1.0.0",
  "description": "Alert review for SOC analysts: alerts, evidence, lifecycle, statistics, rules, ingest health, tokens and audit. Errors are {\"error\": message}."},
"servers": [{"url": "/api/v1"}],
"components": {
  "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "vgl_ token; roles viewer < analyst < admin, scoped to one tenant or all (*)"}},
  "schemas": {
    "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
    "Alert": {"type": "object", "properties": {
      "id": {"type": "string"}, "created": {"type": "string", "format": "date-time"}, "received": {"type": "string"},
      "event_time": {"type": "string"},
      "rule": {"type": "object", "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "level": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}, "path": {"type": "string"}}},
      "attack": {"type": "object", "description": "ATT&CK view of the rule (absent when empty): Sigma tactic names and technique ids in both ATT&CK revisions (T1562.002 and T1685.001)", "properties": {"tactics": {"type": "array", "items": {"type": "string"}}, "techniques": {"type": "array", "items": {"type": "string"}}}},
      "tenant": {"type": "string"}, "system": {"type": "string"}, "host": {"type": "string"}, "collector": {"type": "string"},
      "peer": {"type": "string"}, "record": {"type": "integer"}, "format": {"type": "string"},
      "matched": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "value": {"type": "string"}}}},
      "fields": {"type": "object"}, "raw": {"type": "string"},
      "status": {"type": "string", "enum": ["new", "acknowledged", "in_progress", "closed"]},
      "resolution": {"type": "string", "enum": ["", "true_positive", "false_positive", "benign", "duplicate"]},
      "assignee": {"type": "string"}, "count": {"type": "integer"}}},
    "Span": {"type": "object", "properties": {"field": {"type": "string"}, "value": {"type": "string"}, "start": {"type": "integer"}, "end": {"type": "integer"}}},
    "Change": {"type": "object", "properties": {
      "status": {"type": "string", "enum": ["new", "acknowledged", "in_progress", "closed"]},
      "resolution": {"type": "string", "enum": ["true_positive", "false_positive", "benign", "duplicate"]},
      "assignee": {"type": "string"}, "note": {"type": "string"}}}
  },
  "responses": {
    "BadRequest": {"description": "malformed JSON or a bad parameter", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    "Unauthorized": {"description": "no or unknown token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    "Forbidden": {"description": "role too low", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    "NotFound": {"description": "no such alert, or an alert of another tenant", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
  },
  "parameters": {
    "id": {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}},
    "from": {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "RFC 3339 or unix ms"},
    "to": {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "RFC 3339 or unix ms (exclusive)"}
  }
},
"security": [{"bearer": []}],
"paths": {
  "/health": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "{status, version, uptime_s, alerts}"}}}},
  "/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3"}}}},
  "/whoami": {"get": {"summary": "The token's name, role and tenant (viewer)", "responses": {"200": {"description": "{name, role, tenant}"}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
  "/alerts": {"get": {"summary": "List alerts, filtered, with cursor paging (viewer)",
    "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
      {"name": "min_level", "in": "query", "schema": {"type": "string", "enum": ["informational", "low", "medium", "high", "critical"]}},
      {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["new", "acknowledged", "in_progress", "closed"]}},
      {"name": "tenant", "in": "query", "schema": {"type": "string"}}, {"name": "rule", "in": "query", "schema": {"type": "string"}},
      {"name": "host", "in": "query", "schema": {"type": "string"}}, {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "text in the raw event (case-sensitive)"},
      {"name": "technique", "in": "query", "schema": {"type": "string"}, "description": "ATT&CK technique id in either revision (T1562.002 finds T1685.001 too); a parent finds its sub-techniques; repeat for any of several"},
      {"name": "tactic", "in": "query", "schema": {"type": "string"}, "description": "Sigma tactic name in either revision (defense-evasion finds stealth and defense-impairment); repeat for any of several"},
      {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}},
      {"name": "cursor", "in": "query", "schema": {"type": "string"}}, {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["newest", "oldest"]}}],
    "responses": {"200": {"description": "{alerts: [Alert], next_cursor: \"\" on the last page}", "content": {"application/json": {"schema": {"type": "object", "properties": {"alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}, "next_cursor": {"type": "string"}}}}}},
      "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
  "/alerts/{id}": {"get": {"summary": "One alert with evidence, rule source, history and delivery (viewer)", "parameters": [{"$ref": "#/components/parameters/id"}],
    "responses": {"200": {"description": "{alert, evidence: {raw, spans: [Span]}, rule_source, history: [{time, actor, action, detail}], delivery: []}"}, "404": {"$ref": "#/components/responses/NotFound"}}}},
  "/alerts/{id}/status": {"post": {"summary": "Change the status (analyst); resolution required when closed", "parameters": [{"$ref": "#/components/parameters/id"}],
    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Change"}}}},
    "responses": {"200": {"description": "the updated Alert"}, "400": {"$ref": "#/components/responses/BadRequest"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}}}},
  "/alerts/{id}/assign": {"post": {"summary": "Assign (analyst); \"\" unassigns", "parameters": [{"$ref": "#/components/parameters/id"}],
    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["assignee"], "properties": {"assignee": {"type": "string"}}}}}},
    "responses": {"200": {"description": "the updated Alert"}, "400": {"$ref": "#/components/responses/BadRequest"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}}}},
  "/alerts/{id}/notes": {"post": {"summary": "Add a note (analyst)", "parameters": [{"$ref": "#/components/parameters/id"}],
    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["note"], "properties": {"note": {"type": "string"}}}}}},
    "responses": {"200": {"description": "the updated Alert"}, "400": {"$ref": "#/components/responses/BadRequest"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}}}},
  "/alerts/bulk": {"post": {"summary": "Change many alerts (analyst); at most 1000 ids",
    "requestBody": {"required": true, "content": {"application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/Change"}, {"type": "object", "required": ["ids"], "properties": {"ids": {"type": "array", "items": {"type": "string"}}}}]}}}},
    "responses": {"200": {"description": "{updated: N, errors: [{id, error}]}"}, "400": {"$ref": "#/components/responses/BadRequest"}, "403": {"$ref": "#/components/responses/Forbidden"}}}},
  "/stats": {"get": {"summary": "Counts by level over time buckets, by status, tenant, top rules and hosts (viewer); default the last 24 h",
    "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
      {"name": "bucket", "in": "query", "schema": {"type": "string", "enum": ["1m", "1h", "1d"], "default": "1h"}}, {"name": "tenant", "in": "query", "schema": {"type": "string"}}],
    "responses": {"200": {"description": "{buckets: [{start, by_level}], by_level, by_status, by_tenant, top_rules: [{id, title, count}], top_hosts: [{host, count}]}"}, "400": {"$ref": "#/components/responses/BadRequest"}}}},
  "/rules": {"get": {"summary": "Loaded rules with the alerts each raised (viewer)", "responses": {"200": {"description": "{rules: [{id, title, level, tags, path, matches (null for a tenant-scoped token)}]}"}}}},
  "/sources": {"get": {"summary": "Log sources and their cadence (viewer; a tenant token sees its tenant)", "parameters": [{"name": "state", "in": "query", "schema": {"type": "string", "enum": ["learning", "ok", "silent", "tampered"]}}, {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100000}}], "responses": {"200": {"description": "{sources: [{name, tenant, collector, host, program, state, first_seen, last_seen, events, usual_gap_s, threshold_s, tampered, tampered_at?, tamper_reason?}], total}"}}}},
  "/ingest": {"get": {"summary": "Collector counters (viewer)", "responses": {"200": {"description": "{collectors: [{name, kind, received, dropped, parse_errors, events_per_second}]}"}}}},
  "/rules/coverage": {"get": {"summary": "What the loaded rules detect: rules per logsource and per parser format (by level), ATT&CK tactics and techniques covered (viewer); same JSON as `vigil rules coverage --json`",
    "responses": {"200": {"description": "{rules, correlations, with_attack_tags, logsources: [{logsource, entry, rules, correlations, levels}], formats: [{format, rules, correlations, levels}], tactics: [{tactic, rules}], techniques: [{id, rules, tactics}]}"}}}},
  "/rules/test": {"post": {"summary": "Compile a pasted Sigma rule alone and match each log line (analyst)",
    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["rule"], "properties": {"rule": {"type": "string"}, "logs": {"type": "string"}, "format": {"type": "string", "default": "auto"}}}}}},
    "responses": {"200": {"description": "{errors: [string], results: [{line, raw, matched, spans: [Span]}]}"}, "400": {"$ref": "#/components/responses/BadRequest"}, "403": {"$ref": "#/components/responses/Forbidden"}}}},
  "/tokens": {
    "get": {"summary": "List tokens (admin); never the token itself", "responses": {"200": {"description": "{tokens: [{name, role, tenant, created, expires (null = never), last_used (null = never)}]}"}, "403": {"$ref": "#/components/responses/Forbidden"}}},
    "post": {"summary": "Create a token (admin); shown once", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name", "role"], "properties": {"name": {"type": "string"}, "role": {"type": "string", "enum": ["viewer", "analyst", "admin"]}, "tenant": {"type": "string", "description": "default: the caller's tenant"}, "expires": {"type": "string", "format": "date-time"}, "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650}}}}}},
      "responses": {"200": {"description": "{token}"}, "400": {"$ref": "#/components/responses/BadRequest"}, "403": {"$ref": "#/components/responses/Forbidden"}}}},
  "/tokens/{name}": {
    "delete": {"summary": "Revoke a token (admin; a tenant's admin: its tenant's tokens only); audited", "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "{revoked: name}"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"description": "no such token in the caller's scope"}}}},
  "/audit": {"get": {"summary": "The audit log, newest first (admin)", "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}, {"name": "cursor", "in": "query", "schema": {"type": "string"}}],
    "responses": {"200": {"description": "{entries: [{time, actor, action, target, detail}], next_cursor}"}, "403": {"$ref": "#/components/responses/Forbidden"}}}},
  "/forwarding/dead-letters": {"get": {"summary": "Alerts a forwarding destination refused (4xx), with the reason (admin for all tenants)", "parameters": [{"name": "destination", "in": "query", "schema": {"type": "string"}}],
    "responses": {"200": {"description": "{dead_letters: [{destination, alert_id, reason, attempts, time}]}"}, "403": {"$ref": "#/components/responses/Forbidden"}}}},
  "/forwarding/dead-letters/replay": {"post": {"summary": "Queue dead letters again and wake the senders (admin for all tenants); audited", "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"destination": {"type": "string"}, "ids": {"type": "array", "items": {"type": "string"}}}}}}},
    "responses": {"200": {"description": "{replayed: N}"}, "400": {"$ref": "#/components/responses/BadRequest"}, "403": {"$ref": "#/components/responses/Forbidden"}}}}
}
})JSON";
}

}  // namespace vigil::api
