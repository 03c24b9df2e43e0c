#!/usr/bin/env bash
# One whole float epoch of Fashion-MNIST (issue 14): `hat-train --stage float`
# of configs/classification/fashion_mnist_tinyresnet.py with one epoch
# (training on the 60,000 images, then its validation on the 10,000 test
# images, checkpoints and callbacks included) against the same epoch as a
# plain PyTorch script with a torch DataLoader on the same files
# (bench/pytorch_fashion_epoch.py, Debian's python3-torch), at 1 and 2
# threads. Prints both wall times and the ratio PyTorch / hat (above 1: hat
# is faster).
#
#   bench/epoch-vs-pytorch.sh [BUILD_DIR]      # BUILD_DIR defaults to build
#
# Run it on an otherwise idle machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
if [ ! -x "$build/bin/hat-train" ]; then
  echo "epoch-vs-pytorch: $build/bin/hat-train is missing (scripts/setup.sh builds it)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-8s %14s %14s %10s\n' threads "hat (s)" "PyTorch (s)" "PT / hat"
for threads in 1 2; do
  HAT_CKPT_DIR=$tmp/ckpt$threads "$build/bin/hat-train" \
    --config "$root/configs/classification/fashion_mnist_tinyresnet.py" \
    --stage float --set float_trainer.num_epochs=1 --threads "$threads" \
    > "$tmp/hat$threads.log" 2>&1
  hat=$(sed -n 's/.*trainer finished in \([0-9.]*\) s.*/\1/p' "$tmp/hat$threads.log" | tail -1)
  if [ -z "$hat" ]; then
    echo "epoch-vs-pytorch: no 'finished in' line in hat-train's log:" >&2
    tail -5 "$tmp/hat$threads.log" >&2
    exit 1
  fi
  /usr/bin/python3 "$root/bench/pytorch_fashion_epoch.py" --threads "$threads" \
    > "$tmp/pt$threads.log"
  pt=$(sed -n 's/.*epoch threads [0-9]*: \([0-9.]*\) s.*/\1/p' "$tmp/pt$threads.log")
  grep -h "Validation Epoch" "$tmp/hat$threads.log" | tail -1 | sed 's/^/  hat: /'
  sed 's/^/  /' "$tmp/pt$threads.log"
  printf '%-8s %14s %14s %9.2fx\n' "$threads" "$hat" "$pt" \
    "$(echo "$pt / $hat" | bc -l)"
done
