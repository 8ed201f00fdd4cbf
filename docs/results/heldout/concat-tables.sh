#!/usr/bin/env bash
# Joins the per-victim tables (fmnist-cnn-v1..v3/table.csv, written by `experiment report`) into
# table.csv here, one line per run. Their run records were not kept, so `experiment report DIR...
# --out` (which run.sh now calls) could not render the joined table from them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
first=$here/fmnist-cnn-v1/table.csv
header=$(head -1 "$first")
for v in 1 2 3; do
    [ "$(head -1 "$here/fmnist-cnn-v$v/table.csv")" = "$header" ] || { echo "fmnist-cnn-v$v/table.csv: other columns than v1's" >&2; exit 1; }
done
{ echo "$header"; for v in 1 2 3; do tail -n +2 "$here/fmnist-cnn-v$v/table.csv"; done; } > "$here/table.csv.tmp"
mv "$here/table.csv.tmp" "$here/table.csv"
