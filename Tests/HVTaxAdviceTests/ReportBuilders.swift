import HVTaxModel

/// Reports built by hand with known figures, so that each rule can be put just above and just
/// below its thresholds.
enum Build {
    /// One exit reason with its count and on-CPU hypervisor time (ns).
    struct Exit {
        var reason: String
        var count: UInt64
        var hypervisorNs: UInt64
        var vmmNs: UInt64 = 0
    }

    /// A trace of one VM `web01` with one vCPU whose on-CPU time is exactly 1 s: guest time is
    /// what the exits leave. Shares of on-CPU time are therefore the exits' ns / 1e9, and rates
    /// per vCPU-second are counts / (wall s).
    static func trace(exits: [Exit] = [], vmmPath: PathStats = PathStats(), preemptedNs: UInt64 = 0, haltedNs: UInt64 = 0,
                      emulatedInstructions: UInt64? = nil, throttling: HostThrottling? = nil,
                      hasExitEvents: Bool = true) -> TraceReport {
        let exitTime = exits.reduce(0) { $0 + $1.hypervisorNs + $1.vmmNs }
        var split = TimeSplit()
        split.hypervisor = exits.reduce(0) { $0 + $1.hypervisorNs }
        split.vmm = exits.reduce(0) { $0 + $1.vmmNs }
        split.guest = 1_000_000_000 - exitTime
        split.preempted = preemptedNs
        split.halted = haltedNs
        let total = exits.reduce(UInt64(0)) { $0 + $1.count }
        var paths = PathBreakdown()
        paths.vmm = vmmPath
        let stats = exits.map { exit in
            ExitReasonStats(reason: exit.reason, isa: ExitReasonTable.isa(ofName: exit.reason), count: exit.count,
                            ratePerSecond: 0, shareOfExits: total == 0 ? 0 : Double(exit.count) / Double(total),
                            hypervisorTime: exit.hypervisorNs, shareOfHypervisorTime: 0, vmmTime: exit.vmmNs, offCPUTime: 0,
                            latency: .empty, paths: pathBreakdown(of: exit))
        }
        let summary = ExitSummary(count: total, ratePerSecond: 0, latency: .empty, paths: paths, byReason: stats)
        let thresholds = Thresholds.standard
        let tax = RatedRatio(split.taxRatio, against: thresholds.tax)
        let steal = RatedRatio(split.stealRatio, against: thresholds.steal)
        let vcpu = VCPUReport(vm: "web01", vmPid: 1000, vcpu: 0, tid: 1001, thread: "CPU 0/KVM", firstTime: 0,
                              lastTime: split.total, split: split, tax: tax, steal: steal, exits: summary)
        let vm = VMReport(name: "web01", pid: 1000, split: split, tax: tax, steal: steal, exits: summary, vcpus: [vcpu])
        let host = HostSummary(vmCount: 1, vcpuCount: 1, duration: split.total, split: split, tax: tax, steal: steal, exits: summary)
        var quality = TraceQuality()
        quality.hasExitEvents = hasExitEvents
        quality.hasSchedSwitch = true
        if let emulatedInstructions { quality.unknownEvents["kvm_emulate_insn"] = emulatedInstructions }
        var report = TraceReport(generator: "test", sources: [], clock: ClockInfo(unit: .ns), thresholds: thresholds,
                                 filters: ReportFilters(), host: host, vms: [vm], quality: quality)
        report.throttling = throttling
        return report
    }

    /// An exit with VMM time went through the VMM; one without stayed in the kernel.
    static func pathBreakdown(of exit: Exit) -> PathBreakdown {
        var stats = PathStats()
        stats.count = exit.count
        stats.hypervisorTime = exit.hypervisorNs
        stats.vmmTime = exit.vmmNs
        var paths = PathBreakdown()
        if exit.vmmNs > 0 { paths.vmm = stats } else { paths.kernel = stats }
        return paths
    }

    static func throttling(_ state: HostThrottling.State, minFrequencyRatio: Double? = 1, events: UInt64? = 0) -> HostThrottling {
        HostThrottling(state: state, cpufreqCPUs: 2, minFrequencyRatio: minFrequencyRatio, meanFrequencyRatio: minFrequencyRatio,
                       cappedCPUs: [], throttleCounterCPUs: 2, throttleEvents: events, throttleEventsSinceBoot: events,
                       zones: [], detail: "test")
    }

    /// One interval of 1 s with VM `db01` (2 vCPUs on CPUs 0-1) on a host of 4 CPUs.
    static func snapshot(vmSteal: Double = 0, vcpuSteal: [Double] = [0, 0], vmmOverhead: Double = 0,
                         storms: [InterruptStorm] = [], hostSteal: Double = 0, findings: [SnapshotFinding.Kind] = [],
                         throttling: HostThrottling? = nil, exitReasons: [String: Double] = [:]) -> HostSnapshot {
        let thresholds = Thresholds.standard
        let vcpus = vcpuSteal.enumerated().map { index, steal in
            VCPUFigures(vcpu: index, tid: Int32(2001 + index), thread: "CPU \(index)/KVM", onCPUNs: 500_000_000,
                        runDelayNs: UInt64(steal * 1e9), userNs: 0, systemNs: 0, guestNs: 0, voluntarySwitches: 10,
                        involuntarySwitches: 5, migrations: 1, lastCPU: index, onCPU: 0.5,
                        steal: RatedRatio(steal, against: thresholds.steal))
        }
        var vm = VMFigures(name: "db01", pid: 2000, kind: .qemu, uuid: nil, vcpus: vcpus, emulator: ThreadGroupFigures(),
                           io: ThreadGroupFigures(threads: 1, onCPUNs: 100_000_000, runDelayNs: 0), vhost: ThreadGroupFigures(),
                           cgroup: nil, vcpuOnCPU: 1.0, vmmOverhead: RatedRatio(vmmOverhead, against: thresholds.tax),
                           steal: RatedRatio(vmSteal, against: thresholds.steal), worstVCPUSteal: .ok, exitsPerSecond: nil,
                           cpus: [0, 1])
        // Counted per VM (both vCPUs together), as the tracepoint counters give them.
        vm.exitReasons = exitReasons.sorted { $0.key < $1.key }.map { ExitReasonRate(reason: $0.key, count: UInt64($0.value), perSecond: $0.value) }
        let cpu = { (index: Int?) in
            HostCPUFigures(cpu: index, user: 0.5, system: 0.1, idle: 0.3, iowait: 0, irq: 0.02, softirq: 0.03,
                           steal: hostSteal, guest: 0.4)
        }
        var snapshot = HostSnapshot(
            sequence: 1, intervalNs: 1_000_000_000, endUnixNs: 0, root: "/", clockTicksPerSecond: 100,
            hostCPUs: [cpu(nil), cpu(0), cpu(1), cpu(2), cpu(3)], vms: [vm],
            interrupts: InterruptFigures(totalPerSecond: 1000, top: [], storms: storms),
            exitRates: exitReasons.isEmpty ? ExitRateSource(kind: .none, detail: "none available: test")
                : ExitRateSource(kind: .tracepointCounters, detail: "test counters"), noisyNeighbours: [],
            findings: findings.map { SnapshotFinding(kind: $0, vm: "db01", detail: "test") },
            sampler: SamplerCost(cpuNs: 0, filesRead: 0, threadsSampled: 0), thresholds: thresholds)
        snapshot.throttling = throttling
        return snapshot
    }

    static func storm(perSecond: Double, cpus: [Int]) -> InterruptStorm {
        InterruptStorm(irq: "36", device: "eth0-TxRx-0", cause: .onVCPUCPUs, perSecond: perSecond, baselinePerSecond: nil,
                       cpus: cpus, detail: "test storm")
    }

    /// A capture with one host and VM `sql01`, whose per-vCPU means are `values`; Hyper-V logical
    /// processors with `lpValues`.
    static func capture(kind: CaptureKind = .hyperV, steal: Double? = 0, values: [CaptureFigure: Double] = [:],
                        lpValues: [CaptureFigure: Double] = [:]) -> CaptureReport {
        let thresholds = CaptureThresholds.standard
        func sampled(_ values: [CaptureFigure: Double]) -> [CaptureFigure: SampledValue] {
            values.mapValues { SampledValue(mean: $0, min: $0, max: $0, samples: 10) }
        }
        let vm = CaptureCPUGroup(name: "sql01", groupID: nil, cpuCount: 2, values: sampled(values),
                                 tax: RatedRatio(nil, against: thresholds.tax), steal: RatedRatio(steal, against: thresholds.steal),
                                 levels: [:], cpus: [])
        let lps = CaptureCPUGroup(name: "logical processors", groupID: nil, cpuCount: 4, values: sampled(lpValues),
                                  tax: RatedRatio(nil, against: thresholds.tax), steal: RatedRatio(nil, against: thresholds.steal),
                                  levels: [:], cpus: [])
        let host = CaptureHost(name: "HV01", vmCount: 1, vcpuCount: 2, values: [:], tax: vm.tax, steal: vm.steal, levels: [:],
                               vms: [vm], logicalProcessors: lps, root: nil, rootShareOfRunTime: nil)
        let present = Set(values.keys).union(lpValues.keys)
        let figures = CaptureFigure.allCases.map { figure in
            FigureAvailability(figure: figure, available: present.contains(figure), source: present.contains(figure) ? "test" : nil,
                               reason: present.contains(figure) ? nil : "not in this test capture")
        }
        let source = CaptureSource(path: "test.csv", kind: kind, format: "PDH-CSV 4.0", timeZone: "UTC", biasMinutes: 0, bytes: 0,
                                   columns: 0, columnsUsed: 0, samples: 10, firstSampleUTCSeconds: 0, lastSampleUTCSeconds: 50,
                                   firstSampleLocal: nil, lastSampleLocal: nil, intervalSeconds: 5)
        return CaptureReport(generator: "test", source: source, thresholds: thresholds, figures: figures, hosts: [host],
                             quality: CaptureQuality())
    }
}

extension Build {
    /// A validation of VM `db01` with one comparison (guest-time against schedstat) and one verdict.
    static func validation(verdict: SourceVerdict.Verdict, discrepancy: Double?, state: AccountingComparison.State) -> AccountingValidation {
        let comparison = AccountingComparison(
            source: .guestTime, reference: .schedstat, title: "guest_time vs schedstat", sourceNs: 0, referenceNs: 1_000_000_000,
            toleranceNs: 40_000_000, discrepancyRatio: discrepancy, state: state, cause: state == .disagrees ? .emulatedGuestAsSystem : nil,
            explanation: "test")
        let figures = AccountingFigures(vcpuOnCPUNs: 1_000_000_000, vcpuRunDelayNs: 0, vcpuUserNs: 0, vcpuSystemNs: 1_000_000_000,
                                        vcpuGuestNs: 0, vcpuWaitSumNs: nil, vmmThreadsOnCPUNs: 0, vhostOnCPUNs: 0,
                                        processUserSystemNs: nil, cgroupUsageNs: nil, cgroupUserNs: nil, cgroupSystemNs: nil, libvirt: nil)
        let vm = VMAccounting(name: "db01", pid: 2000, kind: .qemu, figures: figures, vcpus: [], comparisons: [comparison])
        return AccountingValidation(
            intervalNs: 1_000_000_000, endUnixNs: 0, clockTicksPerSecond: 100,
            environment: AccountingEnvironment(kvmBackend: "test", guestCodeEmulated: true, schedstatsAvailable: false, libvirt: "not read"),
            tolerance: .standard, host: [], vms: [vm],
            verdicts: [SourceVerdict(source: .guestTime, verdict: verdict, worstDiscrepancyRatio: discrepancy, reason: "guest code is emulated")])
    }
}
