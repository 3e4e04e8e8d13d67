# Shared by bench/locks_self_lock.sh and bench/locks_bulk.sh (sourced, not run): builds the release binaries,
# creates fresh databases, starts and stops `dinhdanh serve`.
BENCH_DIR=${BENCH_DIR:-/tmp/dinhdanh-bench}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
PORT=${PORT:-18480}
export PGHOST PGPORT PGUSER

cd "$(dirname "$0")/.."
cargo build --release -p dinhdanh --bin dinhdanh --example locks_bench
# Where cargo put them: CARGO_TARGET_DIR is honoured (a build directory of one's own on a shared machine).
TARGET_DIR=${CARGO_TARGET_DIR:-target}
DINHDANH=$TARGET_DIR/release/dinhdanh
CLIENT=$TARGET_DIR/release/examples/locks_bench
mkdir -p "$BENCH_DIR"
SERVER_PID=

# Waits until the CPUs have been less than 10% busy over 2 seconds (at most $QUIET_MAX seconds, default 600): the
# machine may be shared with builds and other test suites. QUIET=0 does not wait.
quiet() {
    [ "${QUIET:-1}" = 0 ] && return
    local waited=0 u1 n1 s1 i1 w1 u2 n2 s2 i2 w2 busy total
    while [ "$waited" -lt "${QUIET_MAX:-600}" ]; do
        read -r _ u1 n1 s1 i1 w1 _ </proc/stat
        sleep 2
        read -r _ u2 n2 s2 i2 w2 _ </proc/stat
        busy=$(((u2 + n2 + s2) - (u1 + n1 + s1)))
        total=$((busy + (i2 + w2) - (i1 + w1)))
        [ $((100 * busy)) -lt $((10 * total)) ] && return
        waited=$((waited + 2))
    done
    echo "   (machine still busy after ${QUIET_MAX:-600} s; measuring anyway)"
}

# fresh_db sqlite|postgres NAME: prints the URL of an empty database.
fresh_db() {
    case "$1" in
    sqlite)
        rm -f "$BENCH_DIR/$2.db" "$BENCH_DIR/$2.db-wal" "$BENCH_DIR/$2.db-shm"
        echo "sqlite://$BENCH_DIR/$2.db"
        ;;
    postgres)
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $2" >/dev/null
        psql -X -q -d postgres -c "CREATE DATABASE $2" >/dev/null
        echo "postgres://$PGUSER@$PGHOST:$PGPORT/$2"
        ;;
    esac
}

# start_server URL: runs `dinhdanh serve` on 127.0.0.1:$PORT until stop_server. Messages have no channel and
# wait in the outbox (the notification worker's sending is not what is measured).
start_server() {
    RUST_LOG=error "$DINHDANH" serve --database-url "$1" --listen "127.0.0.1:$PORT" >/dev/null 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return
        sleep 0.1
    done
    echo "dinhdanh serve did not start" >&2
    exit 1
}

stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM"
