#!/usr/bin/env python3
"""A/B of two hvtax binaries' live sampler on one generated host tree: both run `hvtax snapshot
--interval 1s` at the same time, pinned to one CPU, B half a second after A, so the i-th sample of
each falls within one second of the other and no two samples overlap. Prints each binary's median
sampler CPU per sample (`sampler.cpuNs`: the sampling thread's CPU time around each sample) and the
median of the per-sample ratios B/A, with in how many pairs B cost less.

On this shared nested guest one sampler's median moves by 10-20% from one minute to the next, with the
kernel's own cost of the reads; two samplers that take turns within the same second see the same
machine, so their ratio is what says whether a change is real.

    scripts/bench/ab-sampler.py A_BIN B_BIN [SAMPLES (60)] [TREE]

BENCH_CPU: the CPU to pin to (default 1). TREE defaults to the 100 VMs x 8 vCPUs tree that
live-sampler.sh generates in BENCH_DIR (default /tmp/hvtax-live-bench).
"""
import json
import os
import statistics
import subprocess
import sys
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


first = start(a, tree)
time.sleep(0.5)
second = start(b, copy)
ms_a, ms_b = costs(first, a), costs(second, b)
pairs = list(zip(ms_a, ms_b))
ratios = [y / x for x, y in pairs]
print(f"A {a}: sampler CPU per sample median {statistics.median(ms_a):.2f} ms over {len(ms_a)} samples")
print(f"B {b}: sampler CPU per sample median {statistics.median(ms_b):.2f} ms over {len(ms_b)} samples")
print(f"B/A per sample pair: median {statistics.median(ratios):.3f}; B cost less in {sum(r < 1 for r in ratios)} of {len(pairs)}")
