#!/usr/bin/env bash
# Verifies independently trained models (never in contact with a defended API) and the KnockoffNet
# surrogates of runs/cmp against the keys of runs/cmp: one Markdown table per key, a thin wrapper of
# `honeytrace verify --key KEY --markdown SUSPECT...`.
# Usage: docs/results/verify-independent.sh [honeytrace binary]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-.build/release/honeytrace}
independent=(runs/indep/fmnist-cnn-s1 runs/indep/fmnist-cnn-s2 runs/indep/fmnist-cnn-s3 runs/victims/resnet-8-s0 runs/victims/vgg-mini-s0)
# verify exits 0 when every suspect is "not stolen" and 2 when one is "stolen": both are tables; an error (1) stops the script.
for key in wb-a8 wb paper; do
    printf '\n### key %s: independent models\n\n' "$key"
    "$bin" verify --key "runs/cmp/$key/key.htkey" --markdown "${independent[@]}" || [ $? -eq 2 ]
done
for key in wb-a8 wb logo; do
    printf '\n### key %s: its KnockoffNet surrogate, sequential, against the undefended API'"'"'s surrogate\n\n' "$key"
    "$bin" verify --key "runs/cmp/$key/key.htkey" --sequential --reference runs/cmp/none/surrogates/none--knockoff--naive--s0 \
        --markdown "runs/cmp/$key/surrogates/honeytrace--knockoff--naive--s0" || [ $? -eq 2 ]
done
