#!/usr/bin/env bash
# Deformable DETR (ResNet18) on fashion-det, end to end on the CPU:
#
#   1. synthesizes and packs fashion-det (2,000 train images at 256 px, 500
#      val images with --seed 1, as docs/data.md shows);
#   2. hat-train --stage all on configs/detection/deform_detr_resnet18_fashiondet.py:
#      float training (HAT_DETR_EPOCHS, default 50, at 128 px), calibration
#      with the MSE observer, QAT from the calibration checkpoint (2 epochs)
#      and the integer model;
#   3. hat-infer --stage int_infer: the integer model's COCO detections of the
#      val set (int_infer.json) and a few drawn images;
#   4. hat-compile for nash-e at -O3 with the per-layer report;
#   5. hat-run on the HBM over the val set: its detections (hbm.json) must
#      equal int_infer's byte for byte;
#   6. a table of mAP and AP50 per stage.
#
# Outputs go to demo-out/detr (HAT_DEMO_OUT to change), data to
# tmp_data/fashion_det (HAT_FASHION_DET). Extra arguments go to hat-train,
# e.g. --set float_trainer.num_epochs=2 for a quick run; the README has the
# measured times and figures.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
bin="${HAT_BUILD_DIR:-$root/build}/bin"
out="${HAT_DEMO_OUT:-$root/demo-out/detr}"
config="$root/configs/detection/deform_detr_resnet18_fashiondet.py"
calibration_note=" (MSE)"
source "$root/scripts/lib/fashion-det-demo.sh"
