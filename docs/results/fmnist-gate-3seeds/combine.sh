#!/usr/bin/env bash
# Gathers the KnockoffNet naive, D-DAE and top-1 cells of seed 0 (runs/fmnist-gate, the Table 2 grid),
# of seeds 1 and 2 for D-DAE and top-1 (runs/gate97) and for naive (runs/fmnist-gate-naive) into one
# source directory, so that `experiment run config.json --reuse-attacks-from runs/src-gate-3s`
# re-verifies all 18 surrogates in one grid.
set -euo pipefail
cd "$(dirname "$0")/../../.."
rm -rf runs/src-gate-3s
mkdir -p runs/src-gate-3s/runs runs/src-gate-3s/surrogates runs/fmnist-gate-3seeds
cp runs/fmnist-gate/manifest.json runs/src-gate-3s/
for v in naive d-dae top-1; do
    for d in none honeytrace; do
        cp "runs/fmnist-gate/runs/$d--knockoff--$v--s0.json" runs/src-gate-3s/runs/
        cp -r "runs/fmnist-gate/surrogates/$d--knockoff--$v--s0" runs/src-gate-3s/surrogates/
    done
done
for dir in runs/gate97 runs/fmnist-gate-naive; do
    for f in "$dir"/runs/*--s[12].json; do
        id=$(basename "$f" .json)
        cp "$f" runs/src-gate-3s/runs/
        cp -r "$dir/surrogates/$id" runs/src-gate-3s/surrogates/
    done
done
cp runs/fmnist-gate/key.htkey runs/fmnist-gate/calibration.json runs/fmnist-gate-3seeds/   # the same key: skip recalibrating
