// The counter files of a generated host tree that the live sampler reads every interval, opened
// once: shared by the floor benchmarks (pread-floor.c, uring-floor.c) so both read the same set.
//
// Files, as the sampler reads them on that tree: an fstat of /proc (its link count); every
// thread's schedstat; a vCPU thread's stat and the first 2.7 KB of its sched (vCPU tids end in
// 10-17 in gen-proc-tree.py's bench tree); each VM's cgroup cpu.stat; /proc/stat and
// /proc/interrupts. (The stat lines give each VM's thread count, so no task folder is stat'ed.)
#ifndef HVTAX_FLOOR_FILES_H
#define HVTAX_FLOOR_FILES_H
#define _GNU_SOURCE
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum { FLOOR_MAX_FILES = 20000 };

struct floor_files {
    int count;
    int fds[FLOOR_MAX_FILES];
    int limits[FLOOR_MAX_FILES];  // bytes read from offset 0 (0 for a folder)
    int is_dir[FLOOR_MAX_FILES];  // a folder: fstat, not read
};

// Opens every file of the set under TREE; files that fail to open are left out, as the sampler
// would find no such thread.
static void floor_files_open(const char *tree, struct floor_files *files) {
    static const struct { const char *pattern; int limit; int is_dir; } sets[] = {
        {"/proc/*/task/*/schedstat", 4096, 0}, {"/proc/*/task/*1[0-7]/stat", 4096, 0},
        {"/proc/*/task/*1[0-7]/sched", 2700, 0}, {"/sys/fs/cgroup/machine.slice/*/cpu.stat", 4096, 0},
        {"/proc", 0, 1}, {"/proc/stat", 65536, 0}, {"/proc/interrupts", 65536, 0},
    };
    files->count = 0;
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        char pattern[4096];
        snprintf(pattern, sizeof pattern, "%s%s", tree, sets[s].pattern);
        glob_t g;
        if (glob(pattern, 0, NULL, &g) != 0) continue;
        for (size_t i = 0; i < g.gl_pathc && files->count < FLOOR_MAX_FILES; i++) {
            int fd = open(g.gl_pathv[i], O_RDONLY | O_NOATIME | (sets[s].is_dir ? O_DIRECTORY : 0));
            if (fd < 0) continue;
            files->fds[files->count] = fd;
            files->limits[files->count] = sets[s].limit;
            files->is_dir[files->count] = sets[s].is_dir;
            files->count++;
        }
        globfree(&g);
    }
}

static long long floor_clock_ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int floor_compare(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

// Sorts the passes' times, so [intervals / 2] is the median each benchmark reports.
static void floor_sort(long long *passes, int intervals) {
    qsort(passes, intervals, sizeof *passes, floor_compare);
}

#endif
