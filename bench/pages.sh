#!/usr/bin/env bash
# The web pages' render times (issue 15, "Pages are fast": each page under 50 ms at p99 on this machine): the
# holder portal's and the officers' console's pages, `GET` over HTTP against `dinhdanh serve` on a fresh SQLite
# database (then PostgreSQL), the server pinned to core 0 and the client (examples/page_bench.rs) to core 1.
# Each page is timed one request at a time (the render time plus loopback), then with $CONCURRENCY clients at
# once, $REQUESTS requests each after as many of warm-up. Fixtures are written straight to the database by the
# client: a holder with a history of locks and a session (the portal's sealed cookie), an operator's officer with
# a session (the console's cookie), and $QUEUE open lock requests of an authority, filed over the API.
#
#   bench/pages.sh
#   STORES=sqlite REQUESTS=1000 bench/pages.sh
#
# CARGO_TARGET_DIR and BENCH_DIR are honoured; QUIET_MAX bounds the wait for an idle machine (bench/locks_common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${REQUESTS:-400}
CONCURRENCY=${CONCURRENCY:-8}
QUEUE=${QUEUE:-40}
STORES=${STORES:-"sqlite postgres"}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
for tool in curl psql openssl taskset; do
    command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
cargo build --release --locked -p dinhdanh --bin dinhdanh --example page_bench
# Builds nothing more; gives quiet(), fresh_db() and the paths of the binaries.
source bench/locks_common.sh
PAGES=$TARGET_DIR/release/examples/page_bench
WORK="$BENCH_DIR/pages"
rm -rf "$WORK"
mkdir -p "$WORK"
CONFIG="$WORK/dinhdanh.toml"
# The seal key of the portal's cookies, for the server and the client that makes its cookie.
DINHDANH_OIDC_SEAL_KEY=$(openssl rand -base64 32)
export DINHDANH_OIDC_SEAL_KEY
# Rate limits out of the way: every request comes from 127.0.0.1.
cat >"$CONFIG" <<'TOML'
[rate_limit]
public_per_minute = 1000000000
public_burst = 1000000000
ops_per_minute = 1000000000
ops_burst = 1000000000
api_per_minute = 1000000000
api_burst = 1000000000
TOML

trap 'stop_server' EXIT
for store in $STORES; do
    url=$(fresh_db "$store" pages_bench)
    RUST_LOG=error taskset -c "$SERVER_CORE" "$DINHDANH" serve --config "$CONFIG" --database-url "$url" \
        --listen "127.0.0.1:$PORT" >"$WORK/serve-$store.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
        sleep 0.1
    done
    quiet
    echo "## $store (server on core $SERVER_CORE, client on core $CLIENT_CORE; $(date -u +%H:%M) UTC)"
    taskset -c "$CLIENT_CORE" "$PAGES" --db "$url" --base "http://127.0.0.1:$PORT" --requests "$REQUESTS" \
        --concurrency "$CONCURRENCY" --queue "$QUEUE"
    stop_server
    echo
done
