#!/usr/bin/env bash
# Gathers the cells of the six KnockoffNet rows and JBDA-TR / top-1 of seed 0 (runs/fmnist-gate, the Table 2
# grid) and of seeds 1 and 2 (D-DAE and top-1: runs/gate97; naive: runs/fmnist-gate-naive; S4L, smoothing,
# p-Bayes: runs/fmnist-gate-kn; JBDA-TR / top-1: runs/fmnist-gate-jt) into one source directory, so that
# `experiment run config.json --reuse-attacks-from runs/src-gate-3s` re-verifies all 42 surrogates in one grid.
set -euo pipefail
cd "$(dirname "$0")/../../.."
rm -rf runs/src-gate-3s runs/fmnist-gate-3seeds   # the grid below is re-verified from scratch
mkdir -p runs/src-gate-3s/runs runs/src-gate-3s/surrogates runs/fmnist-gate-3seeds
cp runs/fmnist-gate/manifest.json runs/src-gate-3s/
for row in knockoff--{naive,s4l,smoothing,d-dae,p-bayes,top-1} jbda-tr--top-1; do
    for d in none honeytrace; do
        cp "runs/fmnist-gate/runs/$d--$row--s0.json" runs/src-gate-3s/runs/
        cp -r "runs/fmnist-gate/surrogates/$d--$row--s0" runs/src-gate-3s/surrogates/
    done
done
for dir in runs/gate97 runs/fmnist-gate-naive runs/fmnist-gate-kn runs/fmnist-gate-jt; do
    for f in "$dir"/runs/*--s[12].json; do
        id=$(basename "$f" .json)
        cp "$f" runs/src-gate-3s/runs/
        cp -r "$dir/surrogates/$id" runs/src-gate-3s/surrogates/
    done
done
cp runs/fmnist-gate/key.htkey runs/fmnist-gate/calibration.json runs/fmnist-gate-3seeds/   # the same key: skip recalibrating
