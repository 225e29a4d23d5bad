#!/usr/bin/env python3
"""Did every healthy source's new items arrive on time? (bench/soak.sh)

    python3 bench/soak_check.py DB N T0 PERIOD START END DEADLINE

An item of a healthy source (kind 0..33 of soak_server.py) published at P,
with START <= P <= END - DEADLINE, must be in the database with
first_seen - P <= DEADLINE (one poll interval plus its jitter plus a little
for the fetch). START is after the first poll round, so the backlog of the
first round is not counted. Prints a summary; exits 1 when any item is late
or missing.
"""
import re
import sqlite3
import sys

db, n, t0, period, start, end, deadline = sys.argv[1:8]
n, period = int(n), int(period)
t0, start, end, deadline = float(t0), float(start), float(end), float(deadline)

seen = {}
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
for source_id, title, first_seen in con.execute("SELECT source_id, title, first_seen FROM items"):
    m = re.match(r"Source (\d+) story (-?\d+):", title)
    if m:
        seen[(int(m.group(1)), int(m.group(2)))] = first_seen

expected = late = missing = 0
lags = []
worst = []
for i in range(n):
    if i % 40 > 33:
        continue
    ph = (i * 7919) % period
    j = int((start - t0 - ph) // period)
    while True:
        pub = t0 + ph + j * period
        if pub > end - deadline:
            break
        if pub >= start:
            expected += 1
            fs = seen.get((i, j))
            if fs is None:
                missing += 1
                worst.append((float("inf"), i, j))
            else:
                lag = fs - pub
                lags.append(lag)
                if lag > deadline:
                    late += 1
                    worst.append((lag, i, j))
        j += 1

lags.sort()
def pct(p):
    return lags[min(len(lags) - 1, int(p * len(lags)))] if lags else float("nan")
print(f"healthy items due: {expected}; arrived: {len(lags)}; late (> {deadline:.0f} s): {late}; missing: {missing}")
print(f"arrival lag s: median {pct(0.5):.1f}, p99 {pct(0.99):.1f}, max {lags[-1] if lags else float('nan'):.1f}")
for lag, i, j in sorted(worst, reverse=True)[:5]:
    print(f"  worst: source s{i} item {j} lag {lag}")
sys.exit(1 if late or missing or not expected else 0)
