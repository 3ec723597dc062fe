#include "api/tokens.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>

#include "core/hex.h"
#include "net/hmac.h"
#include "storage/alert_codec.h"
#include "core/sha256.h"

namespace vigil::api {

namespace {

// Value: role byte, 8-byte created time, name NUL tenant, then NUL, 8-byte expiry and 8-byte
// last-used time. Records written before expiry existed end after the tenant.
std::string encode(const Principal& p) {
  std::string v(1, static_cast<char>(p.role));
  storage::put_big_endian64(&v, static_cast<std::uint64_t>(p.created_unix_ns));
  v += p.name;
  v.push_back('\0');
  v += p.tenant;
  v.push_back('\0');
  storage::put_big_endian64(&v, static_cast<std::uint64_t>(p.expires_unix_ns));
  storage::put_big_endian64(&v, static_cast<std::uint64_t>(p.last_used_unix_ns));
  return v;
}

bool decode(std::string_view v, Principal* p) {
  if (v.size() < 10 || static_cast<unsigned char>(v[0]) > 2) return false;
  p->role = static_cast<Role>(v[0]);
  p->created_unix_ns = static_cast<std::int64_t>(storage::get_big_endian64(v.substr(1)));
  std::string_view rest = v.substr(9);
  auto nul = rest.find('\0');
  if (nul == std::string_view::npos) return false;
  p->name = std::string(rest.substr(0, nul));
  rest = rest.substr(nul + 1);
  nul = rest.find('\0');
  p->tenant = std::string(rest.substr(0, nul));
  if (nul != std::string_view::npos) {
    rest = rest.substr(nul + 1);
    if (rest.size() != 16) return false;
    p->expires_unix_ns = static_cast<std::int64_t>(storage::get_big_endian64(rest));
    p->last_used_unix_ns = static_cast<std::int64_t>(storage::get_big_endian64(rest.substr(8)));
  }
  return true;
}

// Last-used times are stored when they move by more than this: a token used every second
// must not cost a store write each time.
constexpr std::int64_t kLastUsedResolutionNs = 60'000'000'000;

}  // namespace

std::int64_t now_unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* to_string(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kAnalyst: return "analyst";
    case Role::kAdmin: return "admin";
  }
  return "viewer";
}

bool parse_role(std::string_view text, Role* out) {
  if (text == "viewer") *out = Role::kViewer;
  else if (text == "analyst") *out = Role::kAnalyst;
  else if (text == "admin") *out = Role::kAdmin;
  else return false;
  return true;
}

Result<std::unique_ptr<TokenStore>> TokenStore::open(storage::AlertStore& store) {
  std::unique_ptr<TokenStore> tokens(new TokenStore(store));
  auto records = store.token_records();
  if (!records) return Error(Status::IoError("api: reading tokens: " + records.error().message()));
  for (auto& [hash, value] : *records) {
    Principal p;
    if (!decode(value, &p)) continue;
    tokens->by_hash_[hash] = std::move(p);
  }
  return tokens;
}

Result<std::string> TokenStore::create(const Principal& who, std::string_view actor) {
  if (who.name.empty() || who.name.size() > 100)
    return Error(Status::InvalidArgument("token name must be 1 to 100 characters"));
  if (who.name.find('\0') != std::string::npos) return Error(Status::InvalidArgument("token name contains NUL"));
  if (who.tenant.empty() || who.tenant.find('\0') != std::string::npos)
    return Error(Status::InvalidArgument("tenant must be a tenant name or \"*\" (all tenants)"));
  if (store_.read_only()) return Error(Status::InvalidArgument("api: tokens cannot be created on a read-only store"));
  Principal p = who;
  p.created_unix_ns = now_unix_ns();
  p.last_used_unix_ns = 0;
  if (p.expires_unix_ns != 0 && p.expires_unix_ns <= p.created_unix_ns)
    return Error(Status::InvalidArgument("the token's expiry is in the past"));
  unsigned char random[32];
  if (RAND_bytes(random, sizeof random) != 1) return Error(Status::Internal("api: no random bytes for a token"));
  std::string token = "vgl_" + to_hex(std::string_view(reinterpret_cast<const char*>(random), sizeof random));
  std::string hash = sha256_hex(token);
  std::lock_guard lock(mu_);
  for (const auto& [h, existing] : by_hash_)
    if (existing.name == who.name) return Error(Status::InvalidArgument("a token named '" + who.name + "' exists"));
  const std::string detail = std::string(to_string(p.role)) + " tenant " + p.tenant +
                             (p.expires_unix_ns ? " expires " + std::to_string(p.expires_unix_ns / 1'000'000'000) : "");
  storage::AlertStore::TokenAudit audit{actor, "token.create", p.name, detail};
  if (Status st = store_.put_token_record(hash, encode(p), &audit); !st.ok())
    return Error(Status::IoError("api: storing a token: " + st.message()));
  by_hash_[hash] = std::move(p);
  return token;
}

Status TokenStore::revoke(std::string_view name, std::string_view tenant_scope, std::string_view actor) {
  std::lock_guard lock(mu_);
  for (auto it = by_hash_.begin(); it != by_hash_.end(); ++it) {
    const Principal& p = it->second;
    if (p.name != name) continue;
    if (tenant_scope != "*" && p.tenant != tenant_scope) break;  // not this caller's to see
    // A named string: `audit` holds views, and a temporary would be gone before the store reads it.
    const std::string detail = std::string(to_string(p.role)) + " tenant " + p.tenant;
    storage::AlertStore::TokenAudit audit{actor, "token.revoke", p.name, detail};
    if (Status st = store_.delete_token_record(it->first, &audit); !st.ok()) return st;
    by_hash_.erase(it);
    return Status::Ok();
  }
  return Status::NotFound("no token named '" + std::string(name) + "'");
}

TokenCheck TokenStore::authenticate(std::string_view token, std::int64_t now_ns, Principal* who) {
  if (token.size() > 200) return TokenCheck::kUnknown;
  std::string hash = sha256_hex(token);
  std::lock_guard lock(mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return TokenCheck::kUnknown;
  Principal& p = it->second;
  if (p.expires_unix_ns != 0 && now_ns >= p.expires_unix_ns) return TokenCheck::kExpired;
  if (now_ns - p.last_used_unix_ns >= kLastUsedResolutionNs) {
    p.last_used_unix_ns = now_ns;
    // Under the lock, so that a revoke cannot slip between and be undone by this put. Without
    // fsync: a memtable write, microseconds, once a minute per token.
    if (!store_.read_only()) (void)store_.put_token_record(hash, encode(p), nullptr, /*durable=*/false);
  }
  *who = p;
  return TokenCheck::kValid;
}

std::vector<Principal> TokenStore::list() const {
  std::lock_guard lock(mu_);
  std::vector<Principal> out;
  for (const auto& [h, p] : by_hash_) out.push_back(p);
  std::sort(out.begin(), out.end(), [](const Principal& a, const Principal& b) { return a.created_unix_ns < b.created_unix_ns; });
  return out;
}

bool TokenStore::empty() const {
  std::lock_guard lock(mu_);
  return by_hash_.empty();
}

}  // namespace vigil::api
