#!/usr/bin/env bash
# The paper's Fig. 7 on Fashion-MNIST: d, α, β, the out-of-distribution gate, the accuracy budget and the
# thief's query budget, each moved alone on the held-out v1 triple (victim seed 1, key seed 11, attack
# seed 21), the heavy-client switch off, against the strong thief (KnockoffNet naive on Fashion-MNIST
# train[50000..<60000]) and the weak one (KnockoffNet naive on MNIST-5k); verdicts against runs/null-pool.
# Every sweep shares one base grid (d calibrated to the preset's 0.5-point budget); resumable.
# Usage: docs/results/sweep/run.sh BIN [OUT]   (then copy OUT/sweep-*.{md,csv,json,svg} here)
set -euo pipefail
bin=${1:?binary}; out=${2:-runs/sweep-fmnist-cnn-v1}
common=(--preset heldout-fmnist-cnn-v1 --victim runs/heldout-fmnist-cnn-v1/victim
        --rows fmnist-attacker--knockoff--naive,mnist-5k--knockoff--naive --out "$out" --jobs 2)
"$bin" experiment sweep "${common[@]}" --parameter d --values 1,1.5,2,3,4
"$bin" experiment sweep "${common[@]}" --parameter alpha --values 1,2,4,16
"$bin" experiment sweep "${common[@]}" --parameter beta --values 1,2,5
"$bin" experiment sweep "${common[@]}" --parameter gate --values 0,0.9,0.99
"$bin" experiment sweep "${common[@]}" --parameter budget-points --values 0.25,1,2
"$bin" experiment sweep "${common[@]}" --parameter queries --values 5000,10000,50000
