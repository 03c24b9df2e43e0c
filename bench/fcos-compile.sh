#!/usr/bin/env bash
# hat-compile time of the seed's FCOS-EfficientNetB0 deploy model at 512x512
# for nash-e -O3 (goal: under 5 s), and the layers its perf report lists per
# part (backbone, BiFPN, head). Prints figures, asserts nothing.
#
#   bench/fcos-compile.sh [BUILD_DIR] [RUNS]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
runs=${2:-5}
bin=$build/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

config=$src/test/Inputs/configs/fcos_efficientnetb0_mscoco.py
"$bin/hat-config" lower "$config" -o "$work/float.mlir"
"$bin/hat-eval" "$work/float.mlir" --write-random-inputs "$work/c" --count 1 --seed 3 >/dev/null
"$bin/hat-opt" "$work/float.mlir" --hat-fuse-bn --hat-float2qat \
  --hat-calibrate="inputs=$work/c/input_0_0.npy" --hat-qat2quantize \
  -o "$work/int.mlir"

times=()
for ((i = 0; i < runs; ++i)); do
  start=$(date +%s.%N)
  "$bin/hat-compile" "$work/int.mlir" --march=nash-e -O3 -o "$work/fcos.hbm" \
    --layer-details >"$work/report.txt"
  end=$(date +%s.%N)
  times+=("$(echo "$end - $start" | bc)")
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "hat-compile FCOS-EfficientNetB0 512x512 nash-e -O3, $runs runs:"
echo "  min    $(echo "$sorted" | head -1) s"
echo "  median $(echo "$sorted" | sed -n "$(((runs + 1) / 2))p") s"
head -1 "$work/report.txt"
awk 'NR > 9 && NF >= 9 { split($1, p, "."); part = p[1];
       if (part == "stem" || part == "blocks") part = "backbone";
       else if (part != "neck" && part != "head") part = "other";
       n[part]++ }
     END { for (k in n) printf "  %-8s %d layers\n", k, n[k] }' \
  "$work/report.txt" | sort
