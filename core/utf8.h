#pragma once
// UTF-8 encoding of one code point: JSON \u escapes, EVTX UTF-16 text, XML character
// references and the web views' decoded escapes all write through it.
#include <cstddef>
#include <cstdint>
#include <string>

namespace vigil {

// Writes `cp` (at most U+10FFFF; callers replace surrogates as their format requires) at `out`
// (4 bytes of room); returns the bytes written.
inline std::size_t encode_utf8(std::uint32_t cp, char* out) {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

inline void append_utf8(std::string& out, std::uint32_t cp) {
  char buf[4];
  out.append(buf, encode_utf8(cp, buf));
}

}  // namespace vigil
