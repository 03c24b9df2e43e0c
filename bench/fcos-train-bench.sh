#!/usr/bin/env bash
# Training speed of FCOS-EfficientNetB0 (configs/detection/
# fcos_efficientnetb0_fashiondet.py: batch 16 at 256x256) through HAT's
# executor against the same network hand-written in LibTorch, in one process
# with the same threads (bench/FcosTrainBench.cpp), then the same network in
# PyTorch eager (Debian's python3-torch, bench/pytorch_fcos.py) as a third
# column, its parameter count checked against the executor's. Every step is
# zero_grad + forward + loss + backward + SGD step. Prints figures only;
# docs/detection.md ("Training speed") has measured ones.
#
#   bench/fcos-train-bench.sh [THREADS...]      (default: 1)
#   ITERS=5 WARMUP=1 BATCH=16 bench/fcos-train-bench.sh 1 2
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${HAT_BUILD_DIR:-$root/build}"
config="${CONFIG:-$root/configs/detection/fcos_efficientnetb0_fashiondet.py}"
cmake --build "$build" --target hat-fcos-train-bench >/dev/null
echo "load before: $(uptime)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for threads in "${@:-1}"; do
  "$build/bin/hat-fcos-train-bench" --config "$config" \
    --threads "$threads" --batch "${BATCH:-16}" --iters "${ITERS:-5}" \
    --warmup "${WARMUP:-1}" | tee "$log"
  out="$(cat "$log")"
  params="$(sed -n 's/^parameters: executor \([0-9]*\) elements.*/\1/p' <<<"$out")"
  size="$(sed -n 's/.*batch [0-9]*, \([0-9]*\)x[0-9]*,.*/\1/p' <<<"$out")"
  /usr/bin/python3 "$root/bench/pytorch_fcos.py" --threads "$threads" \
    --size "$size" \
    --batch "${BATCH:-16}" --iters "${ITERS:-5}" --warmup "${WARMUP:-1}" \
    --expect-params "$params"
  echo
done
echo "load after: $(uptime)"
