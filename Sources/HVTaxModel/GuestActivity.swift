/// What a guest did while its vCPUs were in each state, from the guest's own trace merged onto the
/// host's clock (`hvtax report host.dat guest.dat`): "while vCPU 1 was in the hypervisor for
/// EPT_VIOLATION, the guest was running task X".
public struct GuestReport: Codable, Sendable, Equatable {
    /// The name the host's GUEST option gives the guest.
    public var name: String
    /// The guest trace's id, `0x...` (JSON numbers cannot hold every 64-bit id).
    public var traceID: String
    public var guestFile: String
    public var hostFile: String
    /// Guest events read, and those on guest CPUs the host's GUEST option maps to no vCPU thread.
    public var events: UInt64
    public var unattributedEvents: UInt64
    public var vcpus: [GuestVCPUReport]

    public init(name: String, traceID: String, guestFile: String, hostFile: String, events: UInt64,
                unattributedEvents: UInt64, vcpus: [GuestVCPUReport]) {
        self.name = name
        self.traceID = traceID
        self.guestFile = guestFile
        self.hostFile = hostFile
        self.events = events
        self.unattributedEvents = unattributedEvents
        self.vcpus = vcpus
    }
}

/// One vCPU: its host thread's time cut by host state (and exit reason), each cut split by the guest
/// task that was current on the guest CPU of the same number.
public struct GuestVCPUReport: Codable, Sendable, Equatable {
    public var vcpu: Int32
    public var hostTid: Int32
    /// The time attributed: from the vCPU thread's first host event to the last event of either trace
    /// for this vCPU (within `--since`/`--until`); the intervals' times add up to it.
    public var time: UInt64
    public var intervals: [GuestIntervalReport]

    public init(vcpu: Int32, hostTid: Int32, time: UInt64, intervals: [GuestIntervalReport]) {
        self.vcpu = vcpu
        self.hostTid = hostTid
        self.time = time
        self.intervals = intervals
    }
}

/// One kind of host interval of a vCPU: a state, with the exit reason when it lies in an exit window.
public struct GuestIntervalReport: Codable, Sendable, Equatable {
    public var state: VCPUState
    /// The exit being handled (`EPT_VIOLATION`, `npf`, ...); absent outside exit windows.
    public var exitReason: String?
    public var time: UInt64
    /// Of the vCPU's attributed time.
    public var share: Double
    /// Guest irq_handler_entry and raw_syscalls sys_enter events whose host time falls in this kind
    /// of interval.
    public var irqs: UInt64
    public var syscalls: UInt64
    /// Largest time first.
    public var tasks: [GuestTaskShare]

    public init(state: VCPUState, exitReason: String?, time: UInt64, share: Double, irqs: UInt64, syscalls: UInt64,
                tasks: [GuestTaskShare]) {
        self.state = state
        self.exitReason = exitReason
        self.time = time
        self.share = share
        self.irqs = irqs
        self.syscalls = syscalls
        self.tasks = tasks
    }
}

/// A guest task's part of one kind of interval.
public struct GuestTaskShare: Codable, Sendable, Equatable {
    /// The guest's thread id; absent while the guest trace has not yet shown the current task.
    public var tid: Int32?
    public var name: String
    public var time: UInt64
    /// Of the interval kind's time.
    public var share: Double
    public var irqs: UInt64
    public var syscalls: UInt64

    public init(tid: Int32?, name: String, time: UInt64, share: Double, irqs: UInt64, syscalls: UInt64) {
        self.tid = tid
        self.name = name
        self.time = time
        self.share = share
        self.irqs = irqs
        self.syscalls = syscalls
    }
}
