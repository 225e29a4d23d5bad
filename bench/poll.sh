#!/usr/bin/env bash
# Poll benchmark: a cold poll of N sources into an empty store, then a warm
# poll where every source answers 304, served by nginx on 127.0.0.1; beside
# the fetch floor (curl --parallel over the same URLs, same validators, no
# parsing, no storage), measured in the same run. Medians of RUNS runs.
#
#   bench/poll.sh                 # N=500 sources x M=40 items, RUNS=3
#   N=100 M=20 RUNS=5 bench/poll.sh
#
# Needs nginx, curl and GNU time (installed from Debian's packages if missing).
set -euo pipefail
N=${N:-500}
M=${M:-40}
RUNS=${RUNS:-3}
PORT=${PORT:-18080}
CONCURRENCY=${CONCURRENCY:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$(mktemp -d /tmp/wiredesk-bench.XXXXXX)}

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need nginx nginx-light
need curl curl
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

(cd "$root" && cargo build --release --locked -q)
bin="$root/target/release/wiredesk"

echo "corpus: $(python3 "$root/bench/gen_corpus.py" "$work/corpus" --sources "$N" --items "$M")"
# One modification time for every file, so one If-Modified-Since fits all.
touch -d '2026-11-28 00:00:00 UTC' "$work"/corpus/*
chmod -R a+rX "$work"   # nginx's workers run as www-data
LM='Sat, 28 Nov 2026 00:00:00 GMT'

cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/xml;
  server { listen 127.0.0.1:$PORT; root $work/corpus; etag on; }
}
NGINX
nginx -c "$work/nginx.conf"
trap 'kill "$(cat "$work/nginx.pid")" 2>/dev/null || true' EXIT

{
  echo "[server]"; echo "listen = \"127.0.0.1:0\""
  echo "[storage]"; echo "path = \"$work/bench.db\""
  # Every source is on one host here; a real deployment spreads them over
  # many, so the per-host limit is raised to the global one.
  echo "[poll]"; echo "concurrency = $CONCURRENCY"; echo "per_host = $CONCURRENCY"
  while read -r f; do
    echo "[[sources]]"; echo "id = \"${f%%.*}\""; echo "url = \"http://127.0.0.1:$PORT/$f\""
  done < "$work/corpus/urls.txt"
} > "$work/bench.toml"
sed "s|^|http://127.0.0.1:$PORT/|" "$work/corpus/urls.txt" > "$work/urls.abs"

# Appends "label wall_s user_s sys_s maxrss_kb" for a command; its stdout
# goes to $work/last.out.
measure() {
  local label=$1; shift
  /usr/bin/time -f "$label %e %U %S %M" -a -o "$work/results.txt" "$@" > "$work/last.out" 2> "$work/cmd.err" \
    || { cat "$work/cmd.err" >&2; exit 1; }
}
curl_floor() { xargs -a "$work/urls.abs" curl -s -Z --parallel-max "$CONCURRENCY" -o /dev/null -w '%{http_code}\n' "$@"; }
export -f curl_floor; export work CONCURRENCY

: > "$work/results.txt"
for run in $(seq "$RUNS"); do
  rm -f "$work"/bench.db*
  measure wiredesk_cold "$bin" --config "$work/bench.toml" poll
  grep -c $'\tok\t' "$work/last.out" > "$work/cold_ok" || true
  measure wiredesk_warm "$bin" --config "$work/bench.toml" poll
  grep -c $'\tnot modified' "$work/last.out" > "$work/warm_304" || true
  measure curl_cold bash -c curl_floor
  measure curl_warm bash -c "curl_floor -H 'If-Modified-Since: $LM'"
  grep -c '^304' "$work/last.out" > "$work/curl_304" || true
done
db_size=$(stat -c %s "$work/bench.db")

python3 - "$work/results.txt" "$N" "$M" "$db_size" "$(cat "$work/cold_ok")" "$(cat "$work/warm_304")" "$(cat "$work/curl_304")" <<'PY'
import statistics, sys
path, n, m, db, cold_ok, warm_304, curl_304 = sys.argv[1:]
n, m = int(n), int(m)
rows = {}
for line in open(path):
    label, wall, user, sys_, rss = line.split()
    rows.setdefault(label, []).append((float(wall), float(user) + float(sys_), int(rss)))
med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in rows.items()}
print(f"\n{n} sources x {m} items, medians of {len(rows['wiredesk_cold'])} runs")
print(f"{'run':<16}{'wall s':>9}{'cpu s':>9}{'peak MB':>9}")
for k in ("wiredesk_cold", "curl_cold", "wiredesk_warm", "curl_warm"):
    w, c, r = med[k]
    print(f"{k:<16}{w:>9.3f}{c:>9.3f}{r / 1024:>9.1f}")
wc, cc = med["wiredesk_cold"], med["curl_cold"]
ww, cw = med["wiredesk_warm"], med["curl_warm"]
print(f"\ncold: sources ok {cold_ok}/{n}; wall = {wc[0] / cc[0]:.2f}x the fetch floor; "
      f"cpu {wc[1] / (n * m) * 1e6:.0f} us per item; db {int(db) / (n * m):.0f} bytes per item")
print(f"warm: {warm_304}/{n} answered 304 (curl: {curl_304}); wall = {ww[0] / cw[0]:.2f}x the fetch floor; "
      f"cpu {ww[1] / n * 1e3:.3f} ms per unchanged source (curl: {cw[1] / n * 1e3:.3f} ms)")
PY
