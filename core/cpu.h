#pragma once
// What the CPU can run, for code that has a faster path compiled with
// __attribute__((target(...))) and picks it at run time.

namespace vigil {

// AVX2 (x86-64 only; false elsewhere). Asked once.
inline bool cpu_has_avx2() {
#if defined(__x86_64__)
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
#else
  return false;
#endif
}

// The first instruction-set extension this build was compiled to use (CMake's VIGIL_CPU) that
// the CPU lacks, such as "AVX2"; nullptr when it has them all. Compiled for the x86-64
// baseline whatever VIGIL_CPU is, so that `vigil` can say so instead of dying of SIGILL.
const char* missing_cpu_feature();

}  // namespace vigil
