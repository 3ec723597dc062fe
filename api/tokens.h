#pragma once
// API tokens: bearer tokens with a role, a tenant scope and an optional expiry, stored hashed
// (SHA-256) through the alert store's token records. Only the hash is kept: a token is shown
// once, when it is created. Tokens are revoked by name; a revoked or expired token stops
// working at its next request.
//
// Threading: every method may be called from any thread (an internal mutex guards the cache).
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "storage/alert_store.h"

namespace vigil::api {

enum class Role : std::uint8_t { kViewer = 0, kAnalyst = 1, kAdmin = 2 };
const char* to_string(Role role);
bool parse_role(std::string_view text, Role* out);

// Who is calling: a token's identity, or the local user of `vigil alerts` on the data directory.
struct Principal {
  std::string name;
  Role role = Role::kViewer;
  std::string tenant = "*";  // "*" = every tenant
  std::int64_t created_unix_ns = 0;
  std::int64_t expires_unix_ns = 0;    // 0 = never
  std::int64_t last_used_unix_ns = 0;  // 0 = never used; kept to the minute
  bool all_tenants() const { return tenant == "*"; }
};

enum class TokenCheck { kValid, kUnknown, kExpired };

class TokenStore {
 public:
  // Loads the token hashes of `store` into memory.
  static Result<std::unique_ptr<TokenStore>> open(storage::AlertStore& store);

  // Creates a token for `who` (name, role, tenant, expiry) and returns it ("vgl_" + 64 hex
  // digits); the record and an audit entry by `actor` are written together. InvalidArgument
  // for an empty or over-long name, a duplicate name, an empty tenant or an expiry in the past.
  Result<std::string> create(const Principal& who, std::string_view actor);
  // Revokes the token named `name`, audited as by `actor`. `tenant_scope` "*" reaches every
  // token; otherwise only that tenant's tokens (another tenant's token is NotFound).
  Status revoke(std::string_view name, std::string_view tenant_scope, std::string_view actor);
  // Checks a presented token at `now_unix_ns`; on kValid fills *who. Notes the use (stored at
  // most once a minute per token, without fsync: losing it in a crash is harmless).
  TokenCheck authenticate(std::string_view token, std::int64_t now_unix_ns, Principal* who);
  std::vector<Principal> list() const;
  bool empty() const;

 private:
  explicit TokenStore(storage::AlertStore& store) : store_(store) {}
  storage::AlertStore& store_;
  mutable std::mutex mu_;
  std::map<std::string, Principal> by_hash_;  // hex SHA-256 -> principal
};

// Wall-clock now in ns since the epoch.
std::int64_t now_unix_ns();

}  // namespace vigil::api
