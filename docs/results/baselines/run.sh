#!/bin/sh
# Trains the three training-time baselines on fmnist-cnn (seed 1 unless SEED is set) into OUT,
# each beside the bare victim it is compared with, then gathers their records into victims.json
# and victims.csv. Usage: run.sh HONEYTRACE_BINARY OUT BARE_VICTIM_DIR [KIND ...]
# ARGS adds options to every `baseline train` (e.g. ARGS="--kappa 0.1"), TAG to the directory names.
set -eu
bin=$1; out=$2; victim=$3; shift 3
seed=${SEED:-1}; arch=${ARCH:-fmnist-cnn}; threads=${THREADS:-2}; args=${ARGS:-}; tag=${TAG:-}
kinds=${*:-composite mea-defender ewe}
mkdir -p "$out"
for kind in $kinds; do
    name="$kind$tag-$arch-s$seed"
    dir="$out/$name"
    if [ -f "$dir/baseline.json" ]; then echo "skip $dir (done)"; continue; fi
    echo "== $kind $arch seed $seed $args ($(date -u +%FT%TZ))"
    # shellcheck disable=SC2086
    "$bin" baseline train --kind "$kind" --architecture "$arch" --seed "$seed" --victim "$victim" \
        --threads "$threads" $args --out "$dir" 2>&1 | tee "$out/$name.log"
done
python3 - "$out" <<'PY'
import csv, glob, json, os, sys
out = sys.argv[1]
rows = []
for path in sorted(glob.glob(os.path.join(out, "*", "baseline.json"))):
    r = json.load(open(path))
    rows.append({"directory": os.path.basename(os.path.dirname(path)), "kind": r["settings"]["kind"],
                 "architecture": r["recipe"]["architecture"], "seed": r["recipe"]["seed"],
                 "epochs": r["recipe"]["epochs"], "train_seconds": round(r["trainSeconds"], 1),
                 "test_accuracy": r["testAccuracy"], "victim_test_accuracy": r.get("victimTestAccuracy"),
                 "accuracy_drop_points": None if r.get("victimTestAccuracy") is None
                     else round(100 * (r["victimTestAccuracy"] - r["testAccuracy"]), 2),
                 "watermark_rate": r["watermarkRate"], "validation_watermark_rate": r["validationWatermarkRate"],
                 "clean_source_target_rate": r["cleanSourceTargetRate"], "triggers": r["triggerCount"],
                 "mean_ce_weight": r.get("meanCrossEntropyWeight"),
                 "validation_accuracy": r.get("validationAccuracy"),
                 "victim_validation_accuracy": r.get("victimValidationAccuracy"),
                 "validation_drop_points": None if r.get("validationAccuracy") is None or r.get("victimValidationAccuracy") is None
                     else round(100 * (r["victimValidationAccuracy"] - r["validationAccuracy"]), 2)})
json.dump(rows, open(os.path.join(out, "victims.json"), "w"), indent=2)
with open(os.path.join(out, "victims.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()) if rows else ["directory"])
    w.writeheader(); w.writerows(rows)
print(json.dumps(rows, indent=2))
PY
