#!/usr/bin/env bash
# Data-parallel throughput on the Fashion-MNIST demo config, same global
# batch (256) and seed: one rank with 2 threads against two ranks with one
# thread each, and two ranks with every gradient bucket all-reduced after
# backward instead of during it. Prints the training images/s (StatsMonitor
# windows after the first, so start-up and validation are left out) and
# each run's summary line. Prints figures only; asserts nothing.
#   STEPS=300 LOG_FREQ=50 BUCKET_MB=0.05 bench/ddp-throughput.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${HAT_BUILD_DIR:-$root/build}/bin"
config="$root/configs/classification/fashion_mnist_tinyresnet.py"
steps="${STEPS:-300}"
out="$(mktemp -d)"
common=(--config "$config" --stage float
        --set 'float_trainer.stop_by="step"' --set "float_trainer.num_steps=$steps"
        --set "stat_callback.log_freq=${LOG_FREQ:-50}"
        --set "float_trainer.bucket_cap_mb=${BUCKET_MB:-25}")
run() {
  local name=$1
  shift
  HAT_CKPT_DIR="$out/$name" "$bin/hat-train" "${common[@]}" "$@" > "$out/$name.log" 2>&1
  local rate
  rate=$(grep -o 'images_per_sec=[0-9.e+]*' "$out/$name.log" | tail -n +2 |
         cut -d= -f2 | awk '{ s += $1; n++ } END { if (n) printf "%.0f", s / n }')
  echo "$name: training ${rate:-?} images/s; $(grep -E '^float:' "$out/$name.log")"
}
run "1rank-2threads" --threads 2 --set data_loader.batch_size=256
run "2ranks-1thread" --num-procs 2 --threads 1
run "2ranks-1thread-after-backward" --num-procs 2 --threads 1 \
    --set float_trainer.overlap_grad_reduce=False
grep -h 'gradient bucket' "$out"/2ranks-1thread*.log | sed 's/^.*INFO //'
rm -rf "$out"
