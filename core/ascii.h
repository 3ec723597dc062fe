#pragma once
// ASCII case folding. Sigma's case-insensitive matching (and Hyperscan's HS_FLAG_CASELESS) fold
// ASCII letters only, so every comparison in vigil folds the same way.
#include <string>
#include <string_view>

namespace vigil {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

inline bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

}  // namespace vigil
