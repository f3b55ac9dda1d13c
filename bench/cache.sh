#!/usr/bin/env bash
# Benchmark: the embedding cache's hit path through ollama-queue-proxy (auth on), memory backend and a
# local Valkey/Redis on loopback: requests per second and latency of a cached POST /api/embed at 1 and
# 32 connections. The upstream (an nginx answering a fixed 384-dimension embedding) must see exactly one
# embed request per backend: every measured request is a hit.
#
# Usage: bench/cache.sh            (see bench/README.md, "Embedding cache")
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-5s}"
JAVA="${JAVA:-java}"
JAVA_OPTS="${JAVA_OPTS:-}"
QUEUE_JAR="${QUEUE_JAR:-$REPO_ROOT/queue-proxy/target/ollama-queue-proxy.jar}"
C_UPSTREAM_PORT="${C_UPSTREAM_PORT:-18097}"
C_PROXY_PORT="${C_PROXY_PORT:-18098}"
C_REDIS_PORT="${C_REDIS_PORT:-18099}"
BACKENDS="${BACKENDS:-memory redis}"
OUT_DIR="${OUT_DIR:-$SCRIPT_DIR/out}"
READY_TIMEOUT_S="${READY_TIMEOUT_S:-30}"
KEY="bench-cache-key-0123456789abcdef"
INPUT="The sky is blue because of Rayleigh scattering."

BENCH_TAG=cache
# shellcheck source=bench/lib.sh
. "$SCRIPT_DIR/lib.sh"

install_missing
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
REDIS_BIN="$(command -v valkey-server || command -v redis-server || true)"
if [ -z "$REDIS_BIN" ]; then
  log "installing redis-server"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  REDIS_BIN="$(command -v redis-server)"
fi
command -v "$JAVA" >/dev/null 2>&1 || die "java not found (set JAVA=...)"
if [ ! -f "$QUEUE_JAR" ]; then
  log "queue proxy jar missing at $QUEUE_JAR; building it"
  (cd "$REPO_ROOT" && ./mvnw -B -q -DskipTests package)
fi

WORK="$(mktemp -d /tmp/oqp-cache-bench.XXXXXX)"
chmod 755 "$WORK"
mkdir -p "$OUT_DIR" "$WORK/upstream"
trap cleanup EXIT
trap 'exit 130' INT TERM
# A private copy of the jar: something stopping "the" queue proxy by name must not end this one.
cp "$QUEUE_JAR" "$WORK/oqp-bench-queue-proxy.jar"
for p in "$C_UPSTREAM_PORT" "$C_PROXY_PORT" "$C_REDIS_PORT"; do
  port_free "$p" || die "port $p is already in use (override the C_*_PORT variables)"
done

# ---------------------------------------------------------------- the fake Ollama (nginx)
VECTOR=$(awk 'BEGIN{srand(7); printf "["; for(i=0;i<384;i++){ if(i) printf ","; printf "%.8f", rand()*2-1 } printf "]"}')
EMBED_BODY="{\"model\":\"all-minilm\",\"embeddings\":[$VECTOR],\"total_duration\":14143917,\"load_duration\":1019500,\"prompt_eval_count\":8}"
TAGS='{"models":[{"name":"all-minilm:latest","model":"all-minilm:latest"}]}'
{
  nginx_common "$WORK/upstream"
  echo "http {"
  echo "  access_log $WORK/upstream/access.log;"
  nginx_temp_paths "$WORK/upstream"
  echo "  keepalive_requests 1000000;"
  echo "  server {"
  echo "    listen 127.0.0.1:$C_UPSTREAM_PORT;"
  echo "    default_type application/json;"
  echo "    location = / { default_type text/plain; return 200 'Ollama is running'; }"
  echo "    location = /api/version { return 200 '{\"version\":\"0.13.5\"}'; }"
  echo "    location = /api/tags { return 200 '$TAGS'; }"
  echo "    location = /api/ps { return 200 '$TAGS'; }"
  # The answer is longer than an nginx parameter may be: served from a file, the POST's 405 turned into
  # a 200 by an internal redirect (which nginx makes a GET).
  echo "    location = /api/embed { error_page 405 =200 /embed.json; return 405; }"
  echo "    location = /embed.json { internal; root $WORK/upstream; }"
  echo "  }"
  echo "}"
} > "$WORK/upstream/nginx.conf"
printf '%s' "$EMBED_BODY" > "$WORK/upstream/embed.json"
start_nginx "$WORK/upstream"
wait_ready_ms "$(now_ns)" "http://127.0.0.1:$C_UPSTREAM_PORT/api/version" "$LAST_PID" >/dev/null

{
  echo 'wrk.method = "POST"'
  echo "wrk.body = '{\"model\":\"all-minilm\",\"input\":\"$INPUT\"}'"
  echo 'wrk.headers["Content-Type"] = "application/json"'
  echo "wrk.headers[\"Authorization\"] = \"Bearer $KEY\""
} > "$WORK/embed.lua"

embeds_upstream() { grep -c 'POST /api/embed ' "$WORK/upstream/access.log" 2>/dev/null || true; }
x_cache() { # one embed request through the proxy; prints its X-Cache
  curl -sS -D - -o /dev/null -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    --data "{\"model\":\"all-minilm\",\"input\":\"$INPUT\"}" "http://127.0.0.1:$C_PROXY_PORT/api/embed" \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="x-cache"{print $2}'
}
metric_sum() { # sum of a metric's samples on the proxy
  curl -fsS -H "Authorization: Bearer $KEY" "http://127.0.0.1:$C_PROXY_PORT/metrics" \
    | awk -v m="$1" 'index($0, m)==1 {s+=$NF} END{printf "%.0f", s}'
}

declare -A R
for backend in $BACKENDS; do
  url="memory"
  if [ "$backend" = redis ]; then
    "$REDIS_BIN" --port "$C_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$C_REDIS_PORT") 2>/dev/null && break; sleep 0.02; done
    url="redis://127.0.0.1:$C_REDIS_PORT/0"
  fi
  {
    echo "proxy: {port: $C_PROXY_PORT}"
    echo "ollama:"
    echo "  hosts: [{name: gpu, url: \"http://127.0.0.1:$C_UPSTREAM_PORT\", max_concurrent: 4}]"
    echo "auth:"
    echo "  keys: [{client_id: bench, key: \"$KEY\"}]"
    echo "embedding_cache: {backend: \"$url\"}"
    echo "logging: {level: warn, access_log: false}"
  } > "$WORK/$backend.yaml"
  # shellcheck disable=SC2206
  opts=($JAVA_OPTS)
  "$JAVA" "${opts[@]}" -jar "$WORK/oqp-bench-queue-proxy.jar" --config "$WORK/$backend.yaml" >"$OUT_DIR/cache-proxy-$backend.log" 2>&1 &
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  wait_ready_ms "$(now_ns)" "http://127.0.0.1:$C_PROXY_PORT/health" "$PROXY_PID" >/dev/null
  for _ in $(seq 1 200); do curl -fsS -o /dev/null --max-time 0.5 "http://127.0.0.1:$C_PROXY_PORT/ready" && break; sleep 0.05; done
  before=$(embeds_upstream)
  first=$(x_cache)
  sleep 0.3   # the store follows the answer
  second=$(x_cache)
  [ "$first" = MISS ] && [ "$second" = HIT ] || die "$backend: expected MISS then HIT, got '$first' then '$second'"
  for cc in "1:1" "32:2"; do
    c=${cc%%:*}; t=${cc##*:}
    wrk -t"$t" -c"$c" -d"$WARMUP" --latency -s "$WORK/embed.lua" "http://127.0.0.1:$C_PROXY_PORT/api/embed" \
      > "$OUT_DIR/cache-wrk-warmup-$backend-c$c.txt" || true
    f="$OUT_DIR/cache-wrk-$backend-c$c.txt"
    wrk -t"$t" -c"$c" -d"$DURATION" --latency -s "$WORK/embed.lua" "http://127.0.0.1:$C_PROXY_PORT/api/embed" > "$f" || true
    R[$backend,$c]="$(parse_wrk "$f")"
    log "$backend c=$c: rps p50us p99us non2xx = ${R[$backend,$c]}"
  done
  R[$backend,upstream]=$(( $(embeds_upstream) - before ))
  R[$backend,hits]=$(metric_sum oqp_embedding_cache_hits_total)
  R[$backend,errors]=$(metric_sum oqp_embedding_cache_errors_total)
  stop_pid "$PROXY_PID"
  if [ "$backend" = redis ]; then stop_pid "$REDIS_PID"; fi
done

{
  echo "## Embedding cache hit path ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "- java: $("$JAVA" -version 2>&1 | head -1); $("$REDIS_BIN" --version | awk '{print $1, $2, $3}')"
  echo "- $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); JAVA_OPTS='${JAVA_OPTS}'"
  echo "- wrk $DURATION after a $WARMUP warm-up at each setting; POST /api/embed with one 48-character input; answer: 384 dimensions (≈4.3 KB)"
  echo
  echo "| backend | connections | req/s | p50 | p99 | non-2xx | upstream embeds (whole run) | hits counted | cache errors |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for backend in $BACKENDS; do
    for c in 1 32; do
      read -r rps p50 p99 err <<<"${R[$backend,$c]}"
      echo "| $backend | $c | $rps | ${p50} µs | ${p99} µs | $err | ${R[$backend,upstream]} | ${R[$backend,hits]} | ${R[$backend,errors]} |"
    done
  done
} | tee "$OUT_DIR/cache-results.md"
