// GNU extensions Swift's Glibc module does not expose (see include/CKVM.h); everything else CKVM
// offers is constants and static inline wrappers in the header.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "CKVM.h"

int ckvm_set_current_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}

int ckvm_pin_current_thread(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) {
        errno = EINVAL;
        return -1;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
}

int ckvm_gettid(void) {
    return gettid();
}

int ckvm_current_cpu(void) {
    return sched_getcpu();
}

int ckvm_wait_readable(int fd, int64_t timeout_ns) {
    if (timeout_ns < 0) timeout_ns = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    struct timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
    // EINTR (a kick) goes back to the caller, which recomputes the time left.
    return ppoll(&p, 1, &ts, NULL);
}
