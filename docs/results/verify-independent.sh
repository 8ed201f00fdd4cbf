#!/usr/bin/env bash
# Verifies independently trained models (never in contact with a defended API) and the KnockoffNet
# surrogates of runs/cmp against the keys of runs/cmp, one Markdown row per (model, key).
# Usage: docs/results/verify-independent.sh [honeytrace binary]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-.build/release/honeytrace}
echo "| suspect | key | verdict | p | WSR raw | WSR specific | controls → t | queries |"
echo "|---|---|---|---|---|---|---|---|"
# verify exits 0 for "not stolen" and 2 for "stolen": both are rows of the table; an error (1) stops the script.
row() {  # suspect key [extra verify options…]
    local suspect=$1 key=$2; shift 2
    { "$bin" verify --suspect "$suspect" --key "runs/cmp/$key/key.htkey" --json "$@" || [ $? -eq 2 ]; } | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
print("| %s | %s | %s | %.2g | %.1f %% | %.1f %% | %.1f %% | %d |" % (sys.argv[1], sys.argv[2], r["verdict"], r["pValue"],
      100 * r["rawWSR"], 100 * r["specificWSR"], 100 * r["controlRate"], r["queriesSpent"]))' "$suspect" "$key${*:+ ($*)}"
}
for model in runs/indep/fmnist-cnn-s1 runs/indep/fmnist-cnn-s2 runs/indep/fmnist-cnn-s3 runs/victims/resnet-8-s0 runs/victims/vgg-mini-s0; do
    for key in wb-a8 wb paper; do row "$model" "$key"; done
done
for key in wb-a8 wb logo; do
    row "runs/cmp/$key/surrogates/honeytrace--knockoff--naive--s0" "$key" --sequential \
        --reference runs/cmp/none/surrogates/none--knockoff--naive--s0
done
