#!/usr/bin/env bash
# Scale benchmark (issue #8): how each cost grows with the number of sources
# and with the size of the store, every figure a ratio to a smaller size
# measured in the same run.
#
#   bench/scale.sh                      # both parts, ~45 min on 2 cores
#   PART=poll bench/scale.sh            # (a) only
#   PART=store DEV_SET=path/to/dev.jsonl bench/scale.sh   # (b) only, with the dev set
#
# (a) poll: bench/poll.sh at SIZES sources (default "100 1000 10000") x M=40
#     items, RUNS runs each (PEERS=1 adds newsboat and reader), and a table of
#     wall and CPU time per source and per item, cold and warm, as ratios to
#     the smallest size: linear growth shows as a flat ratio of 1. The
#     marginal cost (from one size to the next) is shown beside the average,
#     because the fixed cost of a run (starting the process, opening the
#     store) flatters the averages of the large sizes.
# (b) store: two stores filled through the daemon's own path (bench/poll.sh:
#     gen_corpus.py's feeds served by nginx, cold-polled by `wiredesk poll`,
#     then polled warm): BASE_SOURCES=100 and STORE_SOURCES=10000 sources x
#     STORE_ITEMS=100 items, i.e. ~10 000 and ~1 000 000 items, with a quarter
#     of the items syndicated copies. Both are kept in DATA (the 1 M store
#     takes ~6 GB; the corpus is deleted once polled unless KEEP_CORPUS=1).
#     On each, measured the same way:
#       - in-process (examples/store_bench.rs): Store::open, the first page of
#         the merged feed (50 stories), a `q=` search for each word of SEARCH
#         (default: "tariffs", in nearly every item; "krakow", a dateline in
#         one item of 8; "w1000", the image of one story's copies), the
#         dedup -> store step per new item for NEW_SOURCES=20 new sources'
#         feeds (a quarter copies of stored stories) and, with DEV_SET, for the
#         items of the dedup development set; database bytes per item;
#       - the daemon: `wiredesk run` on the store (no source due: the store
#         was polled with a 24h interval), time until /readyz answers 200,
#         then /healthz; the first /feed.atom after start (uncached), and
#         /feed.atom and /feed.atom?q=WORD with a distinct `token` parameter
#         per request (no token is configured, so it is ignored but keys a
#         new page-cache slot: every such request renders); RUNS starts,
#         max(RUNS, 7) requests of each kind, medians.
#     A table of both sizes, the ratio, and the issue's targets.
#
# Knobs: SIZES, M, RUNS, PEERS, PART (poll|store|all), BASE_SOURCES,
# STORE_SOURCES, STORE_ITEMS, NEW_SOURCES, SEARCH, DEV_SET, DATA (default
# /tmp/wiredesk-scale; an existing store there is reused with REUSE=1),
# PORT (nginx, default 18380), WD_PORT (the daemon, default 18381).
# Needs nginx, curl, GNU time (see poll.sh) and python3; sqlite3 (optional)
# adds match counts and the bytes per table.
set -euo pipefail
SIZES=${SIZES:-"100 1000 10000"}
M=${M:-40}
RUNS=${RUNS:-3}
PEERS=${PEERS:-0}
PART=${PART:-all}
BASE_SOURCES=${BASE_SOURCES:-100}
STORE_SOURCES=${STORE_SOURCES:-10000}
STORE_ITEMS=${STORE_ITEMS:-100}
NEW_SOURCES=${NEW_SOURCES:-20}
SEARCH=${SEARCH:-"tariffs krakow w1000"}
DEV_SET=${DEV_SET:-}
DATA=${DATA:-/tmp/wiredesk-scale}
PORT=${PORT:-18380}
WD_PORT=${WD_PORT:-18381}
export PORT PEERS

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p "$DATA"
target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target="$root/$target" ;; esac
# The binary and the example are built with different features (examples
# see the dev-dependencies), so each is built once here, not in turns.
cargo build --release --locked -q --bin wiredesk
cargo build --release --locked -q --example store_bench
bin="$target/release/wiredesk"
store_bench="$target/release/examples/store_bench"
started=$(date +%s)
echo "scale.sh: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), data in $DATA"

# ---------------------------------------------------------------- (a) poll
if [ "$PART" != store ]; then
  for n in $SIZES; do
    echo "== poll: $n sources x $M items, $RUNS runs"
    rm -rf "$DATA/poll-$n"
    WORK="$DATA/poll-$n" N=$n M=$M RUNS=$RUNS bench/poll.sh | tee "$DATA/poll-$n.log"
    stat -c %s "$DATA/poll-$n/bench.db" > "$DATA/poll-$n/db_size"
    rm -rf "$DATA/poll-$n/corpus" "$DATA/poll-$n"/bench.db*
  done
  python3 - "$DATA" "$M" $SIZES <<'PY'
import statistics, sys
data, m, sizes = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3:]]
med = {}
for n in sizes:
    rows = {}
    for line in open(f"{data}/poll-{n}/results.txt"):
        label, wall, user, sys_, rss = line.split()
        rows.setdefault(label, []).append((float(wall), float(user) + float(sys_), int(rss)))
    med[n] = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in rows.items()}
    med[n]["runs"] = len(rows["wiredesk_cold"])
    med[n]["db"] = int(open(f"{data}/poll-{n}/db_size").read())
b = sizes[0]
def ratio(x, base):
    # GNU time's 10 ms steps can make a small run's time 0.
    return f"{x / base:>6.2f}" if base > 0 and x > 0 else f"{'-':>6}"
print(f"\n(a) poll cost by number of sources, {m} items each; medians of {med[b]['runs']} runs; "
      f"ratio = per-source (or per-item) cost / the same at {b} sources")
print(f"{'sources':>8} {'items':>8} | {'cold wall s':>11} {'ms/src':>7} {'ratio':>6} | {'cold cpu s':>10} "
      f"{'ms/src':>7} {'ratio':>6} {'us/item':>8} | {'marg. cpu':>9} {'ratio':>6} | {'peak MB':>7} "
      f"{'B/item':>7} | {'xfloor':>6}")
prev = None
for n in sizes:
    w, c, r = med[n]["wiredesk_cold"]
    floor = med[n]["curl_cold"][0]
    marg = "" if prev is None else (c - med[prev]["wiredesk_cold"][1]) / (n - prev) * 1e3
    if prev is None:
        marg_txt, marg_ratio = f"{'-':>9}", f"{'-':>6}"
        base_marg = None
    else:
        if base_marg is None:
            base_marg = marg
        marg_txt, marg_ratio = f"{marg:>9.2f}", f"{marg / base_marg:>6.2f}"
    print(f"{n:>8} {n * m:>8} | {w:>11.2f} {w / n * 1e3:>7.2f} {(w / n) / (med[b]['wiredesk_cold'][0] / b):>6.2f} | "
          f"{c:>10.2f} {c / n * 1e3:>7.2f} {(c / n) / (med[b]['wiredesk_cold'][1] / b):>6.2f} "
          f"{c / (n * m) * 1e6:>8.0f} | {marg_txt} {marg_ratio} | {r / 1024:>7.1f} {med[n]['db'] / (n * m):>7.0f} | "
          f"{w / floor:>6.1f}")
    prev = n
print(f"\n{'sources':>8} | {'warm wall s':>11} {'ms/src':>7} {'ratio':>6} | {'warm cpu s':>10} {'ms/src':>7} "
      f"{'ratio':>6} | {'marg. cpu':>9} | {'peak MB':>7} | {'xfloor':>6}")
# The warm ratios are to the first size whose time is not 0 (GNU time's
# 10 ms steps: a warm poll of 100 sources can read 0.00 s of CPU).
wbase = [next((med[n]["wiredesk_warm"][i] / n for n in sizes if med[n]["wiredesk_warm"][i] > 0), 0) for i in (0, 1)]
prev = None
for n in sizes:
    w, c, r = med[n]["wiredesk_warm"]
    floor = med[n]["curl_warm"][0]
    marg = "-" if prev is None else f"{(c - med[prev]['wiredesk_warm'][1]) / (n - prev) * 1e3:.3f}"
    print(f"{n:>8} | {w:>11.2f} {w / n * 1e3:>7.3f} {ratio(w / n, wbase[0])} | "
          f"{c:>10.2f} {c / n * 1e3:>7.3f} {ratio(c / n, wbase[1])} | {marg:>9} | "
          f"{r / 1024:>7.1f} | {w / max(floor, 0.01):>6.1f}")
    prev = n
for peer in ("newsboat", "reader"):
    if all(f"{peer}_cold" in med[n] for n in sizes):
        print(f"{peer}: cold wall / wiredesk's: " + ", ".join(
            f"{n}: {med[n][peer + '_cold'][0] / med[n]['wiredesk_cold'][0]:.2f}" for n in sizes))
print("ms/src, us/item: the run's time divided by sources (items); marg. cpu: CPU ms per source added "
      "since the previous size (its ratio: to the first such step); xfloor: wall / curl's fetch floor; "
      "GNU time counts in 10 ms steps, coarse for the warm runs of few sources.")
PY
fi

# --------------------------------------------------------------- (b) store
if [ "$PART" != poll ]; then
  fill() { # label sources
    local label=$1 n=$2 dir="$DATA/store-$1"
    if [ "${REUSE:-0}" = 1 ] && [ -f "$dir/bench.db" ]; then
      echo "== store $label: reusing $dir/bench.db"
    else
      echo "== store $label: filling $n sources x $STORE_ITEMS items through wiredesk poll"
      rm -rf "$dir"
      WORK="$dir" N=$n M=$STORE_ITEMS RUNS=1 PEERS=0 INTERVAL=24h bench/poll.sh | tee "$DATA/store-$label.log"
      [ "${KEEP_CORPUS:-0}" = 1 ] || rm -rf "$dir/corpus"
    fi
    rm -rf "$DATA/new-$label"
    python3 bench/gen_corpus.py "$DATA/new-$label" --sources $((n + NEW_SOURCES)) --items "$STORE_ITEMS" \
      --only-from "$n" > /dev/null
  }
  measure_store() { # label
    local label=$1 dir="$DATA/store-$1" out="$DATA/measure-$1.txt"
    local searches=() w
    for w in $SEARCH; do searches+=(--search "$w"); done
    echo "== store $label: in-process (examples/store_bench)"
    "$store_bench" "$dir/bench.db" --runs "$((RUNS > 5 ? RUNS : 5))" "${searches[@]}" \
      --feeds "$DATA/new-$label" ${DEV_SET:+--jsonl "$DEV_SET"} | tee "$DATA/bench-$label.txt" | grep -v '^RESULT'
    echo "== store $label: the daemon"
    python3 - "$bin" "$dir/bench.toml" "$WD_PORT" "$RUNS" "$SEARCH" > "$out" <<'PY'
import os, signal, socket, statistics, subprocess, sys, time
bin_, config, port, runs, searches = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].split()
requests = max(runs, 7)
env = dict(os.environ, WIREDESK_SERVER__LISTEN=f"127.0.0.1:{port}", RUST_LOG="warn")
log = open(os.path.join(os.path.dirname(config), "run.log"), "a")

def get(path):
    """Status of GET path, or None while nothing listens (raw HTTP/1.0: no client library time)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = s.recv(64)
            while s.recv(65536):
                pass
            return int(head.split()[1])
    except (OSError, IndexError, ValueError):
        return None

def curl(path):
    """curl's own time for one request, in ms, and the status."""
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout.split()
    assert out[0] == "200", f"{path}: HTTP {out[0]}"
    return float(out[1]) * 1e3

def start():
    t0 = time.perf_counter()
    p = subprocess.Popen([bin_, "--config", config, "run"], env=env, stdout=log, stderr=log)
    while get("/readyz") != 200:
        if p.poll() is not None:
            sys.exit(f"the daemon exited with {p.returncode}; see {log.name}")
        time.sleep(0.002)
    ready = time.perf_counter() - t0
    return p, ready * 1e3, curl("/healthz")

def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)

ready, health = [], []
for run in range(runs):
    p, r, h = start()
    ready.append(r); health.append(h)
    if run < runs - 1:
        stop(p)
print(f"ready_ms {statistics.median(ready)}")
print(f"healthz_ms {statistics.median(health)}")
print(f"page_http_first_ms {curl('/feed.atom')}")
print(f"page_http_cached_ms {statistics.median(curl('/feed.atom') for _ in range(requests))}")
print(f"page_http_ms {statistics.median(curl(f'/feed.atom?token=scale-{k}') for k in range(requests))}")
for w in searches:
    print(f"search_{w}_http_ms {statistics.median(curl(f'/feed.atom?q={w}&token=scale-{k}') for k in range(requests))}")
stop(p)
PY
    sed 's/^/  /' "$out"
    if command -v sqlite3 >/dev/null; then
      for w in $SEARCH; do
        echo "matches_$w $(sqlite3 "$dir/bench.db" "SELECT count(*) FROM items_fts WHERE items_fts MATCH '$w'")"
      done >> "$out"
      sqlite3 "$dir/bench.db" "SELECT 'table_' || name, sum(pgsize) FROM dbstat GROUP BY name" | tr '|' ' ' >> "$out"
    fi
  }
  fill base "$BASE_SOURCES"
  fill big "$STORE_SOURCES"
  for label in base big; do measure_store "$label"; done

  python3 - "$DATA" "$SEARCH" "${DEV_SET:+jsonl}" <<'PY'
import statistics, sys
data, searches, jsonl = sys.argv[1], sys.argv[2].split(), sys.argv[3]
def load(label):
    r = {}
    for line in open(f"{data}/bench-{label}.txt"):
        if line.startswith("RESULT "):
            _, k, v = line.split()
            r[k] = float(v)
    for line in open(f"{data}/measure-{label}.txt"):
        k, v = line.split()
        r[k] = float(v)
    for line in open(f"{data}/store-{label}/results.txt"):
        name, wall, user, sys_, rss = line.split()
        if name == "wiredesk_cold":
            r["fill_wall_s"], r["fill_cpu_s"] = float(wall), float(user) + float(sys_)
            r["fill_peak_mb"] = int(rss) / 1024
    r["fill_cpu_us_per_item"] = r["fill_cpu_s"] / r["items"] * 1e6
    return r
a, b = load("base"), load("big")
rows = [("items", "items", "{:.0f}", None), ("stories", "stories", "{:.0f}", None),
        ("sources", "sources", "{:.0f}", None),
        ("database bytes per item (main file)", "db_bytes_per_item", "{:.0f}", None),
        ("  of which dedup index (dbstat)", "dedup_index_bytes_per_item", "{:.0f}", None)]
if "table_items" in a:
    for t in ("items", "items_fts_data", "dedup_keys", "dedup_boilerplate", "stories"):
        a[f"bpi_{t}"] = a[f"table_{t}"] / a["items"]
        b[f"bpi_{t}"] = b[f"table_{t}"] / b["items"]
        rows.append((f"  of which table {t}", f"bpi_{t}", "{:.0f}", None))
rows += [("fill: cold poll CPU per item, us", "fill_cpu_us_per_item", "{:.0f}", None),
         ("fill: cold poll peak RSS, MB", "fill_peak_mb", "{:.0f}", None),
         ("Store::open, ms", "open_ms", "{:.2f}", None),
         ("daemon start -> /readyz 200, ms", "ready_ms", "{:.0f}", "<= 1000"),
         ("then GET /healthz (counts rows), ms", "healthz_ms", "{:.1f}", None),
         ("first page in-process, first call, ms", "page_first_ms", "{:.2f}", None),
         ("first page in-process, ms", "page_ms", "{:.2f}", "<= 5"),
         ("first page HTTP, first after start, ms", "page_http_first_ms", "{:.2f}", "<= 5"),
         ("first page HTTP, uncached, ms", "page_http_ms", "{:.2f}", "<= 5"),
         ("first page HTTP, cached (context), ms", "page_http_cached_ms", "{:.2f}", None)]
for w in searches:
    if f"matches_{w}" in a:
        rows.append((f"q={w}: items matching", f"matches_{w}", "{:.0f}", None))
    rows.append((f"q={w}: in-process, ms", f"search_{w}_ms", "{:.2f}", "<= 50"))
    rows.append((f"q={w}: HTTP uncached, ms", f"search_{w}_http_ms", "{:.2f}", "<= 50"))
for src in ["feeds"] + ([jsonl] if jsonl else []):
    what = {"feeds": "new sources' items", "jsonl": "dev-set items"}[src]
    rows += [(f"write {what}: items (joined a story)", f"write_{src}_items", "{:.0f}", None),
             (f"  dedup -> store per item, us (thread CPU)", f"write_{src}_us", "{:.1f}", "ratio <= 2"),
             (f"  wall time of the same (context), us", f"write_{src}_wall_us", "{:.1f}", None),
             (f"  same without dedup (baseline), us", f"write_{src}_nodedup_us", "{:.1f}", None),
             (f"  so dedup alone, us", f"write_{src}_dedup_only_us", "{:.1f}", "ratio <= 2"),
             (f"  stored candidates compared per item", f"write_{src}_candidates", "{:.2f}", None)]
print(f"\n(b) store size: {a['items']:.0f} vs {b['items']:.0f} items; ratio = large / small")
print(f"{'':<44} {'small':>10} {'large':>10} {'ratio':>7}  target (large)")
for label, key, fmt, target in rows:
    if key not in a or key not in b:
        continue
    ratio = b[key] / a[key] if a[key] else float("nan")
    extra = ""
    if key.startswith("write_") and key.endswith("_items"):
        extra = f"  ({a[key.replace('_items', '_merged')]:.0f} / {b[key.replace('_items', '_merged')]:.0f} joined)"
    print(f"{label:<44} {fmt.format(a[key]):>10} {fmt.format(b[key]):>10} {ratio:>7.2f}  {target or ''}{extra}")
PY
fi
echo "scale.sh: done in $(( ($(date +%s) - started) / 60 )) min; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
