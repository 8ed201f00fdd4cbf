#!/usr/bin/env bash
# Runs replicas of `honeytrace serve` on one PostgreSQL ledger behind nginx, on this machine, in the
# foreground until ctrl-C or SIGTERM (then stops them all). See docs/replicas.md.
#
#   scripts/replicas.sh MODEL_DIR KEY CLIENTS_JSON postgres://USER@HOST:PORT/DB [REPLICAS]
#
# nginx listens on 127.0.0.1:$PORT (default 8080); replica i on 127.0.0.1:$((FIRST_PORT + i))
# (default 8081, 8082, …). HONEYTRACE names the binary (default: honeytrace on PATH). Logs and the
# nginx configuration go to a new directory under /tmp, printed at start.
set -euo pipefail
if [ $# -lt 4 ]; then
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 64
fi
model=$1 key=$2 clients=$3 ledger=$4 replicas=${5:-2}
port=${PORT:-8080} first=${FIRST_PORT:-8081} bin=${HONEYTRACE:-honeytrace}
export PATH="$PATH:/usr/sbin:/sbin"
run=$(mktemp -d /tmp/honeytrace-replicas.XXXXXX)
chmod 755 "$run"
mkdir -m 777 "$run/tmp"
pids=()
stop() {
    trap - EXIT INT TERM
    [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
    wait || true
}
trap stop EXIT INT TERM

upstreams=""
for ((i = 0; i < replicas; i++)); do
    p=$((first + i))
    "$bin" serve "$model" --key "$key" --clients "$clients" --ledger "$ledger" \
        --host 127.0.0.1 --port "$p" --no-admin --threads 1 >"$run/replica$i.log" 2>&1 &
    pids+=($!)
    upstreams+="        server 127.0.0.1:$p max_fails=1 fail_timeout=10s;"$'\n'
done

sed -e "s|@DIR@|$run|g" -e "s|@PORT@|$port|g" "$(dirname "$0")/replicas-nginx.conf" |
    UPSTREAMS="$upstreams" awk '$1 == "@UPSTREAMS@" { printf "%s", ENVIRON["UPSTREAMS"]; next } { print }' >"$run/nginx.conf"
nginx -c "$run/nginx.conf" -p "$run" -e "$run/error.log" &
pids+=($!)
echo "replicas: $replicas on ports $first–$((first + replicas - 1)), nginx on http://127.0.0.1:$port, logs in $run (pids ${pids[*]})"
# A replica that dies leaves the others serving (nginx skips it); ctrl-C stops everything.
wait
