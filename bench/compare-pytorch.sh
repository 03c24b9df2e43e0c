#!/usr/bin/env bash
# Training images/s of TinyResNet through HAT's executor and in PyTorch eager
# (Debian's python3-torch), same batch, same threads. Prints figures only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${HAT_BUILD_DIR:-$root/build}"
bin="$build/bin"
cmake --build "$build" --target hat-train-bench >/dev/null
for threads in 1 2; do
  "$bin/hat-train-bench" --threads "$threads" --steps "${STEPS:-30}"
  /usr/bin/python3 "$root/bench/pytorch_tinyresnet.py" --threads "$threads" --steps "${STEPS:-30}"
done
