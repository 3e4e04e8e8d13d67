#!/usr/bin/env bash
# Bulk lock: the approval of one order naming ACCOUNTS accounts (each with a live session, an SMS number and an
# e-mail address), applied in one transaction — locks, session revocation, the request's status, two notices per
# holder, one audit entry per account and the per-account results — on SQLite and on PostgreSQL, against the
# release build of `dinhdanh serve`. Reports seconds and accounts/s for the approval (and the filing), REPEAT
# times per backend, each on a fresh database.
#
#   bench/locks_bulk.sh                            # 10,000 accounts, 3 runs per backend
#   ACCOUNTS=100000 REPEAT=1 bench/locks_bulk.sh
#   STATS="stale fresh" bench/locks_bulk.sh        # also with ANALYZE just before the approval (default: both)
#
# Needs the same as bench/locks_self_lock.sh; uses the database dinhdanh_bench_bulk.
set -euo pipefail
ACCOUNTS=${ACCOUNTS:-10000}
REPEAT=${REPEAT:-3}
source "$(dirname "$0")/locks_common.sh"

STATS=${STATS:-stale fresh}

for backend in sqlite postgres; do
    for stats in $STATS; do
        for run in $(seq 1 "$REPEAT"); do
            url=$(fresh_db "$backend" dinhdanh_bench_bulk)
            start_server "$url"
            echo "== $backend: bulk lock of $ACCOUNTS accounts, statistics $stats, run $run"
            quiet
            analyze=()
            [ "$stats" = fresh ] && analyze=(--analyze)
            "$CLIENT" bulk --db "$url" --base "http://127.0.0.1:$PORT" --accounts "$ACCOUNTS" "${analyze[@]}"
            stop_server
        done
    done
done
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS dinhdanh_bench_bulk" >/dev/null
