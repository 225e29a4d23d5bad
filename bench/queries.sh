#!/usr/bin/env bash
# Pages of the merged feed over HTTP, as a reader's first fetch after a
# change costs them: each request carries a distinct `token` (none is
# configured, so it is ignored but keys a new page-cache slot), so every
# one is read from the store and rendered. Prints the median per query.
#
#   bench/queries.sh CONFIG [QUERY...]
#
# QUERY is a path with its query string (default, all at 50 entries as
# bench/README's figures before #14 were: the first page, one
# source (SOURCE, default s00050), a tag, three searches, a source with a
# search, every copy).
# Two builds are compared by running this twice with BIN=… in turns, each
# on its own copy of the store (a newer build migrates a store, and an
# older one then refuses it). Knobs: BIN (default: build --release),
# REQUESTS (default 9), WD_PORT (default 18384). The sources' next polls
# must lie in the future (bench/scale.sh polls with a 24h interval).
set -euo pipefail
CONFIG=${1:?usage: bench/queries.sh CONFIG [QUERY...]}
shift
if [ $# -eq 0 ]; then
  s=${SOURCE:-s00050}
  set -- "/feed.atom?limit=50" "/feed.atom?limit=50&source=$s" "/feed.atom?limit=50&tag=world" \
    "/feed.atom?limit=50&q=w1000" "/feed.atom?limit=50&q=krakow" "/feed.atom?limit=50&q=tariffs" \
    "/feed.atom?limit=50&source=$s&q=krakow" "/feed.atom?limit=50&copies=all"
fi
REQUESTS=${REQUESTS:-9}
WD_PORT=${WD_PORT:-18384}
source "$(dirname "$0")/daemon.sh"
start_daemon "$CONFIG" "$WD_PORT"
echo "ready after $ready_after s"
python3 - "$WD_PORT" "$REQUESTS" "$@" <<'PY'
import statistics, subprocess, sys
port, requests, queries = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
k = 0
for q in queries:
    times = []
    for _ in range(requests):
        k += 1
        sep = "&" if "?" in q else "?"
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                              f"http://127.0.0.1:{port}{q}{sep}token=queries-{k}"],
                             capture_output=True, text=True).stdout.split()
        assert out[0] == "200", f"{q}: HTTP {out[0]}"
        times.append(float(out[1]) * 1e3)
    print(f"{q:<45} median {statistics.median(times):8.2f} ms  (min {min(times):.2f}, max {max(times):.2f})")
PY
