#!/usr/bin/env bash
# The main job, end to end on Fashion-MNIST: install what is missing, build honeytrace (release),
# train a victim (or reuse it), create a watermark key and calibrate it, steal the victim with
# KnockoffNet (naive and smoothing) through the undefended and the defended API, verify every
# surrogate and an independently trained model, verify one surrogate again behind an HTTP server and
# offline (exported queries, answers as a file),
# and print the verdicts and the table.
# Everything lands in runs/demo/ (reused on a second run).
# Usage: scripts/demo.sh [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=runs/demo
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        *) echo "demo: unknown argument '$1' (expected --out DIR)" >&2; exit 2 ;;
    esac
done
scripts/setup.sh
swift build -c release --product honeytrace
bin=.build/release/honeytrace
mkdir -p "$out"

echo "== victim, key, attacks and verification (honeytrace experiment run --preset demo)"
"$bin" experiment run --preset demo --out "$out"

echo "== an independently trained model (never saw the API) must not be called stolen"
if [ ! -f "$out/independent/model.json" ]; then
    "$bin" train --arch fmnist-cnn --seed 101 --epochs 6 --out "$out/independent"
fi
# verify exits 0 for "not stolen", 2 for "stolen", 1 when it cannot run (64 for a usage error).
status=0
"$bin" verify --suspect "$out/independent" --key "$out/key.htkey" --reference "$out/victim" || status=$?
[ "$status" -eq 0 ] || { echo "demo: expected the verdict 'not stolen' (exit 0), got exit $status" >&2; exit 1; }

echo "== the defended API's surrogates against the key"
# Either verdict is a result here (exit 0 or 2); only an error (1) stops the demo.
for s in "$out"/surrogates/honeytrace--*; do
    echo "-- $(basename "$s")"
    "$bin" verify --suspect "$s" --key "$out/key.htkey" --reference "$out/surrogates/none--${s##*/honeytrace--}" || [ $? -eq 2 ]
done

echo "== the same verdict through HTTP: serve a surrogate on loopback, verify it behind its URL"
suspect="$out/surrogates/honeytrace--knockoff--naive--s0"
"$bin" serve "$suspect" --undefended --port 0 --no-admin --database :memory: > "$out/serve.log" 2>&1 &
server=$!
# The server stops on every way out of this script: an error, Ctrl-C, a failed verification.
trap 'kill -TERM "$server" 2>/dev/null || true' EXIT INT TERM
url=""
for _ in $(seq 1 150); do
    url=$(grep -o 'on http://[0-9.]*:[0-9]*' "$out/serve.log" | head -1 | cut -c4- || true)
    [ -n "$url" ] && break
    sleep 0.2
done
[ -n "$url" ] || { echo "demo: the server did not start:" >&2; cat "$out/serve.log" >&2; exit 1; }
"$bin" verify --endpoint "$url" --key "$out/key.htkey" --reference "$out/surrogates/none--knockoff--naive--s0" || [ $? -eq 2 ]
kill -TERM "$server"
wait "$server"
trap - EXIT INT TERM

echo "== the same verdict offline: export the queries, let the suspect answer them as a file, verify the answers"
# What an owner does with a suspect it can only query by hand or through an API of another shape.
rm -rf "$out/offline"
"$bin" verify --key "$out/key.htkey" --export-queries "$out/offline"
"$bin" predict "$suspect" --input "$out/offline/queries.npy" --json > "$out/offline/answers.json"
"$bin" verify --key "$out/key.htkey" --answers "$out/offline/answers.json" --reference "$out/surrogates/none--knockoff--naive--s0" || [ $? -eq 2 ]

echo "== table"
"$bin" experiment report "$out"
