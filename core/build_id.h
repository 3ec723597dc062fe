#pragma once
// The GNU build id of the running program (the linker's hash of its code and data, in an ELF
// note): names this exact build, for caches whose contents depend on vigil's own code.
#include <string>

namespace vigil {

// Lowercase hex; empty when the program carries no build id (linked without --build-id).
const std::string& program_build_id();

}  // namespace vigil
