// CKVM: only what Swift cannot reach on its own.
//
// - The ioctl request numbers of <linux/kvm.h> are function-like macros (_IO/_IOR/_IOW/_IOWR), which
//   the Swift importer drops; each one becomes a `static const unsigned long` here.
// - The kernel structs (kvm_run with its anonymous unions, kvm_regs, kvm_sregs,
//   kvm_userspace_memory_region, kvm_stats_header, kvm_stats_desc) come straight from the header.
// - RDTSC and CPUID are instructions: Swift has no inline assembly, so two tiny inline wrappers.
// - A few GNU extensions that Swift's Glibc module hides (it is built without _GNU_SOURCE):
//   thread names, CPU affinity, gettid, sched_getcpu, ppoll. They live in CKVM.c.
//
// - perf_event_open has no libc wrapper (and syscall(2) is variadic, which Swift cannot call), and
//   its ioctls are _IO macros: ckvm_perf_* below, used by hvtax's kvm tracepoint counters.
#ifndef CKVM_H
#define CKVM_H

#include <linux/close_range.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

// System ioctls (on the /dev/kvm fd).
static const unsigned long CKVM_GET_API_VERSION = KVM_GET_API_VERSION;
static const unsigned long CKVM_CREATE_VM = KVM_CREATE_VM;
static const unsigned long CKVM_CHECK_EXTENSION = KVM_CHECK_EXTENSION;
static const unsigned long CKVM_GET_VCPU_MMAP_SIZE = KVM_GET_VCPU_MMAP_SIZE;

// VM ioctls.
static const unsigned long CKVM_CREATE_VCPU = KVM_CREATE_VCPU;
static const unsigned long CKVM_SET_USER_MEMORY_REGION = KVM_SET_USER_MEMORY_REGION;
static const unsigned long CKVM_SET_TSS_ADDR = KVM_SET_TSS_ADDR;
static const unsigned long CKVM_GET_STATS_FD = KVM_GET_STATS_FD;

// vCPU ioctls.
static const unsigned long CKVM_RUN = KVM_RUN;
static const unsigned long CKVM_GET_REGS = KVM_GET_REGS;
static const unsigned long CKVM_SET_REGS = KVM_SET_REGS;
static const unsigned long CKVM_GET_SREGS = KVM_GET_SREGS;
static const unsigned long CKVM_SET_SREGS = KVM_SET_SREGS;
static const unsigned long CKVM_GET_TSC_KHZ = KVM_GET_TSC_KHZ;

// Capabilities asked with KVM_CHECK_EXTENSION.
static const int CKVM_CAP_USER_MEMORY = KVM_CAP_USER_MEMORY;
static const int CKVM_CAP_SET_TSS_ADDR = KVM_CAP_SET_TSS_ADDR;
static const int CKVM_CAP_IMMEDIATE_EXIT = KVM_CAP_IMMEDIATE_EXIT;
static const int CKVM_CAP_BINARY_STATS_FD = KVM_CAP_BINARY_STATS_FD;
static const int CKVM_CAP_GET_TSC_KHZ = KVM_CAP_GET_TSC_KHZ;
static const int CKVM_API_VERSION = KVM_API_VERSION;

// Binary statistics flag fields, so Swift's table can be checked against the kernel header.
static const uint32_t CKVM_STATS_TYPE_MASK = KVM_STATS_TYPE_MASK;
static const uint32_t CKVM_STATS_UNIT_MASK = KVM_STATS_UNIT_MASK;
static const uint32_t CKVM_STATS_BASE_MASK = KVM_STATS_BASE_MASK;
static const uint32_t CKVM_STATS_TYPE_LINEAR_HIST = KVM_STATS_TYPE_LINEAR_HIST;
static const uint32_t CKVM_STATS_TYPE_LOG_HIST = KVM_STATS_TYPE_LOG_HIST;
static const uint32_t CKVM_STATS_UNIT_SECONDS = KVM_STATS_UNIT_SECONDS;
static const uint32_t CKVM_STATS_UNIT_BOOLEAN = KVM_STATS_UNIT_BOOLEAN;
static const uint32_t CKVM_STATS_BASE_POW2 = KVM_STATS_BASE_POW2;

/// The time-stamp counter, ordered: LFENCE keeps RDTSC from running ahead of earlier instructions
/// (on AMD only with the LFENCE-serializing MSR bit Linux sets), so a timed region starts after
/// what precedes it.
static inline uint64_t ckvm_rdtsc_ordered(void) {
    uint32_t lo, hi;
    __asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

/// CPUID leaf/subleaf into out[0..3] = eax, ebx, ecx, edx.
static inline void ckvm_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(subleaf));
    out[0] = a; out[1] = b; out[2] = c; out[3] = d;
}

/// perf_event_open(2) for one tracepoint counter in counting mode (no ring buffer, no sampling):
/// type PERF_TYPE_TRACEPOINT, config = the event's id from tracefs, on thread `tid` (any CPU), as a
/// member of the group led by `group_fd` (-1: a new group, created disabled). Every counter reads
/// with PERF_FORMAT_GROUP, so one read(2) of the leader returns the whole group. Close-on-exec.
/// Returns the fd, or -1 with errno.
int ckvm_perf_tracepoint_open(uint64_t tracepoint_id, int tid, int group_fd);
/// PERF_EVENT_IOC_SET_FILTER: a tracepoint filter such as "exit_reason == 30"; 0 or -1 with errno.
int ckvm_perf_set_filter(int fd, const char *filter);
/// PERF_EVENT_IOC_ENABLE on a group leader and all its members; 0 or -1 with errno.
int ckvm_perf_enable_group(int leader_fd);
/// Reads a group: values[i] = the i-th counter opened in it, at most `capacity`; returns how many
/// counters the group has, or -1 with errno.
int ckvm_perf_read_group(int leader_fd, uint64_t *values, int capacity);

/// pread(2) as the bare system call. Glibc's pread is a cancellation point: in a process with more
/// than one thread (any Swift program with a task executor) it brackets every call with two atomic
/// updates of the thread's cancellation state, which the live sampler paid ~2,800 times a sample.
/// hvtax never cancels threads, so the sampler reads through this instead. -1 with errno on failure.
static inline ssize_t ckvm_pread(int fd, void *buffer, size_t count, int64_t offset) {
    return (ssize_t)syscall(SYS_pread64, fd, buffer, count, (off_t)offset);
}

/// close_range(keep_below, ~0U, CLOSE_RANGE_UNSHARE): the calling thread leaves the process's shared
/// file descriptor table for a copy of its own that holds only the descriptors below `keep_below`.
/// Linux 5.9 and later; 0, or -1 with errno (ENOSYS before 5.9, EPERM under a seccomp filter that
/// refuses it). The live sampler's reading thread uses it: see PrivateFileTableThread.swift.
static inline int ckvm_unshare_fd_table(unsigned int keep_below) {
    return (int)syscall(SYS_close_range, keep_below, ~0U, CLOSE_RANGE_UNSHARE);
}

/// pthread_setname_np on the calling thread (at most 15 bytes show in /proc/.../comm).
int ckvm_set_current_thread_name(const char *name);
/// sched_setaffinity of the calling thread to the single CPU `cpu`; -1 with errno on failure.
int ckvm_pin_current_thread(int cpu);
/// The calling thread's kernel task id.
int ckvm_gettid(void);
/// The CPU the calling thread runs on right now.
int ckvm_current_cpu(void);
/// Waits until `fd` is readable or `timeout_ns` passed (ppoll, nanosecond timeout):
/// 1 readable, 0 timed out, -1 with errno.
int ckvm_wait_readable(int fd, int64_t timeout_ns);

#endif
