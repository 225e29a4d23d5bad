#!/usr/bin/env bash
# What the merged feed's page size costs (#14): the first page of
# /feed.atom, /feed.rss and /feed.json at LIMITS entries, rendered (a distinct
# `token` per request misses the page cache: no token is configured, so it
# is ignored but keys a new cache slot), identity and gzip. Each figure is a
# ratio to the first limit (the old default, 50) measured in the same run.
#
#   bench/page_size.sh CONFIG            # a config whose store is filled,
#                                        # e.g. the one bench/scale.sh leaves
#                                        # in /tmp/wiredesk-scale/store-base
#
# Knobs: LIMITS (default "50 100 200 500"), REQUESTS (default 15, medians),
# WD_PORT (default 18382), BIN (a prebuilt wiredesk; default: build
# --release). The sources' next polls must lie in the future (scale.sh polls
# with a 24h interval), or the daemon polls while it is measured.
set -euo pipefail
CONFIG=${1:?usage: bench/page_size.sh CONFIG}
LIMITS=${LIMITS:-"50 100 200 500"}
REQUESTS=${REQUESTS:-15}
WD_PORT=${WD_PORT:-18382}
source "$(dirname "$0")/daemon.sh"
start_daemon "$CONFIG" "$WD_PORT"
python3 - "$WD_PORT" "$REQUESTS" $LIMITS <<'PY'
import statistics, subprocess, sys
port, requests, limits = int(sys.argv[1]), int(sys.argv[2]), [int(x) for x in sys.argv[3:]]

def curl(path, gzip):
    args = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_download}"]
    if gzip:
        args += ["-H", "Accept-Encoding: gzip"]
    code, t, size = subprocess.run(args + [f"http://127.0.0.1:{port}{path}"],
                                   capture_output=True, text=True).stdout.split()
    assert code == "200", f"{path}: HTTP {code}"
    return float(t) * 1e3, int(size)

rows, k = {}, 0
for limit in limits:
    for fmt in ("atom", "rss", "json"):
        for gzip in (False, True):
            times, size = [], 0
            for _ in range(requests):
                k += 1
                t, size = curl(f"/feed.{fmt}?limit={limit}&token=page-size-{k}", gzip)
                times.append(t)
            rows[(limit, fmt, gzip)] = (statistics.median(times), size)
base = limits[0]
print(f"{'limit':>6} {'format':<6} {'coding':<8} {'ms (median)':>12} {'ratio':>6} {'bytes':>10} {'ratio':>6}")
for (limit, fmt, gzip), (t, size) in rows.items():
    bt, bs = rows[(base, fmt, gzip)]
    print(f"{limit:>6} {fmt:<6} {'gzip' if gzip else 'identity':<8} {t:>12.2f} {t / bt:>6.2f} {size:>10} {size / bs:>6.2f}")
PY
