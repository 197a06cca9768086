// The floor under the live sampler's cost: the same counter files of a generated host tree, kept
// open and re-read with pread at offset 0 once per interval, by a C loop that parses nothing.
// Built and run by scripts/bench/live-sampler.sh beside hvtax:
//
//   pread-floor TREE INTERVALS          prints the CPU time of each pass and the median
//
// Files, as the sampler reads them on that tree: every thread's schedstat; a vCPU thread's stat
// and the first 2.7 KB of its sched (vCPU tids end in 10-17 in gen-proc-tree.py's bench tree);
// each VM's cgroup cpu.stat; an fstat of each VM's task folder; /proc/stat and /proc/interrupts.
#define _GNU_SOURCE
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long thread_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s TREE INTERVALS\n", argv[0]); return 2; }
    const char *tree = argv[1];
    int intervals = atoi(argv[2]);
    struct { const char *pattern; int limit; int is_dir; } sets[] = {
        {"/proc/*/task/*/schedstat", 4096, 0}, {"/proc/*/task/*1[0-7]/stat", 4096, 0},
        {"/proc/*/task/*1[0-7]/sched", 2700, 0}, {"/sys/fs/cgroup/machine.slice/*/cpu.stat", 4096, 0},
        {"/proc/[1-9]*00/task", 0, 1}, {"/proc/stat", 65536, 0}, {"/proc/interrupts", 65536, 0},
    };
    static int fds[20000], limits[20000], dirs[20000];
    int n = 0;
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        char pattern[4096];
        snprintf(pattern, sizeof pattern, "%s%s", tree, sets[s].pattern);
        glob_t g;
        if (glob(pattern, 0, NULL, &g) != 0) continue;
        for (size_t i = 0; i < g.gl_pathc && n < 20000; i++) {
            int fd = open(g.gl_pathv[i], O_RDONLY | O_NOATIME | (sets[s].is_dir ? O_DIRECTORY : 0));
            if (fd < 0) continue;
            fds[n] = fd; limits[n] = sets[s].limit; dirs[n] = sets[s].is_dir; n++;
        }
        globfree(&g);
    }
    static char buffer[65536];
    long long *passes = calloc(intervals, sizeof *passes);
    for (int r = 0; r < intervals; r++) {
        sleep(1);
        long long start = thread_ns();
        for (int i = 0; i < n; i++) {
            if (dirs[i]) { struct stat st; fstat(fds[i], &st); }
            else if (pread(fds[i], buffer, limits[i], 0) < 0) { perror("pread"); return 1; }
        }
        passes[r] = thread_ns() - start;
    }
    qsort(passes, intervals, sizeof *passes, cmp);
    printf("pread floor (C, the same %d files, nothing parsed) over %d intervals of 1 s: median %.2f ms, min %.2f ms = %.3f%% of one core\n",
           n, intervals, passes[intervals / 2] / 1e6, passes[0] / 1e6, passes[intervals / 2] / 1e7);
    return 0;
}
