#!/usr/bin/env bash
# Development-seed comparison of defense designs against the strong thief (held-out protocol):
# victim fmnist-cnn seed 100 trained on train[0..<45000], key seed 100 from the owner validation
# split, attack seed 100. These seeds choose settings; reported figures use others.
# Usage: docs/results/heldout-dev/run.sh BIN OUTDIR [THREADS]
# (d0-d3 ran with 2 threads, d4-d7 with 1; a seed reproduces a surrogate bitwise at the same thread count.)
set -euo pipefail
bin=${1:?binary}; out=${2:?output directory}; threads=${3:-2}
here=$(cd "$(dirname "$0")" && pwd)
victim=$out/victim-fmnist-cnn-v100
[ -f "$victim/model.json" ] || "$bin" train --arch fmnist-cnn --seed 100 --limit 45000 --out "$victim"
first=d0-recommended
for design in d0-recommended d1-paper-composite d2-composite-probe d3-block-probe-nogate d4-pixel-mark \
              d5-heavy-pixel-mark d6-heavy-probe d7-heavy-probe-10; do
    reuse=()
    [ "$design" != "$first" ] && reuse=(--reuse-attacks-from "$out/$first" --undefended-only)
    "$bin" experiment run "$here/$design.json" --victim "$victim" --out "$out/$design" --threads "$threads" "${reuse[@]}"
done
"$bin" experiment compare "$out"/d[0-7]-* --csv "$here/compare.csv" > "$here/compare.md"
