#!/usr/bin/env bash
# Gathers the KnockoffNet naive, D-DAE and top-1 cells of seed 0 (runs/fmnist-b1, the Table 2 grid)
# and of seeds 1 and 2 (runs/fmnist-seeds, runs/fmnist-seeds-ddae) into one source directory, so that
# `experiment run config.json --reuse-attacks-from runs/src-3s` re-verifies all 18 surrogates in one grid.
# A thin wrapper of `honeytrace experiment combine` (issue 19), which refuses clashing cells and
# sources of another victim, key or attack settings. Usage: combine.sh [honeytrace binary]
set -euo pipefail
cd "$(dirname "$0")/../../.."
bin=${1:-.build/release/honeytrace}
rm -rf runs/src-3s
mkdir -p runs/fmnist-3seeds
seed0=()
for v in naive d-dae top-1; do for d in none honeytrace; do seed0+=("$d--knockoff--$v--s0"); done; done
"$bin" experiment combine --out runs/src-3s "runs/fmnist-b1:$(IFS=,; echo "${seed0[*]}")" runs/fmnist-seeds runs/fmnist-seeds-ddae
cp runs/fmnist-b1/key.htkey runs/fmnist-b1/calibration.json runs/fmnist-3seeds/   # the same key: skip recalibrating
