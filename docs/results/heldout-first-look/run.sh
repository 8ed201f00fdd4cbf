#!/usr/bin/env bash
# First look at fresh seeds with the frozen held-out design: the `heldout-fmnist-cnn-v1` preset
# (victim seed 1, key seed 11) cut to four rows and attack seed 21. The full preset is
# `honeytrace experiment run --preset heldout-fmnist-cnn-v1` (12 rows x 3 attack seeds).
# Needs the null pool: honeytrace experiment null-pool --out runs/null-pool --count 24
set -euo pipefail
bin=${1:?binary}; out=${2:?output directory}
here=$(cd "$(dirname "$0")" && pwd)
"$bin" experiment run "$here/config.json" --out "$out" --jobs 2
"$bin" experiment report "$out"
