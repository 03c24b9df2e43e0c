# Linker and warning set-up shared by every target.
include(CheckCXXSourceCompiles)
include(CheckLinkerFlag)

# lld links against libMLIR.so/libLLVM.so several times faster than GNU ld.
check_linker_flag(CXX "-fuse-ld=lld" HAT_HAVE_LLD)
if(HAT_HAVE_LLD)
  add_link_options("-fuse-ld=lld")
endif()

add_compile_options(-Wall -Wno-unused-parameter)

# ccache, when installed, makes rebuilds in fresh build trees and worktrees
# cheap (setup.sh installs it and sets base_dir so paths hash relatively).
find_program(HAT_CCACHE ccache)
if(HAT_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_C_COMPILER_LAUNCHER ${HAT_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${HAT_CCACHE})
endif()

# Every library area is a plain static library; MLIR-facing ones link the
# shared MLIR/LLVM libraries, LibTorch-facing ones link torch, never both
# except the executor and engine.
function(hat_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS;LINK" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  target_link_libraries(${name} PUBLIC ${ARG_LINK})
endfunction()

# Adds every immediate subdirectory of the current source dir that has a
# CMakeLists.txt, so a new area or tool needs no central list edited.
function(hat_add_subdirectories)
  file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}
       ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(child ${children})
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()

# A GoogleTest binary whose cases are each a CTest test.
function(hat_add_unittest name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK" ${ARGN})
  if(NOT HAT_BUILD_TESTS)
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                        ${CMAKE_BINARY_DIR}/unittests)
  target_link_libraries(${name} PRIVATE ${ARG_LINK} GTest::gtest GTest::gtest_main)
  # Listing the cases loads LibTorch and MLIR; on a loaded 2-core machine
  # that outlasts CMake's 5 s default and ctest fails before any case runs.
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
                       DISCOVERY_TIMEOUT 120
                       WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
                       PROPERTIES ENVIRONMENT "HAT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
