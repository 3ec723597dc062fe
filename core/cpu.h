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

// What `vigil --version` reports: the -march value the build targets ("compiler default" when
// none), the VIGIL_CPU setting it came from, and the SIMD fast paths this CPU runs ("avx2",
// "sse2", "scalar"), chosen at run time whatever the build targets.
const char* build_march();
const char* build_cpu_setting();
const char* simd_path();

}  // namespace vigil
