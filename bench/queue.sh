#!/usr/bin/env bash
# Benchmark: ollama-queue-proxy (auth on) beside nginx doing auth + forward and a direct request, in
# front of the same fast nginx "fake Ollama"; then NDJSON line delay through the proxy, and a capacity
# run (2,000 streams in flight + 5,000 queued under -Xmx256m).
#
# Usage: bench/queue.sh          (or bench/run.sh with QUEUE=only; see bench/README.md for the options)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

# ---------------------------------------------------------------- options
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-5s}"
JAVA="${JAVA:-java}"
JAVA_OPTS="${JAVA_OPTS:-}"                    # JVM options for the throughput and streaming runs
QUEUE_JAR="${QUEUE_JAR:-$REPO_ROOT/queue-proxy/target/ollama-queue-proxy.jar}"
QUEUE_PARTS="${QUEUE_PARTS:-throughput accesslog stream capacity}"
Q_UPSTREAM_PORT="${Q_UPSTREAM_PORT:-18090}"   # nginx fake Ollama
Q_PROXY_PORT="${Q_PROXY_PORT:-18091}"         # the queue proxy
Q_NGINX_PORT="${Q_NGINX_PORT:-18092}"         # nginx: auth + forward to the nginx fake Ollama
Q_STREAM_PORT="${Q_STREAM_PORT:-18093}"       # Node streaming fake Ollama (stream part)
Q_NGINX_STREAM_PORT="${Q_NGINX_STREAM_PORT:-18094}"  # nginx: auth + forward to the Node streaming upstream
Q_HOLD_PORT="${Q_HOLD_PORT:-18095}"           # Node holding fake Ollama (capacity part)
HOST_SLOTS="${HOST_SLOTS:-64}"                # ollama.hosts[0].max_concurrent for throughput and streaming
STREAMS="${STREAMS:-50}"                      # stream part: concurrent streams per round
LINES="${LINES:-50}"                          # stream part: lines per stream (plus the final done line)
INTERVAL_MS="${INTERVAL_MS:-20}"              # stream part: upstream writes a line every INTERVAL_MS
ROUNDS="${ROUNDS:-4}"                         # stream part: measured rounds per target
WARMUP_ROUNDS="${WARMUP_ROUNDS:-4}"           # stream part: unrecorded rounds per target first (~1 s each: JIT warm-up, like wrk's WARMUP)
CAP_INFLIGHT="${CAP_INFLIGHT:-2000}"          # capacity: host slots = streams in flight
CAP_QUEUED="${CAP_QUEUED:-5000}"              # capacity: requests beyond the slots, held in the queue
CAP_HOLD_S="${CAP_HOLD_S:-10}"                # capacity: each stream writes one line a second for this long
CAP_JAVA_OPTS="${CAP_JAVA_OPTS:--Xmx256m}"    # capacity: JVM options of the proxy
CAP_SETTLE_S="${CAP_SETTLE_S:-65}"            # capacity: then wait this long and count the proxy's descriptors again
OUT_DIR="${OUT_DIR:-$SCRIPT_DIR/out}"
READY_TIMEOUT_S="${READY_TIMEOUT_S:-30}"
QUIET_WAIT_S="${QUIET_WAIT_S:-300}"           # wait up to this long for other processes to go quiet before each run
QUIET_CORES="${QUIET_CORES:-0.2}"             # "quiet": other processes use less than this many cores
KEY_LIMITS="${KEY_LIMITS:-}"                  # extra fields of the bench key, e.g. 'requests_per_minute: 100000000' (rate-limit cost)
KEY="bench-queue-key-0123456789abcdef"

BENCH_TAG=queue
# shellcheck source=bench/lib.sh
. "$SCRIPT_DIR/lib.sh"

has_part() { case " $QUEUE_PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

install_missing
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
command -v "$JAVA" >/dev/null 2>&1 || die "java not found (set JAVA=...)"
command -v node >/dev/null 2>&1 || die "node not found (Node.js 18 or newer runs bench/stream.js)"
if [ ! -f "$QUEUE_JAR" ]; then
  log "queue proxy jar missing at $QUEUE_JAR; building it"
  (cd "$REPO_ROOT" && ./mvnw -B -q -DskipTests package)
  [ -f "$QUEUE_JAR" ] || die "build did not produce $QUEUE_JAR"
fi

# ---------------------------------------------------------------- workspace + cleanup
WORK="$(mktemp -d /tmp/oqp-queue-bench.XXXXXX)"
chmod 755 "$WORK"
mkdir -p "$OUT_DIR"
trap cleanup EXIT
trap 'exit 130' INT TERM

# Run a private copy of the jar: on a shared box, something that stops "the" queue proxy by name
# (pkill -f ollama-queue-proxy) must not end the one under test halfway through a run.
cp "$QUEUE_JAR" "$WORK/oqp-bench-queue-proxy.jar"
RUN_JAR="$WORK/oqp-bench-queue-proxy.jar"

for p in "$Q_UPSTREAM_PORT" "$Q_PROXY_PORT" "$Q_NGINX_PORT" "$Q_STREAM_PORT" "$Q_NGINX_STREAM_PORT" "$Q_HOLD_PORT"; do
  port_free "$p" || die "port $p is already in use (override the Q_*_PORT variables)"
done

# ---------------------------------------------------------------- nginx configs
GEN_BODY='{"model":"bench","created_at":"2026-01-01T00:00:00Z","response":"Rayleigh scattering.","done":true,"done_reason":"stop","prompt_eval_count":8,"eval_count":4}'
mkdir -p "$WORK/upstream" "$WORK/proxy"
{
  nginx_common "$WORK/upstream"
  cat <<EOF
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
$(nginx_temp_paths "$WORK/upstream")
  server {
    listen 127.0.0.1:$Q_UPSTREAM_PORT;
    location = /api/version {
      default_type application/json;
      return 200 '{"version":"0.13.5"}';
    }
    location = / {
      default_type text/plain;
      return 200 'Ollama is running';
    }
    # any method, so POST too (nginx reads and discards the request body)
    location = /api/generate {
      default_type application/json;
      return 200 '$GEN_BODY';
    }
    # sanity check: what the proxies send upstream
    location = /api/chat {
      default_type text/plain;
      return 200 '\$http_authorization|\$http_x_client_id';
    }
  }
}
EOF
} > "$WORK/upstream/nginx.conf"

# nginx doing the queue proxy's per-request work short of the queue: check the key (a map lookup), drop
# the client's Authorization, add X-Client-ID and X-Request-ID, forward over kept-alive connections,
# unbuffered responses. One server in front of the nginx upstream, one in front of the Node streaming
# upstream.
nginx_auth_server() { # $1 = listen port, $2 = upstream block name, $3 = upstream port
  cat <<EOF
  server {
    listen 127.0.0.1:$1;
    location / {
      if (\$bench_client = "") {
        return 401 '{"error":"invalid API key"}';
      }
      proxy_pass http://$2;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host 127.0.0.1:$3;
      proxy_set_header Authorization "";
      proxy_set_header X-Client-ID \$bench_client;
      proxy_set_header X-Request-ID \$request_id;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_read_timeout 600s;
    }
  }
EOF
}
{
  nginx_common "$WORK/proxy"
  cat <<EOF
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
$(nginx_temp_paths "$WORK/proxy")
  map \$http_authorization \$bench_client {
    default "";
    "Bearer $KEY" bench;
  }
  upstream ollama {
    server 127.0.0.1:$Q_UPSTREAM_PORT;
    keepalive 64;
    keepalive_requests 1000000;
  }
  upstream streaming {
    server 127.0.0.1:$Q_STREAM_PORT;
    keepalive 64;
  }
$(nginx_auth_server "$Q_NGINX_PORT" ollama "$Q_UPSTREAM_PORT")
$(nginx_auth_server "$Q_NGINX_STREAM_PORT" streaming "$Q_STREAM_PORT")
}
EOF
} > "$WORK/proxy/nginx.conf"

# ---------------------------------------------------------------- queue proxy configs
queue_yaml() { # $1 = upstream port, $2 = host slots, $3 = access_log, $4 = normal max_depth
  cat <<EOF
proxy: { host: 127.0.0.1, port: $Q_PROXY_PORT, max_concurrent: 0, drain_timeout: 5s }
ollama:
  hosts:
    - { name: bench, url: "http://127.0.0.1:$1", max_concurrent: $2 }
auth:
  keys:
    - { client_id: bench, key: "$KEY", scope: inference, max_priority: normal${KEY_LIMITS:+, $KEY_LIMITS} }
queue:
  normal: { max_depth: $4, max_wait: 600s }
logging: { level: warn, format: json, access_log: $3 }
EOF
}
queue_yaml "$Q_UPSTREAM_PORT" "$HOST_SLOTS" false 100 > "$WORK/queue.yaml"
queue_yaml "$Q_UPSTREAM_PORT" "$HOST_SLOTS" true 100 > "$WORK/queue-accesslog.yaml"
queue_yaml "$Q_STREAM_PORT" "$HOST_SLOTS" false 100 > "$WORK/queue-stream.yaml"
queue_yaml "$Q_HOLD_PORT" "$CAP_INFLIGHT" false $(( CAP_QUEUED * 2 )) > "$WORK/queue-capacity.yaml"

start_queue() { # $1 = config, $2 = log file, $3 = JVM options ; sets LAST_PID
  # shellcheck disable=SC2206
  local opts=($3)
  "$JAVA" "${opts[@]}" -jar "$RUN_JAR" --config "$1" >"$2" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  wait_ready_ms "$(now_ns)" "http://127.0.0.1:$Q_PROXY_PORT/health" "$LAST_PID" >/dev/null
}

cat > "$WORK/get.lua" <<EOF
wrk.headers["Authorization"] = "Bearer $KEY"
EOF
cat > "$WORK/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"model":"bench","prompt":"Why is the sky blue?","stream":false}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
EOF

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
LOADAVG_START=$(loadavg)
AUTH=(-H "Authorization: Bearer $KEY")

log "nginx: $("$NGINX_BIN" -v 2>&1)"
log "java:  $("$JAVA" -version 2>&1 | head -1)"
log "node:  $(node --version)"
log "jar:   $QUEUE_JAR ($(sha256sum "$QUEUE_JAR" | cut -c1-16)…)"
log "parts: $QUEUE_PARTS; JAVA_OPTS='${JAVA_OPTS}'"

start_nginx "$WORK/upstream"
UPSTREAM_PID=$LAST_PID
wait_ready_ms "$(now_ns)" "http://127.0.0.1:$Q_UPSTREAM_PORT/api/version" "$UPSTREAM_PID" >/dev/null
start_nginx "$WORK/proxy"
NGINX_PID=$LAST_PID
# (the proxy nginx answers 401 without a key, so wait for a 200 with it)
for _ in $(seq 1 500); do
  curl -fsS -o /dev/null --max-time 0.2 "${AUTH[@]}" "http://127.0.0.1:$Q_NGINX_PORT/api/version" 2>/dev/null && break
  kill -0 "$NGINX_PID" 2>/dev/null || die "nginx proxy exited (see $WORK/proxy/error.log)"
  sleep 0.01
done

declare -A R
declare -A LOADS
PATHS=(version generate)
declare -A SCRIPT=([version]="$WORK/get.lua" [generate]="$WORK/post.lua")
declare -A URLPATH=([version]=/api/version [generate]=/api/generate)
CONNS=("1:1" "32:2")   # connections:threads

# CPU used on the box by processes that are not this script's (another build, another benchmark):
# busy ticks (user + nice + system, all cores) from /proc/stat minus the ticks of this script and its
# descendants (live ones, and reaped ones through cutime/cstime). Softirq time (our own loopback traffic)
# is left out of both. other_cpu_begin, then other_cpu_end prints the average in cores over the interval.
ours_ticks() {
  # cat, not awk on the files: a process that ends between the glob and the read is skipped, not fatal
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root=$$ '
    {
      pid=$1; line=$0; sub(/^.*\) /, "", line); n=split(line, f, " ");
      ppid[pid]=f[2]; t[pid]=f[12]+f[13]+f[14]+f[15];
    }
    END {
      sum=0
      for (p in t) { q=p; for (d=0; d<64 && q!="" && q!="0"; d++) { if (q==root) { sum+=t[p]; break } q=ppid[q] } }
      print sum
    }'
}
busy_ticks() { awk '/^cpu /{print $2+$3+$4; exit}' /proc/stat; }
other_cpu_begin() { OC_T0=$(now_ns); OC_BUSY0=$(busy_ticks); OC_OURS0=$(ours_ticks); }
other_cpu_end() {
  local busy ours
  busy=$(busy_ticks); ours=$(ours_ticks)
  awk -v b=$(( busy - OC_BUSY0 )) -v o=$(( ours - OC_OURS0 )) -v ns=$(( $(now_ns) - OC_T0 )) -v hz="$CLK_TCK" \
    'BEGIN{ x=(b-o)/hz/(ns/1e9); if (x<0) x=0; printf "%.2f", x }'
}

# On a shared box: before each measurement wait (up to QUIET_WAIT_S) until other processes used less than
# QUIET_CORES cores over 3 s. Each row still reports what other processes used while it ran.
wait_quiet() {
  [ "${QUIET_WAIT_S:-0}" -gt 0 ] || return 0
  local deadline=$(( $(date +%s) + QUIET_WAIT_S )) x
  while :; do
    other_cpu_begin; sleep 3; x=$(other_cpu_end)
    awk -v x="$x" -v q="$QUIET_CORES" 'BEGIN{exit !(x<q)}' && return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "box still busy (other processes ${x} cores) after ${QUIET_WAIT_S}s; measuring anyway"
      return 0
    fi
    log "waiting for a quiet box (other processes ${x} cores)"
  done
}

# A server under test that is gone: say how it ended (137 = SIGKILL, 143 = SIGTERM: something else on the
# box stopped it) instead of measuring a dead port.
alive_or_die() { # $1 = pid, $2 = label
  kill -0 "$1" 2>/dev/null && return 0
  local rc=0
  wait "$1" 2>/dev/null || rc=$?
  forget_pid "$1"
  die "$2 (pid $1) exited during the run with status $rc; see the logs in $OUT_DIR"
}

# wrk one target: $1 = label, $2 = port, $3 = path key, $4 = conns:threads, $5 = server pid
wrk_one() {
  local label="$1" port="$2" pk="$3" ct="$4" spid="$5" c t url f t0 t1 rps p50 p99 err nreq cpu
  c=${ct%%:*}; t=${ct##*:}
  url="http://127.0.0.1:$port${URLPATH[$pk]}"
  log "warm-up  $label ${URLPATH[$pk]} c=$c ($WARMUP)"
  wrk -t"$t" -c"$c" -d"$WARMUP" --latency -s "${SCRIPT[$pk]}" "$url" > "$OUT_DIR/queue-wrk-warmup-$label-$pk-c$c.txt" || true
  alive_or_die "$spid" "$label"
  f="$OUT_DIR/queue-wrk-$label-$pk-c$c.txt"
  wait_quiet
  log "measure  $label ${URLPATH[$pk]} c=$c ($DURATION), load $(loadavg)"
  t0=$(cpu_ticks "$spid")
  other_cpu_begin
  wrk -t"$t" -c"$c" -d"$DURATION" --latency -s "${SCRIPT[$pk]}" "$url" > "$f" || true
  LOADS[$label,$pk,$c]=$(other_cpu_end)
  t1=$(cpu_ticks "$spid")
  alive_or_die "$spid" "$label"
  read -r rps p50 p99 err <<<"$(parse_wrk "$f")"
  nreq=$(awk '/requests in/{print $1; exit}' "$f")
  cpu=$(awk -v d=$(( t1 - t0 )) -v hz="$CLK_TCK" -v n="${nreq:-0}" 'BEGIN{ if (n>0) printf "%.1f", d/hz*1e6/n; else print "n/a" }')
  R[$label,$pk,$c,rps]=$rps; R[$label,$pk,$c,p50]=$p50; R[$label,$pk,$c,p99]=$p99; R[$label,$pk,$c,err]=$err; R[$label,$pk,$c,cpu]=$cpu
  log "         -> ${rps} req/s, p50 ${p50}us, p99 ${p99}us, CPU ${cpu}us/req, non-2xx/errors: ${err}, other processes ${LOADS[$label,$pk,$c]} cores"
}

# ================================================================ part 1: throughput and latency
TARGETS=(direct nginx queue)
if has_part throughput || has_part accesslog; then
  start_queue "$WORK/queue.yaml" "$OUT_DIR/queue-proxy-load.log" "$JAVA_OPTS"
  QUEUE_PID=$LAST_PID

  # sanity: same bodies through all three; 401 without the key; upstream sees no Authorization and
  # sees X-Client-ID through both proxies
  for pk in "${PATHS[@]}"; do
    exp=$(curl -fsS --max-time 2 -X "$([ "$pk" = generate ] && echo POST || echo GET)" -d '{"model":"bench"}' \
      "http://127.0.0.1:$Q_UPSTREAM_PORT${URLPATH[$pk]}")
    for port in "$Q_NGINX_PORT" "$Q_PROXY_PORT"; do
      if [ "$pk" = generate ]; then
        body=$(curl -fsS --max-time 2 "${AUTH[@]}" -H 'Content-Type: application/json' \
          -d '{"model":"bench","prompt":"Why is the sky blue?","stream":false}' "http://127.0.0.1:$port/api/generate")
      else
        body=$(curl -fsS --max-time 2 "${AUTH[@]}" "http://127.0.0.1:$port/api/version")
      fi
      [ "$body" = "$exp" ] || die "unexpected body from :$port${URLPATH[$pk]}: $body"
    done
  done
  for port in "$Q_NGINX_PORT" "$Q_PROXY_PORT"; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/api/version")
    [ "$code" = 401 ] || die "proxy on :$port answered $code without a key (expected 401)"
    got=$(curl -fsS --max-time 2 "${AUTH[@]}" -d '{"model":"bench","messages":[]}' "http://127.0.0.1:$port/api/chat")
    [ "$got" = "|bench" ] || die "proxy on :$port: upstream saw '$got' (expected no Authorization and X-Client-ID bench)"
  done
  log "sanity checks passed (bodies identical, 401 without key, key not forwarded, X-Client-ID added)"
fi

if has_part throughput; then
  declare -A SERVER_PID=([direct]=$UPSTREAM_PID [nginx]=$NGINX_PID [queue]=$QUEUE_PID)
  declare -A PORT=([direct]=$Q_UPSTREAM_PORT [nginx]=$Q_NGINX_PORT [queue]=$Q_PROXY_PORT)
  for pk in "${PATHS[@]}"; do
    for ct in "${CONNS[@]}"; do
      for tgt in "${TARGETS[@]}"; do
        wrk_one "$tgt" "${PORT[$tgt]}" "$pk" "$ct" "${SERVER_PID[$tgt]}"
      done
    done
  done
  alive_or_die "$QUEUE_PID" "queue proxy"
  Q_RSS_KB=$(awk '/^VmRSS:/{print $2}' "/proc/$QUEUE_PID/status")
  Q_THREADS=$(awk '/^Threads:/{print $2}' "/proc/$QUEUE_PID/status")
  Q_LOG_PROBLEMS=$(grep -cE '"level" *: *"(WARN|ERROR)"|WARN|ERROR' "$OUT_DIR/queue-proxy-load.log" || true)
fi
if has_part throughput || has_part accesslog; then
  stop_pid "$QUEUE_PID"
fi

# ================================================================ part 2: the same with the access log on
if has_part accesslog; then
  start_queue "$WORK/queue-accesslog.yaml" "$WORK/queue-accesslog.log" "$JAVA_OPTS"
  QUEUE_AL_PID=$LAST_PID
  for pk in "${PATHS[@]}"; do
    for ct in "${CONNS[@]}"; do
      wrk_one queue-al "$Q_PROXY_PORT" "$pk" "$ct" "$QUEUE_AL_PID"
    done
  done
  AL_LINES=$(wc -l < "$WORK/queue-accesslog.log")
  head -3 "$WORK/queue-accesslog.log" > "$OUT_DIR/queue-accesslog-sample.log"
  stop_pid "$QUEUE_AL_PID"
  rm -f "$WORK/queue-accesslog.log"
fi

# ================================================================ part 3: NDJSON line delay
if has_part stream; then
  start_queue "$WORK/queue-stream.yaml" "$OUT_DIR/queue-proxy-stream.log" "$JAVA_OPTS"
  QUEUE_ST_PID=$LAST_PID
  STREAM_LOAD=$(loadavg)
  log "stream: $WARMUP_ROUNDS warm-up + $ROUNDS measured rounds x $STREAMS concurrent streams x $(( LINES + 1 )) lines every ${INTERVAL_MS} ms per target, load $STREAM_LOAD"
  wait_quiet
  other_cpu_begin
  node "$SCRIPT_DIR/stream.js" latency --upstream-port "$Q_STREAM_PORT" --key "$KEY" \
    --streams "$STREAMS" --lines "$LINES" --interval-ms "$INTERVAL_MS" --rounds "$ROUNDS" --warmup-rounds "$WARMUP_ROUNDS" \
    --target "direct=http://127.0.0.1:$Q_STREAM_PORT" \
    --target "nginx=http://127.0.0.1:$Q_NGINX_STREAM_PORT" \
    --target "queue=http://127.0.0.1:$Q_PROXY_PORT" \
    --out "$OUT_DIR/queue-stream-delays.json" > "$OUT_DIR/queue-stream.json"
  STREAM_OTHER=$(other_cpu_end)
  cat "$OUT_DIR/queue-stream.json" >&2
  alive_or_die "$QUEUE_ST_PID" "queue proxy"
  stop_pid "$QUEUE_ST_PID"
fi

# nginx is not used after this point
stop_pid "$NGINX_PID"
stop_pid "$UPSTREAM_PID"

# ================================================================ part 4: capacity
if has_part capacity; then
  CAP_TOTAL=$(( CAP_INFLIGHT + CAP_QUEUED ))
  need_fds=$(( CAP_TOTAL + CAP_INFLIGHT + 100 ))
  [ "$(ulimit -n)" -ge "$need_fds" ] || ulimit -n "$need_fds" 2>/dev/null \
    || die "capacity needs ulimit -n >= $need_fds (it is $(ulimit -n))"
  node "$SCRIPT_DIR/stream.js" upstream --port "$Q_HOLD_PORT" --lines "$CAP_HOLD_S" --interval-ms 1000 \
    2> "$OUT_DIR/queue-capacity-upstream.log" &
  HOLD_PID=$!
  PIDS+=("$HOLD_PID")
  wait_ready_ms "$(now_ns)" "http://127.0.0.1:$Q_HOLD_PORT/api/version" "$HOLD_PID" >/dev/null
  start_queue "$WORK/queue-capacity.yaml" "$OUT_DIR/queue-proxy-capacity.log" \
    "$CAP_JAVA_OPTS -Xlog:gc:file=$OUT_DIR/queue-capacity-gc.log"
  QUEUE_CAP_PID=$LAST_PID
  # sample the proxy's RSS, threads and open descriptors twice a second
  (
    while kill -0 "$QUEUE_CAP_PID" 2>/dev/null; do
      rss=$(awk '/^VmRSS:/{print $2}' "/proc/$QUEUE_CAP_PID/status" 2>/dev/null) || break
      thr=$(awk '/^Threads:/{print $2}' "/proc/$QUEUE_CAP_PID/status" 2>/dev/null) || break
      fds=$(ls "/proc/$QUEUE_CAP_PID/fd" 2>/dev/null | wc -l)
      printf '%s\t%s\t%s\t%s\n' "$(date +%s.%N | cut -c1-14)" "$rss" "$thr" "$fds"
      sleep 0.5
    done
  ) > "$OUT_DIR/queue-capacity-proc.tsv" &
  SAMPLER_PID=$!
  PIDS+=("$SAMPLER_PID")
  CAP_LOAD=$(loadavg)
  log "capacity: $CAP_TOTAL streaming requests at once ($CAP_INFLIGHT slots, ${CAP_HOLD_S} s each), proxy with '$CAP_JAVA_OPTS', load $CAP_LOAD"
  syn_flood_lines() { dmesg 2>/dev/null | grep -c "SYN flooding on port .*:$Q_PROXY_PORT\." || true; }
  listen_overflows() { awk '/^TcpExt:/{ if (!h) { split($0, k); h=1 } else { split($0, v); for (i in k) if (k[i]=="ListenOverflows") print v[i] } }' /proc/net/netstat; }
  SYN0=$(syn_flood_lines)
  LO0=$(listen_overflows)
  wait_quiet
  other_cpu_begin
  node "$SCRIPT_DIR/stream.js" capacity --url "http://127.0.0.1:$Q_PROXY_PORT" --key "$KEY" --total "$CAP_TOTAL" \
    --expect-inflight "$CAP_INFLIGHT" --expect-queued "$CAP_QUEUED" \
    --stats-url "http://127.0.0.1:$Q_HOLD_PORT/_bench/stats" --out "$OUT_DIR/queue-capacity-samples.json" \
    > "$OUT_DIR/queue-capacity.json"
  CAP_OTHER=$(other_cpu_end)
  # The kernel logs when the listen backlog overflowed and it answered with SYN cookies (no error for the
  # client while net.ipv4.tcp_syncookies is on; dropped SYNs, retried after 1 s, 3 s…, when it is off).
  CAP_LISTEN_OVERFLOWS=$(( $(listen_overflows) - LO0 ))
  if dmesg >/dev/null 2>&1; then
    CAP_SYN="$(( $(syn_flood_lines) - SYN0 )) new kernel line(s) 'Possible SYN flooding on port …:$Q_PROXY_PORT. Sending cookies' (listen backlog $(ss -ltn "sport = :$Q_PROXY_PORT" 2>/dev/null | awk 'NR==2{print $3}'), tcp_syncookies=$(cat /proc/sys/net/ipv4/tcp_syncookies))"
  else
    CAP_SYN="n/a (dmesg not readable)"
  fi
  cat "$OUT_DIR/queue-capacity.json" >&2
  sleep 1
  CAP_ALIVE=$(kill -0 "$QUEUE_CAP_PID" 2>/dev/null && echo yes || echo NO)
  CAP_AFTER=$(curl -sS --max-time 5 "${AUTH[@]}" "http://127.0.0.1:$Q_PROXY_PORT/queue/summary" || echo "no answer")
  CAP_HWM_KB=$(awk '/^VmHWM:/{print $2}' "/proc/$QUEUE_CAP_PID/status" 2>/dev/null || echo 0)
  CAP_RSS_END_KB=$(awk '/^VmRSS:/{print $2}' "/proc/$QUEUE_CAP_PID/status" 2>/dev/null || echo 0)
  CAP_FDS_END=$(ls "/proc/$QUEUE_CAP_PID/fd" 2>/dev/null | wc -l)
  # Leak check: once the upstream client's idle timeout (60 s) has closed the pooled upstream connections,
  # the proxy should be back to a handful of descriptors.
  if [ "$CAP_SETTLE_S" -gt 0 ]; then
    log "capacity: waiting ${CAP_SETTLE_S}s for idle connections to close"
    sleep "$CAP_SETTLE_S"
  fi
  CAP_FDS_SETTLED=$(ls "/proc/$QUEUE_CAP_PID/fd" 2>/dev/null | wc -l)
  CAP_RSS_SETTLED_KB=$(awk '/^VmRSS:/{print $2}' "/proc/$QUEUE_CAP_PID/status" 2>/dev/null || echo 0)
  CAP_LOG_PROBLEMS=$(grep -cE 'WARN|ERROR|Exception' "$OUT_DIR/queue-proxy-capacity.log" || true)
  stop_pid "$SAMPLER_PID"
  stop_pid "$QUEUE_CAP_PID"
  stop_pid "$HOLD_PID"
  CAP_MAX_RSS_KB=$(awk -F'\t' 'BEGIN{m=0} $2>m{m=$2} END{print m}' "$OUT_DIR/queue-capacity-proc.tsv")
  CAP_MAX_THREADS=$(awk -F'\t' 'BEGIN{m=0} $3>m{m=$3} END{print m}' "$OUT_DIR/queue-capacity-proc.tsv")
  CAP_MAX_FDS=$(awk -F'\t' 'BEGIN{m=0} $4>m{m=$4} END{print m}' "$OUT_DIR/queue-capacity-proc.tsv")
  # GC: pauses (count, total, max), full collections, highest heap after a collection
  CAP_GC=$(awk '
    /Pause/ { n++; ms=$NF; sub(/ms$/,"",ms); ms+=0; tot+=ms; if (ms>mx) mx=ms;
              if ($0 ~ /Pause Full/) full++;
              if (match($0, /->[0-9]+M/)) { a=substr($0, RSTART+2, RLENGTH-3)+0; if (a>after) after=a } }
    END { printf "%d pauses, total %.0f ms, longest %.1f ms, %d full, highest heap after GC %d MiB", n, tot, mx, full+0, after }
  ' "$OUT_DIR/queue-capacity-gc.log")
  CAP_OOM=$(grep -c 'OutOfMemoryError' "$OUT_DIR/queue-proxy-capacity.log" || true)
fi

# ================================================================ report
jget() { node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); const v=process.argv[2].split(".").reduce((a,k)=>a==null?a:a[k],o); console.log(typeof v==="object"?JSON.stringify(v):v)' "$1" "$2"; }
RESULTS="$OUT_DIR/queue-results.md"
verdicts=()
{
  echo "## Queue proxy run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "- java: $("$JAVA" -version 2>&1 | head -1); JAVA_OPTS='${JAVA_OPTS}'; node $(node --version)"
  echo "- nginx: $("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //'); wrk: $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
  echo "- queue proxy: auth on (one key), \`logging: {level: warn, access_log: false}\` unless stated; one host with max_concurrent ${HOST_SLOTS} for the throughput and streaming parts"
  echo "- load average at start: ${LOADAVG_START}; at end: $(loadavg) (the runs themselves load the box: see \"other processes\" for CPU used by anything else, in cores of the $(nproc))"
  echo
  if has_part throughput; then
    echo "wrk, duration ${DURATION} after a ${WARMUP} warm-up per row; c=1 -t1, c=32 -t2; every request carries \`Authorization: Bearer …\`"
    echo
    echo "| path | conns | target | req/s | p50 (µs) | p99 (µs) | server CPU µs/req | other processes (cores) | non-2xx / errors |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---|"
    for pk in "${PATHS[@]}"; do
      for ct in "${CONNS[@]}"; do
        c=${ct%%:*}
        for tgt in "${TARGETS[@]}"; do
          printf '| %s %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$([ "$pk" = generate ] && echo POST || echo GET)" "${URLPATH[$pk]}" "$c" "$tgt" \
            "${R[$tgt,$pk,$c,rps]}" "${R[$tgt,$pk,$c,p50]}" "${R[$tgt,$pk,$c,p99]}" "${R[$tgt,$pk,$c,cpu]}" "${LOADS[$tgt,$pk,$c]}" "${R[$tgt,$pk,$c,err]}"
        done
      done
    done
    echo
    for pk in "${PATHS[@]}"; do
      ratio=$(awk -v s="${R[queue,$pk,32,rps]}" -v n="${R[nginx,$pk,32,rps]}" 'BEGIN{printf "%.2f", s/n}')
      add_q=$(( R[queue,$pk,1,p50] - R[direct,$pk,1,p50] ))
      add_n=$(( R[nginx,$pk,1,p50] - R[direct,$pk,1,p50] ))
      echo "- ${URLPATH[$pk]}: c=32 queue/nginx throughput ${ratio}; c=1 added median: queue $(printf %+d "$add_q") µs, nginx $(printf %+d "$add_n") µs"
      verdicts+=("(1) c=32 queue proxy >= 1/3 of nginx's throughput, ${URLPATH[$pk]}: $(awk -v r="$ratio" 'BEGIN{print (r>=1/3)?"MET":"NOT MET"}') (${ratio})")
      verdicts+=("(2) c=1 added median < 250 µs, ${URLPATH[$pk]}: $([ "$add_q" -lt 250 ] && echo MET || echo "NOT MET") ($(printf %+d "$add_q") µs)")
    done
    echo "- queue proxy after the load: RSS $(( Q_RSS_KB / 1024 )) MiB, ${Q_THREADS} threads, ${Q_LOG_PROBLEMS} WARN/ERROR log lines"
    echo
  fi
  if has_part accesslog; then
    echo "Access log on (\`logging.access_log: true\`, JSON lines to stdout redirected to a file; ${AL_LINES} lines written):"
    echo
    echo "| path | conns | req/s | p50 (µs) | p99 (µs) | server CPU µs/req | other processes (cores) | non-2xx / errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    for pk in "${PATHS[@]}"; do
      for ct in "${CONNS[@]}"; do
        c=${ct%%:*}
        printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${URLPATH[$pk]}" "$c" "${R[queue-al,$pk,$c,rps]}" "${R[queue-al,$pk,$c,p50]}" \
          "${R[queue-al,$pk,$c,p99]}" "${R[queue-al,$pk,$c,cpu]}" "${LOADS[queue-al,$pk,$c]}" "${R[queue-al,$pk,$c,err]}"
      done
    done
    echo
  fi
  if has_part stream; then
    f="$OUT_DIR/queue-stream.json"
    echo "NDJSON line delay (upstream write → client read, one process and clock; $ROUNDS rounds after $WARMUP_ROUNDS warm-up rounds × $STREAMS concurrent streams × $(( LINES + 1 )) lines, a line every ${INTERVAL_MS} ms; load average before ${STREAM_LOAD}; other processes ${STREAM_OTHER} cores):"
    echo
    echo "| target | lines | p50 (µs) | p90 | p99 | p99.9 | max | lines > 1 ms | lines > 2 ms | errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for tgt in direct nginx queue; do
      echo "| $tgt | $(jget "$f" targets.$tgt.n) | $(jget "$f" targets.$tgt.p50) | $(jget "$f" targets.$tgt.p90) | $(jget "$f" targets.$tgt.p99) | $(jget "$f" targets.$tgt.p999) | $(jget "$f" targets.$tgt.max) | $(jget "$f" targets.$tgt.over_1ms) | $(jget "$f" targets.$tgt.over_2ms) | $(jget "$f" targets.$tgt.errors) |"
    done
    echo
    qmax=$(jget "$f" targets.queue.max); qover=$(jget "$f" targets.queue.over_2ms); qn=$(jget "$f" targets.queue.n)
    qp99=$(jget "$f" targets.queue.p99)
    verdicts+=("(3) every streamed line within 2 ms through the proxy: $([ "$qmax" -le 2000 ] && echo MET || echo "NOT MET") (max ${qmax} µs; ${qover} of ${qn} lines over 2 ms; p99 ${qp99} µs)")
  fi
  if has_part capacity; then
    f="$OUT_DIR/queue-capacity.json"
    echo "Capacity ($CAP_TOTAL streaming requests sent at once; host max_concurrent $CAP_INFLIGHT; each stream ${CAP_HOLD_S} lines, one a second; proxy JVM options '$CAP_JAVA_OPTS'; load average before ${CAP_LOAD}; other processes ${CAP_OTHER} cores):"
    echo
    echo "- statuses: $(jget "$f" statuses); errors: $(jget "$f" errors); incomplete 200 streams: $(jget "$f" incomplete_200_streams); lines per response: $(jget "$f" lines_per_response)"
    echo "- /queue/summary (polled every 200 ms): highest queued $(jget "$f" max_queued_seen), highest in flight $(jget "$f" max_in_flight_seen); samples with in_flight = $CAP_INFLIGHT and queued = $CAP_QUEUED at once: $(jget "$f" samples_with_expected_inflight_and_queued) (first: $(jget "$f" first_such_sample)); poll errors: $(jget "$f" summary_poll_errors)"
    echo "- upstream: $(jget "$f" upstream)"
    echo "- all done in $(jget "$f" elapsed_s) s; longest time to response headers $(jget "$f" max_time_to_headers_ms) ms, highest X-Queue-Wait-Time $(jget "$f" max_x_queue_wait_time_ms) ms"
    echo "- proxy: highest RSS $(( CAP_MAX_RSS_KB / 1024 )) MiB (VmHWM $(( CAP_HWM_KB / 1024 )) MiB), RSS at the end $(( CAP_RSS_END_KB / 1024 )) MiB; threads up to ${CAP_MAX_THREADS}; open descriptors up to ${CAP_MAX_FDS}, ${CAP_FDS_END} right after the run, ${CAP_FDS_SETTLED} ${CAP_SETTLE_S} s later (RSS then $(( CAP_RSS_SETTLED_KB / 1024 )) MiB)"
    echo "- GC: ${CAP_GC}; OutOfMemoryError: ${CAP_OOM}; WARN/ERROR log lines: ${CAP_LOG_PROBLEMS}"
    echo "- proxy alive afterwards: ${CAP_ALIVE}; /queue/summary afterwards: ${CAP_AFTER}"
    echo "- connection burst: TcpExt ListenOverflows +${CAP_LISTEN_OVERFLOWS} during the run (the whole box: a completed handshake dropped because the listener's accept queue was full; the client's side retries later); ${CAP_SYN}"
    echo
    n200=$(node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(o.statuses["200"]||0)' "$f")
    nerr=$(node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(Object.values(o.errors).reduce((a,b)=>a+b,0)+o.incomplete_200_streams)' "$f")
    both=$(jget "$f" samples_with_expected_inflight_and_queued)
    ok=$([ "$n200" -eq "$CAP_TOTAL" ] && [ "$nerr" -eq 0 ] && [ "$both" -gt 0 ] && [ "$CAP_OOM" -eq 0 ] && [ "$CAP_ALIVE" = yes ] && echo MET || echo "NOT MET")
    verdicts+=("(4) $CAP_INFLIGHT streams + $CAP_QUEUED queued under '$CAP_JAVA_OPTS' without errors: ${ok} (${n200}/${CAP_TOTAL} answered 200 and complete, ${nerr} errors, both counts seen at once in ${both} samples)")
  fi
  echo "Targets:"
  for v in "${verdicts[@]:-}"; do [ -n "$v" ] && echo "- $v"; done
} > "$RESULTS"

echo
cat "$RESULTS"
log "raw outputs and table in $OUT_DIR (queue-*)"
