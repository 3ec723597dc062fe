#pragma once
// HMAC-SHA256 signatures of webhook bodies (forwarding signs, the national receiver checks).
#include <string>
#include <string_view>

namespace vigil::net {

// Lowercase hex HMAC-SHA256 of `body` with `secret` (OpenSSL).
std::string hmac_sha256_hex(std::string_view secret, std::string_view body);
// Compares in time independent of where the strings differ (for signatures and tokens).
bool equal_constant_time(std::string_view a, std::string_view b);

}  // namespace vigil::net
