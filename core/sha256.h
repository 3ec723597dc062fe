#pragma once
// SHA-256 (OpenSSL): token hashes, and the content keys and checksums of the compiled rule
// database cache. One implementation for every module.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace vigil {

// Incremental: update() any number of times, then digest() once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& update(std::string_view bytes);
  // A number as 8 little-endian bytes, so that field boundaries cannot be forged by contents.
  Sha256& update_u64(std::uint64_t value);
  std::array<unsigned char, 32> digest();
  std::string hex_digest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// Lowercase hex SHA-256 of `text`.
std::string sha256_hex(std::string_view text);

}  // namespace vigil
