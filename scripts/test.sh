#!/usr/bin/env bash
# Installs, builds and runs every test through ctest.
#
#   scripts/test.sh [--sanitize[=no-torch]] [--no-fuzz] [ctest arguments...]
#
# 1. build/ (scripts/setup.sh): the lit + GoogleTest suite.
# 2. --sanitize: build-asan/, every target compiled with ASan+UBSan (g++,
#    -O1, asserts on), and the whole suite again; LeakSanitizer is on, with
#    the suppressions of test/sanitizers/lsan.supp. --sanitize=no-torch
#    builds build-asan-notorch/ without LibTorch instead: every library and
#    tool test except the executor, engine and hat-train (training) ones.
# 3. build-fuzz/ (clang-19, scripts/fuzz.sh build): each libFuzzer target of
#    test/fuzz for a fixed number of runs on its seed corpus (ctest -L fuzz).
#    A missing fuzz build is an error; --no-fuzz leaves this step out.
#
# ctest arguments (e.g. -R hat-run) apply to steps 1 and 2.
# Environment: HAT_BUILD_DIR, HAT_JOBS, HAT_SKIP_APT (see setup.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${HAT_JOBS:-$(nproc)}"
sanitize=""
fuzz=1
ctest_args=()
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=full ;;
    --sanitize=no-torch) sanitize=no-torch ;;
    --sanitize=*) echo "test.sh: unknown $arg (--sanitize or --sanitize=no-torch)" >&2
                  exit 2 ;;
    --no-fuzz) fuzz=0 ;;
    *) ctest_args+=("$arg") ;;
  esac
done

elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

start=$(date +%s)
"$root/scripts/setup.sh"
(cd "${HAT_BUILD_DIR:-$root/build}" &&
   ctest -j "$jobs" --output-on-failure ${ctest_args[@]+"${ctest_args[@]}"})
echo "test.sh: main suite passed ($(elapsed "$start"))"

if [ -n "$sanitize" ]; then
  start=$(date +%s)
  if [ "$sanitize" = full ]; then
    asan_dir="$root/build-asan"; torch=ON
  else
    asan_dir="$root/build-asan-notorch"; torch=OFF
  fi
  HAT_SKIP_APT=1 HAT_BUILD_DIR="$asan_dir" HAT_BUILD_TYPE=Debug \
  HAT_CMAKE_ARGS="-DHAT_SANITIZE=address,undefined -DHAT_ENABLE_TORCH=$torch" \
    "$root/scripts/setup.sh"
  echo "test.sh: sanitized build done ($(elapsed "$start"))"
  # lit passes these through to the tools it runs (test/lit.cfg.py).
  # allow_user_poisoning=0: LLVM's BumpPtrAllocator, inlined into HAT's
  # instrumented MLIR code, poisons the unused part of the uniquer's slabs
  # and Debian's uninstrumented libMLIR allocates from them without
  # unpoisoning, a false use-after-poison (docs/reliability.md). Redzones,
  # use-after-free and bounds checks are unaffected.
  export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:allow_user_poisoning=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$root/test/sanitizers/lsan.supp:print_suppressions=0"
  (cd "$asan_dir" &&
     ctest -j "$jobs" --output-on-failure ${ctest_args[@]+"${ctest_args[@]}"})
  unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
  echo "test.sh: sanitized suite ($sanitize) passed ($(elapsed "$start"))"
fi

if [ "$fuzz" = 1 ]; then
  start=$(date +%s)
  fuzz_dir="${HAT_FUZZ_BUILD_DIR:-$root/build-fuzz}"
  HAT_SKIP_APT=1 HAT_FUZZ_BUILD_DIR="$fuzz_dir" "$root/scripts/fuzz.sh" build
  (cd "$fuzz_dir" &&
     ctest -j "$jobs" -L fuzz --no-tests=error --output-on-failure)
  echo "test.sh: fuzz runs passed ($(elapsed "$start"))"
fi
