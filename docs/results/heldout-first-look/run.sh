#!/usr/bin/env bash
# First look at fresh seeds with the frozen held-out design: the `heldout-fmnist-cnn-v{1,2,3}` presets
# (victim seeds 1-3, key seeds 11-13) cut to four rows and attack seed 21 (config.json = v1,
# config-v2.json, config-v3.json). The full presets are `honeytrace experiment run --preset
# heldout-fmnist-cnn-vN` (12 rows x 3 attack seeds). v1 ran with --jobs 2, v2 and v3 with --threads 1.
# Needs the null pool: honeytrace experiment null-pool --out runs/null-pool --count 24
# Usage: docs/results/heldout-first-look/run.sh BIN OUTPREFIX   (writes OUTPREFIX-v1, -v2, -v3)
set -euo pipefail
bin=${1:?binary}; out=${2:?output prefix}
here=$(cd "$(dirname "$0")" && pwd)
"$bin" experiment run "$here/config.json" --out "$out-v1" --jobs 2
"$bin" experiment run "$here/config-v2.json" --out "$out-v2" --threads 1
"$bin" experiment run "$here/config-v3.json" --out "$out-v3" --threads 1
for v in 1 2 3; do "$bin" experiment report "$out-v$v"; done
