# Resolves VIGIL_CPU (the -march value vigil is built for) into VIGIL_MARCH.
#
# "auto" (the default) chooses x86-64-v3 (AVX2, BMI1/2, FMA, F16C, MOVBE, LZCNT: x86 servers
# since about 2015) when the build machine executes it, else the x86-64 baseline. It decides by
# compiling and running cmake/cpu_probe/x86_64_v3_probe.c, which executes an instruction of each
# of those extensions and checks the answers: hypervisors often hide CPU flags (an EPYC VM that
# lists avx2 and bmi2 but not abm runs LZCNT all the same), so flag names in /proc/cpuinfo are
# not the test. The code's own SIMD fast paths are chosen at run time whatever VIGIL_MARCH is
# (core/cpu.h); VIGIL_MARCH only decides what the compiler may emit everywhere.
#
# VIGIL_CPU_PROBE_SOURCE may name another probe program (tests/cmake/cpu_auto uses one that
# fails, to check the fallback to the baseline).
set(VIGIL_CPU "auto" CACHE STRING "-march value: auto, x86-64, x86-64-v2, x86-64-v3, native")
set(VIGIL_CPU_PROBE_SOURCE "${CMAKE_CURRENT_LIST_DIR}/cpu_probe/x86_64_v3_probe.c" CACHE FILEPATH
    "Program whose successful run lets VIGIL_CPU=auto choose x86-64-v3")
mark_as_advanced(VIGIL_CPU_PROBE_SOURCE)

set(VIGIL_MARCH "")
set(VIGIL_CPU_REASON "")
if(VIGIL_CPU STREQUAL "auto")
  if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64)$")
    set(VIGIL_CPU_REASON "not x86-64: the compiler's default target")
  elseif(CMAKE_CROSSCOMPILING)
    set(VIGIL_CPU_REASON "cross-compiling: the x86-64 baseline (set VIGIL_CPU to choose)")
  else()
    try_run(vigil_probe_run vigil_probe_compiled
            "${CMAKE_BINARY_DIR}/vigil_cpu_probe" "${VIGIL_CPU_PROBE_SOURCE}"
            COMPILE_DEFINITIONS -march=x86-64-v3
            COMPILE_OUTPUT_VARIABLE vigil_probe_compile_output
            RUN_OUTPUT_VARIABLE vigil_probe_run_output)
    if(NOT vigil_probe_compiled)
      set(VIGIL_CPU_REASON "the compiler cannot build for x86-64-v3: the x86-64 baseline")
    elseif(NOT vigil_probe_run STREQUAL "0")
      set(VIGIL_CPU_REASON "this CPU does not execute x86-64-v3 (probe: ${vigil_probe_run}): the x86-64 baseline")
    else()
      set(VIGIL_MARCH x86-64-v3)
      set(VIGIL_CPU_REASON "this CPU executes x86-64-v3")
    endif()
  endif()
else()
  set(VIGIL_MARCH ${VIGIL_CPU})
  set(VIGIL_CPU_REASON "chosen with VIGIL_CPU")
endif()
message(STATUS "vigil: -march=${VIGIL_MARCH} (VIGIL_CPU=${VIGIL_CPU}: ${VIGIL_CPU_REASON})")
