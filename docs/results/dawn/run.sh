#!/usr/bin/env bash
# DAWN on a trained victim: the share of answers changed and accuracy (test set, then the attacker's
# pool train[50000..<60000] as the same client), the client's log, the verdicts on the independent
# models of a null pool, and the same log verified through `serve --dawn-secret` and `verify --endpoint`
# (the served DAWN answers as a perfect copy of its own answers would), with the null pool as null models.
# Usage: docs/results/dawn/run.sh BIN VICTIM_DIR NULL_POOL_DIR OUT_DIR   (reuses OUT_DIR/dawn.secret if present)
set -euo pipefail
bin=$1 victim=$2 pool=$3 out=$4
mkdir -p "$out"
[ -f "$out/dawn.secret" ] || "$bin" dawn secret --out "$out/dawn.secret"
"$bin" dawn evaluate "$victim" --secret "$out/dawn.secret" --train-queries 10000 --client thief \
    --log-out "$out/thief.dawnlog.json" | tee "$out/evaluate.txt"
"$bin" dawn evaluate "$victim" --secret "$out/dawn.secret" --train-queries 10000 --client thief --json > "$out/evaluate.json"
# verify exits 0 for "not stolen" (expected for the victim and the null models), 2 for "stolen", 1 on an error:
# either verdict is a result, only an error stops the script.
{ "$bin" verify --dawn-log "$out/thief.dawnlog.json" --suspect "$victim" || [ $? -eq 2 ]; } | tee "$out/verify-victim.txt"
refs=()
for d in "$pool"/null-*; do
    [ -d "$d" ] || continue
    refs+=(--reference "$d")
    "$bin" verify --dawn-log "$out/thief.dawnlog.json" --suspect "$d" --json > "$out/verify-$(basename "$d").json" || [ $? -eq 2 ]
done
printf '{"clients": [{"name": "thief", "key": "ht-thief-0123456789abcdef", "rate_limit": null}]}\n' > "$out/clients.json"
chmod 600 "$out/clients.json"
rm -f "$out"/queries.sqlite*
"$bin" serve "$victim" --dawn-secret "$out/dawn.secret" --clients "$out/clients.json" --database "$out/queries.sqlite" \
    --port 18431 --no-admin --log-level warning > "$out/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q "serving" "$out/serve.log" && break; sleep 0.2; done
{ "$bin" verify --dawn-log "$out/thief.dawnlog.json" --endpoint http://127.0.0.1:18431 --api-key ht-thief-0123456789abcdef \
    "${refs[@]}" || [ $? -eq 2 ]; } | tee "$out/verify-endpoint.txt"
"$bin" dawn export-log --database "$out/queries.sqlite" --client thief --out "$out/thief-exported.dawnlog.json"
kill $server; wait $server || true
trap - EXIT
