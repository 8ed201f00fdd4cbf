#!/usr/bin/env bash
# Removal by fine-tuning, then by CLP pruning, on a finished held-out grid (docs/results/heldout): every copy fine-tuned
# on the strong thief's first 5,000 labelled images for 5 epochs, evidence measured after each.
# Usage: docs/results/removal/run.sh BIN GRID_DIR   (e.g. runs/heldout-fmnist-cnn-v2)
set -euo pipefail
bin=${1:?binary}; grid=${2:?grid directory}
"$bin" experiment removal "$grid" --epochs 5 --images 5000 --learning-rate 0.01 --seed 0 --threads 1
# Removal by channel-Lipschitzness pruning (data-free): every copy pruned at u = 5, 4, 3 (CLP's default), 2.
"$bin" experiment removal "$grid" --method clp --clp-u 5,4,3,2 --threads 1
