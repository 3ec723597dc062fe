# ctest cmake_cpu_auto: VIGIL_CPU=auto follows what the CPU executes (a probe program run at
# configure time), not flag names. Run as cmake -DWORK=DIR -P cpu_auto_test.cmake.
#  - a probe that fails to run (as on a CPU without x86-64-v3) gives the x86-64 baseline;
#  - a probe that runs gives x86-64-v3, whatever /proc/cpuinfo lists (the VM of issue 16 hides
#    "abm"; nothing here reads /proc/cpuinfo);
#  - the real probe configures without error and says which it chose.
set(project_dir ${CMAKE_CURRENT_LIST_DIR}/cpu_auto)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
file(WRITE ${WORK}/fails.c "int main(void) { return 1; }\n")
file(WRITE ${WORK}/runs.c "int main(void) { return 0; }\n")

function(configure_with name probe out_var)
  set(args -S ${project_dir} -B ${WORK}/${name})
  if(probe)
    list(APPEND args -DVIGIL_CPU_PROBE_SOURCE=${probe})
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "configure (${name}) failed: ${out}${err}")
  endif()
  string(REGEX MATCH "VIGIL_MARCH=\\[([^]]*)\\]" _ "${out}")
  set(${out_var} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  string(REGEX MATCH "vigil: -march=[^\n]*" line "${out}")
  message(STATUS "${name}: ${line}")
endfunction()

configure_with(fails ${WORK}/fails.c march)
if(NOT march STREQUAL "")
  message(FATAL_ERROR "a probe that fails must give the baseline, got '${march}'")
endif()
configure_with(runs ${WORK}/runs.c march)
if(NOT march STREQUAL "x86-64-v3")
  message(FATAL_ERROR "a probe that runs must give x86-64-v3, got '${march}'")
endif()
configure_with(real "" march)
if(NOT march STREQUAL "" AND NOT march STREQUAL "x86-64-v3")
  message(FATAL_ERROR "the real probe gave '${march}'")
endif()
