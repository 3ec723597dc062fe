#pragma once
// Writing JSON string contents. One escaping for every writer of the project, so that what the
// alert output writes and what the compiler expects raw JSON to contain cannot drift apart.
#include <string>
#include <string_view>

namespace vigil {

enum class InvalidUtf8 {
  kKeep,     // copy the bytes as they are (matching raw records byte for byte)
  kReplace,  // write U+FFFD for each invalid byte (output that must be valid JSON)
};

// Appends the escaped contents of `s` (no surrounding quotes): `"` `\` and control characters
// escaped per character (\n \r \t \b \f, else \u00XX), so escape(a + b) == escape(a) +
// escape(b) — the property the prefilter relies on to find a literal inside raw JSON.
void append_json_escaped(std::string& out, std::string_view s, InvalidUtf8 invalid);

// Appends `s` as a JSON string literal (quotes included). Invalid UTF-8 becomes U+FFFD, so the
// output is valid JSON whatever the input held.
inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  append_json_escaped(out, s, InvalidUtf8::kReplace);
  out += '"';
}

}  // namespace vigil
