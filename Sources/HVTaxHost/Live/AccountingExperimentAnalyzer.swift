import HVTaxModel

/// What a VM was known to do: the truth records of `hvtax workload`, or a load the user describes.
public enum ExperimentTruth: Sendable {
    /// The workload's own measurements per vCPU and interval (CLOCK_MONOTONIC, the sampler's clock).
    case workload(start: WorkloadTruthStart, intervals: [WorkloadTruthInterval], file: String)
    /// The user's description: each vCPU busy `duty` of the time in each phase, from `startMonotonicNs`.
    case described(phases: [WorkloadPhase], startMonotonicNs: UInt64, text: String)

    var phases: [WorkloadPhase] {
        switch self {
        case .workload(let start, _, _): start.phases
        case .described(let phases, _, _): phases
        }
    }

    var startMonotonicNs: UInt64 {
        switch self {
        case .workload(let start, _, _): start.startMonotonicNs
        case .described(_, let start, _): start
        }
    }
}

/// Turns the samples taken during an experiment into how far each source is from the truth, per
/// phase. No I/O: the command runs the load and the sampler and hands both here.
public struct AccountingExperimentAnalyzer: Sendable {
    public var validator: AccountingValidator
    /// Percentage points of one vCPU.
    public var tolerancePoints: Double
    /// Samples closer than this to a phase change are left out: the duty changes at the boundary.
    public var marginNs: UInt64

    public init(validator: AccountingValidator, tolerancePoints: Double = 2, marginNs: UInt64 = 150_000_000) {
        self.validator = validator
        self.tolerancePoints = tolerancePoints
        self.marginNs = marginNs
    }

    /// Sources whose truth is the vCPUs' on-CPU duty, and those whose truth is the guest's share.
    static let onCPUSources: [AccountingSource] = [.schedstat, .threadStat, .processStat, .cgroupUsage, .cgroupUserSystem]
    static let guestSources: [AccountingSource] = [.guestTime, .procStatGuest]

    public func analyze(samples: [HostSample], vm: DiscoveredVM, truth: ExperimentTruth, otherVMs: Int) -> AccountingExperiment {
        let vcpus = max(vm.vcpuThreads.count, 1)
        var phases: [ExperimentPhase] = []
        var phaseStart = truth.startMonotonicNs
        for (index, phase) in truth.phases.enumerated() {
            defer { phaseStart += phase.durationNs }
            let from = phaseStart + marginNs
            let to = phaseStart + phase.durationNs
            let inside = samples.filter { $0.monotonicNs >= from && $0.monotonicNs <= to }
            guard let first = inside.first, let last = inside.last, last.monotonicNs > first.monotonicNs else { continue }
            let v = validator.validate(from: first, to: last, vms: [vm])
            guard let account = v.vms.first else { continue }
            let wall = Double(last.monotonicNs - first.monotonicNs)
            let (onCPUTruth, guestTruth, kind, guestKind) = truthShares(truth, phase: phase, from: first.monotonicNs,
                                                                        to: last.monotonicNs, vcpus: vcpus)
            func share(_ ns: UInt64?) -> Double? { ns.map { Double($0) / wall / Double(vcpus) } }
            let f = account.figures
            var figures: [ExperimentFigure] = []
            func add(_ source: AccountingSource, _ measured: Double?, _ truthValue: Double, _ truthKind: String, note: String? = nil) {
                let error = measured.map { ($0 - truthValue) * 100 }
                figures.append(ExperimentFigure(
                    source: source, measured: measured, truth: truthValue, truthKind: truthKind, errorPoints: error,
                    withinTolerance: error.map { abs($0) <= tolerancePoints }, note: measured == nil ? note : nil))
            }
            let noCgroup = vm.cgroup == nil ? "the VM has no cgroup of its own" : "cgroup counters not readable"
            add(.schedstat, share(f.vcpuOnCPUNs), onCPUTruth, kind)
            add(.threadStat, share(f.vcpuUserNs + f.vcpuSystemNs), onCPUTruth, kind)
            add(.processStat, share(f.processUserSystemNs), onCPUTruth, kind, note: "process stat not read")
            add(.cgroupUsage, share(f.cgroupUsageNs), onCPUTruth, kind, note: noCgroup)
            let userSystem: UInt64? = if let u = f.cgroupUserNs, let s = f.cgroupSystemNs { u + s } else { nil }
            add(.cgroupUserSystem, share(userSystem), onCPUTruth, kind, note: noCgroup)
            add(.guestTime, share(f.vcpuGuestNs), guestTruth, guestKind)
            // /proc/stat's guest is host-wide: it is this VM's only when no other VM runs.
            var hostGuest: UInt64?
            if otherVMs == 0, let a = first.cpuTicks[Optional<Int>.none], let b = last.cpuTicks[Optional<Int>.none], a.count > 9, b.count > 9 {
                hostGuest = (b[8].sub(a[8]) + b[9].sub(a[9])) * validator.nsPerTick
            }
            add(.procStatGuest, share(hostGuest), guestTruth, guestKind,
                note: otherVMs > 0 ? "other VMs run on this host: /proc/stat's guest is not this VM's alone" : "/proc/stat not read")
            phases.append(ExperimentPhase(
                index: index, requestedDuty: phase.duty, windowStartNs: first.monotonicNs.sub(truth.startMonotonicNs),
                windowNs: last.monotonicNs - first.monotonicNs, figures: figures))
        }
        // The whole run, for the explanations of what went wrong.
        var validation: AccountingValidation?
        let runSamples = samples.filter { $0.monotonicNs >= truth.startMonotonicNs + marginNs }
        if let first = runSamples.first, let last = runSamples.last, last.monotonicNs > first.monotonicNs {
            validation = validator.validate(from: first, to: last, vms: [vm])
        }
        let results = sourceResults(phases, validation: validation)
        let (exits, exitNote) = exitFigures(samples: runSamples, vm: vm, truth: truth)
        let truthText: String =
            switch truth {
            case .workload(_, _, let file): "hvtax workload truth file \(file)"
            case .described(_, _, let text): "described by the user: \(text)"
            }
        return AccountingExperiment(
            vm: vm.name, pid: vm.pid, vcpus: vm.vcpuThreads.count, truthSource: truthText, tolerancePoints: tolerancePoints,
            phases: phases, results: results, exits: exits, exitSource: exitNote, validation: validation)
    }

    /// The truth over [from, to]: from the workload's intervals weighted by their overlap with the
    /// window (each is assumed even inside), or the described duty.
    func truthShares(_ truth: ExperimentTruth, phase: WorkloadPhase, from: UInt64, to: UInt64, vcpus: Int)
        -> (onCPU: Double, guest: Double, kind: String, guestKind: String)
    {
        switch truth {
        case .described:
            return (phase.duty, phase.duty, "described duty", "described duty (guest share unknown; exits make it lower)")
        case .workload(_, let intervals, _):
            var cpu = 0.0
            var guest = 0.0
            for interval in intervals {
                let overlap = Self.overlap(interval.startMonotonicNs, interval.endMonotonicNs, from, to)
                guard overlap > 0, interval.wallNs > 0 else { continue }
                let weight = Double(overlap) / Double(interval.wallNs)
                cpu += Double(interval.threadCPUNs) * weight
                // The guest's TSC keeps running while its thread is preempted, so its busy time can
                // exceed what the thread ran; guest code cannot have run longer than the thread did.
                guest += Double(min(interval.guestNs, interval.threadCPUNs)) * weight
            }
            let denominator = Double(to - from) * Double(vcpus)
            return (cpu / denominator, guest / denominator,
                    "on-CPU duty (vCPU threads' CLOCK_THREAD_CPUTIME_ID, from the truth)",
                    "guest share (guest code time by the guest's TSC, from the truth)")
        }
    }

    static func overlap(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) -> UInt64 {
        let start = max(a, c)
        let end = min(b, d)
        return end > start ? end - start : 0
    }

    func sourceResults(_ phases: [ExperimentPhase], validation: AccountingValidation?) -> [ExperimentSourceResult] {
        let order = Self.onCPUSources + Self.guestSources
        return order.map { source in
            let figures = phases.flatMap { phase in phase.figures.filter { $0.source == source }.map { (phase.index, $0) } }
            let measured = figures.filter { $0.1.errorPoints != nil }
            guard !measured.isEmpty else {
                return ExperimentSourceResult(source: source, worstErrorPoints: nil, verdict: .unavailable,
                                              explanation: figures.first?.1.note ?? "no phase was sampled")
            }
            let worst = measured.max { abs($0.1.errorPoints ?? 0) < abs($1.1.errorPoints ?? 0) }!
            let worstPoints = worst.1.errorPoints ?? 0
            let miss = "phase \(worst.0 + 1): \(Self.points(worstPoints)) (\(Self.percent(worst.1.measured ?? 0)) vs truth "
                + "\(Self.percent(worst.1.truth)))"
            if abs(worstPoints) <= tolerancePoints {
                return ExperimentSourceResult(source: source, worstErrorPoints: worstPoints, verdict: .trustworthy,
                                              explanation: "within \(Self.fixed(tolerancePoints, 1)) points of the truth in every phase; "
                                                  + "worst \(miss)")
            }
            // The cause comes from the sources compared with each other over the whole run.
            let why = validation?.allComparisons.first { $0.comparison.source == source && $0.comparison.state == .disagrees }?
                .comparison.explanation
            return ExperimentSourceResult(source: source, worstErrorPoints: worstPoints, verdict: .notTrustworthy,
                                          explanation: "off by more than \(Self.fixed(tolerancePoints, 1)) points: \(miss)"
                                              + (why.map { "; \($0)" } ?? ""))
        }
    }

    /// Exit counts by reason over the run against the workload's own counts in the same window.
    func exitFigures(samples: [HostSample], vm: DiscoveredVM, truth: ExperimentTruth) -> ([ExperimentExitFigure], String) {
        guard case .workload(let start, let intervals, _) = truth else {
            return ([], "no exit truth for a described load")
        }
        guard let first = samples.first(where: { $0.exitCounts[vm.pid] != nil }),
              let last = samples.last(where: { $0.exitCounts[vm.pid] != nil }), last.monotonicNs > first.monotonicNs,
              let a = first.exitCounts[vm.pid], let b = last.exitCounts[vm.pid]
        else {
            return ([], "no per-VM exit counts were sampled")
        }
        var io = 0.0, mmio = 0.0, cpuid = 0.0, userspace = 0.0
        for interval in intervals {
            let overlap = Self.overlap(interval.startMonotonicNs, interval.endMonotonicNs, first.monotonicNs, last.monotonicNs)
            guard overlap > 0, interval.wallNs > 0 else { continue }
            let w = Double(overlap) / Double(interval.wallNs)
            io += Double(interval.exits.io) * w
            mmio += Double(interval.exits.mmio) * w
            cpuid += Double(interval.exits.cpuid) * w
            userspace += Double(interval.exits.userspace) * w
        }
        let truthByReason: [(String, Double, String)] = [
            (ExitCounterPlan.userspaceExitName, userspace, "exits to userspace counted by the workload at each KVM_RUN return"),
            ("kvm_pio", io, "port I/O exits counted by the workload"),
            ("kvm_mmio", mmio, "MMIO exits counted by the workload"),
            ("kvm_cpuid", cpuid, "CPUID instructions counted by the guest"),
        ]
        let periods = max(Double(last.monotonicNs - first.monotonicNs) / Double(max(start.periodNs, 1)), 1)
        var out: [ExperimentExitFigure] = []
        for (reason, value, kind) in truthByReason {
            guard let now = b[reason], let then = a[reason] else { continue }
            out.append(ExperimentExitFigure(reason: reason, counted: now.sub(then), truth: UInt64(value.rounded()), truthKind: kind,
                                            allowedRelativeError: 2 / periods + 0.005))
        }
        return (out, "kvm tracepoint counters (perf_event_open, counting mode) on the VM's vCPU threads")
    }

    static func fixed(_ v: Double, _ d: Int) -> String { SnapshotAnalyzer.fixed(v, d) }
    static func percent(_ ratio: Double) -> String { fixed(ratio * 100, 1) + "%" }
    static func points(_ p: Double) -> String { (p >= 0 ? "+" : "") + fixed(p, 2) + " points" }
}
