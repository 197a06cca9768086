import HVTaxModel

/// One event the synthesizer writes.
struct SynthEvent {
    enum Kind {
        case entry
        case exit(reason: String)
        case userspaceExit
        case switchOut(runnable: Bool)
        case switchIn
        case irqEntry, irqExit
        case lost(count: UInt64)
    }

    var time: UInt64
    var kind: Kind
}

/// One simulated vCPU thread. Each step runs the guest, then one exit window of a randomly chosen
/// kind, and records in `truth` exactly where the time went — independently of the analysis.
struct SimulatedVCPU {
    let pid: Int32
    let tid: Int32
    let vcpu: Int32
    let cpu: Int32
    private let configuration: TraceSynthesizer.Configuration
    private(set) var truth: GroundTruth.VCPUTruth
    private var now: UInt64
    private var started = false
    private(set) var finished = false
    /// A LOST marker followed the last entry: the next exit window is missing from the trace.
    private var lossSince: UInt64?
    private(set) var lostEvents: UInt64 = 0
    private(set) var lostMarkers: UInt64 = 0

    init(pid: Int32, tid: Int32, vcpu: Int32, cpu: Int32, start: UInt64, configuration: TraceSynthesizer.Configuration) {
        self.pid = pid
        self.tid = tid
        self.vcpu = vcpu
        self.cpu = cpu
        self.configuration = configuration
        truth = GroundTruth.VCPUTruth(vmPid: pid, tid: tid, vcpu: vcpu, cpu: cpu)
        now = start
    }

    private var vmx: Bool { configuration.isa != .svm }

    private static let us: UInt64 = 1_000

    /// The next batch of events: a guest run and an exit window ending in an entry.
    mutating func nextEvents(rng: inout SplitMix64) -> [SynthEvent] {
        if !started {
            started = true
            truth.firstTime = now
            truth.lastTime = now
            return [SynthEvent(time: now, kind: .entry)]
        }
        var events: [SynthEvent] = []
        var t = now + rng.between(2, 400) * Self.us
        if let since = lossSince {
            // The window after the marker was lost: its exit and entry never reach the trace, and
            // the analysis cannot know the state until the next exit it sees.
            t += rng.between(1, 20) * Self.us
            t += rng.between(2, 400) * Self.us
            truth.split.unknown += t - since
            lossSince = nil
        } else {
            truth.split.guest += t - now
        }
        let exitTime = t
        var hypervisor: UInt64 = 0, vmm: UInt64 = 0, offCPUTime: UInt64 = 0
        let scale = configuration.handlerScale
        func onCPU(_ duration: UInt64) {
            let scaled = scale == 1 ? duration : UInt64((Double(duration) * scale).rounded())
            t += scaled
            hypervisor += scaled
        }
        var middle: [SynthEvent] = []
        /// Switched out (runnable: preempted; blocked: halted) for `duration`, then back in.
        func offCPU(_ duration: UInt64, runnable: Bool) {
            middle.append(SynthEvent(time: t, kind: .switchOut(runnable: runnable)))
            t += duration
            offCPUTime += duration
            if runnable { truth.split.preempted += duration } else { truth.split.halted += duration }
            middle.append(SynthEvent(time: t, kind: .switchIn))
        }
        let reason: String
        var path = ExitPath.kernel
        switch rng.next() % 100 {
        case 0..<45:
            let kernelReasons = vmx ? ["EPT_VIOLATION", "MSR_WRITE", "CPUID", "APIC_WRITE", "PAUSE_INSTRUCTION", "PF excp"]
                                    : ["npf", "msr", "cpuid", "vintr", "pause", "PF excp"]
            reason = kernelReasons[Int(rng.next() % UInt64(kernelReasons.count))]
            onCPU(rng.between(1, 30) * Self.us)
        case 45..<65:
            // An external-interrupt exit, or (a quarter of these) another exit during which an
            // interrupt is handled: both take the interrupt-induced path.
            let induced = rng.chance(0.25)
            reason = induced ? (vmx ? "EPT_VIOLATION" : "npf") : (vmx ? "EXTERNAL_INTERRUPT" : "interrupt")
            path = .interrupt
            onCPU(rng.between(1, 5) * Self.us)
            middle.append(SynthEvent(time: t, kind: .irqEntry))
            onCPU(rng.between(1, induced ? 5 : 10) * Self.us)
            middle.append(SynthEvent(time: t, kind: .irqExit))
            onCPU(rng.between(1, 5) * Self.us)
        case 65..<80:
            reason = vmx ? (rng.chance(0.5) ? "IO_INSTRUCTION" : "EPT_MISCONFIG") : (rng.chance(0.5) ? "io" : "npf")
            path = .vmm
            onCPU(rng.between(1, 10) * Self.us)
            middle.append(SynthEvent(time: t, kind: .userspaceExit))
            var v = rng.between(5, 80) * Self.us
            if rng.chance(0.2) {
                // The VMM thread is preempted while it handles the exit.
                t += v
                vmm += v
                offCPU(rng.between(10, 500) * Self.us, runnable: true)
                v = rng.between(1, 20) * Self.us
            }
            t += v
            vmm += v
        case 80..<88:
            reason = vmx ? "MSR_WRITE" : "msr"
            onCPU(rng.between(1, 10) * Self.us)
            offCPU(rng.between(10, 2_000) * Self.us, runnable: true)
            onCPU(rng.between(1, 10) * Self.us)
        default:
            reason = vmx ? "HLT" : "hlt"
            onCPU(rng.between(1, 20) * Self.us)
            offCPU(rng.between(50, 5_000) * Self.us, runnable: false)
            onCPU(rng.between(1, 20) * Self.us)
        }
        truth.split.hypervisor += hypervisor
        truth.split.vmm += vmm
        events.append(SynthEvent(time: exitTime, kind: .exit(reason: reason)))
        events += middle
        events.append(SynthEvent(time: t, kind: .entry))
        record(reason: reason, path: path, latency: t - exitTime, hypervisor: hypervisor, vmm: vmm, offCPU: offCPUTime)
        now = t
        truth.lastTime = t
        if rng.chance(configuration.lossProbability) {
            lossSince = t
            lostEvents += 2
            lostMarkers += 1
            events.append(SynthEvent(time: t, kind: .lost(count: 2)))
        }
        return events
    }

    /// The last events: a guest run and an exit still open when the trace ends.
    mutating func finish() -> [SynthEvent] {
        finished = true
        let t = now + 100 * Self.us
        if let since = lossSince {
            truth.split.unknown += t - since
        } else {
            truth.split.guest += t - now
        }
        let reason = vmx ? "MSR_WRITE" : "msr"
        truth.reasons[reason, default: .init()].count += 1
        truth.reasons[reason, default: .init()].paths[ExitPath.kernel.rawValue, default: 0] += 1
        truth.lastTime = t
        now = t
        return [SynthEvent(time: t, kind: .exit(reason: reason))]
    }

    private mutating func record(reason: String, path: ExitPath, latency: UInt64, hypervisor: UInt64, vmm: UInt64, offCPU: UInt64) {
        var r = truth.reasons[reason] ?? .init()
        r.count += 1
        r.hypervisorTime += hypervisor
        r.vmmTime += vmm
        r.offCPUTime += offCPU
        r.paths[path.rawValue, default: 0] += 1
        r.latencyCount += 1
        r.latencySum += latency
        r.latencyMin = min(r.latencyMin, latency)
        r.latencyMax = max(r.latencyMax, latency)
        if configuration.keepLatencies { r.latencies.append(latency) }
        truth.reasons[reason] = r
    }
}
