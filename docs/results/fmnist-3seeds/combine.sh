#!/usr/bin/env bash
# Gathers the KnockoffNet naive, D-DAE and top-1 cells of seed 0 (runs/fmnist-b1, the Table 2 grid)
# and of seeds 1 and 2 (runs/fmnist-seeds, runs/fmnist-seeds-ddae) into one source directory, so that
# `experiment run config.json --reuse-attacks-from runs/src-3s` re-verifies all 18 surrogates in one grid.
set -euo pipefail
cd "$(dirname "$0")/../../.."
rm -rf runs/src-3s
mkdir -p runs/src-3s/runs runs/src-3s/surrogates runs/fmnist-3seeds
cp runs/fmnist-b1/manifest.json runs/src-3s/
for v in naive d-dae top-1; do
    for d in none honeytrace; do
        cp "runs/fmnist-b1/runs/$d--knockoff--$v--s0.json" runs/src-3s/runs/
        cp -r "runs/fmnist-b1/surrogates/$d--knockoff--$v--s0" runs/src-3s/surrogates/
    done
done
for dir in runs/fmnist-seeds runs/fmnist-seeds-ddae; do
    cp "$dir"/runs/*.json runs/src-3s/runs/
    cp -r "$dir"/surrogates/* runs/src-3s/surrogates/
done
cp runs/fmnist-b1/key.htkey runs/fmnist-b1/calibration.json runs/fmnist-3seeds/   # the same key: skip recalibrating
