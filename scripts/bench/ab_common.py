"""What the A/B scripts (ab-report.py, ab-sampler.py) share: their command line."""
import os
import sys


def arguments(name, doc, default_count, default_input):
    """A_BIN B_BIN [COUNT] [INPUT] from the command line, checked; with BENCH_CPU (default 1).
    Prints the script's usage (`doc`) and exits when the two binaries are not given."""
    if len(sys.argv) < 3:
        sys.exit(doc)
    a, b = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else default_count
    given = sys.argv[4] if len(sys.argv) > 4 else default_input
    for binary in (a, b):
        if not os.access(binary, os.X_OK):
            sys.exit(f"{name}: {binary} is not an executable")
    return a, b, count, given, os.environ.get("BENCH_CPU", "1")
