#pragma once
// Digests: HMAC-SHA256 signatures of webhook bodies (forwarding signs, the national receiver
// checks) and SHA-256 of secrets that are stored or configured only as hashes (tokens).
#include <string>
#include <string_view>

namespace vigil::net {

// Lowercase hex HMAC-SHA256 of `body` with `secret` (OpenSSL).
std::string hmac_sha256_hex(std::string_view secret, std::string_view body);
// Lowercase hex SHA-256 of `text`.
std::string sha256_hex(std::string_view text);
// Compares in time independent of where the strings differ (for signatures and tokens).
bool equal_constant_time(std::string_view a, std::string_view b);

}  // namespace vigil::net
