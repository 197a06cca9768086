#!/usr/bin/env python3
"""A/B of two hvtax binaries' live sampler on one generated host tree: both run `hvtax snapshot
--interval 1s` at the same time, pinned to one CPU, one half a second after the other, so the i-th
sample of each falls within one second of the other and no two samples overlap. Two rounds of SAMPLES
each: B second, then B first. Prints each round's medians of sampler CPU per sample (`sampler.cpuNs`:
the sampling thread's CPU time around each sample) and of the per-sample ratios B/A, and the geometric
mean of the two rounds' ratios: the second sampler of a pair pays a few percent more or less for its
place, in a way that changes from minute to minute, and the two orders cancel it.

On this shared nested guest one sampler's median moves by 10-20% from one minute to the next, with the
kernel's own cost of the reads; two samplers that take turns within the same second see the same
machine, so their ratio is what says whether a change is real.

    scripts/bench/ab-sampler.py A_BIN B_BIN [SAMPLES (60)] [TREE]

Either binary may be the C reader instead of hvtax: pread-floor (scripts/bench/pread-floor.c, which
live-sampler.sh builds into BENCH_DIR) answers `snapshot --root TREE --interval 1s --count N --format
json` with its own passes, so `ab-sampler.py HVTAX_BIN BENCH_DIR/pread-floor` gives what hvtax costs
against the cheapest reader of the same figures, second by second. Both trees are held in memory
while the samplers run (vmtouch, where it is installed), as live-sampler.sh holds its tree.

BENCH_CPU: the CPU to pin to (default 1). TREE defaults to the 100 VMs x 8 vCPUs tree that
live-sampler.sh generates in BENCH_DIR (default /tmp/hvtax-live-bench).
"""
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import ab_common

a, b, samples, tree, cpu = ab_common.arguments(
    "ab-sampler", __doc__, 60, os.path.join(os.environ.get("BENCH_DIR", "/tmp/hvtax-live-bench"), "tree-100-8"))
if not os.path.isdir(os.path.join(tree, "proc")):
    sys.exit(f"ab-sampler: no host tree at {tree} (run scripts/bench/live-sampler.sh first)")


def version(root):
    try:
        with open(os.path.join(root, "TREE-VERSION")) as f:
            return f.read()
    except OSError:
        return None


copy = tree.rstrip("/") + "-copy"
if not os.path.isdir(os.path.join(copy, "proc")) or version(copy) != version(tree):
    subprocess.run(["rm", "-rf", copy], check=True)
    subprocess.run(["cp", "-a", tree, copy], check=True)


def hold(root):
    """vmtouch -l on the tree for as long as the script runs (this guest evicts page cache that
    looks idle, and a read of an evicted page is a disk read inside a sample); None without vmtouch."""
    if shutil.which("vmtouch") is None:
        return None
    pidfile = tempfile.NamedTemporaryFile(prefix="ab-sampler-hold-", delete=False).name
    subprocess.run(["vmtouch", "-q", "-dlw", "-P", pidfile, root], check=True)
    return pidfile


def release(pidfile):
    try:
        with open(pidfile) as f:
            os.kill(int(f.read()), signal.SIGTERM)
    except (OSError, ValueError):
        pass
    # vmtouch removes its pidfile itself as it exits, which may be before or after this.
    try:
        os.unlink(pidfile)
    except FileNotFoundError:
        pass


def start(binary, root):
    return subprocess.Popen(["taskset", "-c", cpu, binary, "snapshot", "--root", root, "--interval", "1s",
                             "--count", str(samples), "--format", "json"], stdout=subprocess.PIPE, text=True)


def costs(process, binary):
    out, _ = process.communicate()
    if process.returncode != 0:
        sys.exit(f"ab-sampler: {binary} exited with {process.returncode}")
    decoder, text, index, result = json.JSONDecoder(), out, 0, []
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index == len(text):
            break
        value, index = decoder.raw_decode(text, index)
        result.append(value["sampler"]["cpuNs"] / 1e6)
    return result


def round_of(first_binary, second_binary):
    """Both samplers at once, the second half a second after the first, each on its own tree; the
    costs per sample of (first, second)."""
    first = start(first_binary, tree)
    time.sleep(0.5)
    second = start(second_binary, copy)
    return costs(first, first_binary), costs(second, second_binary)


# Two rounds, B second and then B first: the sampler that starts second of a pair pays a few percent
# more or less that minute (the machine's state, not the binary), and that bias cancels out of the
# geometric mean of the two rounds' ratios.
held = [pidfile for pidfile in (hold(tree), hold(copy)) if pidfile]
if not held:
    print("trees not held in memory (no vmtouch): samples may include disk reads of evicted pages")
# SIGTERM ends the script through the finally below, as SIGINT does.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
try:
    ms_a, ms_b = round_of(a, b)
    later_b, later_a = round_of(b, a)
finally:
    for pidfile in held:
        release(pidfile)
rounds = []
for name, xs, ys in (("B second", ms_a, ms_b), ("B first", later_a, later_b)):
    ratios = [y / x for x, y in zip(xs, ys)]
    rounds.append(statistics.median(ratios))
    print(f"{name}: A {statistics.median(xs):.2f} ms, B {statistics.median(ys):.2f} ms median per sample over "
          f"{len(ratios)} pairs; B/A median {rounds[-1]:.3f}, B cost less in {sum(r < 1 for r in ratios)}")
print(f"B/A: {math.sqrt(rounds[0] * rounds[1]):.3f} (geometric mean of the two rounds); "
      f"the second of a pair paid x{math.sqrt(rounds[0] / rounds[1]):.3f} for its place")
