#include "core/json_text.h"

#include <cstdint>
#include <cstring>

namespace vigil {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid.
std::size_t utf8_len(std::string_view s, std::size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  std::size_t n;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) n = 2;
  else if ((c & 0xF0) == 0xE0) n = 3;
  else if ((c & 0xF8) == 0xF0) n = 4;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  if (n == 2 && c < 0xC2) return 0;  // overlong
  return n;
}

constexpr std::uint64_t kOneBytes = 0x0101010101010101ull;
constexpr std::uint64_t kHighBits = 0x8080808080808080ull;

// Whether any byte of w is < 0x20, '"' or '\\' (SWAR: the high bit of each such byte's lane).
inline bool needs_escape(std::uint64_t w) {
  auto zero_byte = [](std::uint64_t x) { return (x - kOneBytes) & ~x & kHighBits; };
  const std::uint64_t control = (w - kOneBytes * 0x20) & ~w & kHighBits;
  return (control | zero_byte(w ^ (kOneBytes * '"')) | zero_byte(w ^ (kOneBytes * '\\'))) != 0;
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view s, InvalidUtf8 invalid) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Bytes >= 0x80 are ordinary when kept; when replacing they must be checked as UTF-8.
  const std::uint64_t high_mask = invalid == InvalidUtf8::kReplace ? kHighBits : 0;
  out.reserve(out.size() + s.size() + 8);
  std::size_t run = 0;  // start of the ordinary bytes not yet copied
  std::size_t i = 0;
  while (i < s.size()) {
    // Most values are plain text: skip them 8 bytes at a time.
    while (i + 8 <= s.size()) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (needs_escape(w) || (w & high_mask) != 0) break;
      i += 8;
    }
    if (i >= s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80 && invalid == InvalidUtf8::kReplace) {
      if (std::size_t n = utf8_len(s, i); n != 0) {
        i += n;
        continue;
      }
      out.append(s.data() + run, i - run);
      out += "\\ufffd";
      run = ++i;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(s.data() + run, i - run);
    run = ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(u, 6);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
}

}  // namespace vigil
