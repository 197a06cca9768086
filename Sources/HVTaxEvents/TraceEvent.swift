/// What happened, in the vocabulary the analysis understands. Readers map every format's event
/// names onto these; anything else is `.other` and is counted by name, never dropped.
public enum EventKind: UInt8, Sendable, CaseIterable {
    case kvmExit
    case kvmEntry
    /// `kvm_userspace_exit`: KVM_RUN returns to the VMM.
    case userspaceExit
    case schedSwitch
    case schedWakeup
    case irqHandlerEntry
    case irqHandlerExit
    /// `CPU:N [LOST M EVENTS]`: the kernel dropped events on `cpu`; `value` holds M.
    case lost
    case other
    /// `raw_syscalls:sys_enter`: `code` is the syscall number (counted in a guest's activity).
    case syscallEnter
    /// `raw_syscalls:sys_exit`: `code` is the syscall number.
    case syscallExit
    /// `kvm_pio`: the guest's port I/O that KVM is handling. `code` is the port, `value` the access
    /// size in bytes, `flags` holds `.write` for an OUT.
    case pio
    /// `kvm_mmio` / `kvm_fast_mmio`: the guest's access to emulated MMIO. `value` is the guest
    /// physical address, `code` the `MMIOAccess` kind (the kernel's KVM_TRACE_MMIO_* number, 3 for
    /// a fast MMIO write), `flags` holds `.write` for writes.
    case mmio

    public var name: String {
        switch self {
        case .kvmExit: "kvm_exit"
        case .kvmEntry: "kvm_entry"
        case .userspaceExit: "kvm_userspace_exit"
        case .schedSwitch: "sched_switch"
        case .schedWakeup: "sched_wakeup"
        case .irqHandlerEntry: "irq_handler_entry"
        case .irqHandlerExit: "irq_handler_exit"
        case .lost: "lost"
        case .other: "other"
        case .syscallEnter: "sys_enter"
        case .syscallExit: "sys_exit"
        case .pio: "kvm_pio"
        case .mmio: "kvm_mmio"
        }
    }
}

/// One trace event, flat and small so that readers, the reorder buffer and the analysis pass it by
/// value without allocation. Which fields mean something depends on `kind` (documented per field).
public struct TraceEvent: Sendable, Equatable {
    public static let unknownID: Int32 = -1

    /// Nanoseconds, or raw counter ticks for counter clocks (see `ClockInfo`).
    public var time: UInt64
    public var kind: EventKind
    public var flags: Flags
    /// 0 for the host's events; N for the events of the N-th guest trace merged onto the host's
    /// clock (`tid`, `cpu` are then the guest's own: `cpu` is the guest CPU, that is the vCPU id).
    /// Sits in what would be padding, so the event stays 56 bytes.
    public var guest: UInt16
    public var cpu: Int32
    /// The thread the event belongs to: the emitting task, or for sched_switch the task switched out.
    public var tid: Int32
    /// The thread's process (VMM) when the trace records it, else `unknownID`.
    public var tgid: Int32
    /// kvm events: the vcpu id when printed, else `unknownID`.
    public var vcpu: Int32
    /// kvmExit: the reason's symbol in `SymbolTable.reasons`. userspaceExit: the KVM_EXIT_* code.
    /// irq events: the IRQ number. other: the event name's symbol in `SymbolTable.names`.
    /// pio: the port. mmio: the `MMIOAccess` kind.
    public var code: UInt32
    /// The emitting thread's name, a symbol in `SymbolTable.names` (0 when unknown).
    public var comm: UInt32
    /// schedSwitch: the task switched in (next_pid). schedWakeup: the task woken.
    public var otherTid: Int32
    /// schedSwitch: next_comm's symbol.
    public var otherComm: UInt32
    /// lost: how many events were lost. pio: the access size. mmio: the guest physical address.
    public var value: UInt64

    public struct Flags: OptionSet, Sendable, Equatable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// kvmExit: VMX bit 31, ` FAILED_VMENTRY`.
        public static let failedVMEntry = Flags(rawValue: 1)
        /// schedSwitch: prev_state was R or R+ (preempted while runnable), not S/D (blocked).
        public static let prevRunnable = Flags(rawValue: 2)
        /// The reorder buffer could not put this event back in order (it arrived too late).
        public static let late = Flags(rawValue: 4)
        /// lost: a gap of unknown size (no count stored, or the file ends inside this CPU's data);
        /// `value` is 0.
        public static let countUnknown = Flags(rawValue: 8)
        /// pio, mmio: the guest wrote (OUT, MMIO write); reads have it clear.
        public static let write = Flags(rawValue: 16)
    }

    public init(time: UInt64, kind: EventKind, cpu: Int32 = unknownID, tid: Int32 = unknownID,
                tgid: Int32 = unknownID, vcpu: Int32 = unknownID, code: UInt32 = 0, comm: UInt32 = 0,
                otherTid: Int32 = unknownID, otherComm: UInt32 = 0, value: UInt64 = 0, flags: Flags = []) {
        self.time = time
        self.kind = kind
        self.flags = flags
        self.guest = 0
        self.cpu = cpu
        self.tid = tid
        self.tgid = tgid
        self.vcpu = vcpu
        self.code = code
        self.comm = comm
        self.otherTid = otherTid
        self.otherComm = otherComm
        self.value = value
    }
}

/// What a `kvm_mmio` record says happened: the kernel's KVM_TRACE_MMIO_* numbers, and one of ours
/// for `kvm_fast_mmio` (a write to an ioeventfd doorbell that KVM completes without decoding it).
public enum MMIOAccess: UInt32, Sendable, CaseIterable {
    /// KVM could not satisfy the read in the kernel: it goes to the VMM (`KVM_EXIT_MMIO`).
    case unsatisfiedRead = 0
    /// A read completed: in the kernel (an in-kernel device), or after the VMM gave the value.
    case read = 1
    case write = 2
    /// `kvm_fast_mmio`: no direction is recorded, but the fast path only takes writes.
    case fastWrite = 3

    public var isWrite: Bool { self == .write || self == .fastWrite }

    /// A kvm_mmio record's `type` field: nil for a number the kernel does not write there.
    public init?(kernelType: Int64) {
        guard let access = MMIOAccess(rawValue: UInt32(truncatingIfNeeded: kernelType)), access != .fastWrite,
              Int64(access.rawValue) == kernelType else { return nil }
        self = access
    }
}

extension TraceEvent {
    /// Makes this a `kvm_pio`: every reader fills the fields the same way.
    public mutating func setPortIO(port: UInt64, size: UInt64, write: Bool) {
        kind = .pio
        code = UInt32(truncatingIfNeeded: port)
        value = size
        if write { flags.insert(.write) }
    }

    /// Makes this a `kvm_userspace_exit`. When KVM_RUN failed or was interrupted the kernel prints
    /// `restart (4)` / `error (N)` with -errno in place of the reason: the code follows what the
    /// text shows, and the errno itself (when the reader knows it) rides in `value`.
    public mutating func setUserspaceExit(reason: UInt64, errno: Int64?) {
        kind = .userspaceExit
        code = UInt32(truncatingIfNeeded: reason)
        guard let errno else { return }
        value = UInt64(bitPattern: errno)
        if errno < 0 { code = UInt32(truncatingIfNeeded: -errno) }
    }

    /// Makes this a `kvm_mmio` (or `kvm_fast_mmio`, as `.fastWrite`).
    public mutating func setMMIO(_ access: MMIOAccess, gpa: UInt64) {
        kind = .mmio
        code = access.rawValue
        value = gpa
        if access.isWrite { flags.insert(.write) }
    }
}
