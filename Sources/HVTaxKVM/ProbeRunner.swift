import CKVM
import HVTaxModel

#if canImport(Glibc)
import Glibc
#endif

/// One probe pass: every kind timed on one vCPU, on the calling thread (already named and pinned).
struct ProbeRunner {
    let device: KVMDevice
    let samplesPerKind: Int
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
        var cpusSeen = Set<Int>()
        var measurements: [ExitCostMeasurement] = []
        let samples = min(samplesPerKind, GuestLayout.sampleCapacity)

        let hostOverhead = Double(hostSamples(samples) {}.min() ?? 0)
        var guestOverhead = 0.0
        for body in bodies {
            cpusSeen.insert(Int(ckvm_current_cpu()))
            if body.kind == .hypercall,
               let reason = try hypercallUnavailableReason(machine: machine, body: body) {
                measurements.append(ExitCostMeasurement(kind: .hypercall, vantage: .insideGuest, timedCode: body.text,
                                                        status: .unavailable, unavailableReason: reason))
                continue
            }
            let before = try stats.sample()
            let timed = try guestSamples(machine: machine, body: body, count: samples)
            let delta = try stats.sample().cumulativeDeltas(since: before)
            if body.kind == .timerOverhead { guestOverhead = Double(timed.min() ?? 0) }
            let overhead = body.kind == .timerOverhead ? 0 : guestOverhead
            let loop = try loopMean(machine: machine, body: body, stats: stats)
            measurements.append(measurement(
                kind: body.kind, vantage: .insideGuest, timedCode: body.text, samples: timed, overhead: overhead,
                loop: loop, delta: delta,
                instructions: ProbeGuestProgram.sampleInstructions(body, iterations: UInt64(timed.count))))

            if ProbeBody.userspaceKinds.contains(body.kind) {
                let before = try stats.sample()
                let aroundRun = try aroundKVMRunSamples(machine: machine, body: body, count: samples)
                let delta = try stats.sample().cumulativeDeltas(since: before)
                measurements.append(measurement(
                    kind: body.kind, vantage: .aroundKVMRun,
                    timedCode: "KVM_RUN until the guest's next \(body.text)", samples: aroundRun,
                    overhead: hostOverhead, loop: nil, delta: delta, instructions: nil))
            }
        }

        cpusSeen.insert(Int(ckvm_current_cpu()))
        measurements.append(measurement(kind: .timerOverhead, vantage: .host, timedCode: "(nothing)",
                                        samples: hostSamples(samples) {}, overhead: 0, loop: nil, delta: [:],
                                        instructions: nil))
        var registers: [UInt32] = [0, 0, 0, 0]
        let cpuidLoop = hostLoopMean { registers.withUnsafeMutableBufferPointer { ckvm_cpuid(0, 0, $0.baseAddress) } }
        measurements.append(measurement(
            kind: .hostCPUID, vantage: .host, timedCode: "cpuid (leaf 0) on the host",
            samples: hostSamples(samples) { registers.withUnsafeMutableBufferPointer { ckvm_cpuid(0, 0, $0.baseAddress) } },
            overhead: hostOverhead, loop: cpuidLoop, delta: [:], instructions: nil))
        let syscallLoop = hostLoopMean { _ = getppid() }
        measurements.append(measurement(
            kind: .hostNullSyscall, vantage: .host, timedCode: "getppid(2)",
            samples: hostSamples(samples) { _ = getppid() }, overhead: hostOverhead, loop: syscallLoop,
            delta: [:], instructions: nil))
        cpusSeen.insert(Int(ckvm_current_cpu()))

        return ProbeRun(label: label, pinnedCPU: pinnedCPU, cpusSeen: cpusSeen.sorted(),
                        durationNs: Clock.monotonicNs() - startNs, measurements: measurements)
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
        let bound = timeoutNs ?? max(30_000_000_000, UInt64(Double(minimumLoopCycles) * 8e9 / tsc.hz))
        let watchdog = try Watchdog(vcpu: vcpu, timeoutNs: bound)
        defer { _ = watchdog.cancel() }
        while true {
            let exit = try vcpu.run()
            switch exit {
            case .io(let port, true, _, _, let value) where port == UInt16(GuestLayout.donePort):
                _ = value
                return .done(rax: try vcpu.registers().rax)
            case .io(let port, true, _, _, _) where port == UInt16(GuestLayout.ioExitPort):
                continue
            case .mmio(_, _, true, _), .hlt:
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
            reason += "; KVM rewrote the instruction to \(hex) (\(now == X86Instruction.vmcall.bytes ? "vmcall" : now == X86Instruction.vmmcall.bytes ? "vmmcall" : "other bytes")), "
                + "its 'fix the hypercall for this vendor' path, and re-executes it forever: this KVM has no hypercall "
                + "intercept for a guest it emulates"
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
                             overhead: Double, loop: LoopMeanMeasurement?, delta: [String: Int64],
                             instructions: UInt64?) -> ExitCostMeasurement {
        let summary = SampleSummary(samples: samples, overheadCycles: overhead, tsc: tsc)
        return ExitCostMeasurement(
            kind: kind, vantage: vantage, timedCode: timedCode, status: .measured, samples: samples.count,
            timerOverheadSubtractedCycles: overhead, cycles: summary?.cycles, ns: summary?.ns,
            histogram: summary?.histogram ?? [], loop: loop, kvmStatsDelta: delta, guestInstructionsExecuted: instructions)
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
