#!/usr/bin/env bash
# Benchmark: ollama-auth-sidecar (Java/Jetty) vs nginx doing the same header
# injection, both in front of the same fast nginx "fake Ollama" upstream.
#
# Usage: bench/run.sh            (see bench/README.md for the env options)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

# ---------------------------------------------------------------- options
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-5s}"
JAVA_OPTS="${JAVA_OPTS:-}"
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

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools
install_missing() {
  local pkgs=()
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || pkgs+=(nginx-light)
  command -v wrk >/dev/null 2>&1 || pkgs+=(wrk)
  command -v curl >/dev/null 2>&1 || pkgs+=(curl)
  [ "${#pkgs[@]}" -eq 0 ] && return 0
  log "installing: ${pkgs[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # Keep Debian's nginx service from autostarting (it would grab port 80 and
  # is not the instance we benchmark).
  local created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  $sudo apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}"; then
    # nginx-light does not exist on every release; fall back to nginx.
    local alt=("${pkgs[@]/nginx-light/nginx}")
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${alt[@]}"
  fi
  [ "$created_policy" -eq 1 ] && $sudo rm -f /usr/sbin/policy-rc.d
  return 0
}
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
PIDS=()
cleanup() {
  local rc=$?
  set +e
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() { # remove a pid from PIDS after we stopped it ourselves
  local p="$1" keep=() x
  for x in "${PIDS[@]:-}"; do [ "$x" != "$p" ] && [ -n "$x" ] && keep+=("$x"); done
  PIDS=("${keep[@]:-}")
}
stop_pid() {
  local p="$1"
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  forget_pid "$p"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$UPSTREAM_PORT" "$SIDECAR_PORT" "$NGINX_PORT"; do
  port_free "$p" || die "port $p is already in use (override UPSTREAM_PORT/SIDECAR_PORT/NGINX_PORT)"
done

now_ns() { date +%s%N; }

# Poll URL until it answers; print elapsed ms since $1 (ns timestamp).
wait_ready_ms() {
  local t0="$1" url="$2" pid="$3" deadline
  deadline=$(( t0 + READY_TIMEOUT_S * 1000000000 ))
  until curl -fsS -o /dev/null --max-time 0.2 "$url" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "process $pid died before answering $url"
    [ "$(now_ns)" -gt "$deadline" ] && die "$url not ready after ${READY_TIMEOUT_S}s"
    sleep 0.01
  done
  echo $(( ($(now_ns) - t0) / 1000000 ))
}

# ---------------------------------------------------------------- nginx configs
nginx_common() { # $1 = prefix dir
  cat <<EOF
worker_processes auto;
daemon off;
master_process on;
pid $1/nginx.pid;
error_log $1/error.log warn;
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
events { worker_connections 4096; }
EOF
}

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

start_nginx() { # $1 = dir ; sets LAST_PID
  "$NGINX_BIN" -e "$1/error.log" -p "$1" -c "$1/nginx.conf" >"$1/stdout.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# shellcheck disable=SC2206
JAVA_ARGS=($JAVA_OPTS)
start_sidecar() { # $1 = log file, $2 = config (default: the load config) ; sets LAST_PID
  "$JAVA" "${JAVA_ARGS[@]}" -jar "$SIDECAR_JAR" --config "${2:-$WORK/sidecar.yaml}" >"$1" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

median() { sort -n | awk '{a[NR]=$1} END{ if (NR==0) {print "n/a"} else if (NR%2) {print a[(NR+1)/2]} else {printf "%d\n", (a[NR/2]+a[NR/2+1])/2} }'; }
minimum() { sort -n | head -1; }

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
to_us() { # "123.45us" | "1.20ms" | "2.00s" -> integer-ish microseconds
  awk -v v="$1" 'BEGIN{
    n=v; sub(/[a-z]+$/,"",n); u=v; sub(/^[0-9.]+/,"",u);
    f = (u=="us")?1:(u=="ms")?1000:(u=="s")?1000000:(u=="m")?60000000:-1;
    if (f<0) { print "n/a" } else { printf "%.0f\n", n*f }
  }'
}
parse_wrk() { # file -> "rps p50us p99us errors"
  local f="$1" rps p50 p99 non2xx sockerr
  rps=$(awk '/^Requests\/sec:/{printf "%.0f", $2}' "$f")
  p50=$(awk '$1=="50%"{print $2}' "$f")
  p99=$(awk '$1=="99%"{print $2}' "$f")
  non2xx=$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$f")
  sockerr=$(grep -o 'Socket errors:.*' "$f" || true)
  echo "${rps:-n/a} $(to_us "${p50:-x}") $(to_us "${p99:-x}") ${non2xx:-0}${sockerr:+ ($sockerr)}"
}

# CPU time (ticks) used by a process and its direct children (nginx workers; JVM threads are in the
# process's own counters). Together with wrk's request count this gives CPU µs per request, a measure
# of efficiency that does not depend on how the 2-core box was shared out during the run.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {
  local root="$1" sum=0 f fields
  for f in /proc/[0-9]*/stat; do
    fields=$(cat "$f" 2>/dev/null) || continue
    fields=${fields##*) }   # drop "pid (comm) " (comm may contain spaces)
    # shellcheck disable=SC2086
    set -- $fields           # $1=state $2=ppid ... $12=utime $13=stime
    local pid=${f#/proc/}; pid=${pid%/stat}
    if [ "$pid" = "$root" ] || [ "$2" = "$root" ]; then sum=$(( sum + ${12} + ${13} )); fi
  done
  echo "$sum"
}

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
