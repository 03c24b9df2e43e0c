#!/usr/bin/env bash
# int_infer on integer kernels (issue 14): the LibTorch executor's qconv2d /
# qlinear on HatRuntime's int32-accumulating kernels against the former exact
# float64 ATen convolutions (ExecutorOptions::atenIntegerOps), same
# process, passes alternating, outputs checked bit-equal on every batch.
#
#   1. Fashion-MNIST TinyResNet (configs/classification/fashion_mnist_tinyresnet.py):
#      the int_infer validation workload, 10,000 1x28x28 images in the
#      config's validation batches of 500;
#   2. FCOS-EfficientNetB0 at 256x256 (configs/detection/fcos_efficientnetb0_fashiondet.py):
#      batches of 8 (FCOS_IMAGES images, default 16).
#
# The integer models come from the configs through hat-config lower, then
# hat-fuse-bn, hat-float2qat, hat-calibrate on one random batch and
# hat-qat2quantize (random weights: the time does not depend on them).
# Prints the minimum over REPEATS passes (default 3) of each path, images/s
# and the speedup. THREADS sets the intra-op threads (default: ATen's).
#
#   bench/int-infer-bench.sh [BUILD_DIR]     # BUILD_DIR defaults to build
#
# Needs the bench target: cmake --build build --target hat-int-infer-bench
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/bin
repeats=${REPEATS:-3}
threads=${THREADS:-0}
fcos_images=${FCOS_IMAGES:-16}
for tool in hat-config hat-eval hat-opt hat-int-infer-bench; do
  if [[ ! -x $bin/$tool ]]; then
    echo "int-infer-bench: $bin/$tool is missing (cmake --build $build --target $tool)" >&2
    exit 1
  fi
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

integer_model() { # config, name
  local config=$1 name=$2
  "$bin/hat-config" lower "$config" -o "$work/$name.mlir"
  "$bin/hat-eval" "$work/$name.mlir" --write-random-inputs "$work/$name-calib" --count 1 > /dev/null
  "$bin/hat-opt" "$work/$name.mlir" --hat-fuse-bn --hat-float2qat \
    --hat-calibrate="inputs=$work/$name-calib/input_0_0.npy" --hat-qat2quantize \
    -o "$work/$name-int.mlir"
}

echo "== Fashion-MNIST TinyResNet int_infer: 10,000 images, batch 500"
integer_model "$root/configs/classification/fashion_mnist_tinyresnet.py" fmnist
"$bin/hat-int-infer-bench" "$work/fmnist-int.mlir" --images 10000 --batch 500 \
  --repeats "$repeats" --intra-op-threads "$threads"

echo "== FCOS-EfficientNetB0 256x256: $fcos_images images, batch 8"
integer_model "$root/configs/detection/fcos_efficientnetb0_fashiondet.py" fcos
"$bin/hat-int-infer-bench" "$work/fcos-int.mlir" --images "$fcos_images" --batch 8 \
  --repeats "$repeats" --intra-op-threads "$threads"
