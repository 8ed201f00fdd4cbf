#!/usr/bin/env bash
# Development-seed comparison of heavy-client designs against JBDA-TR, the strong thief's row the
# frozen held-out design did not catch on fresh seeds (top-1 answers: 6.6 and 8.4 points on report
# victims 1 and 3). Same development seeds as heldout-dev/: victim fmnist-cnn seed 100 trained on
# train[0..<45000], key seed 100, attack seed 100; the strong thief (fmnist-attacker), JBDA-TR naive
# and top-1. These seeds choose settings; no figure here is a reported result.
#   j0  the frozen preset (heavy clients past 2,000 queries: watermark-probe, no gate, beta 0.05,
#       10-point budget with the 95 % bound)
#   j1  j0 with union (heavy clients keep the honest defense's flips too)
#   j2  the heavy defense scores the mark probe alone (flip where the probe reads above 1 - d) and
#       without the unconfident boost
#   j3  j0 without the unconfident boost (p_max < 0.5: s <- s^(1/4)) in the heavy defense
# Usage: docs/results/heldout-dev-jbda/run.sh BIN OUTDIR [THREADS]
set -euo pipefail
bin=${1:?binary}; out=${2:?output directory}; threads=${3:-1}
here=$(cd "$(dirname "$0")" && pwd)
victim=$out/victim-fmnist-cnn-v100
[ -f "$victim/model.json" ] || "$bin" train --arch fmnist-cnn --seed 100 --limit 45000 --out "$victim"
first=j0-preset
for design in j0-preset j1-union j2-probe-threshold j3-no-unconfident-boost; do
    reuse=()
    [ "$design" != "$first" ] && reuse=(--reuse-attacks-from "$out/$first" --undefended-only)
    "$bin" experiment run "$here/$design.json" --victim "$victim" --out "$out/$design" --threads "$threads" "${reuse[@]}"
done
"$bin" experiment compare "$out"/j[0-3]-* --csv "$here/compare.csv" > "$here/compare.md"
