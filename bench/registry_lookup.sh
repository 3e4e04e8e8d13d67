#!/usr/bin/env bash
# Registration lookup latency (Store::find_citizen through StoreRegistry) against a large citizens registry, on
# SQLite and PostgreSQL: p50/p90/p99/max over LOOKUPS existing and LOOKUPS missing identification numbers,
# interleaved, one at a time (the latency one registration sees, not a throughput test).
#
#   bench/registry_lookup.sh                          # 10,000,000 citizens, 5,000 + 5,000 lookups
#   ROWS=1000000 LOOKUPS=2000 bench/registry_lookup.sh
#   KEEP=1 bench/registry_lookup.sh                   # keep the databases for another run (re-used if present)
#
# Needs the same as bench/registry_import.sh. The registries are built with the import under test (the
# SQLite file in $BENCH_DIR, the PostgreSQL database dinhdanh_bench_lookup), then dropped unless KEEP=1.
set -euo pipefail

ROWS=${ROWS:-10000000}
LOOKUPS=${LOOKUPS:-5000}
SEED=${SEED:-2026}
BENCH_DIR=${BENCH_DIR:-/tmp/dinhdanh-bench}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER

cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/time ]; then
    apt-get install -y time >/dev/null
fi
cargo build --release -p dinhdanh-registry --examples
TOOL=target/release/examples/registry_tool
mkdir -p "$BENCH_DIR"
CSV="$BENCH_DIR/citizens-$ROWS-$SEED.csv"
SQLITE_DB="$BENCH_DIR/lookup-$ROWS-$SEED.db"
PG_DB="dinhdanh_bench_lookup"
PG_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$PG_DB"

# Waits until the CPUs have been less than 10% busy over 2 seconds (at most 10 minutes): the machine may be
# shared with builds and other test suites.
quiet() {
    local waited=0 u1 n1 s1 i1 w1 u2 n2 s2 i2 w2 busy total
    sync # no run pays for writing back the previous run's dirty pages
    while [ "$waited" -lt 600 ]; do
        read -r _ u1 n1 s1 i1 w1 _ </proc/stat
        sleep 2
        read -r _ u2 n2 s2 i2 w2 _ </proc/stat
        busy=$(((u2 + n2 + s2) - (u1 + n1 + s1)))
        total=$((busy + (i2 + w2) - (i1 + w1)))
        [ $((100 * busy)) -lt $((10 * total)) ] && return
        waited=$((waited + 2))
    done
    echo "   (machine still busy after 10 minutes; measuring anyway)"
}
timed() { quiet; /usr/bin/time -f "   wall %e s, peak RSS %M KB" "$@"; }

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM"
if [ ! -s "$CSV" ]; then
    echo "== generating $ROWS citizens (seed $SEED)"
    timed "$TOOL" generate --kind population --count "$ROWS" --seed "$SEED" --out "$CSV.tmp"
    mv "$CSV.tmp" "$CSV"
fi
echo "== file: $CSV ($(du -m "$CSV" | cut -f1) MB)"

if [ ! -s "$SQLITE_DB" ]; then
    echo "== SQLite: importing $ROWS rows"
    rm -f "$SQLITE_DB"-wal "$SQLITE_DB"-shm
    timed "$TOOL" import --kind population --db "sqlite://$SQLITE_DB.tmp" --file "$CSV"
    rm -f "$SQLITE_DB.tmp-wal" "$SQLITE_DB.tmp-shm"
    mv "$SQLITE_DB.tmp" "$SQLITE_DB"
fi
echo "== SQLite: lookups ($(du -m "$SQLITE_DB" | cut -f1) MB database)"
quiet
"$TOOL" lookup --db "sqlite://$SQLITE_DB" --file "$CSV" --count "$LOOKUPS" | tee "$BENCH_DIR/lookup-sqlite.txt"

if [ "$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$PG_DB'")" = 0 ]; then
    echo "== PostgreSQL: importing $ROWS rows"
    psql -X -q -d postgres -c "CREATE DATABASE $PG_DB"
    timed "$TOOL" import --kind population --db "$PG_URL" --file "$CSV"
    psql -X -q -d "$PG_DB" -c "VACUUM ANALYZE registry_citizens"
fi
echo "== PostgreSQL: lookups ($(psql -X -At -d "$PG_DB" -c "SELECT pg_size_pretty(pg_database_size('$PG_DB'))") database)"
quiet
"$TOOL" lookup --db "$PG_URL" --file "$CSV" --count "$LOOKUPS" | tee "$BENCH_DIR/lookup-postgres.txt"

if [ "${KEEP:-0}" != 1 ]; then
    rm -f "$SQLITE_DB" "$SQLITE_DB"-wal "$SQLITE_DB"-shm
    psql -X -q -d postgres -c "DROP DATABASE $PG_DB"
fi
