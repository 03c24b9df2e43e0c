# The body shared by the fashion-det detector demos (scripts/demo-detection.sh,
# scripts/demo-detr.sh), sourced by them with `root`, `bin`, `out`, `config`
# and optionally `calibration_note` set; the demo's arguments go to
# hat-train. Synthesizes and packs fashion-det if missing, trains every
# stage, writes int_infer's detections (hat-infer), compiles the integer
# model for nash-e at -O3, runs the HBM over the val set (hat-run), prints
# mAP and AP50 per stage and fails unless the HBM's detections equal
# int_infer's byte for byte.
export HAT_FASHION_DET="${HAT_FASHION_DET:-$root/tmp_data/fashion_det}"
export HAT_CKPT_DIR="$out/ckpt"
mkdir -p "$out"
rm -rf "$HAT_CKPT_DIR" "$out/vis"

banner() { printf '\n==== %s ====\n' "$*"; }
start=$(date +%s)
elapsed() { echo "$1 took $(( $(date +%s) - $2 )) s"; }

data="$HAT_FASHION_DET"
if [ ! -d "$data/train_lmdb" ] || [ ! -d "$data/val_lmdb" ]; then
  banner "Synthesizing and packing fashion-det into $data"
  rm -rf "$data"
  "$bin/hat-pack" --synthesize fashion-det --out "$data" --split train \
    --num-images 2000 --size 256
  "$bin/hat-pack" --synthesize fashion-det --out "$data" --split val \
    --num-images 500 --size 256 --seed 1
  "$bin/hat-pack" --format coco --src "$data" --split train --out "$data/train_lmdb"
  "$bin/hat-pack" --format coco --src "$data" --split val --out "$data/val_lmdb"
fi

banner "Training $config: float -> calibration -> QAT -> int_infer"
t=$(date +%s)
"$bin/hat-train" --config "$config" --stage all "$@" | tee "$out/train-summary.txt"
elapsed training "$t"

banner "int_infer detections of the val set (hat-infer)"
t=$(date +%s)
"$bin/hat-infer" --config "$config" --stage int_infer --out "$out/int_infer.json" \
  --visualize "$out/vis" --max-images 20 | tee "$out/infer-summary.txt"
elapsed hat-infer "$t"

banner "Compiling the integer model for nash-e at -O3"
"$bin/hat-compile" "$HAT_CKPT_DIR/int_infer-model.mlir" --march=nash-e -O3 \
  --layer-details -o "$out/model.hbm" | tee "$out/compile-summary.txt"

banner "Running the HBM on the CPU runtime over the val set"
t=$(date +%s)
"$bin/hat-run" "$out/model.hbm" --config "$config" --dets-out "$out/hbm.json" \
  | tee "$out/hbm-summary.txt"
elapsed hat-run "$t"

metric() { # FILE PREFIX KEY -> the KEY (mAP, AP50) on the line starting with PREFIX
  grep -o "^$2mAP=.*" "$1" | head -1 | grep -o " \?$3=[-0-9.e]*" | head -1 | sed 's/.*=//'
}
banner "Result: COCO mAP@[.5:.95] and AP50 on fashion-det val"
printf '%-34s %-8s %s\n' "stage" "mAP" "AP50"
row() { printf '%-34s %-8s %s\n' "$1" "$(metric "$2" "$3" mAP)" "$(metric "$2" "$3" AP50)"; }
row "float" "$out/train-summary.txt" 'float: '
row "calibration${calibration_note:-}" "$out/train-summary.txt" 'calibration: '
row "qat" "$out/train-summary.txt" 'qat: '
row "int_infer (hat-infer)" "$out/infer-summary.txt" 'int_infer: '
row "HBM (hat-run, nash-e -O3)" "$out/hbm-summary.txt" ''
if ! cmp -s "$out/int_infer.json" "$out/hbm.json"; then
  echo "demo: the HBM's detections differ from int_infer's" >&2
  exit 1
fi
echo "demo: the HBM's detections equal int_infer's exactly ($(grep -c image_id "$out/hbm.json") boxes)."
elapsed "the whole demo" "$start"
echo "demo: checkpoints, logs, IR, detections and drawings are in $out/"
