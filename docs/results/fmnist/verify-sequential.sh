#!/usr/bin/env bash
# Verifies every surrogate of an experiment directory with the sequential test (batches of 20
# trigger/control pairs, at most --pairs), as an owner would: the reference of a defended surrogate
# is the undefended API's surrogate from the same attack, that of an undefended one the victim.
# Prints one Markdown row per surrogate: verdict, queries spent (triggers + controls), p-values.
# Usage: docs/results/fmnist/verify-sequential.sh EXPERIMENT_DIR VICTIM_DIR [honeytrace binary] [pairs]
set -euo pipefail
dir=$1 victim=$2 bin=${3:-.build/release/honeytrace} pairs=${4:-500}
echo "| surrogate | verdict | queries | p binomial | p McNemar | WSR raw | WSR specific |"
echo "|---|---|---|---|---|---|---|"
# verify exits 0 for "not stolen" and 2 for "stolen": both are rows of the table; an error (1) stops the script.
for s in "$dir"/surrogates/*/; do
    id=$(basename "$s")
    if [[ $id == none--* ]]; then ref=$victim; else ref="$dir/surrogates/none--${id#*--}"; fi
    { "$bin" verify --suspect "$s" --key "$dir/key.htkey" --reference "$ref" --sequential --pairs "$pairs" --json || [ $? -eq 2 ]; } |
        /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
print("| %s | %s | %d | %.2g | %.2g | %.1f %% | %.1f %% |" % (sys.argv[1], r["verdict"], r["queriesSpent"], r["binomialPValue"],
      r["mcnemarPValue"], 100 * r["rawWSR"], 100 * r["specificWSR"]))' "$id"
done
