# Helpers shared by bench/run.sh and bench/queue.sh (sourced, not run).
# The sourcing script sets BENCH_TAG (log prefix) and READY_TIMEOUT_S before using them.

log() { printf '[%s] %s\n' "${BENCH_TAG:-bench}" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "${BENCH_TAG:-bench}" "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools
# nginx, wrk and curl from Debian when missing.
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

# ---------------------------------------------------------------- processes
# Every process started in the background is recorded in PIDS; the EXIT trap stops them and removes
# the work directory $WORK.
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
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
  exit "$rc"
}

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

now_ns() { date +%s%N; }

# Poll URL until it answers; print elapsed ms since $1 (ns timestamp).
wait_ready_ms() {
  local t0="$1" url="$2" pid="$3" deadline
  deadline=$(( t0 + ${READY_TIMEOUT_S:-30} * 1000000000 ))
  until curl -fsS -o /dev/null --max-time 0.2 "$url" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "process $pid died before answering $url"
    [ "$(now_ns)" -gt "$deadline" ] && die "$url not ready after ${READY_TIMEOUT_S:-30}s"
    sleep 0.01
  done
  echo $(( ($(now_ns) - t0) / 1000000 ))
}

# ---------------------------------------------------------------- nginx
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

nginx_temp_paths() { # $1 = prefix dir
  cat <<EOF
  client_body_temp_path $1/client_body;
  proxy_temp_path $1/proxy_temp;
  fastcgi_temp_path $1/fastcgi_temp;
  uwsgi_temp_path $1/uwsgi_temp;
  scgi_temp_path $1/scgi_temp;
EOF
}

start_nginx() { # $1 = dir ; sets LAST_PID
  "$NGINX_BIN" -e "$1/error.log" -p "$1" -c "$1/nginx.conf" >"$1/stdout.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# ---------------------------------------------------------------- numbers
median() { sort -n | awk '{a[NR]=$1} END{ if (NR==0) {print "n/a"} else if (NR%2) {print a[(NR+1)/2]} else {printf "%d\n", (a[NR/2]+a[NR/2+1])/2} }'; }
minimum() { sort -n | head -1; }

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
