import CKVM
import HVTaxModel

#if canImport(Glibc)
import Glibc
#endif

/// One probe pass: every kind timed on one vCPU, on the calling thread (already named and pinned).
struct ProbeRunner {
    let device: KVMDevice
    let samplesPerKind: Int
    /// Rounds the samples of every kind are split into, interleaving the kinds.
    let rounds: Int
    let minimumLoopCycles: UInt64
    let tsc: TSCFrequency
    let host: HostCPU

    /// How long a hypercall may take before it counts as never completing.
    static let hypercallSmokeTimeoutNs: UInt64 = 1_000_000_000

    private var hypercall: X86Instruction { host.hypercallMnemonic == "vmmcall" ? .vmmcall : .vmcall }

    /// A guest run either reaches its DONE port (RAX holds its result) or is cut off by the watchdog.
    enum Outcome {
        case done(rax: UInt64)
        case timedOut
    }

    func run(label: String, pinnedCPU: Int?) throws(KVMError) -> ProbeRun {
        let startNs = Clock.monotonicNs()
        let bodies = ProbeBody.guestKinds(hypercall: hypercall)
        let program = try ProbeGuestProgram.build(bodies: bodies)
        let machine = try GuestMachine(device: device, program: program, vcpuCount: 1, mode: .long64,
                                       entry: ProbeGuestProgram.sampleLabel(.timerOverhead))
        let vcpu = machine.vcpus[0]
        vcpu.bindToCurrentThread()
        let stats = try vcpu.statistics()
        var cpusSeen = Set<Int>([Int(ckvm_current_cpu())])

        var unavailable: [ProbeKind: String] = [:]
        if let hypercallBody = bodies.first(where: { $0.kind == .hypercall }),
           let reason = try hypercallUnavailableReason(machine: machine, body: hypercallBody) {
            unavailable[.hypercall] = reason
        }
        let measured = bodies.filter { unavailable[$0.kind] == nil }

        // Every kind is sampled a slice at a time, round after round: the host's speed drifts over tens
        // of milliseconds (other load, its own hypervisor), and interleaving gives every kind, and the
        // timer overhead subtracted from it, the same mix of conditions. It is what makes two runs agree.
        let samples = min(samplesPerKind, GuestLayout.sampleCapacity)
        let roundCount = max(1, min(rounds, samples))
        var series: [SeriesKey: Series] = [:]
        var cpuidRegisters: [UInt32] = [0, 0, 0, 0]
        for round in 0..<roundCount {
            let count = samples / roundCount + (round < samples % roundCount ? 1 : 0)
            for body in measured {
                try measure(&series[SeriesKey(body.kind, .insideGuest), default: Series()], stats: stats) {
                    () throws(KVMError) in
                    (try guestSamples(machine: machine, body: body, count: count),
                     ProbeGuestProgram.sampleInstructions(body, iterations: UInt64(count)))
                }
                if ProbeBody.userspaceKinds.contains(body.kind) {
                    try measure(&series[SeriesKey(body.kind, .aroundKVMRun), default: Series()], stats: stats) {
                        () throws(KVMError) in (try aroundKVMRunSamples(machine: machine, body: body, count: count), nil)
                    }
                }
            }
            series[SeriesKey(.timerOverhead, .host), default: Series()].samples += hostSamples(count) {}
            series[SeriesKey(.hostCPUID, .host), default: Series()].samples += hostSamples(count) {
                cpuidRegisters.withUnsafeMutableBufferPointer { ckvm_cpuid(0, 0, $0.baseAddress) }
            }
            series[SeriesKey(.hostNullSyscall, .host), default: Series()].samples += hostSamples(count) { _ = getppid() }
            cpusSeen.insert(Int(ckvm_current_cpu()))
        }

        let guestOverhead = series[SeriesKey(.timerOverhead, .insideGuest)]?.samples.min() ?? 0
        let hostOverhead = series[SeriesKey(.timerOverhead, .host)]?.samples.min() ?? 0
        var measurements: [ExitCostMeasurement] = []
        for body in bodies {
            if let reason = unavailable[body.kind] {
                measurements.append(ExitCostMeasurement(kind: body.kind, vantage: .insideGuest, timedCode: body.text,
                                                        status: .unavailable, unavailableReason: reason))
                continue
            }
            let inside = series[SeriesKey(body.kind, .insideGuest)] ?? Series()
            measurements.append(measurement(
                kind: body.kind, vantage: .insideGuest, timedCode: body.text, samples: inside.samples,
                overhead: body.kind == .timerOverhead ? 0 : guestOverhead,
                loop: try loopMean(machine: machine, body: body, stats: stats), delta: inside.delta,
                instructions: inside.instructions))
            if let around = series[SeriesKey(body.kind, .aroundKVMRun)] {
                measurements.append(measurement(
                    kind: body.kind, vantage: .aroundKVMRun, timedCode: "KVM_RUN until the guest's next \(body.text)",
                    samples: around.samples, overhead: hostOverhead, loop: nil, delta: around.delta, instructions: nil))
            }
        }
        measurements.append(measurement(
            kind: .timerOverhead, vantage: .host, timedCode: "(nothing)",
            samples: series[SeriesKey(.timerOverhead, .host)]?.samples ?? [], overhead: 0, loop: nil, delta: [:],
            instructions: nil))
        measurements.append(measurement(
            kind: .hostCPUID, vantage: .host, timedCode: "cpuid (leaf 0) on the host",
            samples: series[SeriesKey(.hostCPUID, .host)]?.samples ?? [], overhead: hostOverhead,
            loop: hostLoopMean { cpuidRegisters.withUnsafeMutableBufferPointer { ckvm_cpuid(0, 0, $0.baseAddress) } },
            delta: [:], instructions: nil))
        measurements.append(measurement(
            kind: .hostNullSyscall, vantage: .host, timedCode: "getppid(2)",
            samples: series[SeriesKey(.hostNullSyscall, .host)]?.samples ?? [], overhead: hostOverhead,
            loop: hostLoopMean { _ = getppid() }, delta: [:], instructions: nil))
        cpusSeen.insert(Int(ckvm_current_cpu()))

        return ProbeRun(label: label, pinnedCPU: pinnedCPU, cpusSeen: cpusSeen.sorted(),
                        durationNs: Clock.monotonicNs() - startNs, measurements: measurements)
    }

    /// The samples of one (kind, vantage) pooled over all rounds, with what KVM counted meanwhile.
    private struct Series {
        var samples: [UInt64] = []
        var delta: [String: Int64] = [:]
        var instructions: UInt64 = 0
    }

    private struct SeriesKey: Hashable {
        let kind: ProbeKind
        let vantage: ProbeVantage

        init(_ kind: ProbeKind, _ vantage: ProbeVantage) {
            self.kind = kind
            self.vantage = vantage
        }
    }

    /// Runs one slice of a series between two statistics samples and adds it to the series.
    private func measure(_ series: inout Series, stats: KVMStatsReader,
                         _ slice: () throws(KVMError) -> (samples: [UInt64], instructions: UInt64?)) throws(KVMError) {
        let before = try stats.sample()
        let (samples, instructions) = try slice()
        let delta = try stats.sample().cumulativeDeltas(since: before)
        series.samples += samples
        series.delta.merge(delta, uniquingKeysWith: +)
        series.instructions += instructions ?? 0
    }

    // MARK: guest runs

    /// Points the vCPU at `label` with R8 = `iterations` and fresh pointers, and runs it to DONE.
    private func runGuest(machine: GuestMachine, label: String, iterations: UInt64,
                          timeoutNs: UInt64? = nil) throws(KVMError) -> Outcome {
        let vcpu = machine.vcpus[0]
        var regs = kvm_regs()
        regs.rip = machine.program.address(of: label)
        regs.rflags = 2
        regs.rsp = GuestLayout.stackTop(ofVCPU: 0)
        regs.r8 = iterations
        regs.rdi = GuestLayout.samples
        regs.rsi = GuestLayout.mmioAddress(ofVCPU: 0)
        try vcpu.setRegisters(regs)
        // The default bound is generous: a loop of `minimumLoopCycles` takes a fraction of it.
        let bound = timeoutNs ?? max(30_000_000_000, UInt64(min(Double(minimumLoopCycles) * 8e9 / tsc.hz, 0x1p62)))
        let watchdog = try Watchdog(vcpu: vcpu, timeoutNs: bound)
        defer { _ = watchdog.cancel() }
        while true {
            let exit = try vcpu.run()
            switch exit {
            case .io(UInt16(GuestLayout.donePort), true, _, _, _):
                return .done(rax: try vcpu.registers().rax)
            case .io(UInt16(GuestLayout.ioExitPort), true, _, _, _), .mmio(_, _, true, _), .hlt:
                continue
            case .interrupted:
                vcpu.clearKick()
                if watchdog.hasFired { return .timedOut }
            default:
                throw unexpected(exit, vcpu: vcpu, operation: "probe guest at \(label)")
            }
        }
    }

    /// Runs `sample.K` and returns one TSC delta per iteration.
    private func guestSamples(machine: GuestMachine, body: ProbeBody, count: Int) throws(KVMError) -> [UInt64] {
        let outcome = try runGuest(machine: machine, label: ProbeGuestProgram.sampleLabel(body.kind),
                                   iterations: UInt64(count))
        guard case .done = outcome else {
            throw .unexpectedExit(operation: "probe \(body.kind.rawValue) samples", exit: "no result before the watchdog")
        }
        var samples: [UInt64] = []
        samples.reserveCapacity(count)
        for index in 0..<count {
            samples.append(try machine.memory.load(at: GuestLayout.samples + UInt64(index) * 8))
        }
        return samples
    }

    /// kvm-unit-tests' loop: iterations doubled from 64 until one loop lasts `minimumLoopCycles`.
    private func loopMean(machine: GuestMachine, body: ProbeBody, stats: KVMStatsReader)
        throws(KVMError) -> LoopMeanMeasurement
    {
        var iterations: UInt64 = 64
        while true {
            let before = try stats.sample()
            let outcome = try runGuest(machine: machine, label: ProbeGuestProgram.loopLabel(body.kind),
                                       iterations: iterations)
            let delta = try stats.sample().cumulativeDeltas(since: before)
            guard case .done(let ticks) = outcome else {
                throw .unexpectedExit(operation: "probe \(body.kind.rawValue) loop", exit: "no result before the watchdog")
            }
            if ticks >= minimumLoopCycles || iterations >= 1 << 32 {
                let perIteration = Double(ticks) / Double(iterations)
                return LoopMeanMeasurement(
                    iterations: iterations, totalCycles: ticks, cyclesPerIteration: perIteration,
                    nsPerIteration: tsc.nanoseconds(ofCycles: perIteration), kvmStatsDelta: delta,
                    guestInstructionsExecuted: ProbeGuestProgram.loopInstructions(body, iterations: iterations))
            }
            iterations *= 2
        }
    }

    /// Times each KVM_RUN on the host while the guest performs one exit per run.
    private func aroundKVMRunSamples(machine: GuestMachine, body: ProbeBody, count: Int) throws(KVMError) -> [UInt64] {
        let vcpu = machine.vcpus[0]
        var regs = try vcpu.registers()
        regs.rip = machine.program.address(of: ProbeGuestProgram.exitsLabel(body.kind))
        regs.rsi = GuestLayout.mmioAddress(ofVCPU: 0)
        try vcpu.setRegisters(regs)
        var samples: [UInt64] = []
        samples.reserveCapacity(count)
        while samples.count < count {
            let start = ckvm_rdtsc_ordered()
            let exit = try vcpu.run()
            let end = ckvm_rdtsc_ordered()
            switch (body.kind, exit) {
            case (.portIO, .io(UInt16(GuestLayout.ioExitPort), true, _, _, _)), (.mmio, .mmio(_, _, true, _)), (.hlt, .hlt):
                samples.append(end &- start)
            case (_, .interrupted):
                // A stray signal (e.g. a terminal resize): not an exit of the kind, not a sample.
                vcpu.clearKick()
            default:
                throw unexpected(exit, vcpu: vcpu, operation: "timing \(body.kind.rawValue) around KVM_RUN")
            }
        }
        return samples
    }

    /// Runs one hypercall under a short watchdog. Nil when it completes; otherwise why it cannot be
    /// measured here, with what the kernel did to the instruction.
    private func hypercallUnavailableReason(machine: GuestMachine, body: ProbeBody) throws(KVMError) -> String? {
        let label = ProbeGuestProgram.sampleLabel(body.kind)
        guard let site = machine.program.listing.first(where: {
            $0.address >= machine.program.address(of: label) && $0.instruction == hypercall
        }) else { return nil }
        let outcome = try runGuest(machine: machine, label: label, iterations: 1,
                                   timeoutNs: ProbeRunner.hypercallSmokeTimeoutNs)
        guard case .timedOut = outcome else { return nil }
        let rip = try machine.vcpus[0].instructionPointer()
        let now = try machine.memory.read(count: hypercall.bytes.count, at: site.address)
        // Put the program back as built: KVM may have patched the instruction in guest memory.
        try machine.memory.write(machine.program.bytes, at: machine.program.loadAddress)
        let hex = now.map { String($0, radix: 16).leftPadded(to: 2) }.joined(separator: " ")
        var reason = "\(hypercall.text) did not complete within \(ProbeRunner.hypercallSmokeTimeoutNs / 1_000_000) ms "
            + "(the vCPU was still at rip 0x\(String(rip, radix: 16)))"
        if now != hypercall.bytes {
            let name = now == X86Instruction.vmcall.bytes ? "vmcall" : now == X86Instruction.vmmcall.bytes ? "vmmcall" : "?"
            reason += "; KVM had rewritten the instruction in guest memory to \(hex) (\(name)), as its emulator does "
                + "to 'fix' a hypercall for the host's vendor, and kept executing it without ever completing"
        }
        return reason + ". Hypercalls cannot be timed on this host."
    }

    private func unexpected(_ exit: KVMExit, vcpu: KVMVCPU, operation: String) -> KVMError {
        let rip = (try? vcpu.instructionPointer()).map { "0x" + String($0, radix: 16) } ?? "?"
        if case .io(let port, true, _, _, let value) = exit, port == UInt16(GuestLayout.exceptionPort) {
            return .unexpectedExit(operation: operation, exit: "guest exception vector \(value) (rip \(rip))")
        }
        return .unexpectedExit(operation: operation, exit: "\(exit.name) \(exit) at rip \(rip)")
    }

    // MARK: host-side timing

    private func hostSamples(_ count: Int, _ operation: () -> Void) -> [UInt64] {
        var samples = [UInt64](repeating: 0, count: count)
        for index in 0..<count {
            let start = ckvm_rdtsc_ordered()
            operation()
            samples[index] = ckvm_rdtsc_ordered() &- start
        }
        return samples
    }

    private func hostLoopMean(_ operation: () -> Void) -> LoopMeanMeasurement {
        var iterations: UInt64 = 64
        while true {
            let start = ckvm_rdtsc_ordered()
            for _ in 0..<iterations { operation() }
            let ticks = ckvm_rdtsc_ordered() &- start
            if ticks >= minimumLoopCycles || iterations >= 1 << 32 {
                let perIteration = Double(ticks) / Double(iterations)
                return LoopMeanMeasurement(iterations: iterations, totalCycles: ticks, cyclesPerIteration: perIteration,
                                           nsPerIteration: tsc.nanoseconds(ofCycles: perIteration))
            }
            iterations *= 2
        }
    }

    private func measurement(kind: ProbeKind, vantage: ProbeVantage, timedCode: String, samples: [UInt64],
                             overhead: UInt64, loop: LoopMeanMeasurement?, delta: [String: Int64],
                             instructions: UInt64?) -> ExitCostMeasurement {
        let instructions = instructions == 0 ? nil : instructions
        let summary = SampleSummary(samples: samples, overheadCycles: overhead, tsc: tsc)
        return ExitCostMeasurement(
            kind: kind, vantage: vantage, timedCode: timedCode, status: .measured, samples: samples.count,
            timerOverheadSubtractedCycles: Double(overhead), cycles: summary?.cycles, ns: summary?.ns,
            histogram: summary?.histogram ?? [], loop: loop, kvmStatsDelta: delta, guestInstructionsExecuted: instructions)
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
