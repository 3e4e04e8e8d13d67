#!/usr/bin/env bash
# Registry import throughput and peak memory, on SQLite and PostgreSQL, against PostgreSQL's own COPY.
#
#   bench/registry_import.sh                 # 1,000,000 citizens, every figure the median of 3 runs
#   ROWS=200000 REPEAT=1 bench/registry_import.sh
#   ROWS=10000000 REPEAT=1 SQLITE_5000=0 bench/registry_import.sh   # 10 million, without the 5000-row SQLite run
#   BATCH=5000 bench/registry_import.sh      # one batch size on both backends (default: per backend)
#   ORDER=streamed bench/registry_import.sh  # the import's --order: auto (default), sorted or streamed
#
# Needs: cargo, psql, a PostgreSQL server at $PGHOST:$PGPORT (default 127.0.0.1:5432, user postgres, trust auth),
# /usr/bin/time (Debian package `time`; installed with apt-get when missing). Creates and drops the databases
# ${DB_PREFIX}_import and ${DB_PREFIX}_copy (DB_PREFIX default dinhdanh_bench). Work files go to $BENCH_DIR
# (default /tmp/dinhdanh-bench), the sorted import's temporary runs to $TMPDIR, the release build to
# $CARGO_TARGET_DIR (default target).
#
# Two COPY ceilings: `\copy` into a table with the store's primary key (what the import is compared with), and
# into the same table without any index (the true ceiling: no index maintained at all).
#
# The machine may be shared (builds, other test suites): before each measurement the script waits, up to
# QUIET_WAIT seconds (default 600), for the CPUs to be idle. Each PostgreSQL import run is paired with COPY
# runs right after it, and the percentages are the medians of the pairs' ratios, so both sides of a ratio see
# the same conditions.
set -euo pipefail

ROWS=${ROWS:-1000000}
SEED=${SEED:-2026}
REPEAT=${REPEAT:-3}
# Rows per upsert transaction; empty: the backend's default (ImportOptions::for_store).
BATCH=${BATCH:-}
ORDER=${ORDER:-auto}
# 0: skip the SQLite import with 5000-row batches.
SQLITE_5000=${SQLITE_5000:-1}
BENCH_DIR=${BENCH_DIR:-/tmp/dinhdanh-bench}
DB_PREFIX=${DB_PREFIX:-dinhdanh_bench}
QUIET_WAIT=${QUIET_WAIT:-600}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER

cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/time ]; then
    apt-get install -y time >/dev/null
fi

cargo build --release -p dinhdanh-registry --examples
TOOL=${CARGO_TARGET_DIR:-target}/release/examples/registry_tool
mkdir -p "$BENCH_DIR"
CSV="$BENCH_DIR/citizens-$ROWS-$SEED.csv"
SQLITE_DB="$BENCH_DIR/import.db"
PG_URL="postgres://$PGUSER@$PGHOST:$PGPORT/${DB_PREFIX}_import"

# Waits until the CPUs have been less than 10% busy over 2 seconds (at most QUIET_WAIT seconds).
quiet() {
    local waited=0 u1 n1 s1 i1 w1 u2 n2 s2 i2 w2 busy total
    sync # no run pays for writing back the previous run's dirty pages
    while [ "$waited" -lt "$QUIET_WAIT" ]; do
        read -r _ u1 n1 s1 i1 w1 _ </proc/stat
        sleep 2
        read -r _ u2 n2 s2 i2 w2 _ </proc/stat
        busy=$(((u2 + n2 + s2) - (u1 + n1 + s1)))
        total=$((busy + (i2 + w2) - (i1 + w1)))
        [ $((100 * busy)) -lt $((10 * total)) ] && return
        waited=$((waited + 2))
    done
    echo "   (machine still busy after $QUIET_WAIT s; measuring anyway)" >&2
}

# Runs a command under /usr/bin/time -v after waiting for quiet; prints its stdout and "peak_mb=N".
measure() {
    local log="$BENCH_DIR/time.log"
    quiet
    /usr/bin/time -v -o "$log" "$@"
    awk -F': ' '/Maximum resident set size/ {printf "peak_mb=%.0f\n", $2 / 1024}' "$log"
}

# The figure after key= in a line of key=value pairs.
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2" | head -1; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
fresh_sqlite() { rm -f "$SQLITE_DB" "$SQLITE_DB-wal" "$SQLITE_DB-shm"; }
# A fresh database, and a checkpoint so that no run pays for the previous run's dirty pages.
fresh_pg() { psql_admin -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" -c "CHECKPOINT" 2>/dev/null; }

# \copy of the CSV into a fresh table with the store's schema, with its primary key (`copy_rate pk`) or without
# any index (`copy_rate none`); prints rows/s.
copy_rate() {
    local key=""
    [ "$1" = pk ] && key="PRIMARY KEY"
    fresh_pg ${DB_PREFIX}_copy
    psql -X -q -v ON_ERROR_STOP=1 -d ${DB_PREFIX}_copy -c "
CREATE TABLE registry_citizens (
    id_number           TEXT $key NOT NULL,
    full_name           TEXT NOT NULL,
    date_of_birth       TEXT NOT NULL,
    gender              TEXT NOT NULL,
    place_of_origin     TEXT,
    permanent_residence TEXT,
    card_status         TEXT NOT NULL DEFAULT 'valid',
    died_on             TEXT,
    updated_at          BIGINT NOT NULL DEFAULT 0
)"
    quiet
    local start end copied
    start=$(date +%s.%N)
    psql -X -q -v ON_ERROR_STOP=1 -d ${DB_PREFIX}_copy -c "\\copy registry_citizens (id_number, full_name, date_of_birth, gender, place_of_origin, permanent_residence, card_status, died_on) FROM '$CSV' WITH (FORMAT csv, HEADER true)"
    end=$(date +%s.%N)
    copied=$(psql -X -At -d ${DB_PREFIX}_copy -c "SELECT count(*) FROM registry_citizens")
    psql_admin -c "DROP DATABASE ${DB_PREFIX}_copy"
    awk -v n="$copied" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f\n", n / (e - s)}'
}

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM," \
    "PostgreSQL $(psql_admin -At -c 'SHOW server_version' | cut -d' ' -f1)"

if [ ! -s "$CSV" ]; then
    echo "== generating $ROWS citizens (seed $SEED)"
    measure "$TOOL" generate --kind population --count "$ROWS" --seed "$SEED" --out "$CSV.tmp"
    mv "$CSV.tmp" "$CSV"
fi
echo "== file: $CSV ($(du -m "$CSV" | cut -f1) MB)"

SQ=() SQ_RE=() SQ_PEAK=() SQ5=() SQ5_PEAK=() PG=() PG_RE=() PG_PEAK=() CP=() PCT=() CPN=() PCTN=()
IMPORT_ARGS=(--order "$ORDER" ${BATCH:+--batch-size "$BATCH"})
for run in $(seq "$REPEAT"); do
    echo "== run $run/$REPEAT"
    fresh_sqlite
    OUT=$(measure "$TOOL" import --kind population --db "sqlite://$SQLITE_DB" --file "$CSV" "${IMPORT_ARGS[@]}")
    echo "SQLite fresh:      $OUT" | tr '\n' ' '; echo
    SQ+=("$(field rows_per_s "$OUT")"); SQ_PEAK+=("$(field peak_mb "$OUT")")
    OUT=$(measure "$TOOL" import --kind population --db "sqlite://$SQLITE_DB" --file "$CSV" "${IMPORT_ARGS[@]}")
    echo "SQLite re-import:  $OUT" | tr '\n' ' '; echo
    SQ_RE+=("$(field rows_per_s "$OUT")")
    fresh_sqlite
    if [ "$SQLITE_5000" = 1 ]; then
        OUT=$(measure "$TOOL" import --kind population --db "sqlite://$SQLITE_DB" --file "$CSV" --order "$ORDER" --batch-size 5000)
        echo "SQLite batch 5000: $OUT" | tr '\n' ' '; echo
        SQ5+=("$(field rows_per_s "$OUT")"); SQ5_PEAK+=("$(field peak_mb "$OUT")")
        fresh_sqlite
    fi

    fresh_pg ${DB_PREFIX}_import
    OUT=$(measure "$TOOL" import --kind population --db "$PG_URL" --file "$CSV" "${IMPORT_ARGS[@]}")
    echo "PostgreSQL fresh:  $OUT" | tr '\n' ' '; echo
    RATE=$(field rows_per_s "$OUT"); PG+=("$RATE"); PG_PEAK+=("$(field peak_mb "$OUT")")
    COPY=$(copy_rate pk)
    echo "PostgreSQL \\copy:  rows_per_s=$COPY"
    CP+=("$COPY"); PCT+=("$(awk -v a="$RATE" -v b="$COPY" 'BEGIN {printf "%.0f", 100 * a / b}')")
    COPY=$(copy_rate none)
    echo "PostgreSQL \\copy, no index: rows_per_s=$COPY"
    CPN+=("$COPY"); PCTN+=("$(awk -v a="$RATE" -v b="$COPY" 'BEGIN {printf "%.0f", 100 * a / b}')")
    OUT=$(measure "$TOOL" import --kind population --db "$PG_URL" --file "$CSV" "${IMPORT_ARGS[@]}")
    echo "PostgreSQL re-import: $OUT" | tr '\n' ' '; echo
    PG_RE+=("$(field rows_per_s "$OUT")")
    psql_admin -c "DROP DATABASE ${DB_PREFIX}_import"
done

m() { echo "$@" | median; }
peak() { printf '%s\n' "$@" | sort -n | tail -1; }
cat <<EOF

== summary: $ROWS rows, order $ORDER, batch ${BATCH:-per backend (SQLite 25000, PostgreSQL 5000)}, median of $REPEAT runs
| measurement                         | rows/s (median) | all runs | peak RSS (max) |
|-------------------------------------|----------------:|----------|---------------:|
| SQLite import, fresh file           | $(m "${SQ[@]}") | ${SQ[*]} | $(printf '%s\n' "${SQ_PEAK[@]}" | sort -n | tail -1) MB |
| SQLite re-import (all unchanged)    | $(m "${SQ_RE[@]}") | ${SQ_RE[*]} | |
| SQLite import, 5000-row batches     | $(m "${SQ5[@]:-}") | ${SQ5[*]:-} | $(peak "${SQ5_PEAK[@]:-}") MB |
| PostgreSQL import, fresh database   | $(m "${PG[@]}") | ${PG[*]} | $(printf '%s\n' "${PG_PEAK[@]}" | sort -n | tail -1) MB |
| PostgreSQL re-import (all unchanged)| $(m "${PG_RE[@]}") | ${PG_RE[*]} | |
| PostgreSQL \\copy, primary key       | $(m "${CP[@]}") | ${CP[*]} | (psql) |
| PostgreSQL \\copy, no index (ceiling)| $(m "${CPN[@]}") | ${CPN[*]} | (psql) |
PostgreSQL import as % of COPY with the primary key, per run: ${PCT[*]}; median $(m "${PCT[@]}")% (target >= 70%).
PostgreSQL import as % of COPY without any index, per run: ${PCTN[*]}; median $(m "${PCTN[@]}")%.
Targets: SQLite >= 100000 rows/s; peak RSS < 200 MB.
EOF
