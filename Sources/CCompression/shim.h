// zlib (gzip members, v7 trace.dat zlib sections) and zstd (zstd files, v7 zstd sections).
// Debian packages: zlib1g-dev, libzstd-dev.
#include <zlib.h>
#include <zstd.h>
