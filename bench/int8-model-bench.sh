#!/usr/bin/env bash
# HAT's int8 CPU runtime against PyTorch's oneDNN int8 on depthwise-heavy
# networks (issue 14): MobileNetV2 and EfficientNet-B0 (ReLU, no SE) at
# 224x224, batch 1 and 8, 1 and 2 threads, in one run.
#
# HAT side, through the user's tools: `hat-config lower` of the project's
# config (configs/classification/*_imagenet.py, deploy_model at
# deploy_inputs, random weights), `hat-opt` fuse-bn / float2qat /
# calibrate (two random images) / qat2quantize, `hat-compile --march nash-e
# -O3`, then `hat-run --repeat ITERS` (mean ms per run after one untimed
# warm-up run).
# Peer: bench/pytorch_int8_models.py, the same networks in PyTorch FX int8
# (Debian's python3-torch). Prints images/s and the ratio hat / PyTorch int8
# (the issue's target: >= 1.0).
#
#   bench/int8-model-bench.sh [BUILD_DIR]     # BUILD_DIR defaults to build
#
# MODELS (default "mobilenetv2 efficientnetb0"), SIZE (224) and ITERS (20).
# Run it on an otherwise idle machine (OpenMP peers collapse when another
# process holds a core).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/bin
size=${SIZE:-224}
iters=${ITERS:-20}
models=${MODELS:-mobilenetv2 efficientnetb0}
for tool in hat-config hat-opt hat-compile hat-run; do
  if [ ! -x "$bin/$tool" ]; then
    echo "int8-model-bench: $bin/$tool is missing (scripts/setup.sh builds it)" >&2
    exit 1
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

/usr/bin/python3 - "$tmp" "$size" <<'EOF'
import sys
import numpy as np
out, size = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
for name, batch in (("calib0", 1), ("calib1", 1), ("b1", 1), ("b8", 8)):
    x = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    np.save(f"{out}/{name}.npy", x)
EOF

printf '%-15s %-8s %-6s %10s %14s %14s %10s\n' model threads batch \
  "hat int8" "PyTorch int8" "PyTorch fp32" "hat/int8"
for model in $models; do
  config=$root/configs/classification/${model}_imagenet.py
  "$bin/hat-config" lower "$config" --input-shape "1,3,$size,$size" \
    -o "$tmp/$model.float.mlir"
  "$bin/hat-opt" "$tmp/$model.float.mlir" \
    --pass-pipeline="builtin.module(func.func(hat-fuse-bn,hat-float2qat),hat-calibrate{inputs=$tmp/calib0.npy,$tmp/calib1.npy},func.func(hat-qat2quantize))" \
    -o "$tmp/$model.int.mlir"
  "$bin/hat-compile" "$tmp/$model.int.mlir" --march nash-e -O3 \
    -o "$tmp/$model.hbm" > "$tmp/$model.compile.txt"
  /usr/bin/python3 "$root/bench/pytorch_int8_models.py" --model "$model" \
    --size "$size" --iters "$iters" > "$tmp/$model.torch.txt"
  for threads in 1 2; do
    for batch in 1 8; do
      ms=$("$bin/hat-run" "$tmp/$model.hbm" --input "$tmp/b$batch.npy" \
             --threads "$threads" --repeat "$iters" |
           awk '/^time:/ {print $2}')
      hat=$(awk -v ms="$ms" -v b="$batch" 'BEGIN { printf "%.1f", b * 1000 / ms }')
      int8=$(awk -v t="$threads" -v b="$batch" \
        '$1 == "pytorch-int8-onednn" && $2 == t && $3 == b {print $4}' \
        "$tmp/$model.torch.txt")
      fp32=$(awk -v t="$threads" -v b="$batch" \
        '$1 == "pytorch-fp32-eager" && $2 == t && $3 == b {print $4}' \
        "$tmp/$model.torch.txt")
      ratio=$(awk -v h="$hat" -v p="$int8" 'BEGIN { printf "%.2f", h / p }')
      printf '%-15s %-8s %-6s %10s %14s %14s %10s\n' "$model" "$threads" \
        "$batch" "$hat" "$int8" "$fp32" "${ratio}x"
    done
  done
done
