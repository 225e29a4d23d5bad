#!/usr/bin/env bash
# Poll benchmark: a cold poll of N sources into an empty store, then a warm
# poll of the next round, where CHANGED sources have 3 new items each and
# the others answer 304, served by nginx on 127.0.0.1; beside
# the fetch floor (curl --parallel over the same URLs, same validators, no
# parsing, no storage), measured in the same run. Medians of RUNS runs.
#
#   bench/poll.sh                 # N=500 sources x M=40 items, RUNS=3, CHANGED=10
#   N=100 M=20 RUNS=5 bench/poll.sh
#
# Knobs for other scripts (bench/scale.sh): WORK=DIR works there instead of
# a new temporary folder (the corpus, the config bench.toml and the store
# bench.db of the last run are left in it, as they always are); PORT for
# nginx; INTERVAL sets [poll].interval in bench.toml (e.g. 24h, so that a
# daemon started on the kept store finds no source due).
#
# Beside wiredesk, in the same invocation: the fetch floor (curl --parallel)
# and, with PEERS=1 (the default), two aggregators a user would pick
# instead: newsboat (`newsboat -x reload`, from Debian) and the Python
# `reader` library (`update_feeds` with workers, from PyPI), each polling
# the same URLs cold (empty cache) and warm (a second poll, of the next round).
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
PEERS=${PEERS:-1}
need nginx nginx-light
need curl curl
if [ "$PEERS" = 1 ]; then
  need newsboat newsboat
  python3 -c 'import reader, sgmllib' 2>/dev/null || pip install -q reader sgmllib3k
fi
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

# BIN=path polls with that binary instead (e.g. an older build, to compare
# two in alternating runs).
if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  (cd "$root" && cargo build --release --locked -q)
  target=${CARGO_TARGET_DIR:-target}
  case $target in /*) ;; *) target="$root/$target" ;; esac
  bin="$target/release/wiredesk"
fi

# Round 1 is what the cold polls fetch. Round 2, for the warm polls, is the
# same corpus with CHANGED sources carrying 3 new items each (the rest
# byte-identical): nginx answers 304 to the others' validators.
CHANGED=${CHANGED:-10}
echo "corpus: $(python3 "$root/bench/gen_corpus.py" "$work/round1" --sources "$N" --items "$M")"
python3 "$root/bench/gen_corpus.py" "$work/round2" --sources "$N" --items "$M" --round 2 --changed "$CHANGED" >/dev/null
# One modification time for every unchanged file, so one If-Modified-Since
# fits all; a later one for the files round 2 changed.
touch -d '2026-11-28 00:00:00 UTC' "$work"/round1/* "$work"/round2/*
for f in "$work"/round2/*; do
  cmp -s "$f" "$work/round1/$(basename "$f")" || touch -d '2026-11-28 06:00:00 UTC' "$f"
done
chmod -R a+rX "$work"   # nginx's workers run as www-data
LM='Sat, 28 Nov 2026 00:00:00 GMT'
# nginx serves $work/corpus, a link to the round being polled.
serve_round() { ln -sfn "round$1" "$work/corpus"; }
serve_round 1

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
  [ -z "${INTERVAL:-}" ] || echo "interval = \"$INTERVAL\""
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
  serve_round 1
  measure wiredesk_cold "$bin" --config "$work/bench.toml" poll
  grep -c $'\tok\t' "$work/last.out" > "$work/cold_ok" || true
  # The cold poll leaves ~110 MB of the database to be written back; the
  # warm poll's closing checkpoint would wait for it (its fsync), doubling
  # its wall time, so it is flushed first, outside the timings.
  sync
  serve_round 2
  measure wiredesk_warm "$bin" --config "$work/bench.toml" poll
  grep -c $'\tnot modified' "$work/last.out" > "$work/warm_304" || true
  grep -c $'\tok\t' "$work/last.out" > "$work/warm_ok" || true
  serve_round 1
  measure curl_cold bash -c curl_floor
  serve_round 2
  measure curl_warm bash -c "curl_floor -H 'If-Modified-Since: $LM'"
  grep -c '^304' "$work/last.out" > "$work/curl_304" || true
  if [ "$PEERS" = 1 ]; then
    rm -rf "$work/nb" "$work"/reader.db*; mkdir -p "$work/nb"
    printf 'reload-threads %s\n' "$CONCURRENCY" > "$work/nb/config"
    nb=(env HOME="$work/nb" newsboat -u "$work/urls.abs" -c "$work/nb/cache.db" -C "$work/nb/config" -x reload)
    serve_round 1
    measure newsboat_cold "${nb[@]}"
    serve_round 2
    measure newsboat_warm "${nb[@]}"
    rd=(python3 "$root/bench/reader_poll.py" "$work/reader.db" "$work/urls.abs" "$CONCURRENCY")
    serve_round 1
    measure reader_cold "${rd[@]}"
    serve_round 2
    measure reader_warm "${rd[@]}"
  fi
done
serve_round 1
db_size=$(stat -c %s "$work/bench.db")

python3 - "$work/results.txt" "$N" "$M" "$db_size" "$(cat "$work/cold_ok")" "$(cat "$work/warm_304")" "$(cat "$work/warm_ok")" "$(cat "$work/curl_304")" "$CHANGED" <<'PY'
import statistics, sys
path, n, m, db, cold_ok, warm_304, warm_ok, curl_304, changed = sys.argv[1:]
n, m, changed = int(n), int(m), int(changed)
rows = {}
for line in open(path):
    label, wall, user, sys_, rss = line.split()
    rows.setdefault(label, []).append((float(wall), float(user) + float(sys_), int(rss)))
med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in rows.items()}
print(f"\n{n} sources x {m} items, medians of {len(rows['wiredesk_cold'])} runs")
print(f"{'run':<16}{'wall s':>9}{'cpu s':>9}{'peak MB':>9}")
for k in ("wiredesk_cold", "curl_cold", "newsboat_cold", "reader_cold",
          "wiredesk_warm", "curl_warm", "newsboat_warm", "reader_warm"):
    if k not in med:
        continue
    w, c, r = med[k]
    print(f"{k:<16}{w:>9.3f}{c:>9.3f}{r / 1024:>9.1f}")
wc, cc = med["wiredesk_cold"], med["curl_cold"]
ww, cw = med["wiredesk_warm"], med["curl_warm"]
items = n * m + 3 * changed
print(f"\ncold: sources ok {cold_ok}/{n}; wall {wc[0] / cc[0]:.2f}x the fetch floor (target <= 4); "
      f"cpu {wc[1] / (n * m) * 1e6:.0f} us per item (target <= 150); peak {wc[2] / 1024:.1f} MB (target <= 64); "
      f"db {int(db) / items:.0f} bytes per item")
for peer, target in (("newsboat", 8), ("reader", 20)):
    if f"{peer}_cold" in med:
        print(f"{peer}: cold wall {med[peer + '_cold'][0] / wc[0]:.2f}x wiredesk's (target >= {target}), "
              f"cpu {med[peer + '_cold'][1] / wc[1]:.2f}x; warm wall {med[peer + '_warm'][0] / ww[0]:.2f}x wiredesk's")
unchanged = max(int(warm_304), 1)
print(f"warm (next round, {changed} sources changed): {warm_304}/{n} answered 304, {warm_ok} new bodies stored "
      f"(curl: {curl_304} 304s); wall {ww[0] / cw[0]:.2f}x the fetch floor (target <= 2); "
      f"cpu {ww[1] / n * 1e3:.3f} ms per source (target <= 1 ms per unchanged source; curl: {cw[1] / n * 1e3:.3f} ms)")
PY
