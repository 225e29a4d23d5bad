#!/usr/bin/env python3
"""A publishing trace for `schedule_sim --trace` (#15), written apart from
the simulator's own generator so its figures can be checked on data it
was not shaped by.

    python3 bench/gen_trace.py SEED [SOURCES] [DAYS] > trace.txt

SOURCES (40) sources, rates log-uniform from one item in four days to one
a minute, windows of 10, 20 or 50 items; half of them publish twice their
rate for twelve hours of each day (their own time zone) and a tenth of it
in the other twelve. One line per item: `SOURCE UNIX_SECONDS WINDOW`.
"""
import math
import random
import sys

seed = int(sys.argv[1])
sources = int(sys.argv[2]) if len(sys.argv) > 2 else 40
days = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
rng = random.Random(seed)
start = 1796083200  # 2026-12-01 00:00 UTC
print(f"# gen_trace.py seed {seed}: {sources} sources, {days:g} days")
for s in range(sources):
    rate = math.exp(rng.uniform(math.log(1 / (4 * 86400)), math.log(1 / 60)))
    window = rng.choice([10, 20, 50])
    daily = rng.random() < 0.5
    offset = rng.randrange(24)
    t = 0.0
    while True:
        t += rng.expovariate(rate * (2 if daily else 1))
        if t >= days * 86400:
            break
        if daily and (t / 3600 + offset) % 24 >= 12 and rng.random() < 0.9:
            continue
        print(f"src{s} {int(start + t)} {window}")
