#!/usr/bin/env bash
# Found by bench/side_by_side.sh (4 Dec 2026): does ending a wrk run of self-locks (64 connections, requests in
# flight when wrk closes them) leave the SQLite store unable to write? Runs 1-second wrk bursts of self-locks,
# each on fresh holders, and after each one self-lock with curl; stops at the first that gets no answer in 8 s.
# Three tries wedged after the 2nd, the 1st and the 10th burst (curl: 000; the outbox worker then logs
# `database is locked` until the server stops).
#
#   bench/sqlite_wedge_repro.sh      # needs the release binaries: run bench/side_by_side.sh, or build them
set -euo pipefail
cd "$(dirname "$0")/.."
W=${BENCH_DIR:-/tmp/dinhdanh-bench}/wedge
PORT=${PORT:-18498}
rm -rf "$W" && mkdir -p "$W"
printf '[rate_limit]\napi_per_minute = 1000000000\napi_burst = 1000000000\n' >"$W/config.toml"
RUST_LOG=error taskset -c 0 target/release/dinhdanh serve --config "$W/config.toml" --database-url "sqlite://$W/w.db" \
    --listen "127.0.0.1:$PORT" >"$W/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 2
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/k.pem" 2>/dev/null
target/release/examples/locks_bench side-by-side-setup --db "sqlite://$W/w.db" --out "$W/f" \
    --audience "http://127.0.0.1:$PORT/oauth/token" --ec-key "$W/k.pem" --holders 30000 --warm-holders 10 \
    --assertions 10 --warm-assertions 10 --sign-ins 5 --sign-in-sets 1 >/dev/null
split -l 2000 -d "$W/f/holders.txt" "$W/chunk."
for chunk in "$W"/chunk.*; do
    SBS_METHOD=POST SBS_LINE_AS=bearer SBS_CONTENT_TYPE=application/json SBS_BODY='{"reason": "repro"}' \
        SBS_LINES="$chunk" SBS_THREADS=2 taskset -c 1 wrk -t2 -c64 -d1s -s bench/side_by_side.lua \
        "http://127.0.0.1:$PORT/v1/lock-requests" | grep result
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 8 -X POST -H "Authorization: Bearer $(tail -1 "$chunk")" \
        -H 'Content-Type: application/json' -d '{"reason": "after the burst"}' "http://127.0.0.1:$PORT/v1/lock-requests" || true)
    echo "$(basename "$chunk"): a self-lock after the burst: $code"
    if [ "$code" != 201 ]; then
        echo "WEDGED; the server's log: $W/serve.log"
        exit 1
    fi
done
echo "no wedge in $(ls "$W"/chunk.* | wc -l) bursts"
