# Sanitized and fuzzing builds. Both live in build trees of their own
# (scripts/test.sh uses build-asan/ and build-fuzz/); the default build is
# untouched when neither option is set.
#
#   -DHAT_SANITIZE=address,undefined   every target compiled and linked with
#                                      these sanitizers (g++ or clang++)
#   -DHAT_FUZZ=ON                      clang++ only: every target gets
#                                      libFuzzer coverage plus ASan+UBSan, and
#                                      test/fuzz adds the fuzz targets
#
# LibTorch, MLIR, OpenCV and LMDB are Debian's uninstrumented shared
# libraries. ASan still checks every access HAT's own code makes (including
# into buffers those libraries allocated); what it cannot see is a bad access
# made inside them. UBSan's vptr check needs the dynamic type's RTTI, which
# the prebuilt libraries do export, so it stays on.
set(HAT_SANITIZE "" CACHE STRING
    "Comma-separated -fsanitize= list for the whole build (e.g. address,undefined)")
option(HAT_FUZZ "Build the libFuzzer targets of test/fuzz (needs clang++)" OFF)

set(HAT_SANITIZER_FLAGS "")
if(HAT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "HAT_FUZZ=ON needs clang++ (libFuzzer): configure a "
                        "separate tree with -DCMAKE_CXX_COMPILER=clang++-19 "
                        "-DCMAKE_C_COMPILER=clang-19 (scripts/test.sh does)")
  endif()
  if(HAT_SANITIZE STREQUAL "")
    set(HAT_SANITIZE "address,undefined")
  endif()
  # Coverage instrumentation everywhere; only fuzz targets link the libFuzzer
  # driver (test/fuzz adds -fsanitize=fuzzer to their link).
  list(APPEND HAT_SANITIZER_FLAGS -fsanitize=fuzzer-no-link)
  # The libFuzzer convention: code may relax checks that stop a fuzzer from
  # getting past the first bytes (none does today).
  add_compile_definitions(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
endif()

if(NOT HAT_SANITIZE STREQUAL "")
  list(APPEND HAT_SANITIZER_FLAGS -fsanitize=${HAT_SANITIZE}
       -fno-omit-frame-pointer -g)
  if(HAT_SANITIZE MATCHES "undefined")
    # A UBSan report is a test failure, not a line in the log.
    list(APPEND HAT_SANITIZER_FLAGS -fno-sanitize-recover=all)
  endif()
  # -O1 keeps the sanitized suite fast enough while leaving stack traces
  # readable; it comes after CMAKE_CXX_FLAGS_<CONFIG>, so it wins.
  add_compile_options(-O1 ${HAT_SANITIZER_FLAGS})
  add_link_options(${HAT_SANITIZER_FLAGS})
  message(STATUS "Sanitized build: ${HAT_SANITIZER_FLAGS}")
endif()
