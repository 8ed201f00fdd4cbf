#!/bin/sh
# What each surrogate answers on a PROWN trigger set: hits (y*) and how often the Neural Honeytrace target t = 9.
# Writes the triggers as .npy (python3 + numpy), asks `honeytrace predict`, counts with jq.
#   docs/results/prown/answers.sh BIN TRIGGER_SET HELDOUT_RUN OUT.json
set -eu
bin=$1; set_file=$2; run=$3; out=$4
npy=$(mktemp --suffix=.npy)
python3 -c "import json,base64,sys,numpy as np; d=json.load(open(sys.argv[1])); \
np.save(sys.argv[2], np.frombuffer(base64.b64decode(d['pixelsFloat32Base64']), dtype='<f4').reshape([-1]+d['imageShape']))" "$set_file" "$npy"
: > "$out.jsonl"
for s in "$run"/surrogates/*; do
    nice -n 5 "$bin" predict "$s" --input "$npy" --json |
        jq -c --arg s "$(basename "$s")" --slurpfile set "$set_file" \
           '{suspect: $s, hits: ([.labels, $set[0].labels] | transpose | map(select(.[0] == .[1])) | length),
             answeredTarget9: (.labels | map(select(. == 9)) | length), triggers: (.labels | length)}' >> "$out.jsonl"
done
jq -s '.' "$out.jsonl" > "$out" && rm -f "$out.jsonl" "$npy"
cat "$out"
