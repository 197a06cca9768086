// GNU extensions Swift's Glibc module does not expose (see include/CKVM.h); everything else CKVM
// offers is constants and static inline wrappers in the header.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>

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

int ckvm_perf_tracepoint_open(uint64_t tracepoint_id, int tid, int group_fd) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.config = tracepoint_id;
    attr.sample_period = 0;
    attr.read_format = PERF_FORMAT_GROUP;
    // The leader starts disabled, so the group is enabled at once when complete; members follow it.
    attr.disabled = group_fd < 0 ? 1 : 0;
    attr.inherit = 0;
    return (int)syscall(SYS_perf_event_open, &attr, (pid_t)tid, -1, group_fd, PERF_FLAG_FD_CLOEXEC);
}

int ckvm_perf_set_filter(int fd, const char *filter) {
    return ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter);
}

int ckvm_perf_enable_group(int leader_fd) {
    return ioctl(leader_fd, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
}

int ckvm_perf_read_group(int leader_fd, uint64_t *values, int capacity) {
    // PERF_FORMAT_GROUP without other flags: u64 nr, then nr u64 values.
    uint64_t buffer[1 + 256];
    ssize_t n = read(leader_fd, buffer, sizeof buffer);
    if (n < (ssize_t)sizeof(uint64_t)) {
        if (n >= 0) errno = EIO;
        return -1;
    }
    uint64_t count = buffer[0];
    if ((size_t)n < (1 + count) * sizeof(uint64_t)) {
        errno = EIO;
        return -1;
    }
    for (uint64_t i = 0; i < count && (int)i < capacity; i++) values[i] = buffer[1 + i];
    return (int)count;
}
