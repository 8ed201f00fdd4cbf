#!/usr/bin/env bash
# Detection by trigger inversion (Neural Cleanse) on a finished held-out grid (docs/results/heldout): every copy,
# defended and undefended, scanned class by class on 1,000 images of its own thief's pool; writes GRID/scan/.
# Usage: docs/results/scan/run.sh BIN GRID_DIR   (e.g. runs/heldout-fmnist-cnn-v2, a copy of the finished grid)
set -euo pipefail
bin=${1:?binary}; grid=${2:?grid directory}
nice -n 10 "$bin" experiment scan "$grid" --images 1000 --epochs 30 --epoch-steps 10 --batch-size 32 --learning-rate 0.1 \
  --lambda 0.001 --patience 2 --seed 0 --threads 1
