#!/usr/bin/env bash
# Training speed of the small Deformable DETR (configs/detection/
# deform_detr_resnet18_fashiondet.py: ResNet18, batch 16 at 128x128; the
# config reads HAT_IMAGE_SIZE) through HAT's executor with the engine's set
# criterion against the same network hand-written in LibTorch with the same
# SetCriterion, in one process with the same threads (bench/
# DetrTrainBench.cpp). Every step is zero_grad + forward + loss + backward +
# AdamW step. Prints figures only.
#
#   bench/detr-train-bench.sh [THREADS...]      (default: 1)
#   ITERS=5 WARMUP=1 BATCH=16 BOXES=6 bench/detr-train-bench.sh 1 2
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${HAT_BUILD_DIR:-$root/build}"
config="${CONFIG:-$root/configs/detection/deform_detr_resnet18_fashiondet.py}"
cmake --build "$build" --target hat-detr-train-bench >/dev/null
echo "load before: $(uptime)"
for threads in "${@:-1}"; do
  "$build/bin/hat-detr-train-bench" --config "$config" \
    --threads "$threads" --batch "${BATCH:-16}" --iters "${ITERS:-5}" \
    --warmup "${WARMUP:-1}" --boxes "${BOXES:-6}"
  echo
done
echo "load after: $(uptime)"
