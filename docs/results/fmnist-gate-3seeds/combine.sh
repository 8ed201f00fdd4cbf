#!/usr/bin/env bash
# Gathers the cells of the six KnockoffNet rows and JBDA-TR / top-1 of seed 0 (runs/fmnist-gate, the Table 2
# grid) and of seeds 1 and 2 (D-DAE and top-1: runs/gate97; naive: runs/fmnist-gate-naive; S4L, smoothing,
# p-Bayes: runs/fmnist-gate-kn; JBDA-TR / top-1: runs/fmnist-gate-jt) into one source directory, so that
# `experiment run config.json --reuse-attacks-from runs/src-gate-3s` re-verifies all 42 surrogates in one grid.
# A thin wrapper of `honeytrace experiment combine` (issue 19), which refuses clashing cells and
# sources of another victim, key or attack settings. Usage: combine.sh [honeytrace binary]
set -euo pipefail
cd "$(dirname "$0")/../../.."
bin=${1:-.build/release/honeytrace}
rm -rf runs/src-gate-3s runs/fmnist-gate-3seeds   # the grid below is re-verified from scratch
mkdir -p runs/fmnist-gate-3seeds
seed0=()
for row in knockoff--{naive,s4l,smoothing,d-dae,p-bayes,top-1} jbda-tr--top-1; do
    for d in none honeytrace; do seed0+=("$d--$row--s0"); done
done
"$bin" experiment combine --out runs/src-gate-3s "runs/fmnist-gate:$(IFS=,; echo "${seed0[*]}")" \
    'runs/gate97:*--s[12]' 'runs/fmnist-gate-naive:*--s[12]' 'runs/fmnist-gate-kn:*--s[12]' 'runs/fmnist-gate-jt:*--s[12]'
cp runs/fmnist-gate/key.htkey runs/fmnist-gate/calibration.json runs/fmnist-gate-3seeds/   # the same key: skip recalibrating
