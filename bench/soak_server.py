#!/usr/bin/env python3
"""Feed server for bench/soak.sh: thousands of simulated sources on 127.0.0.1.

    python3 bench/soak_server.py PORT T0 PERIOD

Source i is served at /s/<i>.xml; its kind is i % 40:

- 0..33  healthy: RSS 2.0 whose newest item k was published at
         T0 + phase(i) + k*PERIOD (one new item per PERIOD, the last 5 listed),
         with an ETag, answering 304 to a matching If-None-Match;
- 34..35 slow: the same feed after a 2 s pause;
- 36..37 failing: 500, or 503 with Retry-After: 30;
- 38     broken: truncated XML (a different cut each PERIOD);
- 39     gone-ish: 404.

`healthy_items(i, now)` is the ground truth soak_check.py compares with the
database. Everything is a function of (i, time), so nothing is stored.
"""
import sys
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
T0 = float(sys.argv[2])
PERIOD = int(sys.argv[3])


def kind(i):
    k = i % 40
    if k <= 33:
        return "healthy"
    if k <= 35:
        return "slow"
    if k <= 37:
        return "failing"
    return "broken" if k == 38 else "missing"


def phase(i):
    return (i * 7919) % PERIOD


def newest(i, now):
    """Index of the newest item published by `now` (-1: none yet)."""
    return int((now - T0 - phase(i)) // PERIOD)


def feed(i, now):
    k = newest(i, now)
    items = []
    for j in range(k, max(k - 5, -6), -1):
        pub = T0 + phase(i) + j * PERIOD
        items.append(
            f"<item><title>Source {i} story {j}: talks &amp; tariffs</title>"
            f"<link>http://127.0.0.1:{PORT}/s/{i}/{j}.html?a=1&amp;b=2</link>"
            f"<guid isPermaLink=\"false\">soak-{i}-{j}</guid>"
            f"<pubDate>{formatdate(pub, usegmt=True)}</pubDate>"
            f"<description>&lt;p&gt;Source {i} reports item {j}: the minister said on "
            f"tuesday that talks on story {i}-{j} would continue for a week.&lt;/p&gt;"
            f"</description></item>"
        )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>soak {i}</title><link>http://127.0.0.1:{PORT}/</link>"
        f"<description>soak source {i}</description>{''.join(items)}</channel></rss>"
    )
    return k, body.encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        try:
            i = int(self.path.split("/")[2].split(".")[0])
        except (IndexError, ValueError):
            return self.send(404)
        now = time.time()
        kd = kind(i)
        if kd == "missing":
            return self.send(404, b"not here")
        if kd == "failing":
            if (i // 40) % 2:
                return self.send(503, b"busy", [("Retry-After", "30")])
            return self.send(500, b"boom")
        if kd == "slow":
            time.sleep(2)
        k, body = feed(i, now)
        if kd == "broken":
            body = body[: len(body) * (1 + k % 3) // 4]
        etag = f'"{i}-{k}"'
        if self.headers.get("If-None-Match") == etag:
            return self.send(304, headers=[("ETag", etag)])
        self.send(200, body, [("Content-Type", "application/rss+xml"), ("ETag", etag)])


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 256
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
