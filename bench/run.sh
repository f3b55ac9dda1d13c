#!/usr/bin/env bash
# Benchmark: ollama-auth-sidecar (Java/Jetty) vs nginx doing the same header
# injection, both in front of the same fast nginx "fake Ollama" upstream.
#
# Then, unless QUEUE=0, the queue proxy part (bench/queue.sh); QUEUE=only runs just that part.
#
# Usage: bench/run.sh            (see bench/README.md for the env options)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

# ---------------------------------------------------------------- options
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-5s}"
JAVA_OPTS="${JAVA_OPTS:-}"
JAVA_OPTS_GIVEN="$JAVA_OPTS"             # as given: CDS=1 appends to JAVA_OPTS for the sidecar only
JAVA="${JAVA:-java}"
UPSTREAM_PORT="${UPSTREAM_PORT:-18080}"
SIDECAR_PORT="${SIDECAR_PORT:-18081}"
NGINX_PORT="${NGINX_PORT:-18082}"
STARTUP_RUNS="${STARTUP_RUNS:-5}"
LOAD="${LOAD:-1}"                       # LOAD=0: only measure startup
CDS="${CDS:-0}"                         # CDS=1: build an AppCDS archive first and use it
OUT_DIR="${OUT_DIR:-$SCRIPT_DIR/out}"
SIDECAR_JAR="${SIDECAR_JAR:-$REPO_ROOT/sidecar/target/ollama-auth-sidecar.jar}"
READY_TIMEOUT_S="${READY_TIMEOUT_S:-30}"

BENCH_TAG=bench
# shellcheck source=bench/lib.sh
. "$SCRIPT_DIR/lib.sh"

# QUEUE=only: run only the queue proxy part (bench/queue.sh); QUEUE=0: skip it.
QUEUE="${QUEUE:-1}"
if [ "$QUEUE" = "only" ]; then
  exec "$SCRIPT_DIR/queue.sh"
fi

install_missing
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
command -v "$JAVA" >/dev/null 2>&1 || die "java not found (set JAVA=...)"

if [ ! -f "$SIDECAR_JAR" ]; then
  log "sidecar jar missing at $SIDECAR_JAR; building it"
  (cd "$REPO_ROOT" && ./mvnw -B -q -DskipTests package)
  [ -f "$SIDECAR_JAR" ] || die "build did not produce $SIDECAR_JAR"
fi

# ---------------------------------------------------------------- workspace + cleanup
WORK="$(mktemp -d /tmp/oqp-bench.XXXXXX)"
chmod 755 "$WORK"
mkdir -p "$OUT_DIR"
trap cleanup EXIT
trap 'exit 130' INT TERM

for p in "$UPSTREAM_PORT" "$SIDECAR_PORT" "$NGINX_PORT"; do
  port_free "$p" || die "port $p is already in use (override UPSTREAM_PORT/SIDECAR_PORT/NGINX_PORT)"
done

# ---------------------------------------------------------------- nginx configs
mkdir -p "$WORK/upstream" "$WORK/proxy"
{
  nginx_common "$WORK/upstream"
  cat <<EOF
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path $WORK/upstream/client_body;
  proxy_temp_path $WORK/upstream/proxy_temp;
  fastcgi_temp_path $WORK/upstream/fastcgi_temp;
  uwsgi_temp_path $WORK/upstream/uwsgi_temp;
  scgi_temp_path $WORK/upstream/scgi_temp;
  server {
    listen 127.0.0.1:$UPSTREAM_PORT;
    location = /api/version {
      default_type application/json;
      return 200 '{"version":"0.13.5"}';
    }
    location = / {
      default_type text/plain;
      return 200 'Ollama is running';
    }
    # sanity check that the proxies inject the configured headers
    location = /_bench/headers {
      default_type text/plain;
      return 200 '\$http_authorization|\$http_x_client_name';
    }
  }
}
EOF
} > "$WORK/upstream/nginx.conf"

{
  nginx_common "$WORK/proxy"
  cat <<EOF
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path $WORK/proxy/client_body;
  proxy_temp_path $WORK/proxy/proxy_temp;
  fastcgi_temp_path $WORK/proxy/fastcgi_temp;
  uwsgi_temp_path $WORK/proxy/uwsgi_temp;
  scgi_temp_path $WORK/proxy/scgi_temp;
  upstream ollama {
    server 127.0.0.1:$UPSTREAM_PORT;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://ollama;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host 127.0.0.1:$UPSTREAM_PORT;
      proxy_set_header Authorization "Bearer bench-secret";
      proxy_set_header X-Client-Name bench;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 600s;
    }
  }
}
EOF
} > "$WORK/proxy/nginx.conf"

# The sidecar adds X-Client-Name (= the service name, "bench") itself, so both proxies inject the same
# two headers.
sidecar_yaml() { # $1 = log level
  cat <<EOF
services:
  - name: bench
    listen: $SIDECAR_PORT
    bind: 127.0.0.1
    upstream: http://127.0.0.1:$UPSTREAM_PORT
    headers:
      Authorization: "Bearer bench-secret"
logging: { level: $1, format: json, access_log: false }
EOF
}
sidecar_yaml warn > "$WORK/sidecar.yaml"
# The "ready" line (with startup_ms) is logged at INFO, which level warn suppresses; the startup runs
# use level info (access_log stays off, so nothing is logged per request).
sidecar_yaml info > "$WORK/sidecar-startup.yaml"

# shellcheck disable=SC2206
JAVA_ARGS=($JAVA_OPTS)
start_sidecar() { # $1 = log file, $2 = config (default: the load config) ; sets LAST_PID
  "$JAVA" "${JAVA_ARGS[@]}" -jar "$SIDECAR_JAR" --config "${2:-$WORK/sidecar.yaml}" >"$1" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- upstream
log "nginx: $("$NGINX_BIN" -v 2>&1)"
log "java:  $("$JAVA" -version 2>&1 | head -1)"
log "jar:   $SIDECAR_JAR"
log "JAVA_OPTS='${JAVA_OPTS}'"
start_nginx "$WORK/upstream"
UPSTREAM_PID=$LAST_PID
wait_ready_ms "$(now_ns)" "http://127.0.0.1:$UPSTREAM_PORT/api/version" "$UPSTREAM_PID" >/dev/null
log "upstream ready on :$UPSTREAM_PORT"

# ---------------------------------------------------------------- optional AppCDS archive
if [ "$CDS" = "1" ]; then
  CDS_ARCHIVE="$WORK/sidecar-app.jsa"
  log "CDS=1: training run to create $CDS_ARCHIVE"
  JAVA_ARGS_SAVE=("${JAVA_ARGS[@]}")
  JAVA_ARGS=("${JAVA_ARGS_SAVE[@]}" "-XX:ArchiveClassesAtExit=$CDS_ARCHIVE")
  start_sidecar "$OUT_DIR/sidecar-cds-training.log" "$WORK/sidecar-startup.yaml"
  pid=$LAST_PID
  wait_ready_ms "$(now_ns)" "http://127.0.0.1:$SIDECAR_PORT/health" "$pid" >/dev/null
  for _ in 1 2 3 4 5; do curl -fsS -o /dev/null "http://127.0.0.1:$SIDECAR_PORT/api/version"; done
  stop_pid "$pid"
  [ -f "$CDS_ARCHIVE" ] || die "CDS archive was not written (see $OUT_DIR/sidecar-cds-training.log)"
  JAVA_ARGS=("${JAVA_ARGS_SAVE[@]}" "-XX:SharedArchiveFile=$CDS_ARCHIVE")
  JAVA_OPTS="${JAVA_OPTS:+$JAVA_OPTS }-XX:SharedArchiveFile=<AppCDS archive>"
fi

# ---------------------------------------------------------------- startup: nginx (reference)
NGINX_START=()
for i in $(seq 1 "$STARTUP_RUNS"); do
  t0=$(now_ns)
  start_nginx "$WORK/proxy"
  pid=$LAST_PID
  ms=$(wait_ready_ms "$t0" "http://127.0.0.1:$NGINX_PORT/api/version" "$pid")
  NGINX_START+=("$ms")
  stop_pid "$pid"
done
log "nginx proxy start->first response ms: ${NGINX_START[*]}"

# ---------------------------------------------------------------- startup: sidecar
SIDECAR_START=()
SIDECAR_SELF=()
for i in $(seq 1 "$STARTUP_RUNS"); do
  logf="$OUT_DIR/sidecar-startup-$i.log"
  t0=$(now_ns)
  start_sidecar "$logf" "$WORK/sidecar-startup.yaml"
  pid=$LAST_PID
  ms=$(wait_ready_ms "$t0" "http://127.0.0.1:$SIDECAR_PORT/health" "$pid")
  SIDECAR_START+=("$ms")
  # the "ready" line may be flushed a moment after the port accepts
  for _ in $(seq 1 100); do grep -q 'ollama-auth-sidecar ready' "$logf" && break; sleep 0.01; done
  self=$(grep 'ollama-auth-sidecar ready' "$logf" | grep -oE '"startup_ms" *: *"?[0-9]+(\.[0-9]+)?' | grep -oE '[0-9]+(\.[0-9]+)?$' | head -1 || true)
  SIDECAR_SELF+=("${self:-n/a}")
  stop_pid "$pid"
done
log "sidecar start->first response ms: ${SIDECAR_START[*]} (self-reported startup_ms: ${SIDECAR_SELF[*]})"

NGINX_START_MIN=$(printf '%s\n' "${NGINX_START[@]}" | minimum)
NGINX_START_MED=$(printf '%s\n' "${NGINX_START[@]}" | median)
SC_START_MIN=$(printf '%s\n' "${SIDECAR_START[@]}" | minimum)
SC_START_MED=$(printf '%s\n' "${SIDECAR_START[@]}" | median)
SC_SELF_MED=$(printf '%s\n' "${SIDECAR_SELF[@]}" | grep -E '^[0-9]' | median || echo n/a)

# ---------------------------------------------------------------- long-running proxies
start_nginx "$WORK/proxy"
NGINX_PID=$LAST_PID
wait_ready_ms "$(now_ns)" "http://127.0.0.1:$NGINX_PORT/api/version" "$NGINX_PID" >/dev/null
start_sidecar "$OUT_DIR/sidecar-load.log"
SIDECAR_PID=$LAST_PID
wait_ready_ms "$(now_ns)" "http://127.0.0.1:$SIDECAR_PORT/health" "$SIDECAR_PID" >/dev/null

# sanity: same body through all three, and both proxies inject the headers
expect='{"version":"0.13.5"}'
for port in "$UPSTREAM_PORT" "$NGINX_PORT" "$SIDECAR_PORT"; do
  body=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/api/version")
  [ "$body" = "$expect" ] || die "unexpected body from :$port: $body"
done
for port in "$NGINX_PORT" "$SIDECAR_PORT"; do
  got=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/_bench/headers")
  [ "$got" = "Bearer bench-secret|bench" ] || die "proxy on :$port did not inject headers (upstream saw: '$got')"
done
log "sanity checks passed (bodies identical, headers injected by both proxies)"

if [ "$LOAD" != "1" ]; then
  log "LOAD=0: skipping wrk runs"
fi

# ---------------------------------------------------------------- wrk
declare -A R
TARGETS=(direct nginx sidecar)
declare -A PORT=([direct]=$UPSTREAM_PORT [nginx]=$NGINX_PORT [sidecar]=$SIDECAR_PORT)
CONNS=("1:1" "32:2")   # connections:threads
declare -A SERVER_PID=([direct]=$UPSTREAM_PID [nginx]=$NGINX_PID [sidecar]=$SIDECAR_PID)

if [ "$LOAD" = "1" ]; then
  for ct in "${CONNS[@]}"; do
    c=${ct%%:*}; t=${ct##*:}
    for tgt in "${TARGETS[@]}"; do
      url="http://127.0.0.1:${PORT[$tgt]}/api/version"
      log "warm-up  $tgt c=$c ($WARMUP)"
      wrk -t"$t" -c"$c" -d"$WARMUP" --latency "$url" > "$OUT_DIR/wrk-warmup-$tgt-c$c.txt"
      log "measure  $tgt c=$c ($DURATION)"
      t0=$(cpu_ticks "${SERVER_PID[$tgt]}")
      wrk -t"$t" -c"$c" -d"$DURATION" --latency "$url" > "$OUT_DIR/wrk-$tgt-c$c.txt"
      t1=$(cpu_ticks "${SERVER_PID[$tgt]}")
      read -r rps p50 p99 err <<<"$(parse_wrk "$OUT_DIR/wrk-$tgt-c$c.txt")"
      nreq=$(awk '/requests in/{print $1; exit}' "$OUT_DIR/wrk-$tgt-c$c.txt")
      cpu=$(awk -v d=$(( t1 - t0 )) -v hz="$CLK_TCK" -v n="${nreq:-0}" 'BEGIN{ if (n>0) printf "%.1f", d/hz*1e6/n; else print "n/a" }')
      R[$tgt,$c,rps]=$rps; R[$tgt,$c,p50]=$p50; R[$tgt,$c,p99]=$p99; R[$tgt,$c,err]=$err; R[$tgt,$c,cpu]=$cpu
      log "         -> ${rps} req/s, p50 ${p50}us, p99 ${p99}us, CPU ${cpu}us/req, non-2xx/errors: ${err}"
    done
  done
fi

# sidecar stays alive through the load run? (a crash would show as socket errors)
kill -0 "$SIDECAR_PID" 2>/dev/null || log "WARNING: sidecar exited during the run (see $OUT_DIR/sidecar-load.log)"
SIDECAR_RSS_KB=$(awk '/^VmRSS:/{print $2}' "/proc/$SIDECAR_PID/status" 2>/dev/null || echo n/a)
SIDECAR_THREADS=$(awk '/^Threads:/{print $2}' "/proc/$SIDECAR_PID/status" 2>/dev/null || echo n/a)

# ---------------------------------------------------------------- report
RESULTS="$OUT_DIR/results.md"
{
  echo "## Run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "- java: $("$JAVA" -version 2>&1 | head -1); JAVA_OPTS='${JAVA_OPTS}'"
  echo "- nginx: $("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //'); wrk: $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
  echo "- wrk: GET /api/version, duration ${DURATION}, warm-up ${WARMUP} per target; c=1 uses -t1, c=32 uses -t2"
  echo "- load average at start: ${LOADAVG_START}; at end: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running on the box skews the numbers)"
  echo
  if [ "$LOAD" = "1" ]; then
    echo "| conns | target  |   req/s | p50 (µs) | p99 (µs) | server CPU µs/req | non-2xx / errors |"
    echo "|------:|---------|--------:|---------:|---------:|------------------:|------------------|"
    for ct in "${CONNS[@]}"; do
      c=${ct%%:*}
      for tgt in "${TARGETS[@]}"; do
        printf '| %5s | %-7s | %7s | %8s | %8s | %17s | %s |\n' "$c" "$tgt" "${R[$tgt,$c,rps]}" "${R[$tgt,$c,p50]}" "${R[$tgt,$c,p99]}" "${R[$tgt,$c,cpu]}" "${R[$tgt,$c,err]}"
      done
    done
    echo
    ADD_NGX=$(( R[nginx,1,p50] - R[direct,1,p50] ))
    ADD_SC=$(( R[sidecar,1,p50] - R[direct,1,p50] ))
    RATIO=$(awk -v s="${R[sidecar,32,rps]}" -v n="${R[nginx,32,rps]}" 'BEGIN{printf "%.2f", s/n}')
    echo "- added median over direct at c=1: nginx $(printf %+d "$ADD_NGX") µs, sidecar $(printf %+d "$ADD_SC") µs (sidecar − nginx: $(printf %+d $(( ADD_SC - ADD_NGX ))) µs)"
    echo "- throughput ratio sidecar/nginx at c=32: ${RATIO}"
    echo "- server CPU µs/req = CPU time of the proxy (nginx: master+workers; sidecar: the JVM; direct: the upstream nginx) during the measured run / requests; the proxies' rows exclude the upstream's CPU"
    echo "- sidecar after load: RSS $(( ${SIDECAR_RSS_KB/n\/a/0} / 1024 )) MiB, ${SIDECAR_THREADS} threads"
  fi
  echo "- startup (process start -> first answered request, ${STARTUP_RUNS} runs):"
  echo "  - sidecar: min ${SC_START_MIN} ms, median ${SC_START_MED} ms (runs: ${SIDECAR_START[*]}); self-reported startup_ms median ${SC_SELF_MED} (runs: ${SIDECAR_SELF[*]})"
  echo "  - nginx:   min ${NGINX_START_MIN} ms, median ${NGINX_START_MED} ms (runs: ${NGINX_START[*]})"
  echo
  echo "Targets:"
  if [ "$LOAD" = "1" ]; then
    a=$(awk -v r="$RATIO" 'BEGIN{print (r>=0.5)?"MET":"NOT MET"}')
    b=$([ $(( ADD_SC - ADD_NGX )) -le 100 ] && echo MET || echo "NOT MET")
    echo "- (a) c=32 sidecar throughput >= 0.5 x nginx: ${a} (ratio ${RATIO})"
    echo "- (b) c=1 sidecar added median within 100 µs of nginx's: ${b} ($(printf %+d "$ADD_SC") vs $(printf %+d "$ADD_NGX") µs)"
  fi
  c_ok=$([ "$SC_START_MED" -lt 1000 ] && echo MET || echo "NOT MET")
  echo "- (c) sidecar ready in < 1 s: ${c_ok} (median ${SC_START_MED} ms, min ${SC_START_MIN} ms)"
} > "$RESULTS"

echo
cat "$RESULTS"
log "raw outputs and table in $OUT_DIR"

# ---------------------------------------------------------------- queue proxy (bench/queue.sh)
if [ "$QUEUE" = "1" ]; then
  # Stop this part's processes first: the queue part starts its own, and idle ones would still cost
  # a little CPU on a 2-core box.
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && stop_pid "$pid"; done
  OUT_DIR="$OUT_DIR" JAVA_OPTS="$JAVA_OPTS_GIVEN" "$SCRIPT_DIR/queue.sh"
fi
