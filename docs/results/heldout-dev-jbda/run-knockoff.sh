#!/usr/bin/env bash
# The KnockoffNet rows of heldout-dev/ (strong naive and top-1, mixed naive, weak naive) on the same
# development seeds, for the frozen preset (j0) and the design that did best against JBDA-TR (j2):
# a design that replaces the preset must keep what the preset has against KnockoffNet.
# Usage: docs/results/heldout-dev-jbda/run-knockoff.sh BIN OUTDIR [THREADS]   (after run.sh: same victim)
set -euo pipefail
bin=${1:?binary}; out=${2:?output directory}; threads=${3:-1}
here=$(cd "$(dirname "$0")" && pwd)
victim=$out/victim-fmnist-cnn-v100
"$bin" experiment run "$here/j0-preset-knockoff.json" --victim "$victim" --out "$out/j0-preset-knockoff" --threads "$threads"
"$bin" experiment run "$here/j2-probe-threshold-knockoff.json" --victim "$victim" --out "$out/j2-probe-threshold-knockoff" \
    --threads "$threads" --reuse-attacks-from "$out/j0-preset-knockoff" --undefended-only
"$bin" experiment compare "$out"/j[0-3]-* --csv "$here/compare.csv" > "$here/compare.md"
# j4: j2 with a 15-point budget for heavy clients, against JBDA-TR (measured after j2's KnockoffNet rows).
"$bin" experiment run "$here/j4-probe-threshold-15.json" --victim "$victim" --out "$out/j4-probe-threshold-15" --threads "$threads" \
    --reuse-attacks-from "$out/j0-preset" --undefended-only
"$bin" experiment compare "$out"/j[0-4]-* --csv "$here/compare.csv" > "$here/compare.md"
# j4's KnockoffNet rows (measured after its JBDA-TR rows).
"$bin" experiment run "$here/j4-probe-threshold-15-knockoff.json" --victim "$victim" --out "$out/j4-probe-threshold-15-knockoff" \
    --threads "$threads" --reuse-attacks-from "$out/j0-preset-knockoff" --undefended-only
"$bin" experiment compare "$out"/j[0-4]-* --csv "$here/compare.csv" > "$here/compare.md"
