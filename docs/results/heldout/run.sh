#!/usr/bin/env bash
# The held-out report presets (victim s, key 10 + s, attack seed 20 + s), each victim's grid in
# OUTPREFIX-ARCH-vS, then one report across the victims in OUTPREFIX-ARCH.
# Seeds 4-6 report the current preset (design j4); seeds 1-3 reported the first design (d7), with a
# binary built before fdb3521 (their config.json files).
# Needs the null pool first: honeytrace experiment null-pool --out runs/null-pool --count 24
# Usage: docs/results/heldout/run.sh BIN [OUTPREFIX] [ARCH] [SEEDS]   (ARCH fmnist-cnn or resnet-8,
# SEEDS e.g. "4 5 6"; resumable)
set -euo pipefail
bin=${1:?binary}; out=${2:-runs/heldout}; arch=${3:-fmnist-cnn}; seeds=${4:-4 5 6}
dirs=()
for v in $seeds; do
    "$bin" experiment run --preset heldout-$arch-v$v --out "$out-$arch-v$v" --jobs 2
    "$bin" experiment report "$out-$arch-v$v"
    dirs+=("$out-$arch-v$v")
done
"$bin" experiment report "${dirs[@]}" --out "$out-$arch"
