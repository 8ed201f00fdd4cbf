#!/usr/bin/env bash
# Soak test of `honeytrace serve`: runs the server with a model and key for a stated time under a
# mix of good and abusive requests (scripts/soak_load.py: good single-image requests, malformed
# bodies, oversized bodies, wrong content types, unknown routes, wrong API keys, bursts from one
# address, slow bodies and slow heads), samples the server's RSS every few seconds, and prints
# the unexpected answers and connection failures and the RSS series (min/max/first/last).
#
#   scripts/soak.sh MODEL_DIR KEY [DURATION_S=600] [CONCURRENCY=64]
#
# HONEYTRACE names the binary (default .build/release/honeytrace); SERVE_ARGS adds options to
# `serve` (e.g. --allow-seed-derived-secret). PORT (default 18080), SAMPLE_S (default 5) and
# BODY_TIMEOUT_S (default 10) may be set too. Exit status: 0 without unexpected answers, 1 with.
set -euo pipefail
if [ $# -lt 2 ]; then
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 64
fi
model=$1 key=$2 duration=${3:-600} concurrency=${4:-64}
here=$(cd "$(dirname "$0")" && pwd)
bin=${HONEYTRACE:-$here/../.build/release/honeytrace}
port=${PORT:-18080} sample=${SAMPLE_S:-5} body_timeout=${BODY_TIMEOUT_S:-10}
run=$(mktemp -d /tmp/honeytrace-soak.XXXXXX)
api_key="soak-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '{"clients": [{"name": "soak", "key": "%s", "rate_limit": null}]}\n' "$api_key" > "$run/clients.json"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$run/admin.token"
chmod 600 "$run/clients.json" "$run/admin.token"
input_size=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["inputShape"]; print(s[0]*s[1]*s[2])' "$model/model.json" 2>/dev/null || echo 784)

server=""
stop() {
    trap - EXIT INT TERM
    [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
}
trap stop EXIT INT TERM
# shellcheck disable=SC2086
"$bin" serve "$model" --key "$key" --clients "$run/clients.json" --database "$run/queries.sqlite" --port "$port" \
    --admin-port $((port + 1)) --admin-token-file "$run/admin.token" --body-timeout-seconds "$body_timeout" \
    --threads 1 --log-level warning ${SERVE_ARGS:-} > "$run/server.out" 2> "$run/server.err" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$port/health" > /dev/null || { echo "the server did not start:"; cat "$run/server.err"; exit 1; }
echo "server pid $server on 127.0.0.1:$port; $duration s at concurrency $concurrency; files in $run"

(
    while kill -0 "$server" 2>/dev/null; do
        awk -v t="$(date +%s)" '/^VmRSS/ {print t, $2}' "/proc/$server/status" 2>/dev/null || true
        sleep "$sample"
    done
) > "$run/rss.txt" &
sampler=$!
status=0
python3 "$here/soak_load.py" 127.0.0.1 "$port" "$api_key" "$input_size" "$duration" "$concurrency" "$body_timeout" \
    | tee "$run/load.txt" || status=$?
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
if ! kill -0 "$server" 2>/dev/null; then echo "the server died during the soak:"; tail -20 "$run/server.err"; exit 1; fi
curl -s -H "Authorization: Bearer $(cat "$run/admin.token")" "http://127.0.0.1:$((port + 1))/metrics" > "$run/metrics.txt" || true
echo "refusals by code (/metrics):"
grep '^honeytrace_rejected_requests_total' "$run/metrics.txt" | sed 's/^/  /' || true
awk 'NR == 1 {first = $2; min = $2; max = $2} {last = $2; if ($2 < min) min = $2; if ($2 > max) max = $2}
     END {printf "RSS (MiB, %d samples): first %.1f, min %.1f, max %.1f, last %.1f\n", NR, first/1024, min/1024, max/1024, last/1024}' "$run/rss.txt"
awk '{printf "%.0f ", $2/1024} END {print ""}' "$run/rss.txt" | fold -w 100 | sed 's/^/  /'
grep -q '^errors: 0$' "$run/load.txt" || status=1
stop
exit $status
