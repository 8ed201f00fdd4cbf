#!/usr/bin/env bash
# The held-out report presets (victim s, key 10 + s, attack seed 20 + s), each victim's grid in
# OUTPREFIX-ARCH-vS, then one report across the three victims in OUTPREFIX-ARCH.
# Needs the null pool first: honeytrace experiment null-pool --out runs/null-pool --count 24
# Usage: docs/results/heldout/run.sh BIN [OUTPREFIX] [ARCH]   (ARCH fmnist-cnn or resnet-8; resumable)
set -euo pipefail
bin=${1:?binary}; out=${2:-runs/heldout}; arch=${3:-fmnist-cnn}
for v in 1 2 3; do
    "$bin" experiment run --preset heldout-$arch-v$v --out "$out-$arch-v$v" --jobs 2
    "$bin" experiment report "$out-$arch-v$v"
done
"$bin" experiment report "$out-$arch-v1" "$out-$arch-v2" "$out-$arch-v3" --out "$out-$arch"
