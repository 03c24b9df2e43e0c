#!/usr/bin/env bash
# Wall time of hat-quant-analysis on the Fashion-MNIST demo config: 8
# validation batches (4000 images) through the float, fake-quant and integer
# models plus the sensitivity ranking, on 2 threads. Trains what is missing
# first (float for FLOAT_EPOCHS epochs, default 1, then calibration); the
# timing does not depend on how well the model is trained. Prints figures only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${HAT_BUILD_DIR:-$root/build}/bin"
config="$root/configs/classification/fashion_mnist_tinyresnet.py"
export HAT_CKPT_DIR="${HAT_CKPT_DIR:-${HAT_BUILD_DIR:-$root/build}/quant_analysis_bench}"
if [ ! -f "$HAT_CKPT_DIR/float-checkpoint-best.pth.tar" ]; then
  "$bin/hat-train" --config "$config" --stage float --threads 2 \
    --set "float_trainer.num_epochs=${FLOAT_EPOCHS:-1}" >/dev/null
fi
if [ ! -f "$HAT_CKPT_DIR/calibration-checkpoint-best.pth.tar" ]; then
  "$bin/hat-train" --config "$config" --stage calibration --threads 2 >/dev/null
fi
start=$(date +%s%N)
"$bin/hat-quant-analysis" --config "$config" --quant-stage calibration \
  --batches 8 --topk 2 --threads 2 > "$HAT_CKPT_DIR/analysis.txt"
end=$(date +%s%N)
grep -E '^(quantization analysis|  float|  fake-quant|  integer)' "$HAT_CKPT_DIR/analysis.txt"
grep -E '^[0-9.]+ s \(sensitivity' "$HAT_CKPT_DIR/analysis.txt" || true
ms=$(( (end - start) / 1000000 ))
printf 'hat-quant-analysis, 8 batches, 2 threads: %d.%03d s wall (whole process)\n' \
  $((ms / 1000)) $((ms % 1000))
