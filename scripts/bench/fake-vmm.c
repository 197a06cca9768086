// A stand-in QEMU for the live sampler's benchmark on the real procfs (live-sampler-real.sh): a
// process the sampler discovers as a VM by the same rules as a real one, with the thread shape of
// gen-proc-tree.py's bench tree, so the two benchmarks read the same kinds and numbers of files.
//
//   qemu-system-x86_64 -name guest=NAME,debug-threads=on -smp VCPUS [-cgroup PROCS_FILE] [-wake-ms MS]
//
// The binary is copied under the name qemu-system-x86_64, so the kernel's comm for it is
// `qemu-system-x86`, as for QEMU. Threads: the main one, `call_rcu`, `IO iothread1` and VCPUS named
// `CPU N/KVM` (QEMU's names with debug-threads=on). Each vCPU thread wakes every MS milliseconds
// (default 1000, staggered by vCPU index) and runs for ~20 us, so its schedstat, stat and sched
// move between samples as a mostly idle guest's do, without loading the host.
//
// -cgroup: the process writes its pid into that cgroup.procs before it makes any thread, so every
// thread starts in the VM's cgroup. It dies with its parent (PR_SET_PDEATHSIG), so a benchmark
// killed hard leaves no VMs behind.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static long wake_ns = 1000000000L;

static void spin_us(long us) {
    struct timespec start, now;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    do {
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < us * 1000);
}

static void *vcpu_main(void *arg) {
    long index = (long)arg;
    char name[16];
    snprintf(name, sizeof name, "CPU %ld/KVM", index);
    pthread_setname_np(pthread_self(), name);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    next.tv_nsec += (index * 37000000L) % wake_ns;  // staggered: not every vCPU of every VM at once
    for (;;) {
        next.tv_nsec += wake_ns;
        while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {}
        spin_us(20);
    }
    return NULL;
}

static void *idle_main(void *arg) {
    pthread_setname_np(pthread_self(), (const char *)arg);
    for (;;) pause();
    return NULL;
}

static void start(void *(*body)(void *), void *arg) {
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    if (pthread_create(&thread, &attr, body, arg) != 0) { perror("pthread_create"); exit(1); }
}

int main(int argc, char **argv) {
    long vcpus = -1;
    const char *cgroup = NULL;
    int named = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-smp") == 0) vcpus = atol(argv[i + 1]);
        else if (strcmp(argv[i], "-cgroup") == 0) cgroup = argv[i + 1];
        else if (strcmp(argv[i], "-wake-ms") == 0) wake_ns = atol(argv[i + 1]) * 1000000L;
        else if (strcmp(argv[i], "-name") == 0) named = 1;
    }
    if (vcpus < 1 || !named || wake_ns <= 0 || wake_ns > 10000000000L) {
        fprintf(stderr, "usage: %s -name guest=NAME,debug-threads=on -smp VCPUS [-cgroup PROCS_FILE] [-wake-ms 1..9999]\n", argv[0]);
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1) return 0;  // the parent died before the line above
    if (cgroup) {
        int fd = open(cgroup, O_WRONLY);
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%d\n", getpid());
        if (fd < 0 || write(fd, pid, n) != n) { fprintf(stderr, "%s: %s\n", cgroup, strerror(errno)); return 1; }
        close(fd);
    }
    start(idle_main, "call_rcu");
    start(idle_main, "IO iothread1");
    for (long c = 0; c < vcpus; c++) start(vcpu_main, (void *)c);
    for (;;) pause();
}
