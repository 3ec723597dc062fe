#include "net/hmac.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/hex.h"

namespace vigil::net {

std::string hmac_sha256_hex(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return to_hex(std::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view nonce,
                              std::string_view body) {
  std::string message;
  message.reserve(timestamp.size() + nonce.size() + body.size() + 2);
  message.append(timestamp).append(1, '.').append(nonce).append(1, '.').append(body);
  return hmac_sha256_hex(secret, message);
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace vigil::net
