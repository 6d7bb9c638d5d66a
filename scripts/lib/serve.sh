# Sourced by the scripts that drive a real `ferrocr serve` (overload.sh, soak.sh,
# hostile-files.sh): start it on an ephemeral port and wait until it is ready.
# Needs `bin` (the ferrocr binary) set by the caller.

# serve_start LOG ARGS...: `ferrocr serve --listen 127.0.0.1:0 --device cpu ARGS...` in the
# background, its output in LOG; sets `pid`. Set the caller's EXIT trap after this.
serve_start() {
  local log=$1
  shift
  "$bin" serve --listen 127.0.0.1:0 --device cpu "$@" >"$log" 2>&1 &
  pid=$!
}

# serve_wait LOG: wait (up to 2 minutes) until the server has printed its URL and answers
# /readyz; sets `url`. Prints the log and exits 1 if it never does.
serve_wait() {
  local log=$1
  url=""
  for _ in $(seq 1 600); do
    url=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
    [ -n "$url" ] && curl -fsS "$url/readyz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "server did not start"
  cat "$log"
  exit 1
}

# rss: the server's resident memory in MB.
rss() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status"; }
