#!/bin/sh
# PROWN (docs/algorithms.md §8) on the held-out protocol's first victim: make the trigger set from the owner validation split,
# measure the null pool's trigger accuracies into it, then verify the victim and every surrogate at three
# false-claim rates. Writes the trigger set to RUN_DIR and the figures to OUT (results.json, results.csv).
#
#   docs/results/prown/run.sh BIN HELDOUT_RUN NULL_POOL RUN_DIR [OUT] [SEED]
#   docs/results/prown/run.sh .build/release/honeytrace runs/heldout-v1-first runs/null-pool runs/prown
# Extra `prown create` options go in PROWN_ARGS, and TAG names the variant's files (default s$SEED).
set -eu
bin=$1; run=$2; pool=$3; work=$4; out=${5:-docs/results/prown}; seed=${6:-1}
tag=${TAG:-s$seed}
mkdir -p "$work" "$out"
set_file="$work/triggers-$tag.prown.json"
if [ ! -f "$set_file" ]; then
    start=$(date +%s)
    nice -n 5 "$bin" prown create "$run/victim" --out "$set_file" --seed "$seed" --null-pool "$pool" ${PROWN_ARGS:-} 2>&1 | tee "$out/create-$tag.log"
    echo "create: $(( $(date +%s) - start )) s" | tee -a "$out/create-$tag.log"
fi
# The file without its pixels: settings, guarantee, search statistics, null-model accuracies.
jq 'del(.pixelsFloat32Base64)' "$set_file" > "$out/triggers-$tag.summary.json"

verdicts="$work/verdicts-$tag.jsonl"
: > "$verdicts"
start=$(date +%s)
for suspect in "$run/victim" "$run"/surrogates/*; do
    for p in 0.05 0.001 0.0001; do
        nice -n 5 "$bin" verify --prown "$set_file" "$suspect" --false-claim-rate "$p" --json |
            jq -c --arg s "$(basename "$suspect")" --argjson seed "$seed" --arg tag "$tag" '. + {suspect: $s, seed: $seed, variant: $tag}' >> "$verdicts"
    done
done
echo "verify: $(( $(date +%s) - start )) s for $(wc -l < "$verdicts") verdicts" | tee -a "$out/create-$tag.log"
jq -s '.' "$verdicts" > "$out/results-$tag.json"
jq -r '["seed","suspect","false_claim_rate","hits","triggers","trigger_accuracy","threshold","null_mean","null_std","verdict",
        "normal_p","empirical_p","binomial_p","pooled_null_rate","null_false_claims","null_models"],
       (.[] | [.seed,.suspect,.falseClaimRate,.hits,.triggers,.triggerAccuracy,.threshold,.nullMean,.nullStandardDeviation,.verdict,
               .normalPValue,.empiricalPValue,.binomialPValue,.pooledNullRate,.nullFalseClaims,.nullModels]) | @csv' \
    "$out/results-$tag.json" > "$out/results-$tag.csv"
cat "$out/results-$tag.csv"
