import HVTaxEvents
import HVTaxModel

/// The state machine of one vCPU thread. Every event advances the clock of the state it was in,
/// so the six states always add up to the time between the vCPU's first and last event.
///
///     guest --kvm_exit--> hypervisor --kvm_userspace_exit--> vmm --kvm_entry--> guest
///     hypervisor|vmm --switched out R/R+--> preempted --switched in--> (back where it was)
///     hypervisor|vmm --switched out S/D --> halted    --switched in--> (back where it was)
///     lost events on its CPU --> unknown until the next kvm_entry/kvm_exit
struct VCPUTracker {
    let tid: Int32
    var tgid: Int32
    var vcpu: Int32
    var comm: UInt32
    var firstTime: UInt64
    var lastTime: UInt64
    var lastCPU: Int32
    /// `vcpu` came from the thread's name (`VCPUThreadName`): none of its events has carried one yet.
    var vcpuFromThreadName = false

    /// Receives every interval; nil unless a timeline was asked for.
    var timeline: TimelineSink?
    private(set) var state: VCPUState
    private var since: UInt64
    /// Where the thread returns when switched back in.
    private var resumeState: VCPUState = .unknown
    private var sawEntry = false

    var split = TimeSplit()
    /// Complete once `finish` has run: until then the latest exits' latency slots may be pending.
    var exits = ExitAccumulator()
    /// Latency slots prefetched at the end of recent exits, counted a few exits later.
    private var pendingSlots = PendingLatencySlots()
    var accesses = DeviceAccessAccumulator()
    /// The port I/O or MMIO access of the current exit, until the next entry gives its latency.
    private var openAccess: OpenDeviceAccess?
    /// Hypervisor time inside HLT exit windows (clipped to the window): moved to `halted` when the
    /// trace has no sched_switch, since a halted guest is idle whether KVM polls or blocks.
    var hypervisorInHaltWindows: UInt64 = 0

    // The open exit window.
    private(set) var inExit = false
    private var exitCounted = false
    private var exitStart: UInt64 = 0
    private(set) var exitReason: UInt32 = 0
    private var exitIsHalt = false
    private var exitIsInterrupt = false
    private var windowHypervisor: UInt64 = 0
    private var windowVMM: UInt64 = 0
    private var windowOffCPU: UInt64 = 0
    private var windowUserspace = false
    private var windowIRQ = false
    /// After lost events an entry without an exit is expected, not a pairing error.
    private var afterLoss = false

    init(event: TraceEvent, initialState: VCPUState) {
        tid = event.tid
        tgid = event.tgid
        vcpu = event.vcpu
        comm = event.comm
        firstTime = event.time
        lastTime = event.time
        lastCPU = event.cpu
        state = initialState
        since = event.time
        // A thread first seen entering the guest has entered: its vcpu id is known from then on.
        sawEntry = event.kind == .kvmEntry
    }

    /// Charges the time since the last event to the current state. Late events never move time back.
    @inline(__always) mutating func advance(to time: UInt64, window: AnalysisWindow) {
        guard time > since else { return }
        if let timeline {
            let from = max(since, window.start), to = min(time, window.end)
            if to > from {
                timeline.interval(vcpu: TimelineVCPU(tid: tid, pid: tgid, vcpu: vcpu), state: state, start: from, end: to,
                                  exitReason: inExit ? exitReason : nil)
            }
        }
        let clipped = window.overlap(since, time)
        let whole = time - since
        switch state {
        case .guest: split.guest += clipped
        case .hypervisor:
            split.hypervisor += clipped
            if inExit {
                windowHypervisor += whole
                if exitIsHalt { hypervisorInHaltWindows += clipped }
            }
        case .vmm:
            split.vmm += clipped
            if inExit { windowVMM += whole }
        case .preempted:
            split.preempted += clipped
            if inExit { windowOffCPU += whole }
        case .halted:
            split.halted += clipped
            if inExit { windowOffCPU += whole }
        case .unknown: split.unknown += clipped
        }
        since = time
        lastTime = time
    }

    @inline(__always) mutating func entry(_ event: TraceEvent, window: AnalysisWindow, quality: inout TraceQuality) {
        advance(to: event.time, window: window)
        // From here `since` is the event's time, or the vCPU's last time for a late event: the
        // windows below are measured on that clock, so a late entry closes its exit at zero length
        // rather than before it began.
        closeAccess(enteredAt: since)
        if inExit {
            closeExit(at: since, completed: true)
        } else if sawEntry && !afterLoss && state != .unknown {
            quality.unpairedEntries += 1
        }
        sawEntry = true
        afterLoss = false
        if event.vcpu >= 0 {
            vcpu = event.vcpu
            vcpuFromThreadName = false
        }
        lastCPU = event.cpu
        state = .guest
    }

    mutating func exit(_ event: TraceEvent, reasonIsHalt: Bool, reasonIsInterrupt: Bool,
                       window: AnalysisWindow, quality: inout TraceQuality) {
        advance(to: event.time, window: window)
        closeAccess(enteredAt: nil)
        if inExit {
            quality.unpairedExits += 1
            closeExit(at: since, completed: false)
        }
        if event.vcpu >= 0 {
            vcpu = event.vcpu
            vcpuFromThreadName = false
        } else if sawEntry && vcpu >= 0 {
            quality.exitsWithInferredVCPU += 1
        } else {
            quality.exitsWithoutVCPU += 1
        }
        if event.flags.contains(.failedVMEntry) { quality.failedVMEntries += 1 }
        inExit = true
        exitCounted = window.contains(event.time)
        exitStart = since
        exitReason = event.code
        exitIsHalt = reasonIsHalt
        exitIsInterrupt = reasonIsInterrupt
        windowHypervisor = 0
        windowVMM = 0
        windowOffCPU = 0
        windowUserspace = false
        windowIRQ = false
        afterLoss = false
        if exitCounted { exits.update(event.code) { $0.count += 1 } }
        lastCPU = event.cpu
        state = .hypervisor
    }

    mutating func userspaceExit(_ event: TraceEvent, window: AnalysisWindow) {
        advance(to: event.time, window: window)
        if inExit { windowUserspace = true }
        openAccess?.throughVMM = true
        lastCPU = event.cpu
        state = .vmm
    }

    mutating func switchedOut(_ event: TraceEvent, window: AnalysisWindow) {
        advance(to: event.time, window: window)
        switch state {
        case .hypervisor, .vmm, .unknown: resumeState = state
        // Switched out "in the guest" means its exit was lost: it resumes in the hypervisor.
        case .guest: resumeState = .hypervisor
        case .preempted, .halted: break
        }
        state = event.flags.contains(.prevRunnable) ? .preempted : .halted
    }

    mutating func switchedIn(_ event: TraceEvent, window: AnalysisWindow) {
        advance(to: event.time, window: window)
        if state == .preempted || state == .halted { state = resumeState }
        lastCPU = event.cpu
    }

    mutating func interrupted(_ event: TraceEvent, window: AnalysisWindow) {
        advance(to: event.time, window: window)
        if inExit && state == .hypervisor { windowIRQ = true }
    }

    /// Events were lost on this vCPU's CPU: from here the state is unknown until KVM says again.
    mutating func lostEvents(at time: UInt64, window: AnalysisWindow, quality: inout TraceQuality) {
        advance(to: time, window: window)
        closeAccess(enteredAt: nil)
        if inExit {
            quality.exitsBrokenByLostEvents += 1
            closeExit(at: since, completed: false)
        }
        if state == .preempted || state == .halted { resumeState = .unknown } else { state = .unknown }
        afterLoss = true
    }

    /// Any other event of this thread: it only moves the vCPU's last-seen time.
    mutating func touch(_ event: TraceEvent, window: AnalysisWindow) {
        advance(to: event.time, window: window)
    }

    mutating func finish(quality: inout TraceQuality) {
        closeAccess(enteredAt: nil)
        if inExit {
            quality.exitsOpenAtEnd += 1
            closeExit(at: lastTime, completed: false)
        }
        for due in pendingSlots.drain() { countPendingSlot(due) }
    }

    /// A kvm_pio or kvm_mmio: the guest touched a device KVM emulates. Counted when it falls in the
    /// window; its latency runs to the vCPU's next entry, as perf kvm stat measures it.
    mutating func deviceAccess(_ event: TraceEvent, window: AnalysisWindow) {
        advance(to: event.time, window: window)
        lastCPU = event.cpu
        guard let key = DeviceAccessKey(event) else { return }
        let kind = event.kind == .mmio ? MMIOAccess(rawValue: event.code) : nil
        // The value the VMM gave for an unsatisfied read is traced as a `read` of the same address:
        // the same access completing, not a second one.
        if kind == .read, let open = openAccess, open.awaitsReadCompletion, open.key == key { return }
        closeAccess(enteredAt: nil)
        guard window.contains(event.time) else { return }
        accesses.update(key) { $0.count += 1 }
        openAccess = OpenDeviceAccess(key: key, time: since, awaitsReadCompletion: kind == .unsatisfiedRead)
    }

    /// Ends the open access: with its latency when the vCPU entered the guest, as unfinished when
    /// something else (another exit, lost events, the trace's end) came first. Inlined into every
    /// entry and exit as the check alone: traces without accesses pay only that.
    @inline(__always) private mutating func closeAccess(enteredAt time: UInt64?) {
        if openAccess != nil { finishAccess(enteredAt: time) }
    }

    @inline(never) private mutating func finishAccess(enteredAt time: UInt64?) {
        guard let open = openAccess else { return }
        openAccess = nil
        accesses.update(open.key) { counts in
            if open.throughVMM { counts.throughVMM += 1 }
            if let time, time >= open.time { counts.latency.record(time - open.time) } else { counts.unfinished += 1 }
        }
    }

    /// Attributes the window's time and path to its reason; records a latency only for windows that
    /// really ended with an entry.
    @inline(__always) private mutating func closeExit(at time: UInt64, completed: Bool) {
        inExit = false
        guard exitCounted else { return }
        let path: ExitPath = windowUserspace ? .vmm : (exitIsInterrupt || windowIRQ) ? .interrupt : .kernel
        let latency = time - exitStart
        let hypervisor = windowHypervisor, vmm = windowVMM, offCPU = windowOffCPU
        var slot = -1
        exits.update(exitReason) { reason in
            reason.hypervisorTime += hypervisor
            reason.vmmTime += vmm
            reason.offCPUTime += offCPU
            reason.paths[path].count += 1
            reason.paths[path].hypervisorTime += hypervisor
            reason.paths[path].vmmTime += vmm
            if completed {
                reason.paths[path].windowTime += latency
                slot = reason.latency.recordDeferringSlot(latency)
            }
        }
        if slot >= 0, let due = pendingSlots.push(reason: exitReason, slot: slot) { countPendingSlot(due) }
    }

    /// Counts a latency slot that `PendingLatencySlots` held back (prefetched by now).
    @inline(__always) private mutating func countPendingSlot(_ due: (reason: UInt32, slot: Int)) {
        exits.update(due.reason) { $0.latency.countSlot(due.slot) }
    }
}
