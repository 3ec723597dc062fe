#pragma once
// Files compiled into the binary (the bundled rule packs), so `vigil` runs with no install step.
namespace vigil::app {

struct EmbeddedFile {
  const char* path;     // relative to rules/packs/, e.g. "linux/auth_root_login_failure.yml"
  const char* content;  // NUL-terminated
};

// Terminated by {nullptr, nullptr}.
extern const EmbeddedFile kBundledRulePacks[];

}  // namespace vigil::app
