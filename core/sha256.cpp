#include "core/sha256.h"

#include <openssl/evp.h>

#include "core/hex.h"

namespace vigil {

struct Sha256::Context {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : context_(std::make_unique<Context>()) { EVP_DigestInit_ex(context_->ctx, EVP_sha256(), nullptr); }

Sha256::~Sha256() = default;

Sha256& Sha256::update(std::string_view bytes) {
  EVP_DigestUpdate(context_->ctx, bytes.data(), bytes.size());
  return *this;
}

Sha256& Sha256::update_u64(std::uint64_t value) {
  unsigned char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(value >> (8 * i));
  EVP_DigestUpdate(context_->ctx, le, sizeof le);
  return *this;
}

std::array<unsigned char, 32> Sha256::digest() {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(context_->ctx, out.data(), &len);
  return out;
}

std::string Sha256::hex_digest() {
  const auto d = digest();
  return to_hex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

std::string sha256_hex(std::string_view text) { return Sha256().update(text).hex_digest(); }

}  // namespace vigil
