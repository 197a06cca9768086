import HVTaxModel

/// Turns consecutive `HostSample`s into `HostSnapshot`s: deltas, rates and ratios, interrupt
/// storms against each IRQ's own baseline, noisy neighbours against the previous interval, and
/// accounting findings. No I/O: tests feed it samples read from fixture trees or built by hand.
public struct SnapshotAnalyzer: Sendable {
    public var thresholds: Thresholds
    public var ticksPerSecond: UInt64
    public var root: String
    public var exitRateSource: ExitRateSource
    public var backend: KVMBackend
    public var storm: StormRules

    private var previous: HostSample?
    private var previousSnapshot: HostSnapshot?
    /// Per IRQ: a running mean of its rate and how many intervals went into it.
    private var irqBaseline: [String: (rate: Double, intervals: Int)] = [:]
    private var sequence = 0

    /// When an interrupt counts as a storm.
    public struct StormRules: Sendable {
        /// Above this many times its own baseline...
        public var baselineFactor: Double = 10
        /// ...once the baseline has this many intervals...
        public var baselineIntervals: Int = 3
        /// ...and at least this rate, so an idle IRQ going from 1/s to 20/s is not a storm.
        public var minimumPerSecond: Double = 1000
        /// A device IRQ at this rate on one CPU where vCPUs run.
        public var onVCPUCPUPerSecond: Double = 5000

        public init() {}
    }

    public init(thresholds: Thresholds = .standard, ticksPerSecond: UInt64, root: String, exitRateSource: ExitRateSource,
                backend: KVMBackend, storm: StormRules = StormRules()) {
        self.thresholds = thresholds
        self.ticksPerSecond = ticksPerSecond
        self.root = root
        self.exitRateSource = exitRateSource
        self.backend = backend
        self.storm = storm
    }

    /// The snapshot of the interval that `sample` ends; nil for the first sample, which only
    /// starts the first interval.
    public mutating func add(_ sample: HostSample, vms: [DiscoveredVM], affinity: [Int32: [Int]] = [:]) -> HostSnapshot? {
        defer { previous = sample }
        guard let before = previous, sample.monotonicNs > before.monotonicNs else { return nil }
        sequence += 1
        let intervalNs = sample.monotonicNs - before.monotonicNs
        let seconds = Double(intervalNs) / 1e9
        let nsPerTick = 1_000_000_000 / max(ticksPerSecond, 1)

        var vmFigures: [VMFigures] = []
        var findings: [SnapshotFinding] = []
        // The threads are looked up in the order the sampler read them: each lookup where the last ended.
        var nowCursor = ThreadCounterTable.Cursor(), thenCursor = ThreadCounterTable.Cursor()
        for vm in vms {
            var vcpus: [VCPUFigures] = []
            var groups: [ThreadRole: ThreadGroupFigures] = [.emulator: .init(), .io: .init(), .vhost: .init()]
            var cpus = Set<Int>()
            for thread in vm.threads {
                guard let now = sample.threads.counters(of: thread.tid, cursor: &nowCursor),
                      let then = before.threads.counters(of: thread.tid, cursor: &thenCursor) else { continue }
                let onCPU = now.onCPUNs.sub(then.onCPUNs)
                let delay = now.runDelayNs.sub(then.runDelayNs)
                guard thread.role == .vcpu else {
                    groups[thread.role, default: .init()].threads += 1
                    groups[thread.role, default: .init()].onCPUNs += onCPU
                    groups[thread.role, default: .init()].runDelayNs += delay
                    continue
                }
                cpus.insert(now.lastCPU)
                cpus.formUnion(affinity[thread.tid] ?? [])
                let migrations: UInt64? =
                    if let a = now.migrations, let b = then.migrations { a.sub(b) } else { nil }
                vcpus.append(VCPUFigures(
                    vcpu: thread.vcpu ?? -1, tid: thread.tid, thread: thread.name, onCPUNs: onCPU, runDelayNs: delay,
                    userNs: now.utimeTicks.sub(then.utimeTicks) * nsPerTick,
                    systemNs: now.stimeTicks.sub(then.stimeTicks) * nsPerTick,
                    guestNs: now.guestTicks.sub(then.guestTicks) * nsPerTick,
                    voluntarySwitches: now.voluntarySwitches.sub(then.voluntarySwitches),
                    involuntarySwitches: now.involuntarySwitches.sub(then.involuntarySwitches),
                    migrations: migrations, lastCPU: now.lastCPU, onCPU: Double(onCPU) / Double(intervalNs),
                    steal: RatedRatio(Double(delay) / Double(intervalNs), against: thresholds.steal)))
            }
            let vcpuOnCPUNs = vcpus.reduce(0) { $0 + $1.onCPUNs }
            let vmmNs = groups.values.reduce(0) { $0 + $1.onCPUNs }
            let delayNs = vcpus.reduce(0) { $0 + $1.runDelayNs }
            var cgroup: CgroupFigures?
            if let location = vm.cgroup, let now = sample.cgroups[vm.pid], let then = before.cgroups[vm.pid] {
                cgroup = CgroupFigures(
                    version: location.version, path: location.path, usageNs: now.usageNs.sub(then.usageNs),
                    userNs: now.userNs.sub(then.userNs), systemNs: now.systemNs.sub(then.systemNs))
            }
            var exitsPerSecond: Double?
            if let now = sample.debugfsExits[vm.pid], let then = before.debugfsExits[vm.pid] {
                exitsPerSecond = Double(now.sub(then)) / seconds
            }
            var reasons: [ExitReasonRate] = []
            if let now = sample.exitCounts[vm.pid] {
                let then = before.exitCounts[vm.pid] ?? [:]
                for (label, value) in now {
                    // A counter opened during this interval started at zero: its whole value is this interval's.
                    let count = value.sub(then[label] ?? 0)
                    reasons.append(ExitReasonRate(reason: label, count: count, perSecond: Double(count) / seconds))
                }
                reasons.sort { ($0.count, $1.reason) > ($1.count, $0.reason) }
                if let all = reasons.first(where: { $0.reason == "kvm_exit" }) { exitsPerSecond = all.perSecond }
            }
            var figures = VMFigures(
                name: vm.name, pid: vm.pid, kind: vm.kind, uuid: vm.uuid, vcpus: vcpus,
                emulator: groups[.emulator] ?? .init(), io: groups[.io] ?? .init(), vhost: groups[.vhost] ?? .init(),
                cgroup: cgroup, vcpuOnCPU: Double(vcpuOnCPUNs) / Double(intervalNs),
                vmmOverhead: RatedRatio(vcpuOnCPUNs + vmmNs == 0 ? nil : Double(vmmNs) / Double(vcpuOnCPUNs + vmmNs),
                                        against: thresholds.tax),
                steal: RatedRatio(vcpus.isEmpty ? nil : Double(delayNs) / (Double(intervalNs) * Double(vcpus.count)),
                                  against: thresholds.steal),
                worstVCPUSteal: vcpus.map(\.steal.level).max() ?? .unavailable,
                exitsPerSecond: exitsPerSecond, cpus: cpus.sorted())
            figures.exitReasons = reasons
            vmFigures.append(figures)
            findings += accountingFindings(figures, intervalNs: intervalNs, nsPerTick: nsPerTick)
        }

        let snapshot = HostSnapshot(
            sequence: sequence, intervalNs: intervalNs, endUnixNs: sample.realtimeNs, root: root,
            clockTicksPerSecond: ticksPerSecond, hostCPUs: hostCPUs(before.cpuTicks, sample.cpuTicks),
            vms: vmFigures, interrupts: interrupts(before.interrupts, sample.interrupts, seconds: seconds, vms: vmFigures),
            exitRates: exitRateSource, noisyNeighbours: noisyNeighbours(vmFigures), findings: findings,
            sampler: sample.cost, thresholds: thresholds)
        previousSnapshot = snapshot
        return snapshot
    }

    // MARK: Host CPUs

    /// Shares of each CPU line's own tick total, so a CLK_TCK mismatch or a late sample cannot
    /// push a share above 1.
    func hostCPUs(_ before: [Int?: [UInt64]], _ now: [Int?: [UInt64]]) -> [HostCPUFigures] {
        let keys = now.keys.sorted { ($0 ?? -1) < ($1 ?? -1) }
        return keys.compactMap { key in
            guard let a = before[key], let b = now[key] else { return nil }
            func d(_ i: Int) -> Double { i < a.count && i < b.count ? Double(b[i].sub(a[i])) : 0 }
            // user nice system idle iowait irq softirq steal: guest and guest_nice are inside user and nice.
            let total = (0..<8).reduce(0.0) { $0 + d($1) }
            guard total > 0 else {
                return HostCPUFigures(cpu: key, user: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0, guest: 0)
            }
            return HostCPUFigures(
                cpu: key, user: (d(0) + d(1)) / total, system: d(2) / total, idle: d(3) / total, iowait: d(4) / total,
                irq: d(5) / total, softirq: d(6) / total, steal: d(7) / total, guest: (d(8) + d(9)) / total)
        }
    }

    // MARK: Interrupts

    mutating func interrupts(_ before: InterruptCounts, _ now: InterruptCounts, seconds: Double, vms: [VMFigures]) -> InterruptFigures {
        let previousByIRQ = Dictionary(before.lines.map { ($0.irq, $0) }, uniquingKeysWith: { a, _ in a })
        // CPUs where a vCPU ran in this interval.
        var vcpuCPUs: [Int: Set<String>] = [:]
        for vm in vms {
            for vcpu in vm.vcpus where vcpu.onCPUNs > 0 { vcpuCPUs[vcpu.lastCPU, default: []].insert(vm.name) }
        }
        var rates: [InterruptRate] = []
        var storms: [InterruptStorm] = []
        var total = 0.0
        for line in now.lines {
            guard let old = previousByIRQ[line.irq], old.perCPU.count == line.perCPU.count else { continue }
            let perCPU = zip(line.perCPU, old.perCPU).map { Double($0.sub($1)) / seconds }
            let rate = perCPU.reduce(0, +)
            total += rate
            rates.append(InterruptRate(irq: line.irq, device: line.device, perSecond: rate, perCPUPerSecond: perCPU))
            let name = line.device.isEmpty ? "IRQ \(line.irq)" : "IRQ \(line.irq) (\(line.device))"
            if let baseline = irqBaseline[line.irq], baseline.intervals >= storm.baselineIntervals,
                rate >= storm.minimumPerSecond, rate > storm.baselineFactor * max(baseline.rate, 1)
            {
                let busy = perCPU.indices.filter { perCPU[$0] > 0 }
                storms.append(InterruptStorm(
                    irq: line.irq, device: line.device, cause: .aboveBaseline, perSecond: rate, baselinePerSecond: baseline.rate,
                    cpus: busy,
                    detail: "\(name) at \(Self.rate(rate)), \(Self.fixed(rate / max(baseline.rate, 1), 0))x its baseline of \(Self.rate(baseline.rate))"))
            } else {
                // A storm does not become the new normal: only calm intervals feed the baseline.
                let b = irqBaseline[line.irq] ?? (0, 0)
                let n = Double(min(b.intervals, 9))
                irqBaseline[line.irq] = ((b.rate * n + rate) / (n + 1), b.intervals + 1)
            }
            if line.isDevice {
                let hot = perCPU.indices.filter { perCPU[$0] >= storm.onVCPUCPUPerSecond && vcpuCPUs[$0] != nil }
                if !hot.isEmpty {
                    let victims = Set(hot.flatMap { vcpuCPUs[$0] ?? [] }).sorted()
                    storms.append(InterruptStorm(
                        irq: line.irq, device: line.device, cause: .onVCPUCPUs, perSecond: rate, baselinePerSecond: nil, cpus: hot,
                        detail: "\(name) at \(hot.map { "\(Self.rate(perCPU[$0])) on CPU \($0)" }.joined(separator: ", ")), "
                            + "where vCPUs of \(victims.joined(separator: ", ")) run"))
                }
            }
        }
        rates.sort { $0.perSecond > $1.perSecond }
        return InterruptFigures(totalPerSecond: total, top: Array(rates.prefix(10)), storms: storms)
    }

    // MARK: Noisy neighbours

    /// A victim whose steal reached the warning level and rose by at least 2 points while a VM
    /// sharing its CPUs raised its demand by at least a tenth of a CPU.
    func noisyNeighbours(_ vms: [VMFigures]) -> [NoisyNeighbour] {
        guard let earlier = previousSnapshot else { return [] }
        let before = Dictionary(earlier.vms.map { ($0.pid, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [NoisyNeighbour] = []
        for victim in vms {
            guard let old = before[victim.pid], let s0 = old.steal.ratio, let s1 = victim.steal.ratio,
                s1 >= thresholds.steal.warning, s1 - s0 >= 0.02
            else { continue }
            for neighbour in vms where neighbour.pid != victim.pid {
                guard let n0 = before[neighbour.pid] else { continue }
                let shared = Set(victim.cpus).intersection(neighbour.cpus).sorted()
                let d0 = n0.vcpuOnCPU
                let d1 = neighbour.vcpuOnCPU
                guard !shared.isEmpty, d1 - d0 >= 0.1 else { continue }
                out.append(NoisyNeighbour(
                    victim: victim.name, neighbour: neighbour.name, victimStealBefore: s0, victimStealNow: s1,
                    neighbourDemandBefore: d0, neighbourDemandNow: d1, sharedCPUs: shared,
                    detail: "\(neighbour.name) is a noisy neighbour of \(victim.name): \(victim.name)'s steal rose "
                        + "\(Self.fixed(s0 * 100, 1))% -> \(Self.fixed(s1 * 100, 1))% while \(neighbour.name)'s vCPU demand rose "
                        + "\(Self.fixed(d0, 2)) -> \(Self.fixed(d1, 2)) CPUs on shared CPUs \(shared.map(String.init).joined(separator: ","))"))
            }
        }
        return out
    }

    // MARK: Accounting findings

    /// Only worth saying when the vCPUs ran long enough for ticks to have landed: at least 20
    /// ticks' worth in the interval, so tick sampling error cannot explain the gap.
    func accountingFindings(_ vm: VMFigures, intervalNs: UInt64, nsPerTick: UInt64) -> [SnapshotFinding] {
        let onCPU = vm.vcpus.reduce(0) { $0 + $1.onCPUNs }
        guard onCPU >= 20 * nsPerTick else { return [] }
        let user = vm.vcpus.reduce(0) { $0 + $1.userNs }
        let system = vm.vcpus.reduce(0) { $0 + $1.systemNs }
        let guest = vm.vcpus.reduce(0) { $0 + $1.guestNs }
        let measured = "vCPU threads ran \(Self.seconds(onCPU)) by schedstat; stat shows user \(Self.seconds(user)), "
            + "system \(Self.seconds(system)), guest \(Self.seconds(guest))"
        var out: [SnapshotFinding] = []
        if guest == 0 {
            let cause: String =
                switch backend {
                case .paravirtual(let module):
                    "the paravirtual KVM (\(module)) emulates guest instructions in the host kernel, so guest code runs as host kernel time and guest_time never moves"
                case .none:
                    "no hardware KVM backend was recognised here, so guest code cannot be accounted as guest time"
                case .intelVMX, .amdSVM:
                    "guest time should move on VT-x/AMD-V; the vCPUs may be halted in the host or emulating (check exits)"
                }
            out.append(SnapshotFinding(kind: .guestTimeMissing, vm: vm.name, detail: "\(measured): guest time is zero: \(cause)"))
        }
        // stat's utime+stime are scaled to the precise runtime by the kernel, so a large gap means
        // the ticks that scaling starts from never landed on these threads.
        if Double(user + system) < 0.5 * Double(onCPU) {
            out.append(SnapshotFinding(
                kind: .tickAccountingMissing, vm: vm.name,
                detail: "\(measured): utime+stime account for \(Self.fixed(Double(user + system) / Double(onCPU) * 100, 0))% of "
                    + "the on-CPU time; tick-based figures (virDomainGetInfo, libvirt vcpu.N.time, top) undercount this VM"))
        }
        return out
    }

    // MARK: Words

    static func fixed(_ value: Double, _ digits: Int) -> String { DecimalText.fixed(value, digits) }

    static func seconds(_ ns: UInt64) -> String { fixed(Double(ns) / 1e9, 3) + " s" }

    static func rate(_ perSecond: Double) -> String {
        perSecond >= 10_000 ? fixed(perSecond / 1000, 1) + "k/s" : fixed(perSecond, 0) + "/s"
    }
}

extension UInt64 {
    /// Counter delta that treats a reset (a reused tid, a recreated cgroup) as zero, not a wrap.
    @inline(__always) func sub(_ other: UInt64) -> UInt64 { self >= other ? self - other : 0 }
}
