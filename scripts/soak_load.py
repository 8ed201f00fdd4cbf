#!/usr/bin/env python3
"""Load generator of scripts/soak.sh: keeps CONCURRENCY connections busy against a honeytrace
server for DURATION seconds with a mix of good and abusive requests, and reports every answer
that is not one its kind of request may get, and every connection that fails unexpectedly.

Each worker binds its own loopback source address (127.0.1.N), so per-address limits see
distinct clients. Kinds of worker (by index):
  good      single-image JSON requests with a valid key: 200 only;
  mixed     good requests interleaved with malformed JSON (400), wrong content types (415),
            oversized bodies announced by Content-Length (413) and unknown routes (404);
            these refusals cost the address tokens, so 429 address_rate_limited is allowed too;
  guesser   wrong API keys: 401, then 429 locked_out;
  burst     bursts of 300 malformed requests as fast as it can: 400, then 429 address_rate_limited;
  slow      a body trickling slower than the body timeout (408 and the connection closed), or
            a head trickling in (closed by the idle timeout, no answer).

  soak_load.py HOST PORT API_KEY INPUT_SIZE DURATION CONCURRENCY [BODY_TIMEOUT_S]
"""
import asyncio, json, random, sys, time
from collections import Counter

host, port, key, size, duration, concurrency = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
body_timeout = float(sys.argv[7]) if len(sys.argv) > 7 else 10.0
deadline = time.monotonic() + duration
seen = Counter()        # (kind, status) -> count
errors = Counter()      # description -> count
examples = {}

def image_body(rng):
    return json.dumps({"images": [[round(rng.random(), 3) for _ in range(size)]]}).encode()

def request(path, body, content_type="application/json", auth=key, extra=""):
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    if auth: head += f"Authorization: Bearer {auth}\r\n"
    return (head + extra + "\r\n").encode() + body

async def read_response(reader):
    line = await reader.readline()
    if not line: raise ConnectionError("closed before an answer")
    status = int(line.split()[1])
    length, close = 0, False
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b""): break
        name, _, value = h.decode().partition(":")
        if name.lower() == "content-length": length = int(value)
        if name.lower() == "connection" and value.strip().lower() == "close": close = True
    body = await reader.readexactly(length) if length else b""
    return status, body, close

def note(kind, status, body, allowed):
    seen[(kind, status)] += 1
    code = ""
    if status >= 400:
        try: code = json.loads(body)["error"]["code"]
        except Exception: code = "(no JSON error body)"
    if (status, code) not in allowed and (status, None) not in allowed:
        d = f"{kind}: unexpected {status} {code}"
        errors[d] += 1
        examples.setdefault(d, body[:200])

async def connect(index):
    return await asyncio.open_connection(host, port, local_addr=(f"127.0.1.{index + 1}", 0))

async def exchange(conn, index, payload):
    if conn is None: conn = await connect(index)
    reader, writer = conn
    writer.write(payload)
    await writer.drain()
    status, body, close = await read_response(reader)
    if close:
        writer.close()
        conn = None
    return conn, status, body

OK = {(200, None)}
LIMITED = {(429, "address_rate_limited")}

async def worker(index, kind):
    rng = random.Random(index)
    conn = None
    while time.monotonic() < deadline:
        try:
            if kind == "good":
                conn, s, b = await exchange(conn, index, request("/v1/predict", image_body(rng)))
                note(kind, s, b, OK)
            elif kind == "mixed":
                r = rng.random()
                if r < 0.6:
                    conn, s, b = await exchange(conn, index, request("/v1/predict", image_body(rng))); note("mixed good", s, b, OK | LIMITED)
                elif r < 0.7:
                    conn, s, b = await exchange(conn, index, request("/v1/predict", b'{"images": [[0.5,')); note("malformed", s, b, {(400, "malformed_json")} | LIMITED)
                elif r < 0.8:
                    conn, s, b = await exchange(conn, index, request("/v1/predict", image_body(rng), content_type="text/plain")); note("content type", s, b, {(415, None)} | LIMITED)
                elif r < 0.9:
                    # Announces 9 MB and sends none of it: refused from Content-Length; the rest of the body never comes.
                    if conn: conn[1].close(); conn = None
                    reader, writer = await connect(index)
                    writer.write(request("/v1/predict", b"", extra="").replace(b"Content-Length: 0", b"Content-Length: 9000000"))
                    await writer.drain()
                    s, b, _ = await read_response(reader); note("oversized", s, b, {(413, "body_too_large")} | LIMITED)
                    writer.close()
                else:
                    conn, s, b = await exchange(conn, index, request("/v2/nothing", b"{}")); note("no route", s, b, {(404, None)} | LIMITED)
            elif kind == "guesser":
                conn, s, b = await exchange(conn, index, request("/v1/predict", image_body(rng), auth=f"guess-{rng.getrandbits(64):016x}"))
                note(kind, s, b, {(401, "unknown_client"), (429, "locked_out")})
                await asyncio.sleep(0.05)
            elif kind == "burst":
                for _ in range(300):
                    conn, s, b = await exchange(conn, index, request("/v1/predict", b"not json"))
                    note(kind, s, b, {(400, "malformed_json")} | LIMITED)
                await asyncio.sleep(3)
            elif kind == "slow":
                if conn: conn[1].close(); conn = None
                reader, writer = await connect(index)
                if rng.random() < 0.5:
                    payload = request("/v1/predict", image_body(rng))
                    split = payload.index(b"\r\n\r\n") + 4
                    writer.write(payload[:split]); await writer.drain()
                    start = time.monotonic()
                    async def trickle():
                        for byte in payload[split:]:
                            writer.write(bytes([byte])); await writer.drain(); await asyncio.sleep(1.0)
                    feeder = asyncio.ensure_future(trickle())
                    try:
                        s, b, close = await asyncio.wait_for(read_response(reader), body_timeout + 10)
                        note("slow body", s, b, {(408, "body_timeout")})
                        if not close: errors["slow body: 408 without Connection: close"] += 1
                        if await asyncio.wait_for(reader.read(1), 5) != b"": errors["slow body: connection open after 408"] += 1
                    except asyncio.TimeoutError:
                        errors["slow body: no answer within the body timeout + 10 s"] += 1
                    finally:
                        feeder.cancel(); writer.close()
                else:
                    payload = request("/v1/predict", image_body(rng))
                    async def trickle_head():
                        for byte in payload[:200]:
                            writer.write(bytes([byte])); await writer.drain(); await asyncio.sleep(1.0)
                    feeder = asyncio.ensure_future(trickle_head())
                    try:
                        data = await asyncio.wait_for(reader.read(1), 120)
                        if data == b"": seen[("slow head", "closed")] += 1
                        else: errors["slow head: answered instead of closed"] += 1
                    except (asyncio.TimeoutError, ConnectionError):
                        errors["slow head: still open after 120 s"] += 1
                    finally:
                        feeder.cancel(); writer.close()
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
            errors[f"{kind}: connection failed ({type(e).__name__})"] += 1
            if conn: conn[1].close()
            conn = None
            await asyncio.sleep(0.1)
    if conn: conn[1].close()

async def main():
    kinds = []
    for i in range(concurrency):
        kinds.append("slow" if i % 16 == 15 else "guesser" if i % 16 == 14 else "burst" if i % 16 == 13 else "mixed" if i % 4 == 1 else "good")
    start = time.monotonic()
    await asyncio.gather(*(worker(i, k) for i, k in enumerate(kinds)))
    elapsed = time.monotonic() - start
    total = sum(v for (k, s), v in seen.items() if isinstance(s, int))
    print(f"workers: {dict(Counter(kinds))}")
    print(f"answers: {total} in {elapsed:.0f} s ({total / elapsed:.0f}/s)")
    for (k, s), v in sorted(seen.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        print(f"  {k:14} {s}: {v}")
    print(f"errors: {sum(errors.values())}")
    for d, v in sorted(errors.items()):
        print(f"  {d}: {v}  e.g. {examples.get(d, b'')!r}")

asyncio.run(main())
