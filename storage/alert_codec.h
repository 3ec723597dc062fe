#pragma once
// The stored form of an alert and its key.
//
// Key: 16 bytes, big-endian created_unix_ns then big-endian sequence, so byte order is commit
// order. The Alert id is the key as 32 lowercase hex digits.
//
// Value: a version byte, then every Alert field except id and created_unix_ns (both are in the
// key) in a fixed order: integers as LEB128 varints (signed ones zigzag-encoded), strings and
// lists as a varint length followed by their contents, enums as one byte. A new field means a
// new version byte; decode_alert() rejects versions it does not know rather than guess.
// Version 2 appends the ATT&CK tactics and techniques (two string lists) to version 1's
// fields; a version 1 value still decodes, with both empty.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/alert.h"
#include "core/status.h"

namespace vigil::storage {

inline constexpr std::size_t kAlertKeySize = 16;
inline constexpr std::uint8_t kAlertValueVersion = 2;
inline constexpr std::uint8_t kAlertValueVersionWithoutAttack = 1;

std::string make_alert_key(std::int64_t created_unix_ns, std::uint64_t sequence);
std::int64_t alert_key_created_unix_ns(std::string_view key);  // key must be kAlertKeySize bytes
std::string alert_id_from_key(std::string_view key);
// The 16-byte key of a 32-hex-digit id (either case); InvalidArgument otherwise.
Result<std::string> alert_key_from_id(std::string_view id);

std::string encode_alert(const Alert& alert);
// Fills every field of *out from a stored key and value; ParseError on a value that is
// truncated, has trailing bytes, an unknown version or an out-of-range enum.
Status decode_alert(std::string_view key, std::string_view value, Alert* out);

void put_big_endian64(std::string* out, std::uint64_t v);
std::uint64_t get_big_endian64(std::string_view bytes);  // first 8 bytes

}  // namespace vigil::storage
