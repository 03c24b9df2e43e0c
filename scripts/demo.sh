#!/usr/bin/env bash
# Installs, builds and runs HAT's main job on its built-in default:
# Fashion-MNIST end to end.
#
#   1. hat-train --stage all: float training, calibration, QAT and integer
#      validation of configs/classification/fashion_mnist_tinyresnet.py, with
#      a table of the four accuracies;
#   2. hat-compile: the integer model for nash-e at -O3, with the per-layer
#      performance report;
#   3. hat-run --config: the HBM evaluated on the CPU runtime, as the board
#      would compute it, whose accuracy must equal int_infer's exactly.
#
# Outputs go to demo-out/ (HAT_DEMO_OUT to change). HAT_DEMO_CONFIG picks
# another config; extra arguments are passed to hat-train (e.g.
# --set float_trainer.num_epochs=2 for a quicker run).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
bin="${HAT_BUILD_DIR:-$root/build}/bin"
out="${HAT_DEMO_OUT:-$root/demo-out}"
config="${HAT_DEMO_CONFIG:-$root/configs/classification/fashion_mnist_tinyresnet.py}"
mkdir -p "$out"
export HAT_CKPT_DIR="$out/ckpt"
rm -rf "$HAT_CKPT_DIR"

banner() { printf '\n==== %s ====\n' "$*"; }

banner "Training $config: float -> calibration -> QAT -> int_infer"
start=$(date +%s)
"$bin/hat-train" --config "$config" --stage all "$@" | tee "$out/train-summary.txt"
echo "training took $(( $(date +%s) - start )) s"

banner "Compiling the integer model for nash-e at -O3"
"$bin/hat-compile" "$HAT_CKPT_DIR/int_infer-model.mlir" --march=nash-e -O3 \
  --layer-details -o "$out/model.hbm" | tee "$out/compile-summary.txt"

banner "Running the HBM on the CPU runtime over the validation set"
"$bin/hat-run" "$out/model.hbm" --config "$config" | tee "$out/hbm-accuracy.txt"

int_acc=$(grep -o '^int_infer: accuracy=[0-9.]*' "$out/train-summary.txt" | cut -d= -f2)
hbm_acc=$(grep -o '^accuracy=[0-9.]*' "$out/hbm-accuracy.txt" | cut -d= -f2)
banner "Result"
printf 'int_infer accuracy (LibTorch executor): %s\n' "$int_acc"
printf 'HBM accuracy (hat-run, bit-exact runtime): %s\n' "$hbm_acc"
if [ "$int_acc" != "$hbm_acc" ]; then
  echo "demo: HBM accuracy differs from int_infer accuracy" >&2
  exit 1
fi
echo "demo: HBM accuracy equals int_infer accuracy exactly."
echo "demo: checkpoints, logs, IR and reports are in $out/"
