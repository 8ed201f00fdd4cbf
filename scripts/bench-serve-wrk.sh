#!/usr/bin/env bash
# The HTTP server under single-image load from another process: `honeytrace serve` on loopback,
# driven by wrk (Debian's package, installed when missing) at each concurrency level in turn, with
# one connection per concurrent client, each sending one request at a time. The requests cycle
# through 256 distinct uniform-noise images as JSON bodies, from a client with no rate limit; the
# ledger is a SQLite file in a temporary directory. Prints `ours serve-wrk c<N> requests_per_s |
# p50_ms | p99_ms | errors <value>` lines (wrk's latency percentiles).
# Usage: scripts/bench-serve-wrk.sh BIN MODEL_DIR KEY [SECONDS] [LEVELS] [SERVE OPTIONS...]
#   e.g. scripts/bench-serve-wrk.sh .build/release/honeytrace runs/victim runs/key.htkey 10 1,16,64
set -euo pipefail
bin=${1:?binary}; model=${2:?model directory}; key=${3:?watermark key}; seconds=${4:-10}; levels=${5:-1,16,64}
shift $(( $# < 5 ? $# : 5 ))
if ! command -v wrk >/dev/null; then
    echo "bench-serve-wrk: installing wrk" >&2
    sudo_cmd=""; [ "$(id -u)" != 0 ] && sudo_cmd="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk >/dev/null
fi
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
api_key="ht-bench-$RANDOM$RANDOM"
printf '{"clients": [{"name": "bench", "key": "%s", "rate_limit": null}]}\n' "$api_key" > "$work/clients.json"
# 256 request bodies of one image each, shaped as the model's input.
python3 - "$model/model.json" "$work" <<'EOF'
import json, random, sys
manifest = json.load(open(sys.argv[1]))
size = 1
for n in manifest["inputShape"]:
    size *= n
rng = random.Random(1)
for i in range(256):
    with open(f"{sys.argv[2]}/body{i}.json", "w") as f:
        json.dump({"images": [[round(rng.random(), 6) for _ in range(size)]]}, f)
EOF
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve "$model" --key "$key" --port "$port" --no-admin --clients "$work/clients.json" \
    --database "$work/ledger.sqlite" "$@" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/health" && break
    kill -0 "$server" 2>/dev/null || { echo "bench-serve-wrk: the server stopped:" >&2; cat "$work/serve.log" >&2; exit 1; }
    sleep 0.1
done
cat > "$work/requests.lua" <<EOF
local bodies = {}
for i = 0, 255 do
    local f = assert(io.open("$work/body" .. i .. ".json"))
    bodies[i + 1] = f:read("*a")
    f:close()
end
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer $api_key" }
local n = 0
request = function()
    n = n % #bodies + 1
    return wrk.format("POST", "/v1/predict", headers, bodies[n])
end
EOF
# A 1-second warm-up, then the measurement, per level.
for c in ${levels//,/ }; do
    wrk -t1 -c"$c" -d1s -s "$work/requests.lua" "http://127.0.0.1:$port" > /dev/null
    wrk -t1 -c"$c" -d"${seconds}s" --latency -s "$work/requests.lua" "http://127.0.0.1:$port" > "$work/wrk-$c.txt"
    python3 - "$work/wrk-$c.txt" "$c" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
c = sys.argv[2]
def ms(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]
pct = {p: ms(v, u) for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors += int(non2xx.group(1)) if non2xx else 0
print(f"ours serve-wrk c{c} requests_per_s {rps:.1f}")
print(f"ours serve-wrk c{c} p50_ms {pct['50']:.2f}")
print(f"ours serve-wrk c{c} p99_ms {pct['99']:.2f}")
print(f"ours serve-wrk c{c} errors {errors}")
EOF
done
