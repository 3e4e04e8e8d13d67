#!/usr/bin/env bash
# Self-lock end to end: a signed-in holder's `POST /v1/lock-requests`, from sending the request to the answer,
# which the server sends after the lock, the revocation of the holder's sessions, the request's status, the
# notice and the audit entry have committed together. p50/p99 over HOLDERS holders (half one at a time, half from
# CONCURRENCY clients at once), on SQLite and on PostgreSQL, against the release build of `dinhdanh serve`.
#
#   bench/locks_self_lock.sh                       # 2,000 holders, concurrency 8
#   HOLDERS=5000 CONCURRENCY=16 bench/locks_self_lock.sh
#
# Needs: cargo, curl, psql and a PostgreSQL server at $PGHOST:$PGPORT (default 127.0.0.1:5432, user postgres,
# trust auth). Creates and drops the database dinhdanh_bench_locks; work files go to $BENCH_DIR.
set -euo pipefail
HOLDERS=${HOLDERS:-2000}
CONCURRENCY=${CONCURRENCY:-8}
source "$(dirname "$0")/locks_common.sh"

for backend in sqlite postgres; do
    url=$(fresh_db "$backend" dinhdanh_bench_locks)
    start_server "$url"
    echo "== $backend: self-lock, $HOLDERS holders"
    quiet
    "$CLIENT" self-lock --db "$url" --base "http://127.0.0.1:$PORT" --holders "$HOLDERS" --concurrency "$CONCURRENCY"
    stop_server
done
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS dinhdanh_bench_locks" >/dev/null
