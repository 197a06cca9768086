// The floor under the live sampler's cost: the same counter files of a generated host tree, kept
// open and re-read with pread at offset 0 once per interval, by a C loop that parses nothing; and,
// in the seconds between, a C reader that parses out of them the figures the sampler takes
// (floor-parse.h), the cheapest reader of these figures, with nothing else around it.
// Built and run by scripts/bench/live-sampler.sh beside hvtax:
//
//   pread-floor TREE INTERVALS          prints the median CPU time of a pass of each and the fastest
//   pread-floor --vms COMM CGROUP_GLOB INTERVALS
//                                       the same on the real procfs (live-sampler-real.sh)
//
// Then, for either, what each kind of file costs (a pass over it alone, not parsed).
//
//   pread-floor snapshot --root TREE --interval 1s --count N --format json
//                                       the C reader alone, answering the command line of
//                                       `hvtax snapshot` and printing each pass as hvtax prints a
//                                       sample's cost (`{"sampler":{"cpuNs":...}}`), so that
//                                       ab-sampler.py pairs hvtax with it second by second
//
// The files are floor-files.h's: the set the sampler reads on that tree, or on the real host.
#include "floor-files.h"
#include "floor-parse.h"
#include <sys/stat.h>

// One pass over the files (only those of KIND unless it is NULL); its CPU time in ns. With a
// PARSER, each file is read up to the parser's limit and the sampler's figures parsed out of it
// (the C reader); without, read up to the set's limit and left as read (the floor).
static long long pass(const struct floor_files *files, const char *kind, struct floor_parser *parser) {
    static char buffer[65536] __attribute__((aligned(64)));
    long long start = floor_clock_ns(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < files->count; i++) {
        if (kind && strcmp(files->kind[i], kind) != 0) continue;
        if (files->is_dir[i]) { struct stat st; fstat(files->fds[i], &st); continue; }
        int offset = parser ? floor_parse_offset(parser, i) : 0;
        // Read to the same place within a cache line as the offset in the file: the kernel's copy
        // (rep movsb) runs at a fraction of its speed when source and destination are not aligned
        // alike, which cost a read from the middle of a sched file more than the bytes it skipped.
        char *into = buffer + (offset & 63);
        ssize_t n = pread(files->fds[i], into, (parser ? floor_parse_limit(parser, i) : files->limits[i]) - offset, offset);
        if (n < 0) { perror("pread"); exit(1); }
        if (parser) floor_parse(files, parser, i, into, (int)n);
    }
    return floor_clock_ns(CLOCK_THREAD_CPUTIME_ID) - start;
}

// The C reader in `hvtax snapshot`'s place: N + 1 passes (the first finds the sched lines, as
// hvtax's first sample opens the files), one a second on the second's deadline as hvtax's interval
// timer does, each pass after the first printed as one JSON object.
static int snapshot_mode(int argc, char **argv) {
    const char *root = NULL;
    int count = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--root") == 0) root = argv[i + 1];
        else if (strcmp(argv[i], "--count") == 0) count = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--interval") == 0 && strcmp(argv[i + 1], "1s") != 0) {
            fprintf(stderr, "%s snapshot: only --interval 1s, not '%s'\n", argv[0], argv[i + 1]);
            return 2;
        } else if (strcmp(argv[i], "--format") == 0 && strcmp(argv[i + 1], "json") != 0) {
            fprintf(stderr, "%s snapshot: only --format json, not '%s'\n", argv[0], argv[i + 1]);
            return 2;
        }
    }
    if (!root || count < 1) {
        fprintf(stderr, "usage: %s snapshot --root TREE --interval 1s --count N --format json\n", argv[0]);
        return 2;
    }
    static struct floor_files files;
    static struct floor_parser parser;
    floor_files_open(root, &files);
    if (files.count == 0) { fprintf(stderr, "%s snapshot: no counter files under %s\n", argv[0], root); return 1; }
    floor_parser_init(&files, &parser);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    for (int r = 0; r <= count; r++) {
        long long ns = pass(&files, NULL, &parser);
        if (r > 0) {
            printf("{\"sampler\":{\"cpuNs\":%lld,\"filesRead\":%d},\"intervalNs\":1000000000}\n", ns, files.count);
            fflush(stdout);
        }
        if (r == count) break;
        deadline.tv_sec += 1;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) != 0) {}
    }
    return parser.checksum == 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "snapshot") == 0) return snapshot_mode(argc, argv);
    int real = argc == 5 && strcmp(argv[1], "--vms") == 0;
    if (argc != 3 && !real) {
        fprintf(stderr, "usage: %s TREE INTERVALS\n       %s --vms COMM CGROUP_GLOB INTERVALS\n", argv[0], argv[0]);
        return 2;
    }
    int intervals = atoi(argv[argc - 1]);
    if (intervals < 1) { fprintf(stderr, "%s: INTERVALS must be a positive number, not '%s'\n", argv[0], argv[argc - 1]); return 2; }
    static struct floor_files files;
    if (real) floor_files_open_vms(argv[2], argv[3], &files);
    else floor_files_open(argv[1], &files);
    if (files.count == 0) { fprintf(stderr, "%s: no counter files found (%s)\n", argv[0], real ? argv[3] : argv[1]); return 1; }
    static struct floor_parser parser;
    floor_parser_init(&files, &parser);
    pass(&files, NULL, &parser);  // finds the sched lines, as the sampler's first sample does
    // The two kinds of pass take turns, a second apart, so both meet the same minute of the machine.
    long long *passes = calloc(intervals, sizeof *passes), *parsed = calloc(intervals, sizeof *parsed);
    for (int r = 0; r < intervals; r++) {
        sleep(1);
        passes[r] = pass(&files, NULL, NULL);
        sleep(1);
        parsed[r] = pass(&files, NULL, &parser);
    }
    floor_sort(passes, intervals);
    floor_sort(parsed, intervals);
    double passes_mean = 0, parsed_mean = 0;
    for (int r = 0; r < intervals; r++) { passes_mean += passes[r] / (double)intervals; parsed_mean += parsed[r] / (double)intervals; }
    printf("pread floor (C, the same %d files, nothing parsed) over %d intervals of 1 s: median %.2f ms, min %.2f ms = %.3f%% of one core (median), %.3f%% (mean)\n",
           files.count, intervals, passes[intervals / 2] / 1e6, passes[0] / 1e6, passes[intervals / 2] / 1e7, passes_mean / 1e7);
    printf("C reader (the same files, the sampler's figures parsed, nothing kept) over %d intervals: median %.2f ms, min %.2f ms = %.3f%% of one core (median), %.3f%% (mean)\n",
           intervals, parsed[intervals / 2] / 1e6, parsed[0] / 1e6, parsed[intervals / 2] / 1e7, parsed_mean / 1e7);
    if (parser.checksum == 0) { fprintf(stderr, "C reader: every figure zero\n"); return 1; }
    {
        // What each kind of file costs the kernel here: a pass over that kind alone, a second apart
        // (cold, as in the sampler), the median of three.
        const char *seen[64];
        int kinds = 0;
        for (int i = 0; i < files.count && kinds < 64; i++) {
            int known = 0;
            for (int k = 0; k < kinds; k++) known |= strcmp(seen[k], files.kind[i]) == 0;
            if (!known) seen[kinds++] = files.kind[i];
        }
        for (int k = 0; k < kinds; k++) {
            long long alone[3];
            int n = 0;
            for (int i = 0; i < files.count; i++) n += strcmp(files.kind[i], seen[k]) == 0;
            for (int r = 0; r < 3; r++) {
                sleep(1);
                alone[r] = pass(&files, seen[k], NULL);
            }
            floor_sort(alone, 3);
            printf("  %-16s %5d files: %6.2f ms a pass, %5.2f us a file\n", seen[k], n, alone[1] / 1e6, alone[1] / 1e3 / n);
        }
    }
    return 0;
}
