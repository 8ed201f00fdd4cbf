#!/usr/bin/env bash
# Table 2 with every column on held-out victim 1 (fmnist-cnn, key 11, attack seed 21): none,
# Neural Honeytrace, DAWN, composite backdoor, MEA-Defender, EWE and the output perturbations, PROWN
# on every copy, the strong thief's rows beside the ten MNIST-5k rows. Reuses the held-out grid's
# victim and its none/honeytrace cells; resumable (run it again to continue).
# Needs runs/null-pool (honeytrace experiment null-pool --out runs/null-pool --count 24) and
# runs/heldout-fmnist-cnn-v1 (docs/results/heldout/run.sh).
# Usage: docs/results/baselines/grid.sh BIN [OUT]
set -euo pipefail
bin=${1:?binary}; out=${2:-runs/baselines-fmnist-cnn-v1}
"$bin" experiment run --preset baselines-fmnist-cnn-v1 --out "$out" --victim runs/heldout-fmnist-cnn-v1/victim \
    --reuse-attacks-from runs/heldout-fmnist-cnn-v1 --jobs 2
"$bin" experiment report "$out"
