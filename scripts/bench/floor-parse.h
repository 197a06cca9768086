// The figures the live sampler takes from each counter file, parsed by plain C: what the cheapest
// reader that gives the sampler's figures costs above the pread floor (pread-floor.c runs both).
// Nothing is kept but a checksum; a file whose figures are not where they should be stops the
// benchmark, so a pass that is timed is a pass that found every figure.
//
// Per file, as the sampler parses it (Sources/HVTaxHost/Live/ProcCounters.swift):
//   schedstat      on-CPU ns, run delay ns, timeslices
//   stat           after the last ')': utime, stime, num_threads, processor, guest_time (fields 14, 15,
//                  20, 39, 43)
//   sched          se.nr_migrations, nr_voluntary_switches, nr_involuntary_switches: the lines found
//                  by a scan the first time, then checked where they were, the file read only from
//                  the newline before the first of them to the last plus 128 bytes (the sampler's
//                  SchedLayout and its readOffset)
//   cpu.stat       usage_usec, user_usec, system_usec
//   /proc/stat     every number of the cpu lines
//   /proc/interrupts  every count of every line
#ifndef HVTAX_FLOOR_PARSE_H
#define HVTAX_FLOOR_PARSE_H
#include "floor-files.h"

enum floor_kind { KIND_SCHEDSTAT, KIND_STAT, KIND_SCHED, KIND_CPU_STAT, KIND_PROC_STAT, KIND_INTERRUPTS, KIND_FOLDER, KIND_OTHER };

struct floor_parser {
    enum floor_kind kinds[FLOOR_MAX_FILES];
    // A sched file's wanted lines: where each starts (0: not found yet).
    int sched_lines[FLOOR_MAX_FILES][3];
    // How much of each file to read: the set's limit, and for a sched file once its lines are
    // found, up to the last of them plus 128 bytes, from the newline before the first of them.
    int read_limit[FLOOR_MAX_FILES];
    int read_offset[FLOOR_MAX_FILES];
    unsigned long long checksum;
};

static void floor_parser_init(const struct floor_files *files, struct floor_parser *p) {
    memset(p, 0, sizeof *p);
    for (int i = 0; i < files->count; i++) {
        const char *k = files->kind[i];
        p->kinds[i] = files->is_dir[i] ? KIND_FOLDER
            : strcmp(k, "schedstat") == 0 ? KIND_SCHEDSTAT : strcmp(k, "stat") == 0 ? KIND_STAT
            : strcmp(k, "sched") == 0 ? KIND_SCHED : strcmp(k, "cpu.stat") == 0 ? KIND_CPU_STAT
            : strcmp(k, "/proc/stat") == 0 ? KIND_PROC_STAT : strcmp(k, "/proc/interrupts") == 0 ? KIND_INTERRUPTS
            : KIND_OTHER;
        p->read_limit[i] = files->limits[i];
    }
}

static void floor_parse_failed(const struct floor_files *files, int i, const char *what) {
    fprintf(stderr, "floor parse: file %d (%s): %s\n", i, files->kind[i], what);
    exit(1);
}

// The decimal number at *at (which must start with a digit); *at moves past it.
static inline unsigned long long floor_number(const char *buf, int *at, int end) {
    unsigned long long v = 0;
    int i = *at;
    while (i < end && (unsigned)(buf[i] - '0') < 10) v = v * 10 + (unsigned)(buf[i++] - '0');
    *at = i;
    return v;
}

static inline int floor_skip_to_digit(const char *buf, int i, int end) {
    while (i < end && (unsigned)(buf[i] - '0') >= 10 && buf[i] != '\n') i++;
    return i;
}

// Every number up to the end of the line that starts at i; the line's end.
static inline int floor_line_numbers(const char *buf, int i, int end, unsigned long long *sum) {
    for (;;) {
        i = floor_skip_to_digit(buf, i, end);
        if (i >= end || buf[i] == '\n') return i;
        *sum += floor_number(buf, &i, end);
    }
}

// The value of the `key : value` line that starts at line, or -1 when the line has another key.
static inline long long floor_sched_value(const char *buf, int line, int n, const char *key, size_t len) {
    if (line + (int)len > n || memcmp(buf + line, key, len) != 0) return -1;
    int i = line + (int)len;
    while (i < n && (buf[i] == ' ' || buf[i] == ':')) i++;
    if (i >= n || (unsigned)(buf[i] - '0') >= 10) return -1;
    return (long long)floor_number(buf, &i, n);
}

// Where a parsing pass reads file i from, and up to which offset.
static inline int floor_parse_offset(const struct floor_parser *p, int i) { return p->read_offset[i]; }
static inline int floor_parse_limit(const struct floor_parser *p, int i) { return p->read_limit[i]; }

// Parses the n bytes of file i just read (from floor_parse_offset).
static void floor_parse(const struct floor_files *files, struct floor_parser *p, int i, const char *buf, int n) {
    static const char *sched_keys[3] = {"se.nr_migrations", "nr_voluntary_switches", "nr_involuntary_switches"};
    unsigned long long sum = 0;
    switch (p->kinds[i]) {
    case KIND_SCHEDSTAT: {
        int at = 0;
        for (int f = 0; f < 3; f++) {
            at = floor_skip_to_digit(buf, at, n);
            if (at >= n || buf[at] == '\n') floor_parse_failed(files, i, "fewer than 3 numbers");
            sum += floor_number(buf, &at, n);
        }
        break;
    }
    case KIND_STAT: {
        int close = n - 1;
        while (close >= 0 && buf[close] != ')') close--;
        if (close < 0) floor_parse_failed(files, i, "no ')'");
        // Field 3 starts after the space that follows ')'; field f after f - 2 spaces.
        const char *at = buf + close + 1, *end = buf + n;
        int field = 2;
        static const int wanted[] = {14, 15, 20, 39, 43};
        for (int w = 0; w < 5; w++) {
            while (field < wanted[w]) {
                at = memchr(at, ' ', (size_t)(end - at));
                if (!at) floor_parse_failed(files, i, "too few fields");
                at++;
                field++;
            }
            int j = (int)(at - buf);
            sum += floor_number(buf, &j, n);
            at = buf + j;
        }
        break;
    }
    case KIND_SCHED: {
        int *lines = p->sched_lines[i];
        int origin = p->read_offset[i];
        int known = lines[2] != 0;
        for (int k = 0; k < 3 && known; k++) {
            int at = lines[k] - origin;
            long long v = at >= 1 && buf[at - 1] == '\n' ? floor_sched_value(buf, at, n, sched_keys[k], strlen(sched_keys[k])) : -1;
            if (v < 0) known = 0;
            else sum += (unsigned long long)v;
        }
        if (known) break;
        if (origin > 0) floor_parse_failed(files, i, "the sched lines moved");
        // First time: scan every line (this pass read the whole prefix).
        for (int line = 0, found = 0; line < n && found < 3;) {
            for (int k = 0; k < 3; k++) {
                long long v = floor_sched_value(buf, line, n, sched_keys[k], strlen(sched_keys[k]));
                if (v >= 0) { lines[k] = line; sum += (unsigned long long)v; found++; }
            }
            const char *nl = memchr(buf + line, '\n', (size_t)(n - line));
            line = nl ? (int)(nl - buf) + 1 : n;
        }
        if (lines[2] == 0) floor_parse_failed(files, i, "no nr_involuntary_switches line");
        const char *nl = memchr(buf + lines[2], '\n', (size_t)(n - lines[2]));
        p->read_limit[i] = (nl ? (int)(nl - buf) : n) + 128;
        int first = lines[2];
        for (int k = 0; k < 2; k++) if (lines[k] > 0 && lines[k] < first) first = lines[k];
        p->read_offset[i] = first - 1;
        break;
    }
    case KIND_CPU_STAT: {
        static const char *keys[3] = {"usage_usec ", "user_usec ", "system_usec "};
        int found = 0;
        for (int line = 0; line < n;) {
            for (int k = 0; k < 3; k++) {
                size_t len = strlen(keys[k]);
                if (line + (int)len <= n && memcmp(buf + line, keys[k], len) == 0) {
                    int at = line + (int)len;
                    sum += floor_number(buf, &at, n);
                    found++;
                }
            }
            const char *nl = memchr(buf + line, '\n', (size_t)(n - line));
            line = nl ? (int)(nl - buf) + 1 : n;
        }
        if (found != 3) floor_parse_failed(files, i, "not usage_usec, user_usec and system_usec");
        break;
    }
    case KIND_PROC_STAT:
        for (int line = 0; line + 3 < n && memcmp(buf + line, "cpu", 3) == 0;) {
            line = floor_line_numbers(buf, line + 3, n, &sum) + 1;
        }
        break;
    case KIND_INTERRUPTS: {
        const char *nl = memchr(buf, '\n', (size_t)n);  // the header names the CPUs
        for (int line = nl ? (int)(nl - buf) + 1 : n; line < n;) {
            const char *colon = memchr(buf + line, ':', (size_t)(n - line));
            if (!colon) floor_parse_failed(files, i, "a line without ':'");
            line = floor_line_numbers(buf, (int)(colon - buf) + 1, n, &sum) + 1;
        }
        break;
    }
    case KIND_FOLDER:
    case KIND_OTHER:
        break;
    }
    p->checksum += sum;
}

#endif
