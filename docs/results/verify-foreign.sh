#!/usr/bin/env bash
# False-claim check for a key: verifies models that never saw the defended API — independently
# trained clean models and the undefended APIs' KnockoffNet surrogates of *other* victims (thieves
# of someone else's model) — with the reference an owner would use (the own undefended API's
# naive surrogate). Every row must read "not stolen".
# A thin wrapper of `honeytrace verify --key KEY --reference REF SUSPECT... --markdown` (issue 19).
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
# verify exits 0 when every suspect is "not stolen" and 2 when one is "stolen": both are tables; an error (1) stops the script.
"$bin" verify --key "$key" --reference "$ref" --markdown "${suspects[@]}" || [ $? -eq 2 ]
