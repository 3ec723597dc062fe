# Every target of the project gets the same language level and warnings.
function(vigil_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
  # GCC 12 reports std::string concatenation as an overlapping memcpy at -O3 (GCC bug 105651,
  # fixed in GCC 13): a false positive in the standard library, not in our code.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
endfunction()

# vigil_library(NAME SOURCES... DEPS ...): one library per top-level folder.
function(vigil_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(vigil_${name} STATIC ${ARG_SOURCES})
  add_library(vigil::${name} ALIAS vigil_${name})
  target_include_directories(vigil_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(vigil_${name} PUBLIC ${ARG_DEPS})
  vigil_target_defaults(vigil_${name})
endfunction()

# vigil_test(NAME SOURCES... DEPS ... LABELS ...): a GoogleTest program registered with ctest.
function(vigil_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  vigil_target_defaults(${name})
  target_compile_definitions(${name} PRIVATE
    VIGIL_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    VIGIL_BINARY_DIR="${PROJECT_BINARY_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()

# vigil_benchmark(NAME SOURCES... DEPS ...): a Google Benchmark program (not run by ctest).
function(vigil_benchmark name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark)
  vigil_target_defaults(${name})
endfunction()

# vigil_fuzz_target(NAME SOURCES... DEPS ...): a libFuzzer program (VIGIL_FUZZ builds only).
# The libraries are compiled with -fsanitize=fuzzer-no-link (top-level CMakeLists.txt); only
# these programs link libFuzzer, which supplies main().
function(vigil_fuzz_target name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  vigil_target_defaults(${name})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
endfunction()
