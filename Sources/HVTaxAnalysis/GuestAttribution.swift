import HVTaxEvents
import HVTaxModel

/// Joins a guest's own trace with its host's vCPU state machines. Both are step functions of time on
/// one clock (the guest's events were moved onto the host's): the host's state of each vCPU thread
/// (with the exit reason inside exit windows) and the guest task current on the guest CPU of the same
/// number. Every event that can change either closes the running segment and charges its length to
/// the (host state, reason, guest task) it had; guest IRQs and syscalls are counted in the cell of
/// the moment they happen.
struct GuestAttribution {
    /// A kind of host interval: a state, and the reason symbol inside exit windows (0 outside).
    struct IntervalKey: Hashable {
        var state: VCPUState
        var reason: UInt32
    }

    struct Cell {
        var time: UInt64 = 0
        var irqs: UInt64 = 0
        var syscalls: UInt64 = 0
    }

    struct TaskKey: Hashable {
        /// `TraceEvent.unknownID` until the guest trace shows the current task.
        var tid: Int32
        var comm: UInt32
    }

    /// One vCPU of one guest.
    struct VCPU {
        let guest: Int
        let vcpu: Int32
        let hostTid: Int32
        /// Start of the running segment; nil until the host thread's first event.
        var since: UInt64?
        var first: UInt64 = 0
        var last: UInt64 = 0
        var key = IntervalKey(state: .unknown, reason: 0)
        var task = TaskKey(tid: TraceEvent.unknownID, comm: 0)
        var cells: [IntervalKey: [TaskKey: Cell]] = [:]

        mutating func advance(to time: UInt64, window: AnalysisWindow) {
            guard let start = since else { return }
            if time > start {
                let clipped = window.overlap(start, time)
                if clipped > 0 { cells[key, default: [:]][task, default: Cell()].time += clipped }
                since = time
            }
            if time > last { last = time }
        }

        mutating func count(irq: Bool, at time: UInt64, window: AnalysisWindow) {
            guard window.contains(time) else { return }
            if irq {
                cells[key, default: [:]][task, default: Cell()].irqs += 1
            } else {
                cells[key, default: [:]][task, default: Cell()].syscalls += 1
            }
        }
    }

    let guests: [GuestIdentity]
    private(set) var vcpus: [VCPU] = []
    /// host thread id -> index in `vcpus`.
    private var byHostTid: [Int32: Int] = [:]
    /// (guest index, vcpu) -> index in `vcpus`.
    private var byGuestCPU: [Int: [Int32: Int]] = [:]
    private(set) var events: [UInt64]
    private(set) var unattributed: [UInt64]

    init(guests: [GuestIdentity]) {
        self.guests = guests
        events = Array(repeating: 0, count: guests.count)
        unattributed = Array(repeating: 0, count: guests.count)
        for (position, guest) in guests.enumerated() {
            for (vcpu, tid) in guest.vcpuThreads.sorted(by: { $0.key < $1.key }) {
                byHostTid[tid] = vcpus.count
                byGuestCPU[position, default: [:]][vcpu] = vcpus.count
                vcpus.append(VCPU(guest: position, vcpu: vcpu, hostTid: tid))
            }
        }
    }

    /// Whether a host thread runs a vCPU of a merged guest (cheap: checked on host kvm/sched events).
    @inline(__always)
    func isGuestVCPU(_ hostTid: Int32) -> Bool { byHostTid[hostTid] != nil }

    /// A host event changed the state of vCPU thread `hostTid` (its tracker's state after the event
    /// is `state`, in the exit window of `reason`, or 0).
    mutating func hostChanged(_ hostTid: Int32, at time: UInt64, state: VCPUState, reason: UInt32, window: AnalysisWindow) {
        guard let index = byHostTid[hostTid] else { return }
        if vcpus[index].since == nil {
            vcpus[index].since = time
            vcpus[index].first = time
            vcpus[index].last = time
        } else {
            vcpus[index].advance(to: time, window: window)
        }
        vcpus[index].key = IntervalKey(state: state, reason: reason)
    }

    /// An event of a guest's own trace (`event.guest` > 0, `event.cpu` the guest CPU = vCPU).
    mutating func guestEvent(_ event: TraceEvent, window: AnalysisWindow) {
        let position = Int(event.guest) - 1
        guard position >= 0, position < guests.count else { return }
        events[position] += 1
        guard let index = byGuestCPU[position]?[event.cpu] else {
            unattributed[position] += 1
            return
        }
        vcpus[index].advance(to: event.time, window: window)
        // Every guest event is emitted by the task current on its CPU (sched_switch: the one leaving).
        if vcpus[index].task.tid == TraceEvent.unknownID, event.tid >= 0, event.kind != .lost {
            vcpus[index].task = TaskKey(tid: event.tid, comm: event.comm)
        }
        switch event.kind {
        case .schedSwitch:
            vcpus[index].task = TaskKey(tid: event.otherTid, comm: event.otherComm)
        case .irqHandlerEntry:
            vcpus[index].count(irq: true, at: event.time, window: window)
        case .syscallEnter:
            vcpus[index].count(irq: false, at: event.time, window: window)
        case .lost:
            // The guest lost events on this CPU: which task runs is not known until it says again.
            vcpus[index].task = TaskKey(tid: TraceEvent.unknownID, comm: 0)
        default:
            break
        }
    }

    /// The report section: one entry per guest, its vCPUs, their interval kinds, their tasks.
    func reports(symbols: SymbolTable) -> [GuestReport] {
        guests.enumerated().map { position, guest in
            let vcpuReports = vcpus.filter { $0.guest == position }.map { vcpu in
                let total = vcpu.cells.values.reduce(UInt64(0)) { $0 + $1.values.reduce(0) { $0 + $1.time } }
                var intervals = vcpu.cells.map { key, tasks in
                    let time = tasks.values.reduce(UInt64(0)) { $0 + $1.time }
                    var shares = tasks.map { task, cell in
                        GuestTaskShare(tid: task.tid == TraceEvent.unknownID ? nil : task.tid,
                                       name: task.tid == TraceEvent.unknownID ? "(not yet seen)" : task.comm == 0 ? "<...>" : symbols.names.string(task.comm),
                                       time: cell.time, share: time == 0 ? 0 : Double(cell.time) / Double(time),
                                       irqs: cell.irqs, syscalls: cell.syscalls)
                    }
                    shares.sort { ($0.time, $1.tid ?? .min, $1.name) > ($1.time, $0.tid ?? .min, $0.name) }
                    return GuestIntervalReport(
                        state: key.state, exitReason: key.reason == 0 ? nil : symbols.reasons.string(key.reason), time: time,
                        share: total == 0 ? 0 : Double(time) / Double(total),
                        irqs: tasks.values.reduce(0) { $0 + $1.irqs }, syscalls: tasks.values.reduce(0) { $0 + $1.syscalls },
                        tasks: shares)
                }
                let order = Dictionary(uniqueKeysWithValues: VCPUState.allCases.enumerated().map { ($1, $0) })
                intervals.sort {
                    (order[$0.state]!, $1.time, $0.exitReason ?? "") < (order[$1.state]!, $0.time, $1.exitReason ?? "")
                }
                return GuestVCPUReport(vcpu: vcpu.vcpu, hostTid: vcpu.hostTid, time: total, intervals: intervals)
            }
            return GuestReport(name: guest.name, traceID: "0x" + String(guest.traceID, radix: 16), guestFile: guest.guestFile,
                               hostFile: guest.hostFile, events: events[position], unattributedEvents: unattributed[position],
                               vcpus: vcpuReports)
        }
    }
}
