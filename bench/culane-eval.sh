#!/usr/bin/env bash
# hat-culane-eval throughput: IMAGES synthetic CULane images (4 GT lanes of
# 30 points, as CULane's annotations, and 4 predictions of 18 points, as
# SCNN's; bench/culane_synth.py --mode realistic) evaluated with 1 and 2
# threads. Prints wall and CPU seconds; asserts nothing. With OFFICIAL set
# to the official `evaluate` binary (docs/lane.md, "Verification"), also
# times it on the first 500 images and checks the totals agree.
#   IMAGES=10000 bench/culane-eval.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${HAT_BUILD_DIR:-$root/build}/bin"
images="${IMAGES:-10000}"
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
python3 "$root/bench/culane_synth.py" --out "$data" --images "$images" \
  --seed 7 --mode realistic
args=(--gt-root "$data/gt" --pred-root "$data/pred" --list "$data/list.txt")
for threads in 1 2; do
  /usr/bin/time -f "%e s wall, %U s user, %S s system" -o "$data/time" \
    "$bin/hat-culane-eval" "${args[@]}" --threads "$threads" > "$data/out.json"
  echo "hat-culane-eval, $images images, $threads thread(s): $(cat "$data/time")"
done
echo "result: $(cat "$data/out.json")"
if [[ -n "${OFFICIAL:-}" ]]; then
  head -500 "$data/list.txt" > "$data/list500.txt"
  /usr/bin/time -f "%e s wall, %U s user, %S s system" -o "$data/time" \
    env OMP_NUM_THREADS=2 "$OFFICIAL" -a "$data/gt/" -d "$data/pred/" -i "$data/" \
    -l "$data/list500.txt" -w 30 -t 0.5 -c 1640 -r 590 -o "$data/official.txt" \
    > /dev/null 2>&1
  echo "official evaluate, 500 images, 2 OpenMP threads: $(cat "$data/time")"
  echo "official: $(sed -n 2p "$data/official.txt")"
  "$bin/hat-culane-eval" --gt-root "$data/gt" --pred-root "$data/pred" \
    --list "$data/list500.txt" > "$data/out500.json"
  echo "hat-culane-eval, same 500 images: $(cat "$data/out500.json")"
fi
