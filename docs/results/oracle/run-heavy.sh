#!/usr/bin/env bash
# The oracle attacker against the held-out preset's full defense, heavy-client switch on (preset
# oracle-heavy-fmnist-cnn-v1): the oracle's shadow copies both defenses and the switch, each calibrated
# on its own pool. Same victim, key and attack seed as run.sh; reuses the held-out grid's cells (naive and
# D-DAE against the same defense); resumable.
# Usage: docs/results/oracle/run-heavy.sh BIN [OUT] [JOBS]
set -euo pipefail
bin=${1:?binary}; out=${2:-runs/oracle-heavy-fmnist-cnn-v1}; jobs=${3:-2}
"$bin" experiment run --preset oracle-heavy-fmnist-cnn-v1 --out "$out" --victim runs/heldout-fmnist-cnn-v1/victim \
    --reuse-attacks-from runs/heldout-fmnist-cnn-v1 --jobs "$jobs"
"$bin" experiment report "$out" --title "The oracle attacker (Tab. 9) with the heavy-client switch, fmnist-cnn victim 1"
