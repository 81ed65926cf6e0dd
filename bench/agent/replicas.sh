#!/usr/bin/env bash
# Issue 26's throughput of one agent replica against two on one PostgreSQL database, release
# build: a private PostgreSQL cluster in a temporary folder (initdb, pg_ctl on a free localhost
# port; as root it runs as the `postgres` user), BANKING77 bootstrapped with hashed features,
# consolidation off, then `autodidact agent bench` clients: one replica with all of them, then
# two replicas with half each at once (no load balancer on the path). Everything it starts is
# stopped on exit. Not part of tests or CI.
#
#   bash bench/agent/replicas.sh [--requests N] [--concurrency C] [--repeats R]
#
# Needs PostgreSQL's server programs (Debian: postgresql) and ../shared/data/banking77.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DATA="${DATA:-$ROOT/../shared/data/banking77}"
REQUESTS=3000
CONCURRENCY=16
REPEATS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) REQUESTS="$2"; shift 2 ;;
        --concurrency) CONCURRENCY="$2"; shift 2 ;;
        --repeats) REPEATS="$2"; shift 2 ;;
        *) echo "usage: $0 [--requests N] [--concurrency C] [--repeats R]" >&2; exit 2 ;;
    esac
done
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    echo "error: PostgreSQL's initdb is not installed (Debian: apt-get install -y postgresql)" >&2
    exit 1
fi
if [ ! -f "$DATA/train.csv" ]; then
    echo "error: $DATA/train.csv not found (BANKING77; set DATA=)" >&2
    exit 1
fi
cargo build --release -p autodidact-agent --bin autodidact-agent-serve
cargo build --release -p autodidact-runner
BIN="$ROOT/target/release"

TMP="$(mktemp -d)"
PIDS=()
AS=()
if [ "$(id -u)" = 0 ]; then
    chown postgres "$TMP"
    AS=(runuser -u postgres --)
fi
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
"${AS[@]}" "$PGBIN/initdb" -D "$TMP/pg" -U postgres --auth=trust >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg.log" -w \
    -o "-p $PORT -k $TMP -c listen_addresses=127.0.0.1" start >/dev/null
"${AS[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres bench
URL="postgres://postgres@127.0.0.1:$PORT/bench"

cat > "$TMP/agent.toml" <<EOF
sync_ms = 200
[featurizer]
kind = "hashed"
dim = 4096
[consolidation]
enabled = false
EOF
export AUTODIDACT_CLIENT_TOKEN=bench-client-token-0001 AUTODIDACT_ADMIN_TOKEN=bench-admin-token-00001

start_replica() {
    local port="$1"
    "$BIN/autodidact-agent-serve" --config "$TMP/agent.toml" --data "$DATA" --db "$URL" \
        --bind "127.0.0.1:$port" > "$TMP/replica-$port.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 600); do
        if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    echo "error: replica on $port did not come up; its log:" >&2
    cat "$TMP/replica-$port.log" >&2
    exit 1
}
bench() {
    "$BIN/autodidact" agent bench --url "http://127.0.0.1:$1" --requests "$2" \
        --concurrency "$3" --seed "$4" --out "$TMP/bench-$1-$4.json" > "$TMP/bench-$1-$4.txt" 2>&1
}
summary() {
    python3 - "$@" <<'PY'
import json, sys
runs = [json.load(open(p)) for p in sys.argv[1:]]
for p, r in zip(sys.argv[1:], runs):
    lat = r["latency_ms"]
    print(f"  {r['requests']} requests in {r['seconds']:.2f} s = {r['requests_per_s']:.1f} requests/s, "
          f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, max {lat['max']:.1f} ms, errors {r['errors']}")
if len(runs) > 1:
    total = sum(r["requests"] for r in runs)
    slowest = max(r["seconds"] for r in runs)
    print(f"  together: {total} requests in {slowest:.2f} s (the slower client) = {total / slowest:.1f} requests/s")
PY
}

P1="$(free_port)"; P2="$(free_port)"
start_replica "$P1"   # the first replica bootstraps the database from BANKING77
start_replica "$P2"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "cpu:     $(lscpu | grep 'Model name' | sed 's/Model name:[[:space:]]*//'), $(getconf _NPROCESSORS_ONLN) cores"
echo "git:     $(git rev-parse --short HEAD) ($(git status --porcelain | wc -l) paths dirty), release build"
echo "command: bash bench/agent/replicas.sh --requests $REQUESTS --concurrency $CONCURRENCY --repeats $REPEATS"
for r in $(seq 1 "$REPEATS"); do
    echo "== repeat $r: one replica, $REQUESTS requests, concurrency $CONCURRENCY (load $(cut -d' ' -f1-3 /proc/loadavg))"
    bench "$P1" "$REQUESTS" "$CONCURRENCY" "$((10 * r))"
    summary "$TMP/bench-$P1-$((10 * r)).json"
    echo "== repeat $r: two replicas, $((REQUESTS / 2)) requests each at once, concurrency $((CONCURRENCY / 2)) each (load $(cut -d' ' -f1-3 /proc/loadavg))"
    bench "$P1" "$((REQUESTS / 2))" "$((CONCURRENCY / 2))" "$((10 * r + 1))" &
    b1=$!
    bench "$P2" "$((REQUESTS / 2))" "$((CONCURRENCY / 2))" "$((10 * r + 2))" &
    b2=$!
    wait "$b1" "$b2"
    summary "$TMP/bench-$P1-$((10 * r + 1)).json" "$TMP/bench-$P2-$((10 * r + 2)).json"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
