#!/usr/bin/env bash
# HAT's int8 CPU runtime against the int8 engine a user would otherwise pick
# (issue 14): the residual CNN of bench/RuntimeBench.cpp through
# hat-runtime-bench (the HBM runtime, bit-exact) and through PyTorch's FX
# static int8 quantization on the oneDNN engine (bench/pytorch_int8_cnn.py,
# Debian's python3-torch), in one run, at batch 1 and 8 with 1 and 2
# threads. Prints images/s of each and the ratio hat / PyTorch int8 (the
# issue's target: >= 1.2).
#
#   bench/int8-peer-bench.sh [BUILD_DIR]      # BUILD_DIR defaults to build
#
# SIZE (default 96) and ITERS (default 50) are passed to both. Run it on an
# otherwise idle machine: with 2 threads, OpenMP code (LibTorch and oneDNN
# included) collapses while another process holds a core.
# Needs the bench target: cmake --build build --target hat-runtime-bench
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
size=${SIZE:-96}
iters=${ITERS:-50}
bench=$build/bin/hat-runtime-bench
if [ ! -x "$bench" ]; then
  echo "int8-peer-bench: $bench is missing; build it with" \
       "cmake --build $build --target hat-runtime-bench" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# hat-runtime-bench prints "NAME... THREADS BATCH IMAGES/S [(ratio)]"; keep
# the runtime's lines as "hat THREADS BATCH IMAGES/S".
"$bench" --size "$size" --iters "$iters" > "$tmp/hat.txt"
awk '/^hat runtime int8/ {
       n = 0; for (i = 1; i <= NF; ++i) if ($i ~ /^[0-9.]+$/) v[++n] = $i;
       print "hat", v[1], v[2], v[3] }' "$tmp/hat.txt" > "$tmp/hat.rows"
/usr/bin/python3 "$root/bench/pytorch_int8_cnn.py" --size "$size" \
  --iters "$iters" > "$tmp/torch.txt"

printf '%-8s %-6s %14s %18s %16s %10s\n' threads batch "hat int8" \
  "PyTorch int8" "PyTorch fp32" "hat/int8"
while read -r _ threads batch hat; do
  int8=$(awk -v t="$threads" -v b="$batch" \
    '$1 == "pytorch-int8-onednn" && $2 == t && $3 == b {print $4}' "$tmp/torch.txt")
  fp32=$(awk -v t="$threads" -v b="$batch" \
    '$1 == "pytorch-fp32-eager" && $2 == t && $3 == b {print $4}' "$tmp/torch.txt")
  ratio=$(awk -v h="$hat" -v p="$int8" 'BEGIN { printf "%.2f", h / p }')
  printf '%-8s %-6s %14s %18s %16s %10s\n' "$threads" "$batch" "$hat" \
    "$int8" "$fp32" "${ratio}x"
done < "$tmp/hat.rows"
