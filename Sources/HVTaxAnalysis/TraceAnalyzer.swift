import HVTaxEvents
import HVTaxModel

/// Streams events through one `VCPUTracker` per vCPU thread. Memory grows with vCPUs, reasons and
/// histogram buckets, never with the number of events.
public final class TraceAnalyzer {
    let symbols: SymbolTable
    let options: AnalysisOptions
    private var trackers = VCPUTrackerStore()
    private var trackerIndex = ThreadTable()
    private(set) var quality = TraceQuality()
    /// Counted on every event: a raw buffer, so the count costs no uniqueness check.
    private let eventCounts: UnsafeMutablePointer<UInt64> = {
        let counts = UnsafeMutablePointer<UInt64>.allocate(capacity: EventKind.allCases.count)
        counts.initialize(repeating: 0, count: EventKind.allCases.count)
        return counts
    }()
    private var otherEvents: [UInt32: UInt64] = [:]
    private var lostByCPU: [Int32: (events: UInt64, occurrences: UInt64, uncounted: UInt64)] = [:]
    /// Task names of process main threads (tid == tgid), to name VMs.
    private(set) var processNames: [Int32: UInt32] = [:]
    private var reasonIsHalt: [Bool] = []
    private var reasonIsInterrupt: [Bool] = []
    private(set) var firstTime: UInt64?
    private(set) var lastTime: UInt64 = 0
    /// Times within `plausibleSpan` of the first event, either way: [rangeLow, rangeLow + rangeWidth].
    /// Others are left out (counted in `quality.eventsOutOfRange`). Everything until the first event.
    private var rangeLow: UInt64 = 0
    private var rangeWidth: UInt64 = .max
    /// 2^52 ns, 52 days (17 days of a 3 GHz counter): no trace spans that, so a time further off is a
    /// damaged one (a page header, a time extend, a text timestamp). Bounding the span also bounds
    /// every sum of vCPU times below UInt64's range for up to 4,096 vCPUs.
    static let plausibleSpan: UInt64 = 1 << 52
    var window = AnalysisWindow()
    private var unattributed: UInt64 = 0

    /// Every vCPU's intervals go to these sinks (timeline exporters, time series).
    public let sinks: [TimelineSink]
    private let fanOut: TimelineSink?

    /// Guests whose own traces are merged in (`TraceEvent.guest` > 0); nil for a host trace alone,
    /// so the host-only path pays one nil check.
    private(set) var guestAttribution: GuestAttribution?

    /// - Parameter guests: guest traces paired with the host's (`HostGuestPairing`).
    public init(symbols: SymbolTable, options: AnalysisOptions = AnalysisOptions(), sinks: [TimelineSink] = [],
                guests: [GuestIdentity] = []) {
        self.symbols = symbols
        self.options = options
        self.sinks = sinks
        fanOut = sinks.isEmpty ? nil : sinks.count == 1 ? sinks[0] : FanOutSink(sinks)
        if !guests.isEmpty { guestAttribution = GuestAttribution(guests: guests) }
    }

    deinit { eventCounts.deallocate() }

    /// A batch from a reader: the loop sits in this module, so each event's work is inlined into it
    /// (a call per event, with its register saves and the event passed through memory, was left
    /// out of line by the optimizer until it was told).
    public func consume(_ batch: UnsafeBufferPointer<TraceEvent>) {
        for event in batch { analyze(event) }
    }

    public func consume(_ event: TraceEvent) {
        analyze(event)
    }

    @inline(__always)
    private func analyze(_ event: TraceEvent) {
        if firstTime == nil {
            firstTime = event.time
            // Saturating: a damaged file's first time can sit near the top of the clock.
            func after(_ offset: UInt64) -> UInt64 {
                let (sum, overflow) = event.time.addingReportingOverflow(offset)
                return overflow ? .max : sum
            }
            rangeLow = event.time > Self.plausibleSpan ? event.time - Self.plausibleSpan : 0
            rangeWidth = after(Self.plausibleSpan) - rangeLow
            if let since = options.filters.since { window.start = after(since) }
            if let until = options.filters.until { window.end = after(until) }
            for sink in sinks { sink.begin(at: max(event.time, window.start)) }
        }
        // One unsigned compare for low <= time <= low + width (a time below low wraps to a large number).
        if _slowPath(event.time &- rangeLow > rangeWidth) { return countOutOfRange() }
        if event.time > lastTime { lastTime = event.time }
        eventCounts[Int(event.kind.rawValue)] += 1
        if event.guest != 0 {
            // A guest's own event: its thread ids are the guest's, never the host's vCPU threads.
            guestAttribution?.guestEvent(event, window: window)
            return
        }
        consumeHostEvent(event)
        if guestAttribution != nil { noteGuestVCPUs(after: event) }
    }

    /// Out of line: the per-event path keeps only the compare (inlined, the count cost 8% of a
    /// 5M-event report).
    @inline(never) private func countOutOfRange() {
        quality.eventsOutOfRange = (quality.eventsOutOfRange ?? 0) + 1
    }

    /// Tells the guest attribution the state of the vCPU threads a host event may have changed.
    private func noteGuestVCPUs(after event: TraceEvent) {
        func note(_ tid: Int32) {
            guard guestAttribution!.isGuestVCPU(tid), let index = lookup(tid) else { return }
            let tracker = trackers[index]
            guestAttribution!.hostChanged(tid, at: event.time, state: tracker.state,
                                          reason: tracker.inExit ? tracker.exitReason : 0, window: window)
        }
        switch event.kind {
        case .schedSwitch:
            note(event.tid)
            note(event.otherTid)
        case .lost:
            for index in trackers.indices where trackers[index].lastCPU == event.cpu { note(trackers[index].tid) }
        default:
            note(event.tid)
        }
    }

    @inline(__always)
    private func consumeHostEvent(_ event: TraceEvent) {
        if event.tgid >= 0, event.tid == event.tgid, event.comm != 0 { processNames[event.tgid] = event.comm }

        switch event.kind {
        case .kvmEntry:
            quality.hasExitEvents = true
            withTracker(event, initial: .guest) { tracker, fresh in
                if !fresh { tracker.entry(event, window: window, quality: &quality) }
            }
        case .kvmExit:
            quality.hasExitEvents = true
            let (halt, interrupt) = reasonFlags(event.code)
            withTracker(event, initial: .hypervisor) { tracker, fresh in
                tracker.exit(event, reasonIsHalt: halt, reasonIsInterrupt: interrupt, window: window, quality: &quality)
            }
        case .userspaceExit:
            quality.hasUserspaceExits = true
            withTracker(event, initial: .vmm) { tracker, _ in tracker.userspaceExit(event, window: window) }
        case .schedSwitch:
            quality.hasSchedSwitch = true
            if event.otherTid > 0, event.otherComm != 0 {
                // A thread's name, in case it turns out to be a VMM's main thread.
                pendingNames.set(event.otherTid, Int32(bitPattern: event.otherComm))
            }
            if let index = lookup(event.tid) { trackers[index].switchedOut(event, window: window) }
            if let index = lookup(event.otherTid) { trackers[index].switchedIn(event, window: window) }
        case .irqHandlerEntry:
            quality.hasIRQEvents = true
            if let index = lookup(event.tid) { trackers[index].interrupted(event, window: window) }
        case .irqHandlerExit:
            quality.hasIRQEvents = true
            touch(event)
        case .lost:
            var entry = lostByCPU[event.cpu] ?? (0, 0, 0)
            entry.events += event.value
            entry.occurrences += 1
            if event.flags.contains(.countUnknown) { entry.uncounted += 1 }
            lostByCPU[event.cpu] = entry
            for index in trackers.indices where trackers[index].lastCPU == event.cpu {
                trackers[index].lostEvents(at: event.time, window: window, quality: &quality)
            }
        case .other:
            otherEvents[event.code, default: 0] += 1
            touch(event)
        case .schedWakeup, .syscallEnter, .syscallExit:
            touch(event)
        case .pio, .mmio:
            // Emitted by the vCPU thread while KVM handles its exit: a vCPU thread even when no
            // exit of it has been seen (backends whose kvm_exit does not fire).
            withTracker(event, initial: .hypervisor) { tracker, _ in tracker.deviceAccess(event, window: window) }
        }
    }

    /// Names seen in sched_switch for threads that may be VMM main threads.
    private var pendingNames = ThreadTable()

    private func touch(_ event: TraceEvent) {
        if let index = lookup(event.tid) { trackers[index].touch(event, window: window) }
    }

    @inline(__always) private func lookup(_ key: Int32) -> Int? {
        trackerIndex[key].map(Int.init)
    }

    /// vCPU threads are keyed by thread id; a trace without thread ids (perf script without the
    /// tid field) keys them by vcpu id instead.
    @inline(__always)
    private func withTracker(_ event: TraceEvent, initial: VCPUState, _ body: (inout VCPUTracker, Bool) -> Void) {
        var key = event.tid
        if key < 0 {
            guard event.vcpu >= 0 else {
                unattributed += 1
                return
            }
            key = -2 - event.vcpu
        }
        if let index = lookup(key) {
            if trackers[index].tgid < 0, event.tgid >= 0 { trackers[index].tgid = event.tgid }
            if event.comm != 0, event.comm != trackers[index].comm {
                trackers[index].comm = event.comm
                if trackers[index].vcpu < 0 || trackers[index].vcpuFromThreadName { nameVCPU(&trackers[index]) }
            }
            body(&trackers[index], false)
        } else {
            var keyed = event
            keyed.tid = key
            var tracker = VCPUTracker(event: keyed, initialState: initial)
            tracker.timeline = fanOut
            if tracker.vcpu < 0 { nameVCPU(&tracker) }
            body(&tracker, true)
            trackerIndex.set(key, Int32(trackers.count))
            trackers.append(tracker)
        }
    }

    /// A vCPU thread whose events carry no vcpu_id (kvm_entry/kvm_exit not recorded, or a KVM backend
    /// that does not fire them: only kvm_userspace_exit names the thread) gets the id its name
    /// gives, as live discovery does; an event's vcpu_id replaces it.
    private func nameVCPU(_ tracker: inout VCPUTracker) {
        guard let id = VCPUThreadName.index(symbols.names.string(tracker.comm)) else { return }
        tracker.vcpu = Int32(truncatingIfNeeded: id)
        tracker.vcpuFromThreadName = true
    }

    private func reasonFlags(_ reason: UInt32) -> (halt: Bool, interrupt: Bool) {
        let index = Int(reason)
        while reasonIsHalt.count <= index {
            let name = symbols.reasons.string(UInt32(reasonIsHalt.count))
            reasonIsHalt.append(ExitReasonTable.isHalt(name))
            reasonIsInterrupt.append(ExitReasonTable.isInterrupt(name))
        }
        return (reasonIsHalt[index], reasonIsInterrupt[index])
    }

    /// Closes open windows and fills the quality counters; call once, after the last event.
    func finish() -> (trackers: [VCPUTracker], quality: TraceQuality) {
        var quality = self.quality
        var trackers = self.trackers.all
        for index in trackers.indices { trackers[index].finish(quality: &quality) }
        if !quality.hasSchedSwitch {
            for index in trackers.indices {
                let moved = trackers[index].hypervisorInHaltWindows
                trackers[index].split.hypervisor -= moved
                trackers[index].split.halted += moved
            }
        }
        // Without kvm_entry and kvm_exit nothing marks where a vCPU goes back into the guest: from
        // its first kvm_userspace_exit on, a thread would stay "in the VMM" whenever it is on a CPU,
        // and the report would call guest, hypervisor and VMM time alike VMM overhead (a 100% tax).
        // That time is unknown, and the tax is not measured; preempted and halted still come from
        // sched_switch.
        if !quality.hasExitEvents {
            for index in trackers.indices {
                let onCPU = trackers[index].split.onCPUForGuest
                trackers[index].split.guest = 0
                trackers[index].split.hypervisor = 0
                trackers[index].split.vmm = 0
                trackers[index].split.unknown += onCPU
            }
        }
        quality.events = EventKind.allCases.reduce(0) { $0 + eventCounts[Int($1.rawValue)] }
        for kind in EventKind.allCases where eventCounts[Int(kind.rawValue)] > 0 {
            quality.eventsByKind[kind.name] = eventCounts[Int(kind.rawValue)]
        }
        for (symbol, count) in otherEvents { quality.unknownEvents[symbols.names.string(symbol), default: 0] += count }
        if unattributed > 0 { quality.unknownEvents["kvm events with neither thread id nor vcpu id"] = unattributed }
        quality.lost = lostByCPU.keys.sorted().map { cpu in
            let entry = lostByCPU[cpu]!
            return .init(cpu: cpu, events: entry.events, occurrences: entry.occurrences,
                         uncounted: entry.uncounted > 0 ? entry.uncounted : nil)
        }
        for tracker in trackers {
            for (reason, accumulator) in tracker.exits.reasons {
                let name = symbols.reasons.string(reason)
                if !ExitReasonTable.isKnown(name) { quality.unknownReasons[name, default: 0] += accumulator.count }
            }
        }
        let named = trackers.filter(\.vcpuFromThreadName).count
        if named > 0 {
            quality.notes.append("vCPU ids of \(named) thread\(named == 1 ? "" : "s") come from the thread names (QEMU's CPU N/KVM, "
                + "Firecracker's fc_vcpu N): no kvm_entry or kvm_exit of theirs carried a vcpu_id")
        }
        for (tid, name) in pendingNames.pairs where processNames[tid] == nil { processNames[tid] = UInt32(bitPattern: name) }
        return (trackers, quality)
    }
}


/// Hands each interval to several sinks.
final class FanOutSink: TimelineSink {
    let sinks: [TimelineSink]
    init(_ sinks: [TimelineSink]) { self.sinks = sinks }
    func begin(at start: UInt64) {
        for sink in sinks { sink.begin(at: start) }
    }

    func interval(vcpu: TimelineVCPU, state: VCPUState, start: UInt64, end: UInt64, exitReason: UInt32?) {
        for sink in sinks { sink.interval(vcpu: vcpu, state: state, start: start, end: end, exitReason: exitReason) }
    }
}
