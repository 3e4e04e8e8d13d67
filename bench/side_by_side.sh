#!/usr/bin/env bash
# dinhdanh side by side with a bare hyper "200 OK" server (issue 13, "Benchmarks"): the same client (wrk, pinned
# to core 1, 2 threads × 64 connections, 10 s after a 3 s warm-up whose results are discarded) against a server
# pinned to core 0: first bare hyper, then dinhdanh on SQLite, then bare hyper again, then dinhdanh on PostgreSQL.
# Prints requests/s, p50 and p99 of each path and their ratios to the bare hyper run just before it (absolute
# figures move between machines; the ratios compare), the answers by status (no 5xx allowed), a check that a
# lock committed in the middle of a run refuses that holder's very next request, and the issue's targets.
#
#   bench/side_by_side.sh
#   DURATION=30s CONNECTIONS=128 bench/side_by_side.sh
#   STORES=sqlite bench/side_by_side.sh        # one store only
#
# Paths: the bearer-token check (GET /v1/clients/me with an organization's access token), client_credentials
# with a client secret (HTTP Basic), client_credentials with private_key_jwt (ES256, each assertion used once:
# the warm-up has its own), and holders' self-locks (POST /v1/lock-requests, each holder's session used once:
# the warm-up has its own holders), and holders' sign-ins against the argon2id bound (the password step, then
# the code step of challenges already sent) and citizens' registrations (a password hash and an activation
# code hash each). PATHS="token secret" measures only those. Fixtures are written straight to the database by
# `crates/dinhdanh/examples/locks_bench.rs side-by-side-setup`. Also measured on core 0: one ES256 verification
# with jsonwebtoken (the server's library) and with `openssl speed ecdsap256`.
#
# The OpenID Connect provider's paths (issue 14, "Benchmarks"; the server's issuer is fixed in the config file):
#   introspect  POST /oauth/introspect (RFC 7662) by a relying party authenticated with its client secret (HTTP
#               Basic), each request one of $INTROSPECT_TOKENS live access tokens of that client (default
#               100,000, $TOKENS_PER_GRANT per grant, one grant per holder; grants, `jti` rows and signed JWTs
#               written by the setup); a 200 that is not `"active":true` counts as unexpected, not as ok. 4 s
#               into the measured run a holder whose token is active locks their account (self-lock with their
#               session); the very next introspection of that token must answer `"active":false`, else the
#               run fails (and says so at once).
#   codeflow    whole sign-ins per second, end to end, by `crates/dinhdanh/examples/code_flows.rs` (wrk cannot
#               follow several pages): $CONNECTIONS virtual browsers on core 1 (then $ARGON2_CONNECTIONS, like
#               the sign-in path), each flow a fresh browser and interaction: authorization request → password
#               page POST → the code read from the outbox (as the SMS carries it) → code page POST → the
#               remembered consent (the setup wrote one for each holder; CODEFLOW_CONSENT=each makes every
#               flow pass the consent page) → 303 with the code → POST /oauth/token (code + PKCE verifier,
#               client_secret_basic). Three argon2id jobs a flow, so the bound is a third of the argon2id rate on
#               the server's one core. A 503 (argon2 queue full) is retried after its Retry-After. Warm-up and
#               measured run are one stretch (flows/s in the measured window, every browser already mid-flow).
#   introspect2 (PostgreSQL only; issue 17) the introspection run again with two nodes on the one database:
#               node A (the server of the other runs) on core $SERVER_CORE, node B on core $CLIENT_CORE, and one
#               wrk per node (1 thread, half the connections each), not pinned: they share both cores with the
#               nodes and PostgreSQL. The two nodes' rates are summed. 4 s in, a holder locks their account
#               through node A; the very next introspection of their token through node B must say
#               `"active":false`.
# The summary also states issue 14's targets for the secret and private_key_jwt paths.
#
#   PATHS="introspect codeflow secret jwt" bench/side_by_side.sh     # issue 14's set
#
# Needs: cargo, curl, psql, openssl, taskset, wrk (installed with apt-get when missing) and a PostgreSQL server
# at $PGHOST:$PGPORT (default 127.0.0.1:5432, user postgres, trust auth); PostgreSQL's own processes are not
# pinned. Creates and drops the database dinhdanh_bench_sbs; work files go to $BENCH_DIR/side-by-side.
set -euo pipefail
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
STORES=${STORES:-sqlite postgres}
# Which dinhdanh paths to measure: token secret jwt lock signin register introspect codeflow introspect2.
PATHS=${PATHS:-token secret jwt lock signin register introspect codeflow}
HYPER_PORT=${HYPER_PORT:-18490}
PORT=${PORT:-18491}
PORT_B=${PORT_B:-18492}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
# Fixtures used up by one request each; "reused" in the status table says when a run ran out of them.
HOLDERS=${HOLDERS:-20000}
WARM_HOLDERS=${WARM_HOLDERS:-8000}
ASSERTIONS=${ASSERTIONS:-20000}
WARM_ASSERTIONS=${WARM_ASSERTIONS:-8000}
SIGN_INS=${SIGN_INS:-2000}
# The provider's: live access tokens for introspection (and tokens per grant), holders per code-flow run (each
# signs in once; a run at the argon2 bound uses a few hundred), and whether each flow passes the consent page.
INTROSPECT_TOKENS=${INTROSPECT_TOKENS:-100000}
TOKENS_PER_GRANT=${TOKENS_PER_GRANT:-4}
CODEFLOW_HOLDERS=${CODEFLOW_HOLDERS:-1500}
CODEFLOW_CONSENT=${CODEFLOW_CONSENT:-remembered}
# The argon2 paths are also run at this many connections: the server queues at most 32 argon2 jobs per core
# it may run on, and answers 503 past them.
ARGON2_CONNECTIONS=${ARGON2_CONNECTIONS:-16}

cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
    echo "== installing wrk"
    if command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    fi
    command -v wrk >/dev/null || { echo "wrk is missing: install it (https://github.com/wg/wrk)" >&2; exit 1; }
fi
for tool in curl psql openssl taskset; do
    command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
if [ "$(nproc)" -lt 2 ]; then
    echo "needs at least 2 cores (server on core $SERVER_CORE, wrk on core $CLIENT_CORE)" >&2
    exit 1
fi
cargo build --release --locked -p hyper-ok -p dinhdanh --bin hyper-ok --bin dinhdanh --example locks_bench \
    --example code_flows
# Builds nothing more; gives quiet(), fresh_db() and the paths of the binaries.
source bench/locks_common.sh
HYPER=$TARGET_DIR/release/hyper-ok
FLOWS=$TARGET_DIR/release/examples/code_flows
WORK="$BENCH_DIR/side-by-side"
rm -rf "$WORK"
mkdir -p "$WORK"
RESULTS="$WORK/results.txt"
: >"$RESULTS"

# Rate limits out of the way: every request comes from 127.0.0.1.
CONFIG="$WORK/dinhdanh.toml"
# One seal key for the server and the fixture writer, which signs the introspection path's tokens with the keys
# the server opens (docs/configuration.md, "[oidc] key_seal_file").
DINHDANH_OIDC_SEAL_KEY=$(openssl rand -base64 32)
export DINHDANH_OIDC_SEAL_KEY
cat >"$CONFIG" <<'EOF'
[rate_limit]
public_per_minute = 1000000000
public_burst = 1000000000
ops_per_minute = 1000000000
ops_burst = 1000000000
api_per_minute = 1000000000
api_burst = 1000000000
EOF
# A fixed issuer (the introspection fixtures' tokens carry it), the server's address as the clients reach it.
printf '\n[oidc]\nissuer = "http://127.0.0.1:%s"\n' "$PORT" >>"$CONFIG"

wait_ready() {
    for _ in $(seq 1 200); do
        curl -s -o /dev/null "$1" && return
        sleep 0.1
    done
    echo "the server at $1 did not start" >&2
    exit 1
}

start_hyper() {
    taskset -c "$SERVER_CORE" "$HYPER" "127.0.0.1:$HYPER_PORT" 2>/dev/null &
    SERVER_PID=$!
    wait_ready "http://127.0.0.1:$HYPER_PORT/"
}

start_dinhdanh() {
    RUST_LOG=error taskset -c "$SERVER_CORE" "$DINHDANH" serve --config "$CONFIG" --database-url "$1" \
        --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "http://127.0.0.1:$PORT/readyz"
}

# The second node of the introspect2 path, on the client's core, until stop_node_b.
NODE_B_PID=
start_node_b() {
    RUST_LOG=error taskset -c "$CLIENT_CORE" "$DINHDANH" serve --config "$CONFIG" --database-url "$1" \
        --listen "127.0.0.1:$PORT_B" >"$WORK/serve-b.log" 2>&1 &
    NODE_B_PID=$!
    wait_ready "http://127.0.0.1:$PORT_B/readyz"
}
stop_node_b() {
    if [ -n "$NODE_B_PID" ]; then
        kill -TERM "$NODE_B_PID" 2>/dev/null || true
        wait "$NODE_B_PID" 2>/dev/null || true
        NODE_B_PID=
    fi
}
trap 'stop_node_b; stop_server' EXIT

# run_wrk_two_nodes STORE PATH_LABEL URL_A URL_B [VAR=VALUE ...]: run_wrk's warm-up and measured run against two
# nodes at once, one wrk each (1 thread, half the connections), not pinned; appends "STORE PATH_LABEL A result"
# and "… B result" to $RESULTS.
run_wrk_two_nodes() {
    local store=$1 label=$2 url_a=$3 url_b=$4
    shift 4
    local half=$((CONNECTIONS / 2)) node url pids=()
    quiet
    for node in A B; do
        url=$url_a; [ "$node" = B ] && url=$url_b
        env "$@" SBS_THREADS=1 SBS_RESULT="$WORK/warm-$node.txt" SBS_5XX="$WORK/5xx.txt" \
            SBS_LABEL="$store $label $node/warm-up" \
            wrk -t1 -c"$half" -d"$WARMUP" --timeout 10s -s bench/side_by_side.lua "$url" >/dev/null &
        pids+=($!)
    done
    wait "${pids[@]}"
    echo "== $store $label ($DURATION, after a $WARMUP warm-up; nodes A and B, one wrk each)"
    local mid_pid=
    if [ -n "${MID_RUN:-}" ]; then
        (sleep "${MID_RUN_AFTER:-4}"; $MID_RUN) &
        mid_pid=$!
    fi
    pids=()
    for node in A B; do
        url=$url_a; [ "$node" = B ] && url=$url_b
        env "$@" SBS_THREADS=1 SBS_RESULT="$WORK/run-$node.txt" SBS_5XX="$WORK/5xx.txt" \
            SBS_LABEL="$store $label $node" \
            wrk -t1 -c"$half" -d"$DURATION" --timeout 10s --latency -s bench/side_by_side.lua "$url" |
            sed "s/^/   $node: /" &
        pids+=($!)
    done
    wait "${pids[@]}"
    [ -n "$mid_pid" ] && wait "$mid_pid"
    for node in A B; do
        echo "$store $label $node/warm-up $(tail -n 1 "$WORK/warm-$node.txt")" >>"$RESULTS"
        echo "$store $label $node $(tail -n 1 "$WORK/run-$node.txt")" >>"$RESULTS"
    done
}

# run_wrk STORE PATH_LABEL URL [VAR=VALUE ...] [-- WARM_VAR=VALUE ...]: a warm-up of $WARMUP (its own
# fixtures where a request uses one up), then the measured run of $DURATION; appends "STORE PATH_LABEL result"
# to $RESULTS (and the warm-up's statuses as "STORE PATH_LABEL/warm-up").
run_wrk() {
    local store=$1 label=$2 url=$3
    shift 3
    local common=() warm=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do common+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    warm=("$@")
    quiet
    local line
    env "${common[@]}" "${warm[@]}" SBS_THREADS="$THREADS" SBS_RESULT="$WORK/warm.txt" \
        SBS_5XX="$WORK/5xx.txt" SBS_LABEL="$store $label/warm-up" \
        taskset -c "$CLIENT_CORE" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" --timeout 10s \
        -s bench/side_by_side.lua "$url" >/dev/null
    line=$(tail -n 1 "$WORK/warm.txt")
    echo "$store $label/warm-up $line" >>"$RESULTS"
    echo "== $store $label ($DURATION, after a $WARMUP warm-up)"
    local mid_pid=
    if [ -n "${MID_RUN:-}" ]; then
        (sleep "${MID_RUN_AFTER:-4}"; $MID_RUN) &
        mid_pid=$!
    fi
    env "${common[@]}" SBS_THREADS="$THREADS" SBS_RESULT="$WORK/run.txt" \
        SBS_5XX="$WORK/5xx.txt" SBS_LABEL="$store $label" \
        taskset -c "$CLIENT_CORE" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency \
        -s bench/side_by_side.lua "$url" | sed 's/^/   /'
    [ -n "$mid_pid" ] && wait "$mid_pid"
    line=$(tail -n 1 "$WORK/run.txt")
    echo "$store $label $line" >>"$RESULTS"
}

echo "== one ES256 verification on core $SERVER_CORE"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/client-key.pem" 2>/dev/null
quiet
# (Printed, then read: `tee /dev/stderr` would reopen, and so truncate, a log file the output is redirected to.)
line=$(taskset -c "$SERVER_CORE" "$CLIENT" verify-bench --ec-key "$WORK/client-key.pem")
echo "$line"
LIB_VERIFY=$(awk '{print $(NF-2)}' <<<"$line")
quiet
OPENSSL_VERIFY=$(taskset -c "$SERVER_CORE" openssl speed -seconds 3 ecdsap256 2>/dev/null |
    awk '/nistp256/ && $NF ~ /^[0-9.]+$/ {v = $NF} END {printf "%.0f", v}')
echo "openssl speed ecdsap256: $OPENSSL_VERIFY verifications per second"
echo "== one argon2id hash with the server's parameters on core $SERVER_CORE"
quiet
line=$(taskset -c "$SERVER_CORE" "$CLIENT" argon2-bench)
echo "$line"
ARGON2=$(awk '{print $(NF-2)}' <<<"$line")

want() { [[ " $PATHS " == *" $1 "* ]]; }

hyper_run() {
    start_hyper
    run_wrk "hyper-$1" "GET /" "http://127.0.0.1:$HYPER_PORT/"
    stop_server
}

LOCK_CHECK=()
# lock_check BASE TOKEN_FILE OUT: while a run is going, one holder's session A locks the account; the holder's
# session B must be refused by its very next request, and A too. Writes the four statuses to OUT.
lock_check() {
    local base=$1 a b before locked after_b after_a
    a=$(sed -n 1p "$2")
    b=$(sed -n 2p "$2")
    before=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $b" "$base/v1/me")
    locked=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $a" -H 'Content-Type: application/json' \
        -d '{"reason": "side-by-side lock check"}' "$base/v1/lock-requests")
    after_b=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $b" "$base/v1/me")
    after_a=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $a" "$base/v1/me")
    echo "$before $locked $after_b $after_a" >"$3"
}

INTROSPECT_CHECK=()
# introspect_check BASE FIXTURES OUT: while the introspection run is going, a holder whose access token is active
# locks their own account (POST /v1/lock-requests with their session); the very next introspection of that token
# must say `"active":false`. Writes "ACTIVE_BEFORE LOCK_STATUS ACTIVE_AFTER" to OUT.
# With CHECK_FILE and CHECK_BASE (introspect2): that holder, locked through BASE, introspected through CHECK_BASE.
introspect_check() {
    local base=$1 session token basic before locked after check=${4:-introspect_check} at=${5:-$1}
    session=$(sed -n 1p "$2/$check")
    token=$(sed -n 2p "$2/$check")
    basic=$(cat "$2/rp_basic")
    active() {
        curl -s -H "Authorization: $basic" -d "token=$token" "$at/oauth/introspect" |
            grep -o '"active":[a-z]*' | cut -d: -f2
    }
    before=$(active)
    locked=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $session" \
        -H 'Content-Type: application/json' -d '{"reason": "side-by-side introspection lock check"}' \
        "$base/v1/lock-requests")
    after=$(active)
    echo "${before:-none} $locked ${after:-none}" >"$3"
    if [ "$after" != false ]; then
        echo "!!! FAILED: the locked holder's token is still active at introspection (\"active\": ${after:-none})" >&2
    fi
}

# run_flows STORE LABEL URL BASE FIXTURES BROWSERS SET: examples/code_flows.rs on core $CLIENT_CORE with
# code_flows_SET.txt's holders, $WARMUP then $DURATION in one stretch; appends the warm-up's and the measured
# window's result lines to $RESULTS as run_wrk does.
run_flows() {
    local store=$1 label=$2 url=$3 base=$4 f=$5 browsers=$6 set=$7
    quiet
    echo "== $store $label ($DURATION after a $WARMUP warm-up, $browsers browsers)"
    : >"$WORK/flows-warm.txt"
    : >"$WORK/flows-run.txt"
    taskset -c "$CLIENT_CORE" "$FLOWS" --db "$url" --base "$base" --client "$f/rp_client" \
        --holders "$f/code_flows_$set.txt" --password "$(cat "$f/sign_in_password")" --browsers "$browsers" \
        --warmup "$WARMUP" --duration "$DURATION" --warm-result "$WORK/flows-warm.txt" \
        --result "$WORK/flows-run.txt" --five-xx "$WORK/5xx.txt" --failures "$WORK/flow-failures.txt" \
        --label "$store $label" | sed 's/^/   /'
    echo "$store $label/warm-up $(tail -n 1 "$WORK/flows-warm.txt")" >>"$RESULTS"
    echo "$store $label $(tail -n 1 "$WORK/flows-run.txt")" >>"$RESULTS"
}

for store in $STORES; do
    hyper_run "$store"
    url=$(fresh_db "$store" dinhdanh_bench_sbs)
    start_dinhdanh "$url"
    base="http://127.0.0.1:$PORT"
    echo "== $store: fixtures"
    provider=(--issuer "$base")
    { want introspect || want introspect2; } &&
        provider+=(--introspect-tokens "$INTROSPECT_TOKENS" --tokens-per-grant "$TOKENS_PER_GRANT")
    want codeflow && provider+=(--code-flow-holders "$CODEFLOW_HOLDERS" --code-flow-sets 2)
    [ "$CODEFLOW_CONSENT" = each ] && provider+=(--code-flow-ask-consent)
    "$CLIENT" side-by-side-setup --db "$url" --out "$WORK/$store" --audience "$base/oauth/token" \
        --ec-key "$WORK/client-key.pem" --holders "$HOLDERS" --warm-holders "$WARM_HOLDERS" \
        --assertions "$ASSERTIONS" --warm-assertions "$WARM_ASSERTIONS" \
        --sign-ins "$SIGN_INS" --sign-in-sets 4 "${provider[@]}"
    f="$WORK/$store"

    # The lock check runs 4 s into the measured introspection run. Read-only, so the warm-up uses the same tokens.
    want introspect && MID_RUN="introspect_check $base $f $WORK/introspect-check-$store.txt" \
        run_wrk "$store" "introspection" "$base/oauth/introspect" SBS_METHOD=POST SBS_PATH=/oauth/introspect \
        SBS_AUTH="$(cat "$f/rp_basic")" SBS_LINE_AS=introspect SBS_LINES="$f/introspect_tokens.txt" \
        SBS_EXPECT='"active":true'
    want introspect && INTROSPECT_CHECK+=("$store $(cat "$WORK/introspect-check-$store.txt")")
    if want introspect2 && [ "$store" = postgres ]; then
        start_node_b "$url"
        base_b="http://127.0.0.1:$PORT_B"
        MID_RUN="introspect_check $base $f $WORK/introspect-check-2-$store.txt introspect_check_2 $base_b" \
            run_wrk_two_nodes "$store" "introspection, two nodes" "$base/oauth/introspect" \
            "$base_b/oauth/introspect" SBS_METHOD=POST SBS_PATH=/oauth/introspect \
            SBS_AUTH="$(cat "$f/rp_basic")" SBS_LINE_AS=introspect SBS_LINES="$f/introspect_tokens.txt" \
            SBS_EXPECT='"active":true'
        INTROSPECT_CHECK+=("$store-two-nodes $(cat "$WORK/introspect-check-2-$store.txt")")
        stop_node_b
    fi
    if want codeflow; then
        run_flows "$store" "code flow" "$url" "$base" "$f" "$CONNECTIONS" 0
        run_flows "$store" "code flow @$ARGON2_CONNECTIONS" "$url" "$base" "$f" "$ARGON2_CONNECTIONS" 1
    fi

    # The lock check runs 4 s into the measured token-check run.
    want token && MID_RUN="lock_check $base $f/check_holder $WORK/lock-check-$store.txt" \
        run_wrk "$store" "token check" "$base/v1/clients/me" SBS_AUTH="Bearer $(cat "$f/me_token")"
    want token && LOCK_CHECK+=("$store $(cat "$WORK/lock-check-$store.txt")")

    want secret && run_wrk "$store" "client secret" "$base/oauth/token" SBS_METHOD=POST SBS_PATH=/oauth/token \
        SBS_AUTH="$(cat "$f/secret_basic")" SBS_CONTENT_TYPE=application/x-www-form-urlencoded \
        SBS_BODY=grant_type=client_credentials
    want jwt && run_wrk "$store" "private_key_jwt" "$base/oauth/token" SBS_METHOD=POST SBS_PATH=/oauth/token \
        SBS_LINE_AS=assertion SBS_LINES="$f/assertions.txt" -- SBS_LINES="$f/assertions_warm.txt"
    want lock && run_wrk "$store" "self-lock" "$base/v1/lock-requests" SBS_METHOD=POST SBS_PATH=/v1/lock-requests \
        SBS_LINE_AS=bearer SBS_CONTENT_TYPE=application/json SBS_BODY='{"reason": "side by side"}' \
        SBS_LINES="$f/holders.txt" -- SBS_LINES="$f/holders_warm.txt"
    # Sign-ins: at $CONNECTIONS connections (fixture sets 0 and 1), then at $ARGON2_CONNECTIONS (sets 2 and 3).
    # Registrations the same way.
    set=0
    for c in "$CONNECTIONS" "$ARGON2_CONNECTIONS"; do
        suffix=
        [ "$c" != "$CONNECTIONS" ] && suffix=" @$c"
        want register && CONNECTIONS=$c run_wrk "$store" "registration$suffix" "$base/v1/accounts" SBS_METHOD=POST \
            SBS_LINE_AS=register SBS_PASSWORD="$(cat "$f/sign_in_password")" \
            SBS_LINES="$f/registrations_$((set + 1)).txt" -- SBS_LINES="$f/registrations_$set.txt"
        want signin || { set=$((set + 2)); continue; }
        CONNECTIONS=$c run_wrk "$store" "sign-in password$suffix" "$base/v1/holder-sessions" SBS_METHOD=POST \
            SBS_LINE_AS=sign_in SBS_PASSWORD="$(cat "$f/sign_in_password")" SBS_LINES="$f/sign_ins_$((set + 1)).txt" \
            -- SBS_LINES="$f/sign_ins_$set.txt"
        CONNECTIONS=$c run_wrk "$store" "sign-in code$suffix" "$base/v1/holder-sessions" SBS_METHOD=POST \
            SBS_LINE_AS=code SBS_CODE="$(cat "$f/sign_in_code")" SBS_LINES="$f/codes_$((set + 1)).txt" \
            -- SBS_LINES="$f/codes_$set.txt"
        set=$((set + 2))
    done
    cp "$WORK/serve.log" "$WORK/serve-$store.log"
    errors=$(grep -c '"level":"ERROR"' "$WORK/serve.log" || true)
    [ "$errors" != 0 ] && echo "   (the server logged $errors errors: $WORK/serve-$store.log)"
    stop_server
done
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS dinhdanh_bench_sbs" >/dev/null || true

# ---------------------------------------------------------------------------------------------------------
# The tables. Result fields (after STORE and the path label, which has spaces): rps ok/s p50 p99 requests
# 2xx 3xx 4xx 5xx 401 429 socket_errors reused 503 unexpected. For the code flows: HTTP answers/s, flows/s,
# a whole flow's p50 and p99, …, failed flows.
echo
echo "== side by side (ratios to the bare hyper run just before the store's runs)"
awk -v lib="$LIB_VERIFY" -v ossl="$OPENSSL_VERIFY" -v argon2="$ARGON2" -v a2c="$ARGON2_CONNECTIONS" '
function field(i) { return $(NF - 15 + i) }
{
    store = $1; label = $2; for (i = 3; i <= NF - 15; i++) label = label " " $i
    if (label ~ /warm-up$/) next
    rps = field(1); ok = field(2); p50 = field(3); p99 = field(4)
    if (store ~ /^hyper-/) { h = substr(store, 7); hr[h] = rps; h50[h] = p50; h99[h] = p99; name = "bare hyper (before " h ")" }
    else { h = store; name = store }
    if (label ~ /^code flow/)
        # Flows, not requests: no ratio to hyper (see the targets: the argon2id bound).
        rows[++n] = sprintf("| %-27s | %-20s | %9.0f | %7.1f/s | %7.0f ms | %7.0f ms |     — |     — |     — |",
            name, label, rps, ok, p50, p99)
    else
        rows[++n] = sprintf("| %-27s | %-20s | %9.0f | %9.0f | %7.2f ms | %7.2f ms | %6.1f%% | %5.1f× | %5.1f× |",
            name, label, rps, ok, p50, p99, 100 * ok / hr[h], p50 / h50[h], p99 / h99[h])
    key = store "|" label; okr[key] = ok; rp50[key] = p50; rp99[key] = p99; ratio[key] = ok / hr[h]
    stores[store] = 1
}
END {
    print "| server                      | path                 |     req/s | ok/s (flows/s) |       p50 |       p99 | ok/s ÷ hyper | p50 × hyper | p99 × hyper |"
    print "|-----------------------------|----------------------|----------:|---------:|----------:|----------:|------:|------:|------:|"
    for (i = 1; i <= n; i++) print rows[i]
    print ""
    printf "ES256 verification on one core: jsonwebtoken %.0f/s, OpenSSL %.0f/s\n", lib, ossl
    printf "argon2id on one core (the server has one argon2 worker per core it may run on): %.1f/s\n", argon2
    print ""
    print "== targets"
    for (s in stores) {
        if (s ~ /^hyper-/) continue
        k = s "|token check"
        if (k in okr) printf "%-8s token check ≥ 50%% of hyper, p99 < 5 ms: %.1f%%, p99 %.2f ms: %s\n", s, 100 * ratio[k], rp99[k], (ratio[k] >= 0.5 && rp99[k] < 5) ? "met" : "not met"
        k = s "|client secret"
        if (k in okr) {
            printf "%-8s client secret ≥ 20%% of hyper, p99 < 20 ms (issue 13): %.1f%%, p99 %.2f ms: %s\n", s, 100 * ratio[k], rp99[k], (ratio[k] >= 0.2 && rp99[k] < 20) ? "met" : "not met"
            printf "%-8s client secret ≥ 25%% of hyper, p99 < 10 ms (issue 14): %.1f%%, p99 %.2f ms: %s\n", s, 100 * ratio[k], rp99[k], (ratio[k] >= 0.25 && rp99[k] < 10) ? "met" : "not met"
        }
        k = s "|private_key_jwt"
        if (k in okr) {
            printf "%-8s private_key_jwt ≥ 70%% of jsonwebtoken, ≥ 50%% of OpenSSL (issue 13): %.0f/s = %.1f%% and %.1f%%: %s\n", s, okr[k], 100 * okr[k] / lib, 100 * okr[k] / ossl, (okr[k] >= 0.7 * lib && okr[k] >= 0.5 * ossl) ? "met" : "not met"
            printf "%-8s private_key_jwt ≥ 50%% of OpenSSL (issue 14): %.0f/s = %.1f%%: %s\n", s, okr[k], 100 * okr[k] / ossl, okr[k] >= 0.5 * ossl ? "met" : "not met"
        }
        ka = s "|introspection, two nodes A"; kb = s "|introspection, two nodes B"
        if ((ka in okr) && (kb in okr)) printf "%-8s introspection with two nodes (issue 17): %.0f/s (A %.0f + B %.0f), one node: %.0f/s; p99 A %.2f ms, B %.2f ms\n", s, okr[ka] + okr[kb], okr[ka], okr[kb], okr[s "|introspection"], rp99[ka], rp99[kb]
        k = s "|introspection"
        if (k in okr) printf "%-8s introspection ≥ 25%% of hyper, p99 < 10 ms (issue 14): %.1f%%, p99 %.2f ms: %s\n", s, 100 * ratio[k], rp99[k], (ratio[k] >= 0.25 && rp99[k] < 10) ? "met" : "not met"
        k = s "|self-lock"
        if (k in okr) printf "%-8s self-lock ≥ 2,000/s: %.0f/s: %s\n", s, okr[k], okr[k] >= 2000 ? "met" : "not met"
        # Password step: one argon2 verification and one hash (the code); code step: one verification.
        for (c = 1; c <= 2; c++) {
            suffix = c == 1 ? "" : " @" a2c
            k = s "|sign-in password" suffix
            if (k in okr) printf "%-8s sign-in password%s ≥ 90%% of the argon2id bound (%.1f/s: 2 argon2 per request): %.1f/s = %.0f%%: %s\n", s, suffix, argon2 / 2, okr[k], 200 * okr[k] / argon2, okr[k] >= 0.9 * argon2 / 2 ? "met" : "not met"
            k = s "|registration" suffix
            if (k in okr) printf "%-8s registration%s ≥ 90%% of the argon2id bound (%.1f/s: 2 argon2 per request): %.1f/s = %.0f%%: %s\n", s, suffix, argon2 / 2, okr[k], 200 * okr[k] / argon2, okr[k] >= 0.9 * argon2 / 2 ? "met" : "not met"
            k = s "|sign-in code" suffix
            if (k in okr) printf "%-8s sign-in code%s ≥ 90%% of the argon2id bound (%.1f/s: 1 argon2 per request): %.1f/s = %.0f%%: %s\n", s, suffix, argon2, okr[k], 100 * okr[k] / argon2, okr[k] >= 0.9 * argon2 ? "met" : "not met"
            # A whole sign-in: the password (verification), the code (hash), the code page (verification).
            k = s "|code flow" suffix
            if (k in okr) printf "%-8s code + PKCE sign-ins%s ≥ 90%% of the argon2id bound (%.1f/s: 3 argon2 per flow) (issue 14): %.1f/s = %.0f%%, p50 %.0f ms, p99 %.0f ms: %s\n", s, suffix, argon2 / 3, okr[k], 300 * okr[k] / argon2, rp50[k], rp99[k], okr[k] >= 0.9 * argon2 / 3 ? "met" : "not met"
        }
    }
}' "$RESULTS"

echo
echo "== answers by status (every run, warm-ups included; reused = times a wrk thread ran out of its fixtures;"
echo "   unexpected = 2xx introspections not active, or failed code flows)"
printf '| %-32s | %9s | %9s | %5s | %7s | %5s | %5s | %5s | %5s | %6s | %6s | %10s |\n' run requests 2xx 3xx 4xx 401 429 5xx 503 socket reused unexpected
awk '{ label = $1; for (i = 2; i <= NF - 15; i++) label = label " " $i
       printf "| %-32s | %9d | %9d | %5d | %7d | %5d | %5d | %5d | %5d | %6d | %6d | %10d |\n", label, $(NF-10), $(NF-9), $(NF-8), $(NF-7), $(NF-5), $(NF-4), $(NF-6), $(NF-1), $(NF-3), $(NF-2), $NF }' "$RESULTS"
fives=$(awk '{ s += $(NF-6) } END { print s + 0 }' "$RESULTS")
status=0
if [ ${#LOCK_CHECK[@]} -gt 0 ]; then
    echo
    echo "== lock in the middle of a run (GET /v1/me with session B; lock with session A; B and A again)"
    for line in "${LOCK_CHECK[@]}"; do
        read -r store before locked after_b after_a <<<"$line"
        verdict=ok
        if [ "$before" != 200 ] || [ "$locked" != 201 ] || [ "$after_b" != 401 ] || [ "$after_a" != 401 ]; then
            verdict=FAILED
            status=1
        fi
        echo "$store: before $before, lock $locked, next request of B $after_b, of A $after_a: $verdict"
    done
fi
if [ ${#INTROSPECT_CHECK[@]} -gt 0 ]; then
    echo
    echo "== lock in the middle of the introspection run (introspect the holder's token; self-lock; introspect again)"
    for line in "${INTROSPECT_CHECK[@]}"; do
        read -r store before locked after <<<"$line"
        verdict=ok
        if [ "$before" != true ] || [ "$locked" != 201 ] || [ "$after" != false ]; then
            verdict=FAILED
            status=1
        fi
        echo "$store: active before: $before, lock $locked, very next introspection active: $after: $verdict"
    done
fi
if [ -s "$WORK/flow-failures.txt" ]; then
    echo
    echo "failed code flows (the first of each run):"
    cut -c1-300 "$WORK/flow-failures.txt" | sed 's/^/   /'
fi
if [ "$fives" != 0 ]; then
    echo "FAILED: $fives answers were 5xx; the first of each wrk thread (of each code-flow window):"
    cut -c1-300 "$WORK/5xx.txt" | sed 's/^/   /'
    status=1
else
    echo "no 5xx answer in any run"
fi
exit "$status"
