#!/usr/bin/env bash
# The oracle attacker (the paper's Tab. 9) on the held-out v1 triple (victim seed 1, key seed 11, attack
# seed 21), the heavy-client switch off: KnockoffNet naive, D-DAE and oracle for the weak (MNIST-5k) and the
# strong (Fashion-MNIST train[50000..<60000]) thief, columns none and honeytrace, verdicts against
# runs/null-pool. Reuses the held-out grid's undefended copies; resumable.
# Usage: docs/results/oracle/run.sh BIN [OUT] [JOBS]
set -euo pipefail
bin=${1:?binary}; out=${2:-runs/oracle-fmnist-cnn-v1}; jobs=${3:-2}
"$bin" experiment run --preset oracle-fmnist-cnn-v1 --out "$out" --victim runs/heldout-fmnist-cnn-v1/victim \
    --reuse-attacks-from runs/heldout-fmnist-cnn-v1 --undefended-only --jobs "$jobs"
"$bin" experiment report "$out" --title "The oracle attacker (Tab. 9), fmnist-cnn victim 1"
