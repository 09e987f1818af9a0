# Project code is built strictly; third-party headers come in as SYSTEM so their warnings do not
# fail the build.
set(WAHA_WARNINGS -Wall -Wextra -Werror)
set(WAHA_SRC_ROOT ${PROJECT_SOURCE_DIR}/operator/src)

# waha_library(<name> SOURCES ... [DEPS ...]): one static library per folder of operator/src.
# DEPS is the only way one folder reaches another, so the link graph shows (and enforces) the
# dependency direction; tests/unit/layering checks the #includes agree with it.
function(waha_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${WAHA_SRC_ROOT})
  target_compile_options(${name} PRIVATE ${WAHA_WARNINGS})
  target_link_libraries(${name} PUBLIC ${A_DEPS})
endfunction()

# waha_test(<name> SOURCES ... DEPS ... [LABELS unit|integration|e2e] [TIMEOUT s]):
# a Catch2 executable registered with CTest.
function(waha_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_compile_options(${name} PRIVATE ${WAHA_WARNINGS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests ${WAHA_SRC_ROOT})
  target_link_libraries(${name} PRIVATE waha_test_main ${A_DEPS})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "WAHA_SOURCE_DIR=${PROJECT_SOURCE_DIR};WAHA_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()

# waha_test_dir(<prefix> DEPS ... [LABELS ...] [TIMEOUT s]): every *_test.cpp of the current
# folder becomes its own test executable <prefix>_<stem> (so CTest can run them in parallel).
function(waha_test_dir prefix)
  cmake_parse_arguments(A "" "TIMEOUT" "DEPS;LABELS" ${ARGN})
  file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp)
  foreach(src ${tests})
    get_filename_component(stem ${src} NAME_WE)
    string(REGEX REPLACE "_test$" "" stem ${stem})
    waha_test(${prefix}_${stem} SOURCES ${src} DEPS ${A_DEPS} LABELS ${A_LABELS} TIMEOUT ${A_TIMEOUT})
  endforeach()
endfunction()
