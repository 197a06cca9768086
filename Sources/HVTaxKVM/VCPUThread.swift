import CKVM
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// A dedicated OS thread named like a VMM's vCPU thread (`CPU N/KVM`), optionally pinned.
///
/// vCPUs block in KVM_RUN for long stretches and must be signalled individually, so they get real
/// pthreads rather than Swift concurrency's cooperative pool.
public final class VCPUThread: Sendable {
    /// The name QEMU gives vCPU threads with `-name ...,debug-threads=on`.
    public static func vmmName(ofVCPU index: Int) -> String { "CPU \(index)/KVM" }

    public let name: String
    /// The kernel task id (the TID in /proc/PID/task).
    public let tid: Int32
    private let thread: pthread_t

    private final class Start: @unchecked Sendable {
        // @unchecked: written by the new thread before it signals `ready`, read after the wait.
        let name: String
        let cpu: Int?
        let body: @Sendable () -> Void
        let ready = DispatchSemaphore(value: 0)
        var tid: Int32 = 0
        var setupErrno: Int32 = 0

        init(name: String, cpu: Int?, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.cpu = cpu
            self.body = body
        }
    }

    /// Starts `body` on a new thread called `name`, pinned to `cpu` when given. Returns once the
    /// thread is named and pinned, so its TID is known and a failed pin is reported here.
    public init(name: String, pinnedTo cpu: Int? = nil, body: @escaping @Sendable () -> Void) throws(KVMError) {
        let start = Start(name: name, cpu: cpu, body: body)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(start).toOpaque()
        let created = pthread_create(&thread, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            // A thread inherits its creator's signal mask, and Swift concurrency's worker threads
            // block nearly everything: without this the kick signal would stay pending forever.
            var kick = sigset_t()
            sigemptyset(&kick)
            sigaddset(&kick, VCPUKickSignal.number)
            pthread_sigmask(SIG_UNBLOCK, &kick, nil)
            _ = ckvm_set_current_thread_name(start.name)
            start.tid = ckvm_gettid()
            if let cpu = start.cpu, ckvm_pin_current_thread(Int32(cpu)) != 0 {
                start.setupErrno = errno
                start.ready.signal()
                return nil
            }
            start.ready.signal()
            start.body()
            return nil
        }, context)
        if created != 0 {
            Unmanaged<Start>.fromOpaque(context).release()
            throw .systemCall(operation: "pthread_create for \(name)", errno: created)
        }
        start.ready.wait()
        if start.setupErrno != 0 {
            pthread_join(thread, nil)
            throw .systemCall(operation: "pinning \(name) to CPU \(cpu ?? -1) (sched_setaffinity)",
                              errno: start.setupErrno)
        }
        self.name = name
        self.tid = start.tid
        self.thread = thread
    }

    /// Waits for the thread's body to return.
    public func join() {
        pthread_join(thread, nil)
    }
}

/// Monotonic and per-thread CPU clocks in nanoseconds.
enum Clock {
    static func monotonicNs() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    static func realtimeNs() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// CPU time of the calling thread: what /proc/self/task/TID/schedstat's first field counts.
    static func threadCPUNs() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
