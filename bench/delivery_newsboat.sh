#!/usr/bin/env bash
# newsboat as a subscriber of the merged feed (#14): a check by hand, not a
# benchmark. newsboat fetches only the first page (here `limit=5`) with
# If-None-Match, as every reader does; this script stores stories that carry
# old dates (agency copies dated at filing time, a 2099 date, a new source's
# days-old backlog, a copy of a story already delivered) between its
# reloads and prints what newsboat received, and whether each story stored
# after it subscribed reached it exactly once.
#
#   bench/delivery_newsboat.sh            # BIN=path/to/wiredesk to pick a build
#
# Needs newsboat and sqlite3 (apt-get install -y newsboat sqlite3). Serves on
# 127.0.0.1:${WD_PORT:-18383} only; everything lives in a temporary folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
WD_PORT=${WD_PORT:-18383}
if [ -z "${BIN:-}" ]; then
  (cd "$root" && cargo build --release --locked -q --bin wiredesk)
  BIN="${CARGO_TARGET_DIR:-$root/target}/release/wiredesk"
fi
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"; echo "work: $work"' EXIT
pid=
cd "$work"

# feed NAME "n:minutes-ago-or-ISO ..." writes NAME.xml with story n (same
# text for the same n, so copies merge) dated as given.
feed() {
  python3 - "$@" <<'PY'
import sys, datetime, email.utils
name, specs = sys.argv[1], sys.argv[2:]
now = datetime.datetime.now(datetime.timezone.utc)
words = "harbour council minister strike election budget river bridge festival court police school hospital railway airport market farmers storm museum library union mayor senate treaty border energy water forest coast village".split()
items = []
for spec in specs:
    n, when = spec.split(":", 1)
    date = datetime.datetime.fromisoformat(when) if "T" in when else now - datetime.timedelta(minutes=int(when))
    x = int(n) * 2654435761 + 97
    sentences = []
    for _ in range(5):
        ws = []
        for _ in range(12):
            x = (x * 6364136223846793005 + 1442695040888963407) % 2**64
            ws.append(words[(x >> 33) % len(words)])
        sentences.append("<p>" + " ".join(ws) + ".</p>")
    items.append(f"<item><guid isPermaLink='false'>{name}-{n}</guid><title>Story {n}</title>"
                 f"<link>https://{name}.example/{n}</link><pubDate>{email.utils.format_datetime(date)}</pubDate>"
                 f"<description><![CDATA[{''.join(sentences)}]]></description></item>")
open(f"{name}.xml", "w").write(f"<?xml version='1.0'?><rss version='2.0'><channel><title>{name}</title>"
                               f"<link>https://{name}.example/</link><description>{name}</description>{''.join(items)}</channel></rss>")
PY
}

config() { # source ids
  { printf '[server]\nlisten = "127.0.0.1:%s"\n[storage]\npath = "desk.db"\n[poll]\ninterval = "1h"\n' "$WD_PORT"
    for id in "$@"; do printf '[[sources]]\nid = "%s"\nurl = "file:%s.xml"\n' "$id" "$id"; done
  } > desk.toml
}

serve() { # polls once, then serves until the next step
  [ -z "$pid" ] || { kill "$pid"; wait "$pid" 2>/dev/null || true; }
  RUST_LOG=error "$BIN" --config desk.toml poll > /dev/null
  RUST_LOG=error "$BIN" --config desk.toml run > run.log 2>&1 &
  pid=$!
  for _ in $(seq 500); do curl -sf -o /dev/null "http://127.0.0.1:$WD_PORT/readyz" && return; sleep 0.02; done
  cat run.log; exit 1
}

reader() { # one newsboat reload; prints the titles it holds
  newsboat -u urls -c cache.db -C newsboat.conf -x reload > /dev/null 2>&1
  sqlite3 cache.db "SELECT title FROM rss_item ORDER BY title" | tr '\n' ' '; echo
}

printf 'http://127.0.0.1:%s/feed.atom?limit=5\n' "$WD_PORT" > urls
: > newsboat.conf

echo "== 12 recent agency stories; newsboat subscribes (receives the first page of 5)"
feed agency $(for n in $(seq 1 12); do echo "$n:$((130 - 10 * n))"; done)
config agency; serve
echo "   received: $(reader)"
subscribed=$(sqlite3 cache.db "SELECT count(*) FROM rss_item")

echo "== agency files 3 stories dated 6, 9 and 30 hours ago, and one dated 2099"
feed agency $(for n in $(seq 1 12); do echo "$n:$((130 - 10 * n))"; done) 101:360 102:540 103:1800 "104:2099-01-01T00:00:00+00:00"
serve
echo "   received: $(reader)"

echo "== a source is added with a backlog of 3 days; an outlet republishes story 12"
feed newcomer 201:4320 202:4400
feed outlet 12:1
config agency newcomer outlet; serve
echo "   received: $(reader)"

expected="Story 101 Story 102 Story 103 Story 104 Story 201 Story 202"
missing=0
for n in 101 102 103 104 201 202; do
  c=$(sqlite3 cache.db "SELECT count(*) FROM rss_item WHERE title = 'Story $n'")
  [ "$c" = 1 ] || { echo "   Story $n received $c times"; missing=1; }
done
c=$(sqlite3 cache.db "SELECT count(*) FROM rss_item WHERE title = 'Story 12'")
[ "$c" = 1 ] || { echo "   Story 12 (gained a copy) received $c times"; missing=1; }
echo "== subscribed with $subscribed entries; stored after: $expected"
if [ $missing = 0 ]; then echo "OK: every story stored after subscribing reached newsboat once"; else echo "FAILED"; exit 1; fi
