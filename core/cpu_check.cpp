#include "core/cpu.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace vigil {

const char* missing_cpu_feature() {
#if defined(__x86_64__) && (defined(VIGIL_MARCH_X86_64_V3) || defined(VIGIL_MARCH_X86_64_V2))
  // x86-64-v2's extensions, then v3's, that GCC emits for general code. LZCNT is not asked
  // for: hypervisors hide its flag ("abm") on CPUs that run it (see cmake/vigil_cpu.cmake).
  if (!__builtin_cpu_supports("ssse3")) return "SSSE3";
  if (!__builtin_cpu_supports("sse4.1")) return "SSE4.1";
  if (!__builtin_cpu_supports("sse4.2")) return "SSE4.2";
  if (!__builtin_cpu_supports("popcnt")) return "POPCNT";
#endif
#if defined(__x86_64__) && defined(VIGIL_MARCH_X86_64_V3)
  if (!__builtin_cpu_supports("avx")) return "AVX";
  if (!__builtin_cpu_supports("avx2")) return "AVX2";
  if (!__builtin_cpu_supports("bmi")) return "BMI1";
  if (!__builtin_cpu_supports("bmi2")) return "BMI2";
  if (!__builtin_cpu_supports("fma")) return "FMA";
  // MOVBE from CPUID leaf 1 (ECX bit 22) directly: clang 14's __builtin_cpu_supports does not
  // know "movbe" (an error, not a false), GCC's does.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0 || (ecx & bit_MOVBE) == 0) return "MOVBE";
#endif
  return nullptr;
}

const char* build_march() {
#if defined(VIGIL_MARCH_NAME)
  if (VIGIL_MARCH_NAME[0] != '\0') return VIGIL_MARCH_NAME;
#endif
  return "compiler default";
}

const char* build_cpu_setting() {
#if defined(VIGIL_CPU_SETTING)
  return VIGIL_CPU_SETTING;
#else
  return "";
#endif
}

const char* simd_path() {
#if defined(__x86_64__)
  return cpu_has_avx2() ? "avx2" : "sse2";
#else
  return "scalar";
#endif
}

}  // namespace vigil
