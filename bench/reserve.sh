#!/usr/bin/env bash
# Benchmark: reserved slots (queue.high.reserved_slots) through ollama-queue-proxy. Low-priority traffic keeps
# every slot of one host busy (closed loops, more of them than slots, so low requests always wait) with
# generations of a fixed length; high-priority requests arrive one at a time over a while. Reports each high
# request's queue wait (X-Queue-Wait-Time) as p50/p95/max, per case: no reserve, one slot reserved and never
# lent (borrow: 0), one slot reserved with the default borrow (all of it: work-conserving).
#
# Usage: bench/reserve.sh            (see bench/README.md, "Reserved slots")
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

JAVA="${JAVA:-java}"
JAVA_OPTS="${JAVA_OPTS:-}"
QUEUE_JAR="${QUEUE_JAR:-$REPO_ROOT/queue-proxy/target/ollama-queue-proxy.jar}"
R_UPSTREAM_PORT="${R_UPSTREAM_PORT:-18100}"
R_PROXY_PORT="${R_PROXY_PORT:-18101}"
SLOTS="${SLOTS:-4}"
RESERVED="${RESERVED:-1}"
GEN_MS="${GEN_MS:-200}"
LOW_LOOPS="${LOW_LOOPS:-8}"
HIGHS="${HIGHS:-50}"
HIGH_INTERVAL_MS="${HIGH_INTERVAL_MS:-400}"
WARMUP_MS="${WARMUP_MS:-3000}"
CASES="${CASES:-none reserved lent}"
OUT_DIR="${OUT_DIR:-$SCRIPT_DIR/out}"
READY_TIMEOUT_S="${READY_TIMEOUT_S:-30}"

BENCH_TAG=reserve
# shellcheck source=bench/lib.sh
. "$SCRIPT_DIR/lib.sh"

command -v node >/dev/null 2>&1 || die "node not found (Node.js 18 or newer)"
command -v curl >/dev/null 2>&1 || die "curl not found"
command -v "$JAVA" >/dev/null 2>&1 || die "java not found (set JAVA=...)"
if [ ! -f "$QUEUE_JAR" ]; then
  log "queue proxy jar missing at $QUEUE_JAR; building it"
  (cd "$REPO_ROOT" && ./mvnw -B -q -DskipTests package)
fi

WORK="$(mktemp -d /tmp/oqp-reserve-bench.XXXXXX)"
mkdir -p "$OUT_DIR"
trap cleanup EXIT
trap 'exit 130' INT TERM
# A private copy of the jar: something stopping "the" queue proxy by name must not end this one.
cp "$QUEUE_JAR" "$WORK/oqp-bench-queue-proxy.jar"
for p in "$R_UPSTREAM_PORT" "$R_PROXY_PORT"; do
  port_free "$p" || die "port $p is already in use (override R_UPSTREAM_PORT / R_PROXY_PORT)"
done

node "$SCRIPT_DIR/reserve.js" upstream "$R_UPSTREAM_PORT" "$GEN_MS" >"$WORK/upstream.log" 2>&1 &
UPSTREAM_PID=$!
PIDS+=("$UPSTREAM_PID")
wait_ready_ms "$(now_ns)" "http://127.0.0.1:$R_UPSTREAM_PORT/api/version" "$UPSTREAM_PID" >/dev/null

# $1 = the queue.high block
config() {
  cat <<EOF
proxy:
  port: $R_PROXY_PORT
ollama:
  hosts:
    - name: gpu
      url: http://127.0.0.1:$R_UPSTREAM_PORT
      max_concurrent: $SLOTS
queue:
  high: $1
  low: { max_depth: 1000, max_wait: 600s }
logging: { level: warn, access_log: false }
EOF
}

RESULTS="$OUT_DIR/reserve-results.md"
{
  echo "# Reserved slots ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "$SLOTS slots on one host, generations of $GEN_MS ms, $LOW_LOOPS closed loops of low requests, $HIGHS high"
  echo "requests arriving every $HIGH_INTERVAL_MS ms × U(0.5, 1.5) after a $WARMUP_MS ms warm-up."
  echo
  echo "| case | queue.high | high wait p50 | p95 | max | lows done meanwhile | upstream max concurrency | errors | target p95 < $GEN_MS ms |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
} > "$RESULTS"

for c in $CASES; do
  case "$c" in
    none) high="{ max_depth: 100, max_wait: 120s }" ;;
    reserved) high="{ max_depth: 100, max_wait: 120s, reserved_slots: $RESERVED, borrow: 0 }" ;;
    lent) high="{ max_depth: 100, max_wait: 120s, reserved_slots: $RESERVED }" ;;
    *) die "unknown case $c (expected: none, reserved, lent)" ;;
  esac
  config "$high" > "$WORK/$c.yaml"
  # shellcheck disable=SC2206
  opts=($JAVA_OPTS)
  "$JAVA" "${opts[@]}" -jar "$WORK/oqp-bench-queue-proxy.jar" --config "$WORK/$c.yaml" >"$OUT_DIR/reserve-$c.log" 2>&1 &
  proxy_pid=$!
  PIDS+=("$proxy_pid")
  wait_ready_ms "$(now_ns)" "http://127.0.0.1:$R_PROXY_PORT/health" "$proxy_pid" >/dev/null
  log "case $c: queue.high $high"
  node "$SCRIPT_DIR/reserve.js" client "http://127.0.0.1:$R_PROXY_PORT" "$LOW_LOOPS" "$HIGHS" "$HIGH_INTERVAL_MS" \
    "$WARMUP_MS" > "$OUT_DIR/reserve-$c.json"
  stats=$(curl -fsS "http://127.0.0.1:$R_UPSTREAM_PORT/bench/stats")
  stop_pid "$proxy_pid"
  node -e '
    const [r, s, c, high, gen] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2]), process.argv[3],
      process.argv[4], Number(process.argv[5])];
    const met = r.errors === 0 && r.p95 < gen ? "MET" : "NOT MET";
    console.log(`| ${c} | \`${high}\` | ${r.p50} ms | ${r.p95} ms | ${r.max} ms | ${r.lowsDuring} | ${s.maxOpen} | ${r.errors} | ${met} |`);
  ' "$(cat "$OUT_DIR/reserve-$c.json")" "$stats" "$c" "$high" "$GEN_MS" >> "$RESULTS"
  # The upstream's max concurrency is over its whole life: reset it by restarting it between cases.
  stop_pid "$UPSTREAM_PID"
  node "$SCRIPT_DIR/reserve.js" upstream "$R_UPSTREAM_PORT" "$GEN_MS" >"$WORK/upstream.log" 2>&1 &
  UPSTREAM_PID=$!
  PIDS+=("$UPSTREAM_PID")
  wait_ready_ms "$(now_ns)" "http://127.0.0.1:$R_UPSTREAM_PORT/api/version" "$UPSTREAM_PID" >/dev/null
done

cat "$RESULTS"
log "results in $RESULTS (raw waits in $OUT_DIR/reserve-*.json)"
