#!/usr/bin/env bash
# The served feeds checked with real clients (#18): the daemon polls varied
# fixture feeds (three sources by file:, two over HTTP from a local
# http.server: authorless, blank, same-timestamp, link-only and textless
# items, HTML in titles, CDATA, non-ASCII, enclosures with and without
# type/length, tracking parameters, a wire story in three copies), then
# /feed.atom, /feed.rss, /feed.json and /sources.opml are checked with
#   - the W3C feed validator (every event, not the first of each kind),
#   - feedparser 6.0.14 (every entry has an id, link, title, date, content),
#   - a JSON Feed 1.1 check of /feed.json (bench/clients_check.py),
#   - reader 3.27 and newsboat, when installed.
# WebSub is on, so the feeds carry wiredesk's hub links (#16).
#
#   bench/clients.sh /path/to/feedvalidator      # BIN=path/to/wiredesk to pick a build
#
# The validator is not on PyPI: clone https://github.com/w3c/feedvalidator
# and pass its folder. Python needs lxml, html5lib and rdflib for it, and
# feedparser==6.0.14 (and reader==3.27, Python >= 3.12) for the rest:
# PYTHON=/path/to/venv/bin/python picks the interpreter. Serves on
# 127.0.0.1:${WD_PORT:-18384} and ${FX_PORT:-18385}; everything else lives
# in a temporary folder (KEEP=1 keeps it). Exits non-zero on any error or
# warning.
set -euo pipefail
[ $# -eq 1 ] && [ -d "$1/src/feedvalidator" ] || {
  echo "usage: $0 /path/to/feedvalidator (a clone of https://github.com/w3c/feedvalidator)" >&2; exit 2; }
fv=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
WD_PORT=${WD_PORT:-18384}
FX_PORT=${FX_PORT:-18385}
if [ -n "${BIN:-}" ]; then BIN=$(realpath "$BIN"); else
  (cd "$root" && cargo build --locked -q --bin wiredesk)
  BIN="${CARGO_TARGET_DIR:-$root/target}/debug/wiredesk"
fi
work=$(mktemp -d)
pid= fxpid=
trap 'kill $pid $fxpid 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"; [ -z "${KEEP:-}" ] || echo "work: $work"' EXIT
cd "$work"
mkdir www
"$PYTHON" "$root/bench/clients_check.py" fixtures . www
"$PYTHON" -m http.server -b 127.0.0.1 -d www "$FX_PORT" > http.log 2>&1 &
fxpid=$!
{ printf '[server]\nlisten = "127.0.0.1:%s"\nbase_url = "http://127.0.0.1:%s/"\n' "$WD_PORT" "$WD_PORT"
  printf 'title = "wiredesk: the wire, once"\n'
  # Push on: the feeds carry the hub's links (Link headers, rel="hub").
  printf '[websub]\nenabled = true\n'
  printf '[storage]\npath = "desk.db"\n[poll]\ninterval = "1h"\n'
  printf '[[sources]]\nid = "wire"\nname = "Wire Agency"\nurl = "file:wire.xml"\npriority = 10\ntags = ["agency", "world"]\n'
  printf '[[sources]]\nid = "gazette"\nname = "Zürcher Gazette"\nurl = "file:gazette.atom"\n'
  printf '[[sources]]\nid = "notes"\nurl = "file:notes.json"\n'
  printf '[[sources]]\nid = "herald"\nname = "The Herald"\nurl = "http://127.0.0.1:%s/herald.xml"\n' "$FX_PORT"
  printf '[[sources]]\nid = "daily"\nname = "Daily Post"\nurl = "http://127.0.0.1:%s/daily.atom"\n' "$FX_PORT"
} > desk.toml
for _ in $(seq 500); do curl -sf -o /dev/null "http://127.0.0.1:$FX_PORT/herald.xml" && break; sleep 0.02; done
RUST_LOG=error "$BIN" --config desk.toml poll
RUST_LOG=error "$BIN" --config desk.toml run > run.log 2>&1 &
pid=$!
for _ in $(seq 500); do curl -sf -o /dev/null "http://127.0.0.1:$WD_PORT/readyz" && break; sleep 0.02; done
for doc in feed.atom feed.rss feed.json sources.opml; do
  curl -sf -o "$doc" "http://127.0.0.1:$WD_PORT/$doc"
done
echo "== $(grep -o '<entry>' feed.atom | wc -l) entries served"
"$PYTHON" "$root/bench/clients_check.py" check "$fv" "http://127.0.0.1:$WD_PORT"
