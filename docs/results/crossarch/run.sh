#!/usr/bin/env bash
# Copies of another architecture (the paper's Tab. 8) on the held-out v1 triple (fmnist-cnn victim seed 1,
# key seed 11, attack seed 21) with the held-out preset's defense: the strong thief's KnockoffNet naive and
# top-1 and JBDA-TR naive and the weak thief's KnockoffNet naive, each copied into vgg-mini and into
# resnet-8, columns none and honeytrace, verdicts against runs/null-pool. Resumable.
# Usage: docs/results/crossarch/run.sh BIN [OUT] [JOBS]
set -euo pipefail
bin=${1:?binary}; out=${2:-runs/crossarch-fmnist-cnn-v1}; jobs=${3:-2}
"$bin" experiment run --preset crossarch-fmnist-cnn-v1 --out "$out" --victim runs/heldout-fmnist-cnn-v1/victim --jobs "$jobs"
"$bin" experiment report "$out" --title "Copies of another architecture (Tab. 8), fmnist-cnn victim 1"
