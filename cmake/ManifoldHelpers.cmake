# manifold_add_test(NAME <name> SOURCES <src...> LIBS <lib...> LABELS <unit|model|e2e|gpu...>)
# One GoogleTest binary, its cases registered with CTest (discovered at test time) and labelled.
function(manifold_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${T_NAME} PRIVATE MANIFOLD_SOURCE_DIR="${MANIFOLD_SOURCE_DIR}"
                                               MANIFOLD_BINARY_DIR="${CMAKE_BINARY_DIR}")
  # Each case's limit: CPU cases take seconds (under 3 s here, ASan included a few times that),
  # so a hang fails in two minutes instead of CTest's ten; GPU cases may load large models.
  if(NOT T_TIMEOUT)
    if("gpu" IN_LIST T_LABELS)
      set(T_TIMEOUT 600)
    else()
      set(T_TIMEOUT 120)
    endif()
  endif()
  # Listing the cases loads the binary's shared libraries: a cold page cache and cuBLASLt's
  # half a gigabyte took 6.5 s on a CI machine, past CTest's default 5 s discovery timeout.
  gtest_discover_tests(${T_NAME}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 120
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()

# manifold_add_benchmark(NAME <name> SOURCES <src...> LIBS <lib...>)
# A Google Benchmark binary; built with the tests, run by hand or by docs/benchmarks.md commands.
function(manifold_add_benchmark)
  cmake_parse_arguments(B "" "NAME" "SOURCES;LIBS" ${ARGN})
  if(NOT MANIFOLD_BUILD_BENCHMARKS)
    return()
  endif()
  add_executable(${B_NAME} ${B_SOURCES})
  target_link_libraries(${B_NAME} PRIVATE ${B_LIBS} benchmark::benchmark)
  target_compile_definitions(${B_NAME} PRIVATE MANIFOLD_SOURCE_DIR="${MANIFOLD_SOURCE_DIR}")
  set_target_properties(${B_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endfunction()
