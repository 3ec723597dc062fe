#pragma once
// HMAC-SHA256 signatures of webhook bodies (forwarding signs, the national receiver checks);
// plain SHA-256 (token hashes) is core/sha256.h.
#include <string>
#include <string_view>

namespace vigil::net {

// Lowercase hex HMAC-SHA256 of `body` with `secret` (OpenSSL).
std::string hmac_sha256_hex(std::string_view secret, std::string_view body);
// The webhook signature (forwarding signs, the national receiver checks): hex HMAC-SHA256 of
// "<timestamp>.<nonce>.<body>", so that a captured request cannot be replayed once its
// timestamp leaves the receiver's window, nor within it (the receiver remembers nonces).
std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view nonce,
                              std::string_view body);

// Compares in time independent of where the strings differ (for signatures and tokens).
bool equal_constant_time(std::string_view a, std::string_view b);

}  // namespace vigil::net
