#!/usr/bin/env python3
"""A/B of two hvtax binaries on one trace: RUNS pairs of `hvtax report TRACE --format json`, pinned to
one CPU, the order alternating between pairs so that neither binary always runs on a warmer cache or a
quieter moment. Prints each binary's median and best CPU time (user+sys, from getrusage: microseconds,
where /usr/bin/time rounds to 10 ms), in how many pairs B used less CPU than A, and the median of the
per-pair ratios B/A. On this shared machine one best-of-N swings by 10-20% from one minute to the next;
a pair runs within a second, so its ratio is what says whether a change is real.

    scripts/bench/ab-report.py A_BIN B_BIN [RUNS (20)] [TRACE]

BENCH_CPU: the CPU to pin to (default 1). TRACE defaults to the 5M-event trace.dat that
report-trace-dat.sh generates in BENCH_DIR (default /tmp/hvtax-bench).
"""
import os
import resource
import statistics
import subprocess
import sys

import ab_common

a, b, runs, trace, cpu = ab_common.arguments(
    "ab-report", __doc__, 20, os.path.join(os.environ.get("BENCH_DIR", "/tmp/hvtax-bench"), "trace-5000000.dat"))
if not os.access(trace, os.R_OK):
    sys.exit(f"ab-report: no trace at {trace} (run scripts/bench/report-trace-dat.sh first)")


def cpu_seconds(binary):
    """The CPU time of one report, its own and nothing else's (the children's usage before and after)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["taskset", "-c", cpu, binary, "report", trace, "--format", "json"],
                   stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


times_a, times_b, ratios = [], [], []
for run in range(runs):
    if run % 2 == 0:
        ta = cpu_seconds(a)
        tb = cpu_seconds(b)
    else:
        tb = cpu_seconds(b)
        ta = cpu_seconds(a)
    times_a.append(ta)
    times_b.append(tb)
    ratios.append(tb / ta)

print(f"A {a}: CPU median {statistics.median(times_a):.3f} s, best {min(times_a):.3f} s")
print(f"B {b}: CPU median {statistics.median(times_b):.3f} s, best {min(times_b):.3f} s")
print(f"B/A per pair: median {statistics.median(ratios):.3f}; B used less CPU in {sum(r < 1 for r in ratios)} of {runs} pairs")
