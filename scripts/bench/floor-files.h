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
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { FLOOR_MAX_FILES = 20000 };

struct floor_files {
    int count;
    int fds[FLOOR_MAX_FILES];
    int limits[FLOOR_MAX_FILES];  // bytes read from offset 0 (0 for a folder)
    int is_dir[FLOOR_MAX_FILES];  // a folder: fstat, not read
    const char *kind[FLOOR_MAX_FILES];  // the file's name (schedstat, stat, sched, cpu.stat, ...)
};

// One file of the set, kept open; a file that fails to open is left out. KIND: what the file is
// counted as (NULL: its name).
static void floor_files_add(struct floor_files *files, const char *path, int limit, int is_dir, const char *kind) {
    if (files->count >= FLOOR_MAX_FILES) return;
    int fd = open(path, O_RDONLY | O_NOATIME | (is_dir ? O_DIRECTORY : 0));
    if (fd < 0) fd = open(path, O_RDONLY | (is_dir ? O_DIRECTORY : 0));  // O_NOATIME: owner only
    if (fd < 0) return;
    files->fds[files->count] = fd;
    files->limits[files->count] = limit;
    files->is_dir[files->count] = is_dir;
    const char *slash = strrchr(path, '/');
    files->kind[files->count] = kind ? kind : strdup(slash ? slash + 1 : path);  // the glob buffers go
    files->count++;
}

// Opens every file of the set under TREE; files that fail to open are left out, as the sampler
// would find no such thread.
static inline void floor_files_open(const char *tree, struct floor_files *files) {
    static const struct { const char *pattern; int limit; int is_dir; const char *kind; } sets[] = {
        {"/proc/*/task/*/schedstat", 4096, 0, NULL}, {"/proc/*/task/*1[0-7]/stat", 4096, 0, NULL},
        {"/proc/*/task/*1[0-7]/sched", 2700, 0, NULL}, {"/sys/fs/cgroup/machine.slice/*/cpu.stat", 4096, 0, NULL},
        {"/proc", 0, 1, "/proc (fstat)"}, {"/proc/stat", 65536, 0, "/proc/stat"}, {"/proc/interrupts", 65536, 0, "/proc/interrupts"},
    };
    files->count = 0;
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        char pattern[4096];
        snprintf(pattern, sizeof pattern, "%s%s", tree, sets[s].pattern);
        glob_t g;
        if (glob(pattern, 0, NULL, &g) != 0) continue;
        for (size_t i = 0; i < g.gl_pathc; i++) floor_files_add(files, g.gl_pathv[i], sets[s].limit, sets[s].is_dir, sets[s].kind);
        globfree(&g);
    }
}

// The same set on the real procfs, for the VMs of live-sampler-real.sh: the processes whose comm
// is COMM (`qemu-system-x86`); every thread's schedstat; a vCPU thread's (`CPU N/KVM`) stat and
// sched, whole (the kernel writes all of a seq_file however little is read); each cpu.stat that
// CGROUP_GLOB matches; /proc, /proc/stat and /proc/interrupts.
static inline void floor_files_open_vms(const char *comm, const char *cgroup_glob, struct floor_files *files) {
    files->count = 0;
    glob_t processes;
    if (glob("/proc/[0-9]*/comm", 0, NULL, &processes) == 0) {
        for (size_t p = 0; p < processes.gl_pathc; p++) {
            char name[64] = {0};
            FILE *f = fopen(processes.gl_pathv[p], "r");
            if (!f) continue;
            int matches = fgets(name, sizeof name, f) && strncmp(name, comm, strlen(comm)) == 0 && name[strlen(comm)] == '\n';
            fclose(f);
            if (!matches) continue;
            char pattern[4096];
            snprintf(pattern, sizeof pattern, "%.*s/task/*", (int)(strlen(processes.gl_pathv[p]) - 5), processes.gl_pathv[p]);
            glob_t tasks;
            if (glob(pattern, 0, NULL, &tasks) != 0) continue;
            for (size_t t = 0; t < tasks.gl_pathc; t++) {
                char path[4096], thread[64] = {0};
                snprintf(path, sizeof path, "%s/comm", tasks.gl_pathv[t]);
                FILE *c = fopen(path, "r");
                int vcpu = c && fgets(thread, sizeof thread, c) && strncmp(thread, "CPU ", 4) == 0;
                if (c) fclose(c);
                snprintf(path, sizeof path, "%s/schedstat", tasks.gl_pathv[t]);
                floor_files_add(files, path, 4096, 0, NULL);
                if (!vcpu) continue;
                snprintf(path, sizeof path, "%s/stat", tasks.gl_pathv[t]);
                floor_files_add(files, path, 4096, 0, NULL);
                snprintf(path, sizeof path, "%s/sched", tasks.gl_pathv[t]);
                floor_files_add(files, path, 8192, 0, NULL);
            }
            globfree(&tasks);
        }
        globfree(&processes);
    }
    glob_t cgroups;
    if (glob(cgroup_glob, 0, NULL, &cgroups) == 0) {
        for (size_t i = 0; i < cgroups.gl_pathc; i++) floor_files_add(files, cgroups.gl_pathv[i], 4096, 0, NULL);
        globfree(&cgroups);
    }
    floor_files_add(files, "/proc", 0, 1, "/proc (fstat)");
    floor_files_add(files, "/proc/stat", 65536, 0, "/proc/stat");
    floor_files_add(files, "/proc/interrupts", 65536, 0, "/proc/interrupts");
}

static inline long long floor_clock_ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static inline int floor_compare(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

// Sorts the passes' times, so [intervals / 2] is the median each benchmark reports.
static inline void floor_sort(long long *passes, int intervals) {
    qsort(passes, intervals, sizeof *passes, floor_compare);
}

#endif
