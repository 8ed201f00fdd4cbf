#!/usr/bin/env bash
# False-claim check for a key: verifies models that never saw the defended API — independently
# trained clean models and the undefended APIs' KnockoffNet surrogates of *other* victims (thieves
# of someone else's model) — with the reference an owner would use (the own undefended API's
# naive surrogate). Every row must read "not stolen".
# Usage: docs/results/verify-foreign.sh KEY REFERENCE SUSPECT_DIR... [-- honeytrace binary]
set -euo pipefail
cd "$(dirname "$0")/../.."
key=$1 ref=$2; shift 2
bin=.build/release/honeytrace
suspects=()
while (($#)); do
    if [[ $1 == -- ]]; then bin=$2; break; fi
    suspects+=("$1"); shift
done
# verify exits 0 for "not stolen" and 2 for "stolen": both are rows of the table; an error (1) stops the script.
echo "| suspect | verdict | p binomial | p McNemar | WSR raw | controls → t | null rate |"
echo "|---|---|---|---|---|---|---|"
for s in "${suspects[@]}"; do
    { "$bin" verify --suspect "$s" --key "$key" --reference "$ref" --json || [ $? -eq 2 ]; } | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
print("| %s | %s | %.2g | %.2g | %.1f %% | %.1f %% | %.3f |" % (sys.argv[1], r["verdict"], r["binomialPValue"], r["mcnemarPValue"],
      100 * r["rawWSR"], 100 * r["controlRate"], r["nullRate"]))' "$s"
done
