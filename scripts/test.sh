#!/usr/bin/env bash
# Installs, builds and runs every test (lit + GoogleTest) through ctest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
build_dir="${HAT_BUILD_DIR:-$root/build}"
cd "$build_dir"
ctest -j "${HAT_JOBS:-$(nproc)}" --output-on-failure "$@"
