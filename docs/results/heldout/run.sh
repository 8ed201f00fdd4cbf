#!/usr/bin/env bash
# The held-out report presets, fmnist-cnn victims 1-3 (victim s, key 10 + s, attack seed 20 + s).
# Needs the null pool first: honeytrace experiment null-pool --out runs/null-pool --count 24
# Usage: docs/results/heldout/run.sh BIN [OUTPREFIX]   (writes OUTPREFIX-fmnist-cnn-v1 … -v3; resumable)
set -euo pipefail
bin=${1:?binary}; out=${2:-runs/heldout}
for v in 1 2 3; do
    "$bin" experiment run --preset heldout-fmnist-cnn-v$v --out "$out-fmnist-cnn-v$v" --jobs 2
    "$bin" experiment report "$out-fmnist-cnn-v$v"
done
