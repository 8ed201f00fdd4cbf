#!/usr/bin/env bash
# Calibrates the preset's key (resnet-8 victim, 7 px top-left block, watermark-probe, α 8, β 1) to the
# 0.5-point budget with the out-of-distribution gate off and at several quantiles, and prints what the
# calibrated defense does to the Fashion-MNIST test set (honest users) and to MNIST-5k (attack-like).
# usage: sweep.sh KEY VICTIM   (honeytrace on PATH or HONEYTRACE=...)
set -euo pipefail
key=$1 victim=$2
ht=${HONEYTRACE:-honeytrace}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| gate quantile | d | test accuracy (bare 92.52 %) | test flipped | MNIST-5k mixed | MNIST-5k flipped | MNIST-5k mean s |"
echo "|---|---|---|---|---|---|---|"
for q in off 0.9 0.95 0.97 0.98 0.99; do
    "$ht" calibrate "$victim" --key "$key" --out "$tmp/k.htkey" --flipping-powers 1 --ood-gate "$q" --json > "$tmp/c.json"
    python3 - "$q" "$tmp/c.json" <<'PY'
import json, sys
q, path = sys.argv[1], sys.argv[2]
c = json.load(open(path))["chosen"]
print(f"| {q} | {c['offset']:.3f} | {100*c['defendedAccuracy']:.2f} % | {100*c['fractionFlipped']:.2f} % | "
      f"{100*c['oodFractionMixed']:.1f} % | {100*c['oodFractionFlipped']:.2f} % | {c['oodMeanSimilarity']:.4f} |")
PY
done
