// The pread floor again, with the reads batched through io_uring: would saving the ~2,900 system
// call entries per sample bring the live sampler's floor down? (docs/live.md: it does not; the cost
// is the kernel's work per file, not the entry.) Run by hand beside pread-floor:
//
//   cc -O2 -o uring-floor scripts/bench/uring-floor.c
//   uring-floor TREE INTERVALS [fixed]     prints the CPU time of each pass's median
//
// The same files as pread-floor.c (every thread's schedstat; a vCPU thread's stat and the first
// 2.7 KB of its sched; each VM's cgroup cpu.stat; /proc/stat and /proc/interrupts; an fstat of each
// VM's task folder, done directly as the sampler does), each read at offset 0 into its own buffer by
// one IORING_OP_READ; all of a pass submitted and reaped with one io_uring_enter per 2,048 reads.
// With "fixed", the descriptors are registered (IORING_REGISTER_FILES), so the kernel skips the
// descriptor table look-up per read. The time is CLOCK_PROCESS_CPUTIME_ID: a read the kernel
// cannot finish inline goes to an io-wq worker thread of this process, whose time must count too.
// Raw system calls (no liburing): only linux/io_uring.h is needed.
#define _GNU_SOURCE
#include <fcntl.h>
#include <glob.h>
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long process_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s TREE INTERVALS [fixed]\n", argv[0]); return 2; }
    const char *tree = argv[1];
    int intervals = atoi(argv[2]);
    int fixed = argc > 3 && strcmp(argv[3], "fixed") == 0;
    struct { const char *pattern; int limit; int is_dir; } sets[] = {
        {"/proc/*/task/*/schedstat", 4096, 0}, {"/proc/*/task/*1[0-7]/stat", 4096, 0},
        {"/proc/*/task/*1[0-7]/sched", 2700, 0}, {"/sys/fs/cgroup/machine.slice/*/cpu.stat", 4096, 0},
        {"/proc/[1-9]*00/task", 0, 1}, {"/proc/stat", 65536, 0}, {"/proc/interrupts", 65536, 0},
    };
    static int fds[20000], limits[20000], dirs[20000];
    static size_t offsets[20000];
    int n = 0, reads = 0;
    size_t total = 0;
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        char pattern[4096];
        snprintf(pattern, sizeof pattern, "%s%s", tree, sets[s].pattern);
        glob_t g;
        if (glob(pattern, 0, NULL, &g) != 0) continue;
        for (size_t i = 0; i < g.gl_pathc && n < 20000; i++) {
            int fd = open(g.gl_pathv[i], O_RDONLY | O_NOATIME | (sets[s].is_dir ? O_DIRECTORY : 0));
            if (fd < 0) continue;
            fds[n] = fd; limits[n] = sets[s].limit; dirs[n] = sets[s].is_dir; offsets[n] = total;
            total += sets[s].limit;
            reads += !sets[s].is_dir;
            n++;
        }
        globfree(&g);
    }
    char *buffer = malloc(total);

    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int ring = (int)syscall(__NR_io_uring_setup, 4096, &p);
    if (ring < 0) { perror("io_uring_setup"); return 1; }
    size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP) sq_size = cq_size = sq_size > cq_size ? sq_size : cq_size;
    char *sq = mmap(0, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
    char *cq = (p.features & IORING_FEAT_SINGLE_MMAP) ? sq
        : mmap(0, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
    struct io_uring_sqe *sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                                     MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
    if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) { perror("mmap"); return 1; }
    unsigned *sq_tail = (unsigned *)(sq + p.sq_off.tail), *sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    unsigned *sq_array = (unsigned *)(sq + p.sq_off.array);
    unsigned *cq_head = (unsigned *)(cq + p.cq_off.head), *cq_tail = (unsigned *)(cq + p.cq_off.tail);
    unsigned *cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    if (fixed && syscall(__NR_io_uring_register, ring, IORING_REGISTER_FILES, fds, n) < 0) {
        perror("IORING_REGISTER_FILES");
        return 1;
    }

    long long *passes = calloc(intervals, sizeof *passes);
    for (int r = 0; r < intervals; r++) {
        sleep(1);
        long long start = process_ns();
        int next = 0, done = 0;
        long failed = 0;
        for (int i = 0; i < n; i++) {
            if (dirs[i]) { struct stat st; fstat(fds[i], &st); }
        }
        while (done < reads) {
            unsigned tail = *sq_tail;
            int batch = 0;
            for (; next < n && batch < 2048; next++) {
                if (dirs[next]) continue;
                struct io_uring_sqe *e = &sqes[tail & *sq_mask];
                memset(e, 0, sizeof *e);
                e->opcode = IORING_OP_READ;
                e->fd = fixed ? next : fds[next];
                e->flags = fixed ? IOSQE_FIXED_FILE : 0;
                e->addr = (unsigned long)(buffer + offsets[next]);
                e->len = limits[next];
                e->off = 0;
                e->user_data = next;
                sq_array[tail & *sq_mask] = tail & *sq_mask;
                tail++;
                batch++;
            }
            atomic_store_explicit((_Atomic unsigned *)sq_tail, tail, memory_order_release);
            if (syscall(__NR_io_uring_enter, ring, batch, batch, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
                perror("io_uring_enter");
                return 1;
            }
            unsigned head = *cq_head, end = atomic_load_explicit((_Atomic unsigned *)cq_tail, memory_order_acquire);
            for (; head != end; head++, done++) failed += cqes[head & *cq_mask].res < 0;
            atomic_store_explicit((_Atomic unsigned *)cq_head, head, memory_order_release);
        }
        if (failed) { fprintf(stderr, "%ld reads failed\n", failed); return 1; }
        passes[r] = process_ns() - start;
    }
    qsort(passes, intervals, sizeof *passes, cmp);
    printf("io_uring floor (C, %s descriptors, the same %d files, nothing parsed) over %d intervals of 1 s: median %.2f ms, min %.2f ms = %.3f%% of one core\n",
           fixed ? "registered" : "plain", n, intervals, passes[intervals / 2] / 1e6, passes[0] / 1e6, passes[intervals / 2] / 1e7);
    return 0;
}
