#!/usr/bin/env bash
# Installs, builds and runs HAT's main job on its built-in default.
#
# Until the training stages land, the main job is the compiler pipeline on
# the example model examples/tiny_cnn.mlir: fuse-bn -> float2qat ->
# calibrate -> qat2quantize, printing the IR before and after each pass and
# comparing the float and integer models' outputs with the reference
# evaluator. Outputs go to demo-out/ (HAT_DEMO_OUT to change).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
bin="${HAT_BUILD_DIR:-$root/build}/bin"
out="${HAT_DEMO_OUT:-$root/demo-out}"
model="$root/examples/tiny_cnn.mlir"
rm -rf "$out" && mkdir -p "$out"

banner() { printf '\n==== %s ====\n' "$*"; }
show() { "$bin/hat-opt" "$1" --mlir-elide-elementsattrs-if-larger=8; }

banner "Float model ($model, weights elided)"
show "$model"

banner "Calibration inputs (random, seeded) and a held-out input"
calib=$("$bin/hat-eval" "$model" --write-random-inputs "$out/calib" --count 8 --seed 1 | paste -sd, -)
"$bin/hat-eval" "$model" --write-random-inputs "$out/test" --count 1 --seed 99 >/dev/null
echo "$calib" | tr , '\n'

banner "Pass 1: --hat-fuse-bn (batch_norm folded into conv2d weights and bias)"
"$bin/hat-opt" "$model" --hat-fuse-bn -o "$out/1-fused.mlir"
show "$out/1-fused.mlir"

banner "Pass 2: --hat-float2qat (fake_quant on weights per channel, activations per tensor)"
"$bin/hat-opt" "$out/1-fused.mlir" --hat-float2qat -o "$out/2-qat.mlir"
show "$out/2-qat.mlir"

banner "Pass 3: --hat-calibrate (observer=mse over the calibration inputs)"
"$bin/hat-opt" "$out/2-qat.mlir" --hat-calibrate="inputs=$calib observer=mse" -o "$out/3-calibrated.mlir"
show "$out/3-calibrated.mlir"

banner "Pass 4: --hat-qat2quantize (integer ops with multiplier/shift requantization)"
"$bin/hat-opt" "$out/3-calibrated.mlir" --hat-qat2quantize -o "$out/4-int.mlir"
show "$out/4-int.mlir"

banner "Reference evaluator on the held-out input"
for stage in "$model" "$out/1-fused.mlir" "$out/3-calibrated.mlir" "$out/4-int.mlir"; do
  printf '%-28s ' "$(basename "$stage")"
  "$bin/hat-eval" "$stage" --input "$out/test/input_0_0.npy" --print | tail -1
done
echo
echo "demo: IR of every stage is in $out/"
