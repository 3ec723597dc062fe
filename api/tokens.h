#pragma once
// API tokens: bearer tokens with a role and a tenant scope, stored hashed (SHA-256) in the
// store's meta column family under "token/" + hex digest. Only the hash is kept: a token is
// shown once, when it is created.
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
  bool all_tenants() const { return tenant == "*"; }
};

class TokenStore {
 public:
  // Loads the token hashes of `store` into memory.
  static Result<std::unique_ptr<TokenStore>> open(storage::AlertStore& store);

  // Creates a token for `who` and returns it ("vgl_" + 64 hex digits); audited by the caller.
  // InvalidArgument for an empty or over-long name, a duplicate name or an empty tenant.
  Result<std::string> create(const Principal& who);
  // The principal of a presented token, or nullopt (unknown token).
  std::optional<Principal> authenticate(std::string_view token) const;
  std::vector<Principal> list() const;
  bool empty() const;

 private:
  explicit TokenStore(storage::AlertStore& store) : store_(store) {}
  storage::AlertStore& store_;
  mutable std::mutex mu_;
  std::map<std::string, Principal> by_hash_;  // hex SHA-256 -> principal
};

// Hex SHA-256 of `text`.
std::string sha256_hex(std::string_view text);

}  // namespace vigil::api
