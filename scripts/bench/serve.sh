#!/usr/bin/env bash
# Benchmark: hvtax serve's /metrics under wrk, on a generated host tree of VMS libvirt QEMUs x VCPUS
# vCPUs (scripts/gen-proc-tree.py bench), sampled every second while the load runs.
#
#   scripts/bench/serve.sh [VMS] [VCPUS] [SECONDS]       default 100 8 20
#
# Two runs, both with wrk's latency distribution (--latency):
#   1. closed loop, 16 connections as fast as they go: the throughput ceiling;
#   2. paced: 10 connections, each waiting 50 ms after every response (wrk's delay() hook), about
#      200 requests/s. wrk2's fixed-rate mode is not in Debian; with pacing per connection a slow
#      response delays that connection's next request (coordinated omission), so the p99 here is
#      the latency of the requests that were sent, not of a schedule.
# Both with `Accept-Encoding: gzip` as Prometheus sends it, and the plain run once for comparison.
set -euo pipefail
vms=${1:-100}
vcpus=${2:-8}
seconds=${3:-20}
dir=${BENCH_DIR:-/tmp/hvtax-serve-bench}
cd "$(dirname "$0")/../.."
export PATH=/opt/swift/usr/bin:$PATH
command -v wrk >/dev/null || { echo "wrk not installed (Debian package wrk)" >&2; exit 1; }

swift build -c release --product hvtax >/dev/null
hvtax=$(swift build -c release --show-bin-path)/hvtax
tree=$dir/tree-$vms-$vcpus
# shellcheck source=host-tree.sh
source scripts/bench/host-tree.sh
host_tree "$tree" "$vms" "$vcpus"
log=$dir/serve.log
"$hvtax" serve --root "$tree" --listen 127.0.0.1:0 --interval 1s 2>"$log" &
serve=$!
trap 'kill -TERM $serve 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    address=$(grep -o 'listening on http://[0-9.:]*' "$log" | head -1 | sed 's|listening on http://||') || true
    [ -n "$address" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$address/metrics")" = 200 ] && break
    sleep 0.2
done
url=http://$address/metrics
plain=$(curl -s "$url" | wc -c)
gzipped=$(curl -s -H 'Accept-Encoding: gzip' "$url" | wc -c)
series=$(curl -s "$url" | grep -vc '^#')
echo "tree: $vms VMs x $vcpus vCPUs; exposition $series series, $plain bytes ($gzipped gzip); sampling every 1 s during the runs"
cat >"$dir/paced.lua" <<'LUA'
wrk.headers["Accept-Encoding"] = "gzip"
function delay() return 50 end
LUA
cat >"$dir/gzip.lua" <<'LUA'
wrk.headers["Accept-Encoding"] = "gzip"
LUA
echo "== closed loop, gzip: wrk -t2 -c16 -d${seconds}s --latency"
wrk -t2 -c16 -d"${seconds}s" --latency -s "$dir/gzip.lua" "$url"
echo "== closed loop, plain text: wrk -t2 -c16 -d${seconds}s --latency"
wrk -t2 -c16 -d"${seconds}s" --latency "$url"
echo "== paced ~200 req/s, gzip: wrk -t2 -c10 -d${seconds}s --latency (delay 50 ms per connection)"
wrk -t2 -c10 -d"${seconds}s" --latency -s "$dir/paced.lua" "$url"
samples=$(curl -s "$url" | awk '/^hvtax_samples_total /{print $2}')
echo "sampler: $samples intervals sampled while serving; sampler CPU $(curl -s "$url" | awk '/^hvtax_sampler_cpu_seconds_total /{print $2}') s"
kill -TERM $serve
wait $serve && echo "serve exited 0 on SIGTERM"
trap - EXIT
