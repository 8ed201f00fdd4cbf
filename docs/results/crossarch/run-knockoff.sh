#!/usr/bin/env bash
# The KnockoffNet-naive half of the cross-architecture grid (knockoff-naive.json: the crossarch-fmnist-cnn-v1
# preset with its top-1 and JBDA-TR rows left out), for a first look in less time: the strong and the weak
# thief copy held-out victim 1 (fmnist-cnn) into vgg-mini and into resnet-8, columns none and honeytrace.
# Usage: docs/results/crossarch/run-knockoff.sh BIN [OUT] [JOBS]
set -euo pipefail
bin=${1:?binary}; out=${2:-runs/crossarch-fmnist-cnn-v1-knockoff}; jobs=${3:-2}
"$bin" experiment run docs/results/crossarch/knockoff-naive.json --out "$out" --victim runs/heldout-fmnist-cnn-v1/victim --jobs "$jobs"
"$bin" experiment report "$out" --title "Copies of another architecture (Tab. 8, KnockoffNet naive), fmnist-cnn victim 1"
