#!/usr/bin/env bash
# Checks hat-culane-eval against the official CULane evaluator, image by
# image: counts, matches and every lane-pair IoU (docs/lane.md,
# "Verification"). The official sources are not part of HAT; pass the
# lane_evaluation folder of a SCNN checkout (github.com/XingangPan/SCNN,
# tools/lane_evaluation). They are compiled in a temporary folder as their
# Makefile does (no optimisation, OpenCV 4 here), with
# bench/culane_official_driver.cpp.
#   bench/culane-verify.sh path/to/SCNN/tools/lane_evaluation [SEED...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${HAT_BUILD_DIR:-$root/build}/bin"
official="$(cd "$1" && pwd)"
shift
seeds=("${@:-11}")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
flags=(-std=c++11 -I"$official/include" $(pkg-config --cflags opencv4))
for source in counter lane_compare spline; do
  g++ "${flags[@]}" -c "$official/src/$source.cpp" -o "$work/$source.o"
done
g++ "${flags[@]}" -Dmain=official_evaluate_main -c "$official/src/evaluate.cpp" \
  -o "$work/evaluate.o"
g++ "${flags[@]}" "$root/bench/culane_official_driver.cpp" "$work"/*.o \
  -o "$work/driver" $(pkg-config --libs opencv4) -fopenmp
status=0
for seed in "${seeds[@]}"; do
  data="$work/seed$seed"
  python3 "$root/bench/culane_synth.py" --out "$data" --images "${IMAGES:-1000}" \
    --seed "$seed" --mode adversarial
  "$work/driver" "$data/gt/" "$data/pred/" "$data/list.txt" 30 0.5 1640 590 \
    > "$data/official.txt" 2>/dev/null
  "$bin/hat-culane-eval" --gt-root "$data/gt" --pred-root "$data/pred" \
    --list "$data/list.txt" --per-image "$data/mine.jsonl" > /dev/null 2>&1
  echo "seed $seed:"
  python3 "$root/bench/culane_compare.py" "$data/mine.jsonl" \
    "$data/official.txt" || status=1
done
exit $status
