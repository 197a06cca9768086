#!/usr/bin/env bash
# Benchmark of `hvtax import` (issue #7): a generated esxtop batch capture of MB MiB (default 200)
# with thousands of columns, and one an eighth of its size, imported by the release build; wall
# time, throughput and peak memory of each, beside `cat` and `wc -l` over the same file (floors:
# reading the bytes and finding the lines). Peak memory must not grow with the capture's length.
# The figures in docs/import.md come from this script.
#
#   scripts/bench/import.sh            # 200 MiB
#   MB=50 scripts/bench/import.sh      # quicker
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/opt/swift/usr/bin:$PATH
mb=${MB:-200}
out=${BENCH_OUT:-bench-out}
mkdir -p "$out"

if [ ! -x /usr/bin/time ]; then
    echo "installing GNU time (peak memory)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi

swift build -c release --product hvtax >/dev/null
bin="$(swift build -c release --show-bin-path)/hvtax"

small=$((mb / 8))
python3 scripts/bench/gen-esxtop.py "$out/esxtop-${small}mb.csv" --mb "$small"
python3 scripts/bench/gen-esxtop.py "$out/esxtop-${mb}mb.csv" --mb "$mb"

measure() { # label, command...
    local label=$1
    shift
    /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >/dev/null
    read -r seconds kb <"$out/time.txt"
    # GNU time counts in hundredths of a second: below that a rate would be noise.
    if [ "$(echo "$seconds < 0.02" | bc -l)" = 1 ]; then
        printf "%-34s  < 0.02 s  %13s  peak %7.1f MiB\n" "$label" "" "$(echo "$kb / 1024" | bc -l)"
    else
        printf "%-34s %7.2f s  %8.1f MiB/s  peak %7.1f MiB\n" "$label" "$seconds" \
            "$(echo "$size_mib / $seconds" | bc -l)" "$(echo "$kb / 1024" | bc -l)"
    fi
}

echo
echo "$(nproc) CPUs, $(uname -m), $(swift --version 2>&1 | head -1)"
for file in "$out/esxtop-${small}mb.csv" "$out/esxtop-${mb}mb.csv"; do
    size_mib=$(echo "$(stat -c %s "$file") / 1048576" | bc -l)
    printf "\n%s (%.0f MiB)\n" "$file" "$size_mib"
    cat "$file" >/dev/null # warm the page cache, so every line below reads from memory
    measure "cat > /dev/null" cat "$file"
    measure "wc -l" wc -l "$file"
    measure "hvtax import --format json" "$bin" import --format json "$file"
done

# The generator's truth (gen-esxtop.py): VM i has %RDY 2*(i % 8) per vCPU, %SYS 3, %RUN 50, %OVRLP 1.
"$bin" import --format json "$out/esxtop-${mb}mb.csv" >"$out/import.json"
python3 - "$out/import.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
vms = report["hosts"][0]["vms"]
bad = [vm["name"] for vm in vms
       if abs(vm["values"]["preemptedRatio"]["mean"] - 0.02 * (int(vm["name"][2:]) % 8)) > 1e-9
       or abs(vm["values"]["guestRatio"]["mean"] - 0.49) > 1e-9]
print(f"\ncheck: {len(vms)} VMs, {report['source']['samples']} samples, {report['source']['columns']} columns;",
      "figures match the generator" if not bad else f"MISMATCH in {bad}")
sys.exit(1 if bad else 0)
PY
