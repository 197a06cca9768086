// The pread floor again, with the reads batched through io_uring: would saving the ~2,900 system
// call entries per sample bring the live sampler's floor down? (docs/live.md: it does not; the cost
// is the kernel's work per file, not the entry.) Run by hand beside pread-floor:
//
//   cc -O2 -o uring-floor scripts/bench/uring-floor.c
//   uring-floor TREE INTERVALS [fixed]     prints the median CPU time of a pass
//
// The files are floor-files.h's, as in pread-floor.c; the task folders get their fstat directly, as
// the sampler does. Each file is read at offset 0 into its own buffer by one IORING_OP_READ; all of
// a pass submitted and reaped with one io_uring_enter per 2,048 reads. With "fixed", the
// descriptors are registered (IORING_REGISTER_FILES), so the kernel skips the descriptor table
// look-up per read. The time is CLOCK_PROCESS_CPUTIME_ID: a read the kernel cannot finish inline
// goes to an io-wq worker thread of this process, whose time must count too. Raw system calls (no
// liburing): only linux/io_uring.h is needed.
#include "floor-files.h"
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s TREE INTERVALS [fixed]\n", argv[0]); return 2; }
    const char *tree = argv[1];
    int intervals = atoi(argv[2]);
    int fixed = argc > 3 && strcmp(argv[3], "fixed") == 0;
    static struct floor_files files;
    floor_files_open(tree, &files);
    static size_t offsets[FLOOR_MAX_FILES];
    int n = files.count, reads = 0;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        offsets[i] = total;
        total += files.limits[i];
        reads += !files.is_dir[i];
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
    if (fixed && syscall(__NR_io_uring_register, ring, IORING_REGISTER_FILES, files.fds, n) < 0) {
        perror("IORING_REGISTER_FILES");
        return 1;
    }

    long long *passes = calloc(intervals, sizeof *passes);
    for (int r = 0; r < intervals; r++) {
        sleep(1);
        long long start = floor_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
        int next = 0, done = 0;
        long failed = 0;
        for (int i = 0; i < n; i++) {
            if (files.is_dir[i]) { struct stat st; fstat(files.fds[i], &st); }
        }
        while (done < reads) {
            unsigned tail = *sq_tail;
            int batch = 0;
            for (; next < n && batch < 2048; next++) {
                if (files.is_dir[next]) continue;
                struct io_uring_sqe *e = &sqes[tail & *sq_mask];
                memset(e, 0, sizeof *e);
                e->opcode = IORING_OP_READ;
                e->fd = fixed ? next : files.fds[next];
                e->flags = fixed ? IOSQE_FIXED_FILE : 0;
                e->addr = (unsigned long)(buffer + offsets[next]);
                e->len = files.limits[next];
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
        passes[r] = floor_clock_ns(CLOCK_PROCESS_CPUTIME_ID) - start;
    }
    floor_sort(passes, intervals);
    printf("io_uring floor (C, %s descriptors, the same %d files, nothing parsed) over %d intervals of 1 s: median %.2f ms, min %.2f ms = %.3f%% of one core\n",
           fixed ? "registered" : "plain", n, intervals, passes[intervals / 2] / 1e6, passes[0] / 1e6, passes[intervals / 2] / 1e7);
    return 0;
}
