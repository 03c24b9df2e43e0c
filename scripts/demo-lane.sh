#!/usr/bin/env bash
# GaNet-MixVarGENet lane detection on CuLane-format data, end to end on the
# CPU:
#
#   1. synthesizes and packs CuLane-format frames at half CuLane's size
#      (820x295; 1,000 train frames, 200 val frames with --seed 1);
#   2. hat-train --stage all on configs/lane_pred/ganet_mixvargenet_culane.py
#      with HAT_LANE_SCALE=0.5 (crop (0, 135, 820, 160), input 160x400):
#      float training, calibration, QAT and the integer model;
#   3. hat-infer --stage int_infer: the integer model's CULane F1 on val;
#   4. hat-compile for nash-e at -O3 with the per-layer report;
#   5. hat-run on the HBM over the val set (input from the camera pyramid,
#      YUV444), decoding the lanes on the CPU with the same decoder: its
#      F1, precision and recall must equal int_infer's; it writes the lanes
#      as CULane .lines.txt files and draws 20 frames (demo-out/lane/vis);
#   6. hat-culane-eval on those files: the official evaluator's counts;
#   7. a table of the F1 per stage.
#
# Outputs go to demo-out/lane (HAT_DEMO_OUT to change), data to
# tmp_data/culane_synth (HAT_CULANE). Extra arguments go to hat-train, e.g.
# --set float_trainer.num_epochs=2 for a quick run; the README has the
# measured times.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
bin="${HAT_BUILD_DIR:-$root/build}/bin"
out="${HAT_DEMO_OUT:-$root/demo-out/lane}"
config="$root/configs/lane_pred/ganet_mixvargenet_culane.py"
export HAT_CULANE="${HAT_CULANE:-$root/tmp_data/culane_synth}"
export HAT_CKPT_DIR="$out/ckpt"
export HAT_LANE_SCALE=0.5
mkdir -p "$out"
rm -rf "$HAT_CKPT_DIR"

banner() { printf '\n==== %s ====\n' "$*"; }
start=$(date +%s)
elapsed() { echo "$1 took $(( $(date +%s) - $2 )) s"; }

data="$HAT_CULANE"
if [ ! -d "$data/train_lmdb" ] || [ ! -d "$data/val_lmdb" ]; then
  banner "Synthesizing and packing CuLane-format frames into $data"
  rm -rf "$data"
  "$bin/hat-pack" --synthesize culane --out "$data" --split train \
    --num-images 1000 --size 820
  "$bin/hat-pack" --synthesize culane --out "$data" --split val \
    --num-images 200 --size 820 --seed 1
  "$bin/hat-pack" --format culane --src "$data" --split train --out "$data/train_lmdb"
  "$bin/hat-pack" --format culane --src "$data" --split val --out "$data/val_lmdb"
fi

banner "Operations and parameters (hat-calops)"
"$bin/hat-calops" "$config" --quiet | tee "$out/calops.txt"

banner "Training $config: float -> calibration -> QAT -> int_infer"
t=$(date +%s)
"$bin/hat-train" --config "$config" --stage all "$@" | tee "$out/train-summary.txt"
elapsed training "$t"

banner "int_infer CULane F1 of the val set (hat-infer)"
t=$(date +%s)
"$bin/hat-infer" --config "$config" --stage int_infer | tee "$out/infer-summary.txt"
elapsed hat-infer "$t"

banner "Compiling the integer model for nash-e at -O3"
"$bin/hat-compile" "$HAT_CKPT_DIR/int_infer-model.mlir" --march=nash-e -O3 \
  --input-source pyramid \
  --layer-details -o "$out/model.hbm" | tee "$out/compile-summary.txt"

banner "Running the HBM on the CPU runtime over the val set"
t=$(date +%s)
rm -rf "$out/pred" "$out/vis"
"$bin/hat-run" "$out/model.hbm" --config "$config" --lanes-out "$out/pred" \
  --visualize "$out/vis" --max-images 20 | tee "$out/hbm-summary.txt"
elapsed hat-run "$t"

banner "The HBM's lanes as CULane files, scored by hat-culane-eval"
# The official evaluator's semantics on the written .lines.txt files: the
# same counts as hat-run's in-loop metric (canvas and lane width at scale).
"$bin/hat-culane-eval" --gt-root "$data" --list "$data/list/val.txt" \
  --pred-root "$out/pred" --width 15 --image-width 820 --image-height 295 \
  | tee "$out/culane-eval.json"

figures() { # FILE PREFIX -> "F1 precision recall" on the line starting with PREFIX
  grep "^$2CulaneF1Score=" "$1" | head -1 |
    sed -E 's/.*CulaneF1Score=([-0-9.e]+) precision=([-0-9.e]+) recall=([-0-9.e]+).*/\1 \2 \3/'
}
banner "Result: CULane F1 (IoU > 0.5, 15-px lanes on the 820x295 frame) on val"
printf '%-30s %-12s %-12s %s\n' "stage" "F1" "precision" "recall"
for row in "float:float: " "calibration:calibration: " "qat:qat: " \
           "int_infer (hat-infer):int_infer: "; do
  name="${row%%:*}"; prefix="${row#*:}"
  if [ "$name" = "int_infer (hat-infer)" ]; then file="$out/infer-summary.txt"
  else file="$out/train-summary.txt"; fi
  printf '%-30s %-12s %-12s %s\n' "$name" $(figures "$file" "$prefix")
done
printf '%-30s %-12s %-12s %s\n' "HBM (hat-run, nash-e -O3)" $(figures "$out/hbm-summary.txt" '')
if [ "$(figures "$out/infer-summary.txt" 'int_infer: ')" != "$(figures "$out/hbm-summary.txt" '')" ]; then
  echo "demo: the HBM's F1 differs from int_infer's" >&2
  exit 1
fi
counts() { grep -o 'tp[=":]*[0-9]*[ ,]"*fp[=":]*[0-9]*[ ,]"*fn[=":]*[0-9]*' "$1" | tr -dc '0-9 ,\n' | tr ',' ' ' | tr -s ' '; }
if [ "$(counts "$out/hbm-summary.txt")" != "$(counts "$out/culane-eval.json")" ]; then
  echo "demo: hat-culane-eval's counts differ from hat-run's" >&2
  exit 1
fi
elapsed "demo" "$start"
