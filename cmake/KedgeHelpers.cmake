# Project-wide warnings and helpers so each library's CMakeLists.txt stays a few lines.
add_library(kedge_warnings INTERFACE)
target_compile_options(kedge_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
  -Wno-unused-parameter
  $<$<BOOL:${KEDGE_WERROR}>:-Werror>)

# kedge_library(<name> SOURCES ... [DEPS ...])  -> target kedge_<name>, alias kedge::<name>.
# Headers are included as "<lib>/<file>.hpp" from src/.
function(kedge_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(kedge_${name} STATIC ${ARG_SOURCES})
  add_library(kedge::${name} ALIAS kedge_${name})
  target_include_directories(kedge_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(kedge_${name} PUBLIC ${ARG_DEPS} PRIVATE kedge_warnings)
endfunction()

# kedge_test(<name> LABEL unit|integration|e2e SOURCES ... [DEPS ...] [TIMEOUT s] [RUN_SERIAL])
# One gtest binary per library; every test case becomes its own ctest entry with the label.
# RUN_SERIAL: its cases run while no other test runs (they change something machine-wide).
function(kedge_test name)
  cmake_parse_arguments(ARG "RUN_SERIAL" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  set(serial)
  if(ARG_RUN_SERIAL)
    set(serial RUN_SERIAL TRUE)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} kedge_test_support GTest::gtest GTest::gmock
                        kedge_warnings)
  gtest_discover_tests(${name}
    PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT} ${serial}
    ENVIRONMENT "KEDGE_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    DISCOVERY_TIMEOUT 60)
endfunction()

# kedge_bench(<name> SOURCES ... [DEPS ...]) -> a Google Benchmark binary under bench/.
function(kedge_bench name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark kedge_warnings)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)  # shared fixtures
endfunction()

# Adds every subdirectory of the current directory that has a CMakeLists.txt, so adding a
# library's tests, a benchmark or a binary never edits the parent.
function(kedge_add_all_subdirectories)
  file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} *)
  list(SORT children)
  foreach(child IN LISTS children)
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${child} AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()
