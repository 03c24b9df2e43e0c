#!/usr/bin/env bash
# Training images/s of TinyResNet through HAT's executor and in PyTorch eager
# (Debian's python3-torch), same batch, same threads; with MODEL=resnet18,
# ResNet18 at 224x224, batch 32 (BATCH to change), against torchvision's
# resnet18. Prints figures only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${HAT_BUILD_DIR:-$root/build}"
bin="$build/bin"
cmake --build "$build" --target hat-train-bench >/dev/null
model="${MODEL:-tinyresnet}"
if [ "$model" = resnet18 ]; then batch="${BATCH:-32}"; steps="${STEPS:-5}"
else batch="${BATCH:-128}"; steps="${STEPS:-30}"; fi
for threads in 1 2; do
  "$bin/hat-train-bench" --model "$model" --threads "$threads" --batch "$batch" --steps "$steps"
  /usr/bin/python3 "$root/bench/pytorch_tinyresnet.py" --model "$model" --threads "$threads" --batch "$batch" --steps "$steps"
done
