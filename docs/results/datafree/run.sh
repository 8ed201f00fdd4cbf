#!/usr/bin/env bash
# The data-free thieves (the paper's Tab. 7) on the held-out v1 triple (victim seed 1, key seed 11, attack
# seed 21) with the held-out preset's defense (heavy-client switch on): DFME (soft labels), DFMS and
# DisGUIDE with soft and hard labels, 100,000 queries each, columns none and honeytrace, verdicts against
# runs/null-pool. Resumable (run it again to continue).
# Usage: docs/results/datafree/run.sh BIN [OUT] [JOBS]
set -euo pipefail
bin=${1:?binary}; out=${2:-runs/datafree-fmnist-cnn-v1}; jobs=${3:-2}
"$bin" experiment run --preset datafree-fmnist-cnn-v1 --out "$out" --victim runs/heldout-fmnist-cnn-v1/victim --jobs "$jobs"
"$bin" experiment report "$out" --title "Data-free thieves (Tab. 7), fmnist-cnn victim 1"
