#!/usr/bin/env bash
# Requests/s of wiredesk's /feed.atom (50 entries) against nginx serving the
# same bytes as a static file, on 127.0.0.1 only, each run bounded in time.
#
#   bench/serve.sh                 # DURATION=10s CONNECTIONS=32 THREADS=2 RUNS=3 by default
#   BIN=/tmp/old/wiredesk bench/serve.sh   # measure that binary instead of building
#
# Needs wrk and nginx (Debian: apt-get install -y wrk nginx-light) and curl.
# Builds wiredesk --release, generates a database from two local sample
# feeds (60 items each, 20 of them shared, so 100 stories), and measures:
#   200 path, gzip: GET /feed.atom with Accept-Encoding: gzip
#                                             vs  nginx gzip_static serving the
#                                                 same compressed bytes
#   200 path, identity: GET /feed.atom        vs  nginx GET /feed.atom
#   304 path: the same with If-None-Match     vs  nginx with its own ETag
set -euo pipefail

DURATION=${DURATION:-10s}
RUNS=${RUNS:-3}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
WD_PORT=${WD_PORT:-18080}
NGINX_PORT=${NGINX_PORT:-18081}

cd "$(dirname "$0")/.."
# BIN= measures a binary built elsewhere (another commit's, to interleave
# runs of two builds on a noisy machine).
if [ -n "${BIN:-}" ]; then
    bin=$BIN
else
    cargo build --release --locked --quiet
    bin="${CARGO_TARGET_DIR:-target}/release/wiredesk"
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Two RSS feeds; items 0-19 of the outlet republish items 0-19 of the agency.
feed() { # name, first shared item, prefix
    local name=$1 prefix=$2
    {
        echo '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        echo "<title>$name</title><link>https://$prefix.example/</link><description>bench</description>"
        for i in $(seq 0 59); do
            local story=$i
            [ "$prefix" = outlet ] && [ "$i" -ge 20 ] && story=$((i + 100))
            printf '<item><title>Story %d: talks resume in the harbour dispute</title>' "$story"
            printf '<link>https://%s.example/news/%d?utm_source=x&amp;id=%d</link>' "$prefix" "$i" "$i"
            printf '<guid>%s-%d</guid><pubDate>Sun, 01 Nov 2026 %02d:%02d:00 GMT</pubDate>' "$prefix" "$i" $((story / 60 % 24)) $((story % 60))
            printf '<author>desk@%s.example (Desk)</author><category>world</category>' "$prefix"
            printf '<description><![CDATA[<p>Story %d. Negotiators met again on Tuesday, officials said, and both sides described the session as constructive while cautioning that several issues remain open. The port has been closed for three days.</p><p>Further talks are planned for the end of the week.</p>]]></description></item>\n' "$story"
        done
        echo '</channel></rss>'
    } >"$work/$prefix.xml"
}
feed "Agency" agency
feed "Outlet" outlet

cat >"$work/wiredesk.toml" <<TOML
[server]
listen = "127.0.0.1:$WD_PORT"
[storage]
path = "bench.db"
[poll]
interval = "1h"
[[sources]]
id = "agency"
url = "file:agency.xml"
priority = 10
tags = ["agency"]
[[sources]]
id = "outlet"
url = "file:outlet.xml"
TOML

"$bin" --config "$work/wiredesk.toml" poll >/dev/null
RUST_LOG=warn "$bin" --config "$work/wiredesk.toml" run 2>"$work/wiredesk.log" &
pids+=($!)
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$WD_PORT/healthz" >/dev/null && break
    sleep 0.1
done

mkdir -p "$work/www" "$work/nginx"
curl -sf "http://127.0.0.1:$WD_PORT/feed.atom" -o "$work/www/feed.atom"
# The very bytes wiredesk sends gzip-encoded, for nginx's gzip_static.
curl -sf -H 'Accept-Encoding: gzip' "http://127.0.0.1:$WD_PORT/feed.atom" -o "$work/www/feed.atom.gz"
gzip -t "$work/www/feed.atom.gz" || { echo "wiredesk did not answer gzip" >&2; exit 1; }
touch -r "$work/www/feed.atom" "$work/www/feed.atom.gz"
# nginx workers run as an unprivileged user when started as root.
chmod 755 "$work" "$work/www" && chmod 644 "$work/www/feed.atom" "$work/www/feed.atom.gz"
entries=$(grep -o '<entry>' "$work/www/feed.atom" | wc -l)
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx;
    proxy_temp_path $work/nginx;
    fastcgi_temp_path $work/nginx;
    uwsgi_temp_path $work/nginx;
    scgi_temp_path $work/nginx;
    types { application/atom+xml atom; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $work/www;
        gzip_static on;
    }
}
NGINX
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$NGINX_PORT/feed.atom" >/dev/null && break
    sleep 0.1
done

curl -sf "http://127.0.0.1:$NGINX_PORT/feed.atom" | cmp -s - "$work/www/feed.atom" ||
    { echo "nginx on 127.0.0.1:$NGINX_PORT does not serve the feed (port taken?)" >&2; exit 1; }
curl -sf -H 'Accept-Encoding: gzip' "http://127.0.0.1:$NGINX_PORT/feed.atom" | cmp -s - "$work/www/feed.atom.gz" ||
    { echo "nginx does not serve the gzip bytes" >&2; exit 1; }

etag_of() { curl -sfI "$1" | tr -d '\r' | awk 'tolower($1) == "etag:" { $1 = ""; sub(/^ /, ""); print }'; }
wd_etag=$(etag_of "http://127.0.0.1:$WD_PORT/feed.atom")
nginx_etag=$(etag_of "http://127.0.0.1:$NGINX_PORT/feed.atom")
code() { curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $2" "$1"; }
[ "$(code "http://127.0.0.1:$WD_PORT/feed.atom" "$wd_etag")" = 304 ] || { echo "wiredesk did not answer 304" >&2; exit 1; }
[ "$(code "http://127.0.0.1:$NGINX_PORT/feed.atom" "$nginx_etag")" = 304 ] || { echo "nginx did not answer 304" >&2; exit 1; }

rate() { # url [header]
    local args=(-t"$THREADS" -c"$CONNECTIONS" -d"$DURATION")
    [ $# -gt 1 ] && args+=(-H "$2")
    wrk "${args[@]}" "$1" | awk '/^Requests\/sec:/ { print $2 }'
}
: >"$work/rates"
for run in $(seq "$RUNS"); do
    {
        echo "gzip $(rate "http://127.0.0.1:$WD_PORT/feed.atom" "Accept-Encoding: gzip") $(rate "http://127.0.0.1:$NGINX_PORT/feed.atom" "Accept-Encoding: gzip")"
        echo "identity $(rate "http://127.0.0.1:$WD_PORT/feed.atom") $(rate "http://127.0.0.1:$NGINX_PORT/feed.atom")"
        echo "304 $(rate "http://127.0.0.1:$WD_PORT/feed.atom" "If-None-Match: $wd_etag") $(rate "http://127.0.0.1:$NGINX_PORT/feed.atom" "If-None-Match: $nginx_etag")"
    } >>"$work/rates"
done

echo "feed: $entries entries, $(wc -c <"$work/www/feed.atom") bytes ($(wc -c <"$work/www/feed.atom.gz") gzip); wrk -t$THREADS -c$CONNECTIONS -d$DURATION; baseline: nginx $(nginx -v 2>&1 | sed 's/.*\///') static file; medians of $RUNS runs"
python3 - "$work/rates" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    path, wd, ng = line.split()
    rows.setdefault(path, []).append((float(wd), float(ng)))
targets = {"gzip": ">= 0.50", "identity": "(for information)", "304": ">= 1.00"}
print(f"{'path':<10}{'wiredesk':>12}{'nginx':>12}{'ratio':>8}  runs' ratios  target")
for path, runs in rows.items():
    wd = statistics.median(r[0] for r in runs)
    ng = statistics.median(r[1] for r in runs)
    ratios = " ".join(f"{r[0] / r[1]:.2f}" for r in runs)
    print(f"{path:<10}{wd:>12.0f}{ng:>12.0f}{statistics.median(r[0] / r[1] for r in runs):>8.2f}  {ratios}  {targets[path]}")
PY
