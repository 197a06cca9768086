// Benchmark: what reading the live sampler's counter files costs through a descriptor table other
// threads share, against a table the reading thread has to itself, as the sampler's reading thread
// makes it (close_range(3, ~0U, CLOSE_RANGE_UNSHARE): Sources/HVTaxHost/Live/PrivateFileTableThread.swift).
//
//   cc -O2 -o fd-table scripts/bench/fd-table.c -lpthread
//   ./fd-table TREE [ROUNDS (60)] [PAUSE_MS (400)]     TREE: live-sampler.sh's tree-100-8
//
// Two threads of one process each open the set of files pread-floor.c reads (floor-files.h): one in
// the process's table, which the main thread shares with it, one in a table of its own. They take
// turns, a pass each per round, PAUSE_MS apart (so each pass finds the files' kernel data as cold as
// a sample a second does), the order swapped every round. Prints each thread's mean CPU per pass and
// the ratio. Where the table is shared, every read takes the file's reference count up and down
// again (fdget's slow path, two atomic operations and an RCU section); alone, it looks the file up.
#include "floor-files.h"
#include <linux/close_range.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/syscall.h>

struct reader {
    const char *tree;
    int private_table;
    sem_t go, done;
    long long total_ns;
    struct floor_files files;
};

static void *reader_main(void *arg) {
    struct reader *r = arg;
    if (r->private_table && syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_UNSHARE) != 0) {
        perror("close_range(CLOSE_RANGE_UNSHARE)");
        exit(1);
    }
    floor_files_open(r->tree, &r->files);
    static __thread char buffer[65536];
    sem_post(&r->done);
    for (;;) {
        sem_wait(&r->go);
        long long start = floor_clock_ns(CLOCK_THREAD_CPUTIME_ID);
        for (int i = 0; i < r->files.count; i++) {
            if (r->files.is_dir[i]) continue;
            if (syscall(SYS_pread64, r->files.fds[i], buffer, r->files.limits[i], 0) < 0) { perror("pread"); exit(1); }
        }
        r->total_ns += floor_clock_ns(CLOCK_THREAD_CPUTIME_ID) - start;
        sem_post(&r->done);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s TREE [ROUNDS] [PAUSE_MS]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 60, pause_ms = argc > 3 ? atoi(argv[3]) : 400;
    static struct reader readers[2];
    for (int k = 0; k < 2; k++) {
        readers[k].tree = argv[1];
        readers[k].private_table = k;
        sem_init(&readers[k].go, 0, 0);
        sem_init(&readers[k].done, 0, 0);
        pthread_t thread;
        pthread_create(&thread, NULL, reader_main, &readers[k]);
        sem_wait(&readers[k].done);
    }
    if (readers[0].files.count == 0) { fprintf(stderr, "no counter files under %s\n", argv[1]); return 1; }
    for (int round = 0; round < rounds; round++) {
        for (int turn = 0; turn < 2; turn++) {
            struct reader *r = &readers[(round & 1) ? 1 - turn : turn];
            sem_post(&r->go);
            sem_wait(&r->done);
            usleep((useconds_t)pause_ms * 1000);
        }
    }
    double shared = readers[0].total_ns / 1e3 / rounds, own = readers[1].total_ns / 1e3 / rounds;
    printf("%d files, %d rounds %d ms apart: shared table %.0f us a pass, own table %.0f us a pass, own/shared %.3f\n",
           readers[0].files.count, rounds, pause_ms, shared, own, own / shared);
    return 0;
}
