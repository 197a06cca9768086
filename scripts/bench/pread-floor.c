// The floor under the live sampler's cost: the same counter files of a generated host tree, kept
// open and re-read with pread at offset 0 once per interval, by a C loop that parses nothing.
// Built and run by scripts/bench/live-sampler.sh beside hvtax:
//
//   pread-floor TREE INTERVALS          prints the CPU time of each pass and the median
//
// The files are floor-files.h's: the set the sampler reads on that tree.
#include "floor-files.h"
#include <sys/stat.h>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s TREE INTERVALS\n", argv[0]); return 2; }
    int intervals = atoi(argv[2]);
    static struct floor_files files;
    floor_files_open(argv[1], &files);
    static char buffer[65536];
    long long *passes = calloc(intervals, sizeof *passes);
    for (int r = 0; r < intervals; r++) {
        sleep(1);
        long long start = floor_clock_ns(CLOCK_THREAD_CPUTIME_ID);
        for (int i = 0; i < files.count; i++) {
            if (files.is_dir[i]) { struct stat st; fstat(files.fds[i], &st); }
            else if (pread(files.fds[i], buffer, files.limits[i], 0) < 0) { perror("pread"); return 1; }
        }
        passes[r] = floor_clock_ns(CLOCK_THREAD_CPUTIME_ID) - start;
    }
    floor_sort(passes, intervals);
    printf("pread floor (C, the same %d files, nothing parsed) over %d intervals of 1 s: median %.2f ms, min %.2f ms = %.3f%% of one core\n",
           files.count, intervals, passes[intervals / 2] / 1e6, passes[0] / 1e6, passes[intervals / 2] / 1e7);
    return 0;
}
