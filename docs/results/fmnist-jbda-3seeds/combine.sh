#!/usr/bin/env bash
# Gathers JBDA-TR naive, D-DAE and p-Bayes of seed 0 (runs/fmnist-jobs, the timed Table 2 run) and of seeds
# 1 and 2 (runs/fmnist-jbda-seeds) into one source directory, so that
# `experiment run config.json --reuse-attacks-from runs/src-jbda-3s` re-verifies all 18 surrogates in one grid.
set -euo pipefail
cd "$(dirname "$0")/../../.."
rm -rf runs/src-jbda-3s runs/fmnist-jbda-3seeds   # the grid below is re-verified from scratch
mkdir -p runs/src-jbda-3s/runs runs/src-jbda-3s/surrogates runs/fmnist-jbda-3seeds
cp runs/fmnist-jbda-seeds/manifest.json runs/src-jbda-3s/
for row in jbda-tr--{naive,d-dae,p-bayes}; do
    for d in none honeytrace; do
        for src in "runs/fmnist-jobs:$d--$row--s0" "runs/fmnist-jbda-seeds:$d--$row--s1" "runs/fmnist-jbda-seeds:$d--$row--s2"; do
            dir=${src%%:*} id=${src#*:}
            cp "$dir/runs/$id.json" runs/src-jbda-3s/runs/
            cp -r "$dir/surrogates/$id" runs/src-jbda-3s/surrogates/
        done
    done
done
cp runs/fmnist-jobs/key.htkey runs/fmnist-jobs/calibration.json runs/fmnist-jbda-3seeds/   # the same key: skip recalibrating
