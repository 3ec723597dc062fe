#include "core/cpu.h"

namespace vigil {

const char* missing_cpu_feature() {
#if defined(__x86_64__) && defined(VIGIL_MARCH_X86_64_V3)
  // x86-64-v3's extensions that GCC emits for general code.
  if (!__builtin_cpu_supports("avx")) return "AVX";
  if (!__builtin_cpu_supports("avx2")) return "AVX2";
  if (!__builtin_cpu_supports("bmi")) return "BMI1";
  if (!__builtin_cpu_supports("bmi2")) return "BMI2";
  if (!__builtin_cpu_supports("fma")) return "FMA";
  if (!__builtin_cpu_supports("movbe")) return "MOVBE";
#endif
  return nullptr;
}

}  // namespace vigil
