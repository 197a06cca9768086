/// The ground truth `hvtax workload` writes as it runs (one JSON object per line): what each vCPU
/// did in each interval, measured by the workload itself from its own clocks, its guest's TSC and
/// its vCPUs' KVM statistics, so that any monitor can be checked against it.
public enum WorkloadTruthRecord: Codable, Sendable, Equatable {
    case start(WorkloadTruthStart)
    case interval(WorkloadTruthInterval)
    case end(WorkloadTruthEnd)

    private enum CodingKeys: String, CodingKey { case type }

    public init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .type)
        switch type {
        case "start": self = .start(try WorkloadTruthStart(from: decoder))
        case "interval": self = .interval(try WorkloadTruthInterval(from: decoder))
        case "end": self = .end(try WorkloadTruthEnd(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: try decoder.container(keyedBy: CodingKeys.self),
                                                   debugDescription: "unknown truth record type \(type)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .start(let record): try record.encode(to: encoder)
        case .interval(let record): try record.encode(to: encoder)
        case .end(let record): try record.encode(to: encoder)
        }
    }
}

/// Exits the workload caused, by kind, as the workload itself counted them: IO, MMIO and HLT at
/// each KVM_RUN return, CPUID by the guest (KVM handles it without returning to userspace).
public struct WorkloadExitCounts: Codable, Sendable, Equatable {
    public var io: UInt64
    public var mmio: UInt64
    public var cpuid: UInt64
    public var hlt: UInt64
    /// KVM_RUN interrupted by a signal (kicks at shutdown).
    public var intr: UInt64

    public init(io: UInt64 = 0, mmio: UInt64 = 0, cpuid: UInt64 = 0, hlt: UInt64 = 0, intr: UInt64 = 0) {
        self.io = io
        self.mmio = mmio
        self.cpuid = cpuid
        self.hlt = hlt
        self.intr = intr
    }

    /// Exits that returned to userspace (each one is a kvm_userspace_exit event).
    public var userspace: UInt64 { io + mmio + hlt + intr }

    public static func + (lhs: WorkloadExitCounts, rhs: WorkloadExitCounts) -> WorkloadExitCounts {
        WorkloadExitCounts(io: lhs.io + rhs.io, mmio: lhs.mmio + rhs.mmio, cpuid: lhs.cpuid + rhs.cpuid,
                           hlt: lhs.hlt + rhs.hlt, intr: lhs.intr + rhs.intr)
    }
}

/// One phase of the schedule: a duty cycle held for a duration.
public struct WorkloadPhase: Codable, Sendable, Equatable {
    /// Fraction of each period the vCPU is busy, 0...1.
    public var duty: Double
    public var durationNs: UInt64

    public init(duty: Double, durationNs: UInt64) {
        self.duty = duty
        self.durationNs = durationNs
    }
}

public struct WorkloadVCPUIdentity: Codable, Sendable, Equatable {
    public var vcpu: Int
    public var tid: Int32
    public var threadName: String

    public init(vcpu: Int, tid: Int32, threadName: String) {
        self.vcpu = vcpu
        self.tid = tid
        self.threadName = threadName
    }
}

public struct WorkloadTruthStart: Codable, Sendable, Equatable {
    public var type = "start"
    public var pid: Int32
    /// The `guest=NAME` identity in the process's command line.
    public var name: String
    public var vcpus: [WorkloadVCPUIdentity]
    public var periodNs: UInt64
    public var phases: [WorkloadPhase]
    /// Requested exits per second per vCPU, by kind ("io", "mmio", "cpuid").
    public var exitRatesPerSecond: [String: Double]
    public var truthIntervalNs: UInt64
    /// The vCPU threads' nice value when set (nil: inherited).
    public var vcpuNice: Int32?
    public var tscHz: Double
    public var tscSource: String
    public var startMonotonicNs: UInt64
    public var startUnixNs: UInt64
    /// What each field means and how it was measured.
    public var notes: [String]

    public init(pid: Int32, name: String, vcpus: [WorkloadVCPUIdentity], periodNs: UInt64, phases: [WorkloadPhase],
                exitRatesPerSecond: [String: Double], truthIntervalNs: UInt64, vcpuNice: Int32? = nil, tscHz: Double,
                tscSource: String, startMonotonicNs: UInt64, startUnixNs: UInt64, notes: [String]) {
        self.pid = pid
        self.name = name
        self.vcpus = vcpus
        self.periodNs = periodNs
        self.phases = phases
        self.exitRatesPerSecond = exitRatesPerSecond
        self.truthIntervalNs = truthIntervalNs
        self.vcpuNice = vcpuNice
        self.tscHz = tscHz
        self.tscSource = tscSource
        self.startMonotonicNs = startMonotonicNs
        self.startUnixNs = startUnixNs
        self.notes = notes
    }
}

/// What one vCPU did over one interval (a whole number of periods, or the cut-short last one).
public struct WorkloadTruthInterval: Codable, Sendable, Equatable {
    public var type = "interval"
    public var vcpu: Int
    public var tid: Int32
    public var index: Int
    public var phase: Int
    public var requestedDuty: Double
    public var startMonotonicNs: UInt64
    public var endMonotonicNs: UInt64
    public var startUnixNs: UInt64
    public var periods: Int
    /// False for the last interval when a signal or the end cut it short.
    public var complete: Bool
    /// Guest code time by the guest's own TSC: busy segments minus the time its exits took.
    public var guestNs: UInt64
    /// Time inside the KVM_RUN ioctl, by the host thread's monotonic clock.
    public var kvmRunNs: UInt64
    /// Time the thread spent neither in KVM_RUN nor idle: handling exits and bookkeeping.
    public var userspaceNs: UInt64
    /// Time the vCPU was halted and its thread slept on the host.
    public var idleNs: UInt64
    /// CLOCK_THREAD_CPUTIME_ID growth: the on-CPU time schedstat reports for this thread.
    public var threadCPUNs: UInt64
    /// threadCPUNs / wall time: the duty a monitor should see.
    public var measuredDuty: Double
    /// Time the thread was runnable but waiting for a CPU (schedstat field 2): the steal its guest sees.
    public var runQueueWaitNs: UInt64
    public var exits: WorkloadExitCounts
    /// Growth of the vCPU's cumulative KVM statistics over the interval (non-zero ones).
    public var kvmStats: [String: Int64]

    public init(vcpu: Int, tid: Int32, index: Int, phase: Int, requestedDuty: Double, startMonotonicNs: UInt64,
                endMonotonicNs: UInt64, startUnixNs: UInt64, periods: Int, complete: Bool, guestNs: UInt64,
                kvmRunNs: UInt64, userspaceNs: UInt64, idleNs: UInt64, threadCPUNs: UInt64, runQueueWaitNs: UInt64,
                exits: WorkloadExitCounts, kvmStats: [String: Int64]) {
        self.vcpu = vcpu
        self.tid = tid
        self.index = index
        self.phase = phase
        self.requestedDuty = requestedDuty
        self.startMonotonicNs = startMonotonicNs
        self.endMonotonicNs = endMonotonicNs
        self.startUnixNs = startUnixNs
        self.periods = periods
        self.complete = complete
        self.guestNs = guestNs
        self.kvmRunNs = kvmRunNs
        self.userspaceNs = userspaceNs
        self.idleNs = idleNs
        self.threadCPUNs = threadCPUNs
        let wall = endMonotonicNs > startMonotonicNs ? endMonotonicNs - startMonotonicNs : 0
        self.measuredDuty = wall > 0 ? Double(threadCPUNs) / Double(wall) : 0
        self.runQueueWaitNs = runQueueWaitNs
        self.exits = exits
        self.kvmStats = kvmStats
    }

    public var wallNs: UInt64 { endMonotonicNs > startMonotonicNs ? endMonotonicNs - startMonotonicNs : 0 }
}

/// Totals per vCPU over the whole run, and why it ended.
public struct WorkloadVCPUTotals: Codable, Sendable, Equatable {
    public var vcpu: Int
    public var tid: Int32
    public var wallNs: UInt64
    public var guestNs: UInt64
    public var kvmRunNs: UInt64
    public var userspaceNs: UInt64
    public var idleNs: UInt64
    public var threadCPUNs: UInt64
    public var runQueueWaitNs: UInt64
    public var exits: WorkloadExitCounts
    public var kvmStats: [String: Int64]

    public init(vcpu: Int, tid: Int32, wallNs: UInt64, guestNs: UInt64, kvmRunNs: UInt64, userspaceNs: UInt64,
                idleNs: UInt64, threadCPUNs: UInt64, runQueueWaitNs: UInt64, exits: WorkloadExitCounts,
                kvmStats: [String: Int64]) {
        self.vcpu = vcpu
        self.tid = tid
        self.wallNs = wallNs
        self.guestNs = guestNs
        self.kvmRunNs = kvmRunNs
        self.userspaceNs = userspaceNs
        self.idleNs = idleNs
        self.threadCPUNs = threadCPUNs
        self.runQueueWaitNs = runQueueWaitNs
        self.exits = exits
        self.kvmStats = kvmStats
    }

    public var measuredDuty: Double { wallNs > 0 ? Double(threadCPUNs) / Double(wallNs) : 0 }
}

public struct WorkloadTruthEnd: Codable, Sendable, Equatable {
    public var type = "end"
    /// "completed", "SIGINT", "SIGTERM" or "error: ...".
    public var reason: String
    public var endMonotonicNs: UInt64
    public var endUnixNs: UInt64
    public var vcpus: [WorkloadVCPUTotals]

    public init(reason: String, endMonotonicNs: UInt64, endUnixNs: UInt64, vcpus: [WorkloadVCPUTotals]) {
        self.reason = reason
        self.endMonotonicNs = endMonotonicNs
        self.endUnixNs = endUnixNs
        self.vcpus = vcpus
    }
}
