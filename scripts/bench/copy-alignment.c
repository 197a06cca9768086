// Benchmark: what the place of the read buffer within a 64-byte line costs a pass over the live
// sampler's counter files (the set pread-floor.c reads, floor-files.h). The kernel copies a read out
// with `rep movsb`, whose speed depends on how source (the page cache, a file read from offset 0
// starts at a line) and destination are aligned to each other; where a Swift array's bytes start is
// up to the allocator, hence OpenCounterFiles.alignedStart.
//
//   cc -O2 -o copy-alignment scripts/bench/copy-alignment.c
//   ./copy-alignment TREE [PASSES (40)]     TREE: live-sampler.sh's tree-100-8
//
// Reads every file PASSES times into a buffer 0, 16, 32 and 48 bytes past a line, taking turns
// within each pass, and prints the mean CPU per pass at each place.
#include "floor-files.h"
#include <sys/syscall.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s TREE [PASSES]\n", argv[0]);
        return 2;
    }
    int passes = argc > 2 ? atoi(argv[2]) : 40;
    static struct floor_files files;
    floor_files_open(argv[1], &files);
    if (files.count == 0) { fprintf(stderr, "no counter files under %s\n", argv[1]); return 1; }
    static char buffer[65536 + 64] __attribute__((aligned(4096)));
    static const int places[4] = {0, 16, 32, 48};
    long long total[4] = {0};
    for (int pass = 0; pass < passes; pass++) {
        for (int k = 0; k < 4; k++) {
            long long start = floor_clock_ns(CLOCK_THREAD_CPUTIME_ID);
            for (int i = 0; i < files.count; i++) {
                if (files.is_dir[i]) continue;
                if (syscall(SYS_pread64, files.fds[i], buffer + places[k], files.limits[i], 0) < 0) { perror("pread"); return 1; }
            }
            total[k] += floor_clock_ns(CLOCK_THREAD_CPUTIME_ID) - start;
        }
    }
    printf("%d files, %d passes:", files.count, passes);
    for (int k = 0; k < 4; k++) printf(" +%d bytes %.0f us%s", places[k], total[k] / 1e3 / passes, k < 3 ? "," : "\n");
    return 0;
}
