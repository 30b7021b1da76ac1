# tests.cmake - every test is registered here by globbing, so adding a test
# file is enough:
#   tests/unit/<stage>/test_<file>.c   Criterion, one executable each   (label unit)
#   tests/e2e/NNNN-<stage>-<what>.sh   drives the real binary           (label e2e)
#   tests/fixtures/model_server/*.c    the fixture model server binary
#   tests/fixtures/tools/<name>.c      one helper binary each (traffic generators ...)
#   tests/fuzz/fuzz_<x>.c              libFuzzer targets (SC_FUZZ=ON, clang)
pkg_check_modules(CRITERION REQUIRED IMPORTED_TARGET criterion)

# Fixture binaries (C; used by tests, benchmarks and the demo).
file(GLOB SC_MODEL_SERVER_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fixtures/model_server/*.c)
if(SC_MODEL_SERVER_SRCS)
  add_executable(model_server ${SC_MODEL_SERVER_SRCS})
  target_link_libraries(model_server PRIVATE sc_util PkgConfig::UV PkgConfig::JANSSON http_parser_dep m)
endif()
# The fixture model (transactions, features, scoring profiles), shared by
# model_server and the tools (txgen).
set(SC_FIXTURE_MODEL ${CMAKE_SOURCE_DIR}/tests/fixtures/model_server/model.c)
if(EXISTS ${SC_FIXTURE_MODEL})
  add_library(fixture_model STATIC ${SC_FIXTURE_MODEL})
  target_include_directories(fixture_model PUBLIC ${CMAKE_SOURCE_DIR}/tests/fixtures/model_server)
  target_link_libraries(fixture_model PUBLIC m)
endif()
file(GLOB SC_TOOL_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fixtures/tools/*.c)
foreach(src ${SC_TOOL_SRCS})
  get_filename_component(n ${src} NAME_WE)
  add_executable(${n} ${src})
  target_link_libraries(${n} PRIVATE ${SC_ALL_LIBS} PkgConfig::PCAP)
  if(TARGET fixture_model)
    target_link_libraries(${n} PRIVATE fixture_model PkgConfig::UV PkgConfig::JANSSON http_parser_dep)
  endif()
endforeach()

file(GLOB_RECURSE SC_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/*/test_*.c)
foreach(src ${SC_UNIT_TESTS})
  get_filename_component(n ${src} NAME_WE)
  get_filename_component(d ${src} DIRECTORY)
  get_filename_component(stage ${d} NAME)
  set(t unit_${stage}_${n})
  add_executable(${t} ${src})
  target_include_directories(${t} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(${t} PRIVATE ${SC_ALL_LIBS} PkgConfig::CRITERION PkgConfig::PCAP)
  target_compile_definitions(${t} PRIVATE SC_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_test(NAME ${t} COMMAND ${t} --jobs 1)
  set_tests_properties(${t} PROPERTIES LABELS unit TIMEOUT 300
    ENVIRONMENT "SC_SOURCE_DIR=${CMAKE_SOURCE_DIR};SC_BUILD_DIR=${CMAKE_BINARY_DIR}")
endforeach()

file(GLOB SC_E2E_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/e2e/*.sh)
foreach(src ${SC_E2E_TESTS})
  get_filename_component(n ${src} NAME_WE)
  add_test(NAME e2e_${n} COMMAND bash ${src})
  set_tests_properties(e2e_${n} PROPERTIES LABELS e2e TIMEOUT 900 SKIP_RETURN_CODE 77
    ENVIRONMENT "SHADOWCTL=$<TARGET_FILE:shadowctl>;SC_SOURCE_DIR=${CMAKE_SOURCE_DIR};SC_BUILD_DIR=${CMAKE_BINARY_DIR};SC_SHARED_DIR=${CMAKE_SOURCE_DIR}/../shared;SC_SANITIZE=$<BOOL:${SC_SANITIZE}>")
endforeach()

# Fuzz targets in every build: run over their seeds and kept findings without
# libFuzzer (tests/fuzz/replay_main.c), so regressions fail ctest, also under
# ASan+UBSan.
file(GLOB SC_FUZZ_REPLAY_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(src ${SC_FUZZ_REPLAY_SRCS})
  get_filename_component(n ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" t ${n})
  add_executable(fuzzreplay_${t} ${src} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
  target_link_libraries(fuzzreplay_${t} PRIVATE ${SC_ALL_LIBS})
  add_test(NAME fuzz_regress_${t} COMMAND fuzzreplay_${t} ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${t}
    --prefix ${n}- ${CMAKE_SOURCE_DIR}/tests/fixtures/regress)
  set_tests_properties(fuzz_regress_${t} PROPERTIES LABELS unit TIMEOUT 300)
endforeach()

if(SC_FUZZ)
  file(GLOB SC_FUZZ_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
  foreach(src ${SC_FUZZ_SRCS})
    get_filename_component(n ${src} NAME_WE)
    add_executable(${n} ${src})
    target_link_libraries(${n} PRIVATE ${SC_ALL_LIBS} -fsanitize=fuzzer)
  endforeach()
endif()
