#!/usr/bin/env bash
# Runs one libFuzzer target of test/fuzz for longer than the CTest run.
#
#   scripts/fuzz.sh TARGET [SECONDS | -runs=N] [libFuzzer flags...]
#   TARGET: config npy idx record hbm mlir      (default: 60 seconds)
#   scripts/fuzz.sh build                       (only build every target)
#
# Builds the clang fuzz tree first (build-fuzz/, or HAT_FUZZ_BUILD_DIR) unless
# HAT_FUZZ_NO_BUILD=1, in which case a missing binary is an error. Inputs found
# on the way are kept in BUILD/fuzz-corpus/TARGET (the checked-in seeds in
# test/fuzz/TARGET are only read); crashes, leaks and timeouts are written to
# BUILD/fuzz-artifacts/TARGET/ and the script exits non-zero.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${HAT_FUZZ_BUILD_DIR:-$root/build-fuzz}"

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }

# The fuzz tree: clang-19 (libFuzzer), ASan+UBSan, asserts on, no LibTorch,
# and only the fuzz targets and the libraries they link are built.
build_tree() {
  HAT_BUILD_DIR="$build" HAT_BUILD_TYPE=Debug HAT_BUILD_TARGET="$1" \
  HAT_CMAKE_ARGS="-DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
-DHAT_FUZZ=ON -DHAT_ENABLE_TORCH=OFF -DHAT_BUILD_TESTS=OFF" \
    "$root/scripts/setup.sh"
}

[ $# -ge 1 ] || usage
target="$1"; shift
if [ "$target" = build ]; then
  build_tree hat-fuzzers
  exit 0
fi
seeds=("$root/test/fuzz/$target")
max_len=4096
dict=""
case "$target" in
  config) seeds+=("$root/test/Inputs/configs" "$root/configs/classification")
          max_len=32768
          dict="$root/test/fuzz/config.dict" ;;
  npy)    max_len=1024; dict="$root/test/fuzz/npy.dict" ;;
  idx)    max_len=1024 ;;
  record) max_len=4096 ;;
  hbm)    max_len=16384 ;;
  mlir)   max_len=8192; dict="$root/test/fuzz/mlir.dict" ;;
  -h|--help) usage ;;
  *) echo "fuzz.sh: unknown target '$target' (config npy idx record hbm mlir)" >&2
     exit 2 ;;
esac

limit=(-max_total_time=60)
if [ $# -ge 1 ]; then
  case "$1" in
    -runs=*) limit=("$1"); shift ;;
    ''|*[!0-9]*) ;;
    *) limit=(-max_total_time="$1"); shift ;;
  esac
fi

binary="$build/bin/hat-fuzz-$target"
if [ "${HAT_FUZZ_NO_BUILD:-0}" != 1 ]; then
  build_tree "hat-fuzz-$target"
fi
if [ ! -x "$binary" ]; then
  echo "fuzz.sh: $binary is missing: build the fuzz tree (scripts/fuzz.sh build)" >&2
  exit 1
fi
for dir in "${seeds[@]}"; do
  [ -d "$dir" ] || { echo "fuzz.sh: seed corpus $dir is missing" >&2; exit 1; }
done

work="$build/fuzz-corpus/$target"
artifacts="$build/fuzz-artifacts/$target"
mkdir -p "$work" "$artifacts"
flags=(-timeout=10 -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1
       -artifact_prefix="$artifacts/")
[ -n "$dict" ] && flags+=(-dict="$dict")
# detect_leaks is on by default; the suppressions only cover leaks inside
# uninstrumented system libraries (see test/sanitizers/lsan.supp).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# OpenCV's default cap (2^30 pixels, 3 GB for BGR) is above the fuzzer's
# 2 GB memory limit: a PNG header claiming 30000x30000 would be reported as
# an out-of-memory. Records that large are refused by OpenCV in the same way
# as bigger ones, only at a lower bound here.
export OPENCV_IO_MAX_IMAGE_PIXELS="${OPENCV_IO_MAX_IMAGE_PIXELS:-67108864}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/test/sanitizers/lsan.supp:print_suppressions=0}"
echo "fuzz.sh: $binary ${limit[*]} (corpus $work, seeds ${seeds[*]})"
exec "$binary" "${flags[@]}" "${limit[@]}" "$@" "$work" "${seeds[@]}"
