#pragma once
// The client side of the analyst API for the CLI commands (`vigil alerts`, `vigil tokens`).
#include <simdjson.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/analyst_api.h"
#include "api/tokens.h"
#include "core/status.h"
#include "storage/alert_store.h"

namespace vigil::app {

struct Reply {
  unsigned status = 0;
  std::string body;
};

// `value` when not empty, else the environment variable `name` ("" when unset).
std::string env_or(const std::string& value, const char* name);
// Percent-encodes a query value.
std::string url_encode(std::string_view s);
// One request to the daemon's API over plain HTTP.
Result<Reply> call_api(const std::string& url, const std::string& token, const std::string& method,
                       const std::string& target, const std::string& body);

// Where requests go: the daemon's API (when a token is given: --token or VIGIL_TOKEN; the
// address from --url or VIGIL_URL, else http://127.0.0.1:8080), or the same request handler
// (api::AnalystApi) run here on the data directory: reads open the store as a RocksDB secondary
// (they work while the daemon runs), changes open it for writing (only while the daemon is
// stopped). Both paths answer alike. The local caller is an all-tenant admin: whoever can read
// the data directory can read everything in it anyway.
class Endpoint {
 public:
  Endpoint(std::string data_dir, std::string url, std::string token);
  ~Endpoint();
  bool remote() const { return !token_.empty(); }
  Result<Reply> request(const std::string& method, const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& query, const std::string& body);

 private:
  std::string data_dir_, url_, token_;
  std::unique_ptr<storage::AlertStore> store_;
  std::unique_ptr<api::TokenStore> tokens_;
  std::unique_ptr<api::AnalystApi> api_;
};

// A JSON string literal of `s`.
std::string json_quote(std::string_view s);
// A missing member leaves the default value in place.
void absent_is_default(simdjson::error_code);
// The string member `k` of `e`, "" when absent or not a string.
std::string get_str(simdjson::dom::element e, std::string_view k);
// Prints an API answer: errors on stderr prefixed by `command` (exit 1; 2 when the API could
// not be reached), --json as is, else `table`.
int print_reply(const char* command, const Result<Reply>& reply, bool json, std::FILE* out, std::FILE* err,
                const std::function<void(simdjson::dom::element)>& table);

}  // namespace vigil::app
