#!/usr/bin/env bash
# Soak test (by hand, never in CI): N simulated sources (default 2 000) on
# a local server on 127.0.0.1 (bench/soak_server.py: healthy feeds that gain
# an item every PERIOD, slow, failing, truncated and missing ones), the real
# daemon polling them every INTERVAL for DURATION, its resident memory and
# open file descriptors sampled every 30 s from /proc. At the end: memory
# start/peak/end, fds start/end, and whether every healthy source's new items
# reached the database within one interval plus its jitter plus SLACK.
#
#   bench/soak.sh                          # N=2000 DURATION=10m INTERVAL=60s
#   N=500 DURATION=3m bench/soak.sh
#
# All traffic stays on 127.0.0.1; every loop is bounded by DURATION.
set -euo pipefail
N=${N:-2000}
DURATION=${DURATION:-10m}
INTERVAL=${INTERVAL:-60}      # seconds (the daemon's minimum is 60 by default)
PERIOD=${PERIOD:-150}         # a healthy source publishes one item per PERIOD s
SLACK=${SLACK:-10}            # seconds allowed for the fetch itself
PORT=${PORT:-18090}
CONCURRENCY=${CONCURRENCY:-32}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$(mktemp -d /tmp/wiredesk-soak.XXXXXX)}
target=${CARGO_TARGET_DIR:-$root/target}

case $DURATION in
  *m) secs=$(( ${DURATION%m} * 60 )) ;;
  *s) secs=${DURATION%s} ;;
  *)  secs=$DURATION ;;
esac

(cd "$root" && cargo build --release --locked -q)
bin="$target/release/wiredesk"

t0=$(date +%s)
python3 "$root/bench/soak_server.py" "$PORT" "$t0" "$PERIOD" &
server=$!
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null || true
  kill "$server" 2>/dev/null || true
}
trap cleanup EXIT

{
  echo "[server]"; echo "listen = \"127.0.0.1:0\""
  echo "[storage]"; echo "path = \"$work/soak.db\""
  echo "[log]"; echo "level = \"warn\""
  # One host serves every source here, so the per-host limit is the global one.
  echo "[poll]"; echo "interval = \"${INTERVAL}s\""; echo "concurrency = $CONCURRENCY"
  echo "per_host = $CONCURRENCY"; echo "timeout = \"10s\""; echo "max_backoff = \"5m\""
  for i in $(seq 0 $((N - 1))); do
    echo "[[sources]]"; echo "id = \"s$i\""; echo "url = \"http://127.0.0.1:$PORT/s/$i.xml\""
  done
} > "$work/soak.toml"

for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/s/0.xml" >/dev/null && break; sleep 0.1; done

"$bin" --config "$work/soak.toml" run 2> "$work/daemon.err" &
daemon=$!
start=$(date +%s)
deadline_end=$((start + secs))

sample() {  # elapsed_s rss_kB fds
  local rss fds
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$daemon/status")
  fds=$(find "/proc/$daemon/fd" -mindepth 1 -maxdepth 1 | wc -l)
  echo "$(( $(date +%s) - start )) $rss $fds" | tee -a "$work/samples.txt"
}
: > "$work/samples.txt"
echo "work: $work; sources: $N; interval: ${INTERVAL}s; duration: ${secs}s"
echo "elapsed_s rss_kB fds"
sleep 2
sample
# The daemon's address, from its listening socket (port 0 above).
addr=$(ss -ltnpH | awk -v pid="pid=$daemon," 'index($0, pid) {print $4; exit}')
ready=
while [ "$(date +%s)" -lt "$deadline_end" ]; do
  next=$(( $(date +%s) + 30 ))
  while [ "$(date +%s)" -lt "$next" ] && [ "$(date +%s)" -lt "$deadline_end" ]; do
    if [ -z "$ready" ] && curl -sf "http://$addr/readyz" >/dev/null 2>&1; then
      ready=$(date +%s); echo "ready (first poll round done) after $((ready - start)) s"
    fi
    kill -0 "$daemon" || { echo "daemon died"; cat "$work/daemon.err" | tail; exit 1; }
    sleep 1
  done
  sample
done
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$daemon/status")
curl -sf "http://$addr/sources.json" > "$work/sources.json" || true
end=$(date +%s)
kill -TERM "$daemon"; wait "$daemon" || true; daemon=

awk -v hwm="$hwm" 'NR == 1 {s = $2; f = $3} {if ($2 > p) p = $2; e = $2; g = $3}
  END {printf "memory (RSS): start %.1f MB, peak %.1f MB (VmHWM %.1f MB), end %.1f MB\nfds: start %d, end %d\n", s/1024, p/1024, hwm/1024, e/1024, f, g}' "$work/samples.txt"
python3 - "$work/sources.json" <<'PY' || true
import json, sys, collections
data = json.load(open(sys.argv[1]))
rows = data if isinstance(data, list) else data.get("sources", [])
print("sources by status:", dict(collections.Counter(str(r.get("status")) for r in rows)))
PY
echo "warnings/errors logged: $(wc -l < "$work/daemon.err")"
python3 "$root/bench/soak_check.py" "$work/soak.db" "$N" "$t0" "$PERIOD" \
  "$(( ${ready:-$end} + 5 ))" "$end" "$(awk -v i="$INTERVAL" -v s="$SLACK" 'BEGIN {print i * 1.1 + s}')"
