#!/usr/bin/env bash
# Regenerates the compiled seeds of test/fuzz/hbm with the built tools, in
# the HBM format those tools write (run it after an HBM format change):
#
#   test/fuzz/make-hbm-seeds.sh [BUILD]       (default: build)
#
#   residual-O0.hbm, residual-O3.hbm   test/BPU/Inputs/residual.mlir
#   tiny_cnn-O3.hbm                    examples/tiny_cnn.mlir, quantized
#   all-ops-O3.hbm                     @float_ops of test/Dialect/ops.mlir at
#                                      batch 1, quantized
#   encoder-O3.hbm                     test/tools/hat-run/Inputs/encoder.mlir
#                                      (layer norms, attention), quantized
#   deform-O3.hbm                      test/tools/hat-run/Inputs/deform.mlir
#                                      (deformable sampling; two inputs)
#
# Quantized models are calibrated on two random inputs (hat-eval
# --write-random-inputs --seed 4, as test/tools/hat-compile/compile.test).
# The regress-*.hbm inputs are damaged files that once crashed the fuzzer;
# they are not recompiled (that would lose the damage) but upgraded in place
# with test/fuzz/upgrade-hbm.py.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${1:-$root/build}/bin"
out="$root/test/fuzz/hbm"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for level in O0 O3; do
  "$bin/hat-compile" "$root/test/BPU/Inputs/residual.mlir" --march=nash-e \
    -"$level" --no-report -o "$out/residual-$level.hbm" >/dev/null
done

quantize_and_compile() { # FLOAT_MLIR OUT_HBM
  local name; name="$(basename "$2" .hbm)"
  "$bin/hat-eval" "$1" --write-random-inputs "$work/$name-in" --count 2 \
    --seed 4 >/dev/null
  "$bin/hat-opt" "$1" --hat-fuse-bn --hat-float2qat \
    --hat-calibrate="inputs=$work/$name-in/input_0_0.npy,$work/$name-in/input_1_0.npy" \
    --hat-qat2quantize -o "$work/$name.mlir"
  "$bin/hat-compile" "$work/$name.mlir" --march=nash-e -O3 --no-report \
    -o "$2" >/dev/null
}
quantize_and_compile "$root/examples/tiny_cnn.mlir" "$out/tiny_cnn-O3.hbm"
# @float_ops at batch 1: its first function, with every leading dimension 2
# of an activation (not the 2-element fusion weights) made 1, less the
# batched matmul example, whose reshape needs batch 2 (encoder-O3 has
# matmuls).
sed -n '/^func.func @float_ops/,/^}/p' "$root/test/Dialect/ops.mlir" |
  sed -E '/ %(flat|key|keys|mm) = /d' |
  sed -E 's/tensor<2x([0-9])/tensor<1x\1/g; s/array<i64: 2, -1>/array<i64: 1, -1>/' \
  >"$work/all-ops.mlir"
quantize_and_compile "$work/all-ops.mlir" "$out/all-ops-O3.hbm"
quantize_and_compile "$root/test/tools/hat-run/Inputs/encoder.mlir" \
  "$out/encoder-O3.hbm"
# Two inputs: each calibration sample is query+feature.
"$bin/hat-eval" "$root/test/tools/hat-run/Inputs/deform.mlir" \
  --write-random-inputs "$work/deform-in" --count 2 --seed 4 >/dev/null
"$bin/hat-opt" "$root/test/tools/hat-run/Inputs/deform.mlir" \
  --hat-float2qat="layer-dtypes=loc_sigmoid:qint16" \
  --hat-calibrate="inputs=$work/deform-in/input_0_0.npy+$work/deform-in/input_0_1.npy,$work/deform-in/input_1_0.npy+$work/deform-in/input_1_1.npy" \
  --hat-qat2quantize -o "$work/deform.mlir"
"$bin/hat-compile" "$work/deform.mlir" --march=nash-e -O3 --no-report \
  -o "$out/deform-O3.hbm" >/dev/null
echo "make-hbm-seeds: wrote residual-O0, residual-O3, tiny_cnn-O3, all-ops-O3, encoder-O3, deform-O3 in $out"
