#!/usr/bin/env python3
"""Does one slow read hold up the others? (#17, #20)

Starts the daemon (BIN) on CONFIG (a filled store whose sources are not
due, e.g. the one bench/scale.sh leaves), times a deliberately slow search
(the costliest kind q= still accepts since #20: a NEAR of four common
two-letter prefixes at the widest distance, 100; a NEAR of 22 prefixes is
now refused with 400 before any read) alone, then runs three of them at once and
meanwhile times /healthz over and over and a plain first page three times.
Each request carries a distinct `token`, so none is answered from the page
cache. Prints every time in milliseconds; run it with two builds in turns.

    python3 bench/slow_reads.py BIN CONFIG [PORT]
"""
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

bin_, config = sys.argv[1], sys.argv[2]
port = sys.argv[3] if len(sys.argv) > 3 else "18391"
env = dict(os.environ, WIREDESK_SERVER__LISTEN=f"127.0.0.1:{port}", RUST_LOG="error")
daemon = subprocess.Popen([bin_, "--config", config, "run"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def curl(path):
    """Status and curl's own time in ms for one GET."""
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout.split()
    return out[0], float(out[1]) * 1e3


try:
    deadline = time.time() + 60
    while curl("/readyz")[0] != "200":
        if daemon.poll() is not None or time.time() > deadline:
            sys.exit("the daemon did not become ready")
        time.sleep(0.02)
    q = urllib.parse.quote("NEAR(th* an* co* re*, 100)")
    print("slow search alone: %.0f ms" % curl(f"/feed.atom?q={q}&token=s0")[1])
    print("/healthz idle: %.1f ms" % statistics.median(curl("/healthz")[1] for _ in range(5)))
    slow = []
    threads = [threading.Thread(target=lambda k=k: slow.append(curl(f"/feed.atom?q={q}&token=s{k}")[1]))
               for k in range(1, 4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    health = []
    while any(t.is_alive() for t in threads):
        health.append(curl("/healthz")[1])
        time.sleep(0.05)
    pages = [curl(f"/feed.atom?limit=50&token=p{k}")[1] for k in range(3)]
    for t in threads:
        t.join()
    print("three slow searches at once: " + ", ".join("%.0f" % t for t in sorted(slow)) + " ms")
    print("/healthz meanwhile: " + ", ".join("%.1f" % t for t in health) + " ms")
    print("a plain page after: " + ", ".join("%.1f" % t for t in pages) + " ms")
finally:
    daemon.send_signal(signal.SIGTERM)
    daemon.wait()
