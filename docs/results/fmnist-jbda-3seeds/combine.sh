#!/usr/bin/env bash
# Gathers JBDA-TR naive, D-DAE and p-Bayes of seed 0 (runs/fmnist-jobs, the timed Table 2 run) and of seeds
# 1 and 2 (runs/fmnist-jbda-seeds) into one source directory, so that
# `experiment run config.json --reuse-attacks-from runs/src-jbda-3s` re-verifies all 18 surrogates in one grid.
# A thin wrapper of `honeytrace experiment combine` (issue 19), which refuses clashing cells and
# sources of another victim, key or attack settings. Usage: combine.sh [honeytrace binary]
set -euo pipefail
cd "$(dirname "$0")/../../.."
bin=${1:-.build/release/honeytrace}
rm -rf runs/src-jbda-3s runs/fmnist-jbda-3seeds   # the grid below is re-verified from scratch
mkdir -p runs/fmnist-jbda-3seeds
seed0=() seeds12=()
for row in jbda-tr--{naive,d-dae,p-bayes}; do
    for d in none honeytrace; do seed0+=("$d--$row--s0"); seeds12+=("$d--$row--s[12]"); done
done
# The manifest is the first source's (runs/fmnist-jbda-seeds), as before.
"$bin" experiment combine --out runs/src-jbda-3s "runs/fmnist-jbda-seeds:$(IFS=,; echo "${seeds12[*]}")" \
    "runs/fmnist-jobs:$(IFS=,; echo "${seed0[*]}")"
cp runs/fmnist-jobs/key.htkey runs/fmnist-jobs/calibration.json runs/fmnist-jbda-3seeds/   # the same key: skip recalibrating
