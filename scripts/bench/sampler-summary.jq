# The sampler's cost from `hvtax snapshot --format json` (one object per sample, slurped with -s):
# the median, mean and largest sampler.cpuNs (CLOCK_THREAD_CPUTIME_ID around each sample) as a share
# of one core at the mean interval. The mean is what the sampler costs over time (CPU per hour); the
# median is the typical sample, less moved by one that met a busy moment of the machine. Used by
# live-sampler.sh (generated tree) and live-sampler-real.sh (this host's procfs). Arguments: $what
# (the tree's description), $user and $sys (the process's times).
(map(.sampler.cpuNs) | sort) as $c
| (map(.intervalNs) | add / length) as $iv
| ($c | add / length) as $mean
| "\($what): \(.[0].sampler.threadsSampled) threads, \(.[0].sampler.filesRead) files per sample",
  "sampler CPU per sample over \(length) intervals of \($iv / 1e9 | . * 1000 | round / 1000) s: median \($c[length / 2 | floor] / 1e6 | . * 100 | round / 100) ms, max \($c[-1] / 1e6 | . * 100 | round / 100) ms",
  "= \($c[length / 2 | floor] / $iv * 100 | . * 1000 | round / 1000)% of one core (median), \($mean / $iv * 100 | . * 1000 | round / 1000)% (mean), \($c[-1] / $iv * 100 | . * 1000 | round / 1000)% (max); target <= 0.5%",
  "whole process (start-up, first sample, JSON): user \($user) s + sys \($sys) s for \(length + 1) samples"
