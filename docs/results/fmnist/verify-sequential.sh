#!/usr/bin/env bash
# Verifies every surrogate of an experiment directory with the sequential test (batches of 20
# trigger/control pairs, at most --pairs), as an owner would: the reference of a defended surrogate
# is the undefended API's surrogate from the same attack, that of an undefended one the victim.
# Prints one Markdown row per surrogate: verdict, queries spent (triggers + controls), p-values.
# A thin wrapper of `honeytrace experiment verify DIR --victim VICTIM --sequential --pairs N` (issue 19).
# Usage: docs/results/fmnist/verify-sequential.sh EXPERIMENT_DIR VICTIM_DIR [honeytrace binary] [pairs]
set -euo pipefail
dir=$1 victim=$2 bin=${3:-.build/release/honeytrace} pairs=${4:-500}
# experiment verify exits 0 when every surrogate is "not stolen" and 2 when one is "stolen": both are tables; an error (1) stops the script.
"$bin" experiment verify "$dir" --victim "$victim" --sequential --pairs "$pairs" || [ $? -eq 2 ]
