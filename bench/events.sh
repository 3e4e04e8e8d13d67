#!/usr/bin/env bash
# Issue 17's benchmarks of the Shared Signals transmitter, on SQLite and on PostgreSQL, against the release build
# of `dinhdanh serve` (one node; its event delivery wakes at each commit of an account's event):
#   - a lock to its SET: HOLDERS holders lock their own accounts one after another, each waiting for its
#     `account-disabled` SET at a push receiver (RFC 8935) on loopback, served by the client; p50 and p99 from
#     the lock's answer (sent after its commit) to the SET's arrival;
#   - a bulk order of ACCOUNTS accounts, all signed in to that relying party: the time from the approval's
#     answer until the last `account-disabled` SET arrived (each account also gets a `session-revoked`).
#
#   bench/events.sh                       # 500 holders, 10,000 accounts
#   HOLDERS=2000 ACCOUNTS=100000 bench/events.sh
#
# Needs the same as bench/locks_self_lock.sh; uses the database dinhdanh_bench_events.
set -euo pipefail
HOLDERS=${HOLDERS:-500}
ACCOUNTS=${ACCOUNTS:-10000}
source "$(dirname "$0")/locks_common.sh"

for backend in sqlite postgres; do
    url=$(fresh_db "$backend" dinhdanh_bench_events)
    start_server "$url"
    echo "== $backend: $HOLDERS locks, one at a time, each to its SET"
    quiet
    "$CLIENT" events --db "$url" --base "http://127.0.0.1:$PORT" --holders "$HOLDERS"
    echo "== $backend: a bulk order of $ACCOUNTS accounts to its SETs"
    quiet
    "$CLIENT" bulk --db "$url" --base "http://127.0.0.1:$PORT" --accounts "$ACCOUNTS" --events
    stop_server
done
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS dinhdanh_bench_events" >/dev/null
