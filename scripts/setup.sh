#!/usr/bin/env bash
# Installs every Debian package HAT needs (idempotent) and builds into build/.
# Tools land in build/bin. Environment: HAT_BUILD_DIR (default build),
# HAT_JOBS (default: number of cores), HAT_SKIP_APT=1 to skip the install,
# HAT_BUILD_TYPE (default Release), HAT_CMAKE_ARGS (extra cmake arguments),
# HAT_BUILD_TARGET (build only this target instead of all).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${HAT_BUILD_DIR:-$root/build}"
jobs="${HAT_JOBS:-$(nproc)}"

packages=(
  cmake ninja-build g++ lld python3 git
  llvm-19-dev llvm-19-tools libmlir-19-dev mlir-19-tools
  libtorch-dev python3-torch libopenblas0-openmp
  liblmdb-dev libopencv-dev
  libflatbuffers-dev flatbuffers-compiler flatbuffers-compiler-dev
  libgtest-dev nlohmann-json3-dev zlib1g-dev libgloo-dev
  clang-19 libclang-rt-19-dev ccache
  libprotobuf-dev protobuf-compiler python3-protobuf python3-crc32c
  dataset-fashion-mnist
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${HAT_SKIP_APT:-0}" != 1 ] && [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

mkdir -p "$build_dir"
# Compiler caching across build trees: paths are hashed relative to the
# build directory's parent, so worktrees share hits.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$root")}"
export CCACHE_NOHASHDIR=1
cmake -S "$root" -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="${HAT_BUILD_TYPE:-Release}" \
  -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir \
  ${HAT_CMAKE_ARGS:-} >"$build_dir/configure.log" 2>&1 || {
  cat "$build_dir/configure.log"; echo "setup: cmake configure failed" >&2; exit 1; }
cmake --build "$build_dir" -j "$jobs" ${HAT_BUILD_TARGET:+--target "$HAT_BUILD_TARGET"}
echo "setup: tools are in $build_dir/bin"
