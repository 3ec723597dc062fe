#include "api/tokens.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>

#include "storage/alert_codec.h"

namespace vigil::api {

namespace {

constexpr std::string_view kTokenPrefix = "token/";

std::string hex(const unsigned char* data, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 15]);
  }
  return out;
}

// Value: role byte, 8-byte created time, then name NUL tenant.
std::string encode(const Principal& p) {
  std::string v(1, static_cast<char>(p.role));
  storage::put_big_endian64(&v, static_cast<std::uint64_t>(p.created_unix_ns));
  v += p.name;
  v.push_back('\0');
  v += p.tenant;
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
  p->tenant = std::string(rest.substr(nul + 1));
  return true;
}

}  // namespace

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

std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  return hex(digest, len);
}

Result<std::unique_ptr<TokenStore>> TokenStore::open(storage::AlertStore& store) {
  std::unique_ptr<TokenStore> tokens(new TokenStore(store));
  std::string lower(kTokenPrefix), upper(kTokenPrefix);
  upper.back() = static_cast<char>(upper.back() + 1);
  rocksdb::Slice lo(lower), hi(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lo;
  ro.iterate_upper_bound = &hi;
  std::unique_ptr<rocksdb::Iterator> it(
      store.rocksdb_db()->NewIterator(ro, store.column_family(storage::ColumnFamily::kMeta)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Principal p;
    if (!decode(std::string_view(it->value().data(), it->value().size()), &p)) continue;
    tokens->by_hash_[it->key().ToString().substr(kTokenPrefix.size())] = std::move(p);
  }
  if (!it->status().ok()) return Error(Status::IoError("api: reading tokens: " + it->status().ToString()));
  return tokens;
}

Result<std::string> TokenStore::create(const Principal& who) {
  if (who.name.empty() || who.name.size() > 100)
    return Error(Status::InvalidArgument("token name must be 1 to 100 characters"));
  if (who.name.find('\0') != std::string::npos) return Error(Status::InvalidArgument("token name contains NUL"));
  if (who.tenant.empty() || who.tenant.find('\0') != std::string::npos)
    return Error(Status::InvalidArgument("tenant must be a tenant name or \"*\" (all tenants)"));
  if (store_.read_only()) return Error(Status::InvalidArgument("api: tokens cannot be created on a read-only store"));
  unsigned char random[32];
  if (RAND_bytes(random, sizeof random) != 1) return Error(Status::Internal("api: no random bytes for a token"));
  std::string token = "vgl_" + hex(random, sizeof random);
  std::string hash = sha256_hex(token);
  Principal p = who;
  p.created_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  std::lock_guard lock(mu_);
  for (const auto& [h, existing] : by_hash_)
    if (existing.name == who.name) return Error(Status::InvalidArgument("a token named '" + who.name + "' exists"));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = store_.rocksdb_db()->Put(wo, store_.column_family(storage::ColumnFamily::kMeta),
                                               std::string(kTokenPrefix) + hash, encode(p));
  if (!s.ok()) return Error(Status::IoError("api: storing a token: " + s.ToString()));
  by_hash_[hash] = std::move(p);
  return token;
}

std::optional<Principal> TokenStore::authenticate(std::string_view token) const {
  if (token.size() > 200) return std::nullopt;
  std::string hash = sha256_hex(token);
  std::lock_guard lock(mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  return it->second;
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
