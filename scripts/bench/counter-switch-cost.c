// What hvtax's kvm tracepoint counters cost the threads they are attached to: the kernel switches a
// thread's perf events out and in with the thread, so every context switch of a counted vCPU
// thread pays for them, whether or not a kvm tracepoint ever fires on it.
//
//   counter-switch-cost [EVENTS] [ROUND_TRIPS] [ROUNDS]     default 18 200000 5; root
//
// Two threads pinned to one CPU pass a byte back and forth through two pipes (two context switches
// a round trip). Each round runs the ping-pong once with no events and once with EVENTS kvm
// tracepoint counters in one group on each of the two threads (counting mode, as hvtax opens them:
// kvm_pio, kvm_mmio, ... from tracefs), in alternating order, and prints the CPU time per context
// switch (the process's user+system time over the switches). Both threads carry counters, so each
// switch takes one counted thread off the CPU and puts one on: the difference is what a counted
// vCPU thread's switch costs more, when the thread it switches with is counted too.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *events[] = {
    "kvm_userspace_exit", "kvm_pio", "kvm_mmio", "kvm_fast_mmio", "kvm_cpuid", "kvm_msr", "kvm_hypercall",
    "kvm_emulate_insn", "kvm_page_fault", "kvm_inj_virq", "kvm_halt_poll_ns", "kvm_exit", "kvm_entry",
    "kvm_apic", "kvm_cr", "kvm_eoi", "kvm_fpu", "kvm_set_irq", "kvm_msi_set_irq", "kvm_pv_eoi",
};
enum { MAX_EVENTS = sizeof events / sizeof events[0] };

static int event_count = 18;
static long round_trips = 200000;
static int ping[2], pong[2];
static pthread_barrier_t ready;
static int with_counters;
static int counters_opened;  // by the last run with counters

static long tracepoint_id(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "/sys/kernel/tracing/events/kvm/%s/id", name);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long id = -1;
    if (fscanf(f, "%ld", &id) != 1) id = -1;
    fclose(f);
    return id;
}

// Opens EVENTS counters as one group on the calling thread; returns how many opened.
static int attach(int fds[]) {
    int leader = -1, n = 0;
    for (int i = 0; i < MAX_EVENTS && n < event_count; i++) {
        long id = tracepoint_id(events[i]);
        if (id < 0) continue;
        struct perf_event_attr attr = {0};
        attr.type = PERF_TYPE_TRACEPOINT;
        attr.size = sizeof attr;
        attr.config = (unsigned long long)id;
        attr.disabled = leader < 0;
        attr.read_format = PERF_FORMAT_GROUP;
        int fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, leader, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0) { fprintf(stderr, "perf_event_open(kvm:%s): %s\n", events[i], strerror(errno)); exit(1); }
        if (leader < 0) leader = fd;
        fds[n++] = fd;
    }
    if (leader >= 0) ioctl(leader, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
    return n;
}

static void pin(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static void *partner(void *arg) {
    (void)arg;
    pin();
    int fds[MAX_EVENTS];
    int n = with_counters ? attach(fds) : 0;
    pthread_barrier_wait(&ready);
    char byte;
    for (long i = 0; i < round_trips; i++) {
        if (read(ping[0], &byte, 1) != 1 || write(pong[1], &byte, 1) != 1) { perror("partner"); exit(1); }
    }
    for (int i = 0; i < n; i++) close(fds[i]);
    return NULL;
}

static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

// One ping-pong; the CPU time per context switch in ns.
static double run(int counters) {
    with_counters = counters;
    if (pipe(ping) || pipe(pong)) { perror("pipe"); exit(1); }
    pthread_barrier_init(&ready, NULL, 2);
    pthread_t thread;
    pthread_create(&thread, NULL, partner, NULL);
    int fds[MAX_EVENTS];
    int n = counters ? attach(fds) : 0;
    if (counters) counters_opened = n;
    pthread_barrier_wait(&ready);
    double start = cpu_seconds();
    char byte = 'x';
    for (long i = 0; i < round_trips; i++) {
        if (write(ping[1], &byte, 1) != 1 || read(pong[0], &byte, 1) != 1) { perror("ping"); exit(1); }
    }
    double spent = cpu_seconds() - start;
    pthread_join(thread, NULL);
    for (int i = 0; i < n; i++) close(fds[i]);
    close(ping[0]); close(ping[1]); close(pong[0]); close(pong[1]);
    pthread_barrier_destroy(&ready);
    return spent * 1e9 / (2.0 * round_trips);
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc > 1) event_count = atoi(argv[1]);
    if (argc > 2) round_trips = atol(argv[2]);
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (event_count < 1 || event_count > MAX_EVENTS || round_trips < 1 || rounds < 1) {
        fprintf(stderr, "usage: %s [EVENTS 1-%d] [ROUND_TRIPS] [ROUNDS]\n", argv[0], (int)MAX_EVENTS);
        return 2;
    }
    pin();
    double bare[64], counted[64];
    if (rounds > 64) rounds = 64;
    for (int r = 0; r < rounds; r++) {
        // Alternating which goes first, so a drift of the machine falls on both alike.
        if (r % 2 == 0) { bare[r] = run(0); counted[r] = run(1); }
        else { counted[r] = run(1); bare[r] = run(0); }
        printf("round %d: %.0f ns a switch bare, %.0f ns with %d counters on each thread\n", r + 1, bare[r], counted[r], counters_opened);
    }
    double diff[64];
    for (int r = 0; r < rounds; r++) diff[r] = counted[r] - bare[r];
    qsort(bare, rounds, sizeof *bare, compare);
    qsort(counted, rounds, sizeof *counted, compare);
    qsort(diff, rounds, sizeof *diff, compare);
    printf("median: %.0f ns a context switch bare, %.0f ns with %d kvm tracepoint counters on the thread: %+.0f ns a switch (median of the rounds' differences)\n",
           bare[rounds / 2], counted[rounds / 2], counters_opened, diff[rounds / 2]);
    return 0;
}
