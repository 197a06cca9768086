import HVTaxHost

/// The calling thread's /proc/thread-self/schedstat: on-CPU time, run-queue wait, timeslices.
///
/// Needs CONFIG_SCHED_INFO (all distribution kernels); nil when the file is absent.
public struct ThreadSchedstat: Sendable, Equatable {
    public let onCPUNs: UInt64
    public let runQueueWaitNs: UInt64
    public let timeslices: UInt64

    public static func current() -> ThreadSchedstat? {
        read(path: "/proc/thread-self/schedstat")
    }

    /// Any task's schedstat, e.g. /proc/PID/task/TID/schedstat.
    public static func read(path: String) -> ThreadSchedstat? {
        guard let text = try? HostFileSystem.live.readText(path) else { return nil }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { UInt64($0) }
        guard fields.count >= 3 else { return nil }
        return ThreadSchedstat(onCPUNs: fields[0], runQueueWaitNs: fields[1], timeslices: fields[2])
    }
}
