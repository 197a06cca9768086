import HVTaxModel

/// Compares every CPU-accounting source over the interval between two samples: each source
/// against the figure it should match (docs/sources.md, "CPU accounting sources"), with a
/// tolerance that allows for tick truncation, read skew and rounding; explains each disagreement
/// from the figures and the host's KVM backend; and gives each source a verdict. No I/O and no state: `hvtax validate` and
/// `hvtax serve` call it on whatever pair of samples they hold.
public struct AccountingValidator: Sendable {
    public var ticksPerSecond: UInt64
    public var backend: KVMBackend
    public var tolerance: AccountingTolerance

    public init(ticksPerSecond: UInt64, backend: KVMBackend, tolerance: AccountingTolerance = .standard) {
        self.ticksPerSecond = ticksPerSecond
        self.backend = backend
        self.tolerance = tolerance
    }

    var nsPerTick: UInt64 { 1_000_000_000 / max(ticksPerSecond, 1) }
    var minimumNs: UInt64 { tolerance.minimumReferenceTicks * nsPerTick }
    /// Two precise (ns) counters need only enough time for the read skew to be small against it.
    var minimumPreciseNs: UInt64 { 5 * tolerance.skewNs }

    /// libvirt reads its counters in another process some milliseconds after hvtax's sample, so
    /// its comparisons get this much more relative slack.
    static let libvirtExtraRelative = 0.03

    public func validate(from before: HostSample, to after: HostSample, vms: [DiscoveredVM]) -> AccountingValidation {
        let intervalNs = after.monotonicNs > before.monotonicNs ? after.monotonicNs - before.monotonicNs : 0
        var accounts: [VMAccounting] = []
        var cursors = (ThreadCounterTable.Cursor(), ThreadCounterTable.Cursor())
        for vm in vms {
            accounts.append(account(vm, before, after, cursors: &cursors))
        }
        let host = hostComparisons(before, after, accounts)
        let schedstats = after.threads.values.contains { $0.waitSumNs != nil }
        let environment = AccountingEnvironment(
            kvmBackend: Self.describe(backend), guestCodeEmulated: isEmulated, schedstatsAvailable: schedstats,
            libvirt: after.libvirt?.detail ?? "not read")
        var validation = AccountingValidation(
            intervalNs: intervalNs, endUnixNs: after.realtimeNs, clockTicksPerSecond: ticksPerSecond,
            environment: environment, tolerance: tolerance, host: host, vms: accounts, verdicts: [])
        validation.verdicts = verdicts(validation)
        return validation
    }

    var isEmulated: Bool {
        if case .paravirtual = backend { return true }
        return false
    }

    // MARK: One VM

    /// `cursors` (after, before): where the walk over the VMs' threads in read order has got to.
    func account(_ vm: DiscoveredVM, _ before: HostSample, _ after: HostSample,
                 cursors: inout (ThreadCounterTable.Cursor, ThreadCounterTable.Cursor)) -> VMAccounting {
        var vcpus: [VCPUAccounting] = []
        var vmmNs: UInt64 = 0
        var vhostNs: UInt64 = 0
        var waitSum: UInt64? = 0
        let domainNow = after.libvirt?.domains[vm.name]
        let domainThen = before.libvirt?.domains[vm.name]
        for thread in vm.threads {
            guard let now = after.threads.counters(of: thread.tid, cursor: &cursors.0),
                  let then = before.threads.counters(of: thread.tid, cursor: &cursors.1) else { continue }
            let onCPU = now.onCPUNs.sub(then.onCPUNs)
            switch thread.role {
            case .vhost: vhostNs += onCPU
            case .emulator, .io: vmmNs += onCPU
            case .vcpu:
                let wait: UInt64? = if let a = now.waitSumNs, let b = then.waitSumNs { a.sub(b) } else { nil }
                if let w = wait, let sum = waitSum { waitSum = sum + w } else { waitSum = nil }
                let index = thread.vcpu ?? -1
                let lvNow = domainNow?.vcpus[index]
                let lvThen = domainThen?.vcpus[index]
                vcpus.append(VCPUAccounting(
                    vcpu: index, tid: thread.tid, onCPUNs: onCPU, runDelayNs: now.runDelayNs.sub(then.runDelayNs),
                    userNs: now.utimeTicks.sub(then.utimeTicks) * nsPerTick,
                    systemNs: now.stimeTicks.sub(then.stimeTicks) * nsPerTick,
                    guestNs: now.guestTicks.sub(then.guestTicks) * nsPerTick, waitSumNs: wait,
                    libvirtTimeNs: Self.delta(lvNow?.timeNs, lvThen?.timeNs),
                    libvirtDelayNs: Self.delta(lvNow?.delayNs, lvThen?.delayNs)))
            }
        }
        if vcpus.isEmpty { waitSum = nil }
        var usageNs: UInt64?
        var userNs: UInt64?
        var systemNs: UInt64?
        if vm.cgroup != nil, let now = after.cgroups[vm.pid], let then = before.cgroups[vm.pid] {
            usageNs = now.usageNs.sub(then.usageNs)
            userNs = now.userNs.sub(then.userNs)
            systemNs = now.systemNs.sub(then.systemNs)
        }
        var processNs: UInt64?
        if let now = after.processes[vm.pid], let then = before.processes[vm.pid] {
            processNs = (now.utimeTicks + now.stimeTicks).sub(then.utimeTicks + then.stimeTicks) * nsPerTick
        }
        var libvirt: LibvirtCPUFigures?
        if let now = domainNow, let then = domainThen {
            func vcpuSum(_ key: KeyPath<LibvirtVCPUStats, UInt64?>) -> UInt64? {
                var total: UInt64 = 0
                for (index, stats) in now.vcpus {
                    guard let a = stats[keyPath: key], let b = then.vcpus[index]?[keyPath: key] else { return nil }
                    total += a.sub(b)
                }
                return now.vcpus.isEmpty ? nil : total
            }
            libvirt = LibvirtCPUFigures(
                cpuTimeNs: Self.delta(now.cpuTimeNs, then.cpuTimeNs), userNs: Self.delta(now.userNs, then.userNs),
                systemNs: Self.delta(now.systemNs, then.systemNs), vcpuTimeNs: vcpuSum(\.timeNs),
                vcpuWaitNs: vcpuSum(\.waitNs), vcpuDelayNs: vcpuSum(\.delayNs))
        }
        let figures = AccountingFigures(
            vcpuOnCPUNs: vcpus.reduce(0) { $0 + $1.onCPUNs }, vcpuRunDelayNs: vcpus.reduce(0) { $0 + $1.runDelayNs },
            vcpuUserNs: vcpus.reduce(0) { $0 + $1.userNs }, vcpuSystemNs: vcpus.reduce(0) { $0 + $1.systemNs },
            vcpuGuestNs: vcpus.reduce(0) { $0 + $1.guestNs }, vcpuWaitSumNs: waitSum, vmmThreadsOnCPUNs: vmmNs,
            vhostOnCPUNs: vhostNs, processUserSystemNs: processNs, cgroupUsageNs: usageNs, cgroupUserNs: userNs,
            cgroupSystemNs: systemNs, libvirt: libvirt)
        let ownThreads = vm.threads.filter { $0.role != .vhost }.count
        var comparisons = [
            threadStat(figures, vcpus: vcpus.count),
            guestTime(figures),
            processStat(figures, threads: ownThreads, available: after.processes[vm.pid] != nil),
            cgroupUsage(figures, vm: vm),
            cgroupUserSystem(figures, threads: ownThreads, vm: vm),
            schedWaitSum(figures),
        ]
        if let lv = libvirt {
            // Each of libvirt's readings came up to this long after hvtax's sample; a counter can
            // grow by at most that much per thread meanwhile.
            let skewBefore = before.libvirt?.readEndMonotonicNs.map { $0.sub(before.monotonicNs) } ?? 0
            let skewAfter = after.libvirt?.readEndMonotonicNs.map { $0.sub(after.monotonicNs) } ?? 0
            let skew = skewBefore + skewAfter
            comparisons += libvirtComparisons(lv, figures, vcpus: vcpus.count, threads: ownThreads, skewNs: skew)
        }
        return VMAccounting(name: vm.name, pid: vm.pid, kind: vm.kind, figures: figures, vcpus: vcpus, comparisons: comparisons)
    }

    // MARK: The checks

    func allowance(_ reference: UInt64, tickThreads: Int, extraRelative: Double = 0) -> UInt64 {
        UInt64(tolerance.ticksPerThread * Double(tickThreads) * Double(nsPerTick))
            + UInt64((tolerance.relative + extraRelative) * Double(reference)) + tolerance.skewNs
    }

    /// The common shape: an equality check of `source` against `reference` within `allowed`.
    func equality(_ source: AccountingSource, _ reference: AccountingSource, _ title: String, sourceNs: UInt64?,
                  referenceNs: UInt64, allowed: UInt64, unavailable: String, precise: Bool = false,
                  explain: (_ source: UInt64, _ agrees: Bool) -> (DiscrepancyCause?, String)) -> AccountingComparison {
        guard let value = sourceNs else {
            return AccountingComparison(source: source, reference: reference, title: title, sourceNs: nil, referenceNs: referenceNs,
                                        toleranceNs: allowed, discrepancyRatio: nil, state: .unavailable, cause: nil,
                                        explanation: unavailable)
        }
        let minimum = precise ? minimumPreciseNs : minimumNs
        guard referenceNs >= minimum else {
            let rule = precise ? "minimum" : "\(tolerance.minimumReferenceTicks)-tick minimum"
            return AccountingComparison(
                source: source, reference: reference, title: title, sourceNs: value, referenceNs: referenceNs, toleranceNs: allowed,
                discrepancyRatio: nil, state: .notJudged, cause: nil,
                explanation: "\(Self.seconds(referenceNs)) of reference time is below the \(rule) (\(Self.seconds(minimum))): "
                    + "too little ran to judge")
        }
        let difference = value > referenceNs ? value - referenceNs : referenceNs - value
        let agrees = difference <= allowed
        let (cause, words) = explain(value, agrees)
        return AccountingComparison(
            source: source, reference: reference, title: title, sourceNs: value, referenceNs: referenceNs, toleranceNs: allowed,
            discrepancyRatio: Double(difference) / Double(referenceNs), state: agrees ? .agrees : .disagrees,
            cause: agrees ? nil : cause, explanation: words)
    }

    func threadStat(_ f: AccountingFigures, vcpus: Int) -> AccountingComparison {
        let stat = f.vcpuUserNs + f.vcpuSystemNs
        let split = "user \(Self.seconds(f.vcpuUserNs)), system \(Self.seconds(f.vcpuSystemNs))"
        return equality(.threadStat, .schedstat, "vCPU threads' utime+stime vs schedstat on-CPU", sourceNs: stat,
                        referenceNs: f.vcpuOnCPUNs, allowed: allowance(f.vcpuOnCPUNs, tickThreads: vcpus),
                        unavailable: "no vCPU thread") { value, agrees in
            if agrees {
                return (nil, "utime+stime \(Self.seconds(value)) (\(split)) match schedstat's \(Self.seconds(f.vcpuOnCPUNs)) within "
                    + "tick truncation: the kernel scales the ticks to the precise runtime")
            }
            return (.tickSampling, "utime+stime \(Self.seconds(value)) (\(split)) vs schedstat's \(Self.seconds(f.vcpuOnCPUNs)): "
                + "\(Self.percent(Double(value) / Double(max(f.vcpuOnCPUNs, 1)))) of the precise time; the ticks these figures "
                + "are scaled from did not land on the vCPU threads in proportion (short bursts between ticks); tick-based tools "
                + "(top, virDomainGetInfo, libvirt vcpu.N.time) misreport this VM")
        }
    }

    /// Guest time is not expected to equal on-CPU time (exits are handled on the host), so this
    /// check disagrees only when guest time is above on-CPU time, or below a tenth of it.
    func guestTime(_ f: AccountingFigures) -> AccountingComparison {
        let onCPU = f.vcpuOnCPUNs
        let allowed = allowance(onCPU, tickThreads: 1)
        var comparison = equality(.guestTime, .schedstat, "vCPU threads' guest_time vs schedstat on-CPU", sourceNs: f.vcpuGuestNs,
                                  referenceNs: onCPU, allowed: allowed, unavailable: "no vCPU thread") { _, _ in (nil, "") }
        guard comparison.state == .agrees || comparison.state == .disagrees else { return comparison }
        let guest = f.vcpuGuestNs
        let ran = "the vCPU threads ran \(Self.seconds(onCPU)) by schedstat; stat shows user \(Self.seconds(f.vcpuUserNs)), "
            + "system \(Self.seconds(f.vcpuSystemNs)), guest \(Self.seconds(guest))"
        if guest > onCPU + allowed {
            comparison.state = .disagrees
            comparison.cause = .tickSampling
            comparison.explanation = "\(ran): guest time above on-CPU time, more than tick sampling allows"
        } else if guest * 10 < onCPU {
            comparison.state = .disagrees
            if isEmulated {
                comparison.cause = .emulatedGuestAsSystem
                comparison.explanation = "\(ran): \(Self.percent(Double(f.vcpuSystemNs) / Double(onCPU))) of the vCPU time is "
                    + "system time and guest time is \(guest == 0 ? "zero" : Self.percent(Double(guest) / Double(onCPU))): "
                    + "\(Self.describe(backend)) emulates guest instructions in the host kernel, so guest code is accounted as "
                    + "host system time and guest_time never moves; /proc/stat guest, top's guest column and any figure built "
                    + "on guest time see no guest here"
            } else {
                comparison.cause = .guestTimeNotAccounted
                comparison.explanation = "\(ran): guest time is under a tenth of the vCPU time; the vCPUs spent it in the host "
                    + "(exit handling, emulation, halt polling), or the kernel accounts guest time only at ticks that missed it"
            }
        } else {
            comparison.state = .agrees
            comparison.cause = nil
            comparison.explanation = "\(ran): \(Self.percent(Double(guest) / Double(onCPU))) of the vCPU time was guest code; "
                + "the rest is the host-side share (exits handled in KVM and the VMM)"
        }
        return comparison
    }

    func processStat(_ f: AccountingFigures, threads: Int, available: Bool) -> AccountingComparison {
        let own = f.vcpuOnCPUNs + f.vmmThreadsOnCPUNs
        return equality(.processStat, .schedstat, "process utime+stime (virDomainGetInfo) vs Σ its threads' schedstat",
                        sourceNs: f.processUserSystemNs, referenceNs: own, allowed: allowance(own, tickThreads: 1),
                        unavailable: available ? "process stat not read" : "process stat not read (sampler without process totals)") {
            value, agrees in
            if agrees {
                return (nil, "the process's utime+stime \(Self.seconds(value)) match its \(threads) threads' \(Self.seconds(own))")
            }
            let short = value < own
            return (short ? .tickSampling : .unexplained,
                    "the process's utime+stime \(Self.seconds(value)) vs its threads' \(Self.seconds(own)): "
                        + (short ? "the process figure is tick grained and lags the precise one"
                                 : "the process includes threads that ended during the interval"))
        }
    }

    func cgroupUsage(_ f: AccountingFigures, vm: DiscoveredVM) -> AccountingComparison {
        let own = f.vcpuOnCPUNs + f.vmmThreadsOnCPUNs
        let title = "cgroup usage vs Σ vCPU + VMM threads' schedstat"
        let unavailable = vm.cgroup == nil
            ? "the VMM runs in the root cgroup: no cgroup of its own, so cgroup figures would be the whole host's"
            : "cgroup counters not readable"
        return equality(.cgroupUsage, .schedstat, title, sourceNs: f.cgroupUsageNs, referenceNs: own,
                        allowed: allowance(own, tickThreads: 0), unavailable: unavailable) { usage, agrees in
            let path = vm.cgroup?.path ?? "?"
            if agrees {
                return (nil, "cgroup \(path) used \(Self.seconds(usage)), its VM's threads \(Self.seconds(own)): same scope")
            }
            let vhostAllowed = allowance(own + f.vhostOnCPUNs, tickThreads: 0)
            let withVhost = own + f.vhostOnCPUNs
            if f.vhostOnCPUNs > 0, (usage > withVhost ? usage - withVhost : withVhost - usage) <= vhostAllowed {
                return (.cgroupScope, "cgroup \(path) used \(Self.seconds(usage)) = the VM's threads \(Self.seconds(own)) + its vhost "
                    + "workers \(Self.seconds(f.vhostOnCPUNs)): vhost threads are charged to the VM's cgroup")
            }
            if usage > own {
                return (.cgroupScope, "cgroup \(path) used \(Self.seconds(usage)), \(Self.seconds(usage - own)) more than the VM's "
                    + "threads: the cgroup holds other tasks too (helper processes, vhost workers, or a scope shared with "
                    + "other processes), so its usage is not the VM's alone")
            }
            return (.cgroupScope, "cgroup \(path) used \(Self.seconds(usage)), \(Self.seconds(own - usage)) less than the VM's "
                + "threads: some of the VM's threads run outside this cgroup")
        }
    }

    func cgroupUserSystem(_ f: AccountingFigures, threads: Int, vm: DiscoveredVM) -> AccountingComparison {
        let userSystem: UInt64? = if let u = f.cgroupUserNs, let s = f.cgroupSystemNs { u + s } else { nil }
        let usage = f.cgroupUsageNs ?? 0
        // cgroup v1's cpuacct.stat is in USER_HZ ticks; v2's user_usec/system_usec are µs.
        let tickThreads = vm.cgroup?.version == .v1 ? max(threads, 1) : 0
        return equality(.cgroupUserSystem, .cgroupUsage, "cgroup user+system vs cgroup usage", sourceNs: userSystem,
                        referenceNs: usage, allowed: allowance(usage, tickThreads: tickThreads),
                        unavailable: vm.cgroup == nil ? "no cgroup of its own" : "cgroup user/system not readable") { value, agrees in
            explainUserSystem(value, usage: usage, user: f.cgroupUserNs ?? 0, system: f.cgroupSystemNs ?? 0, guest: f.vcpuGuestNs,
                              agrees: agrees, what: "cgroup")
        }
    }

    func explainUserSystem(_ value: UInt64, usage: UInt64, user: UInt64, system: UInt64, guest: UInt64, agrees: Bool,
                           what: String) -> (DiscrepancyCause?, String) {
        let split = "user \(Self.seconds(user)) + system \(Self.seconds(system)) = \(Self.seconds(value)) of usage \(Self.seconds(usage))"
        if agrees {
            let emulated = isEmulated && system > user ? "; guest code is inside system here (emulated by the host kernel)" : ""
            return (nil, "\(what) \(split): they match, this kernel adds guest time to user time and scales the ticks\(emulated)")
        }
        if value < usage, guest > 0 {
            let missing = usage - value
            let near = (missing > guest ? missing - guest : guest - missing) <= guest / 5 + allowance(guest, tickThreads: 1)
            if near {
                return (.guestTimeMissingFromUser, "\(what) \(split): \(Self.seconds(missing)) missing, about the vCPUs' guest "
                    + "time \(Self.seconds(guest)): this kernel predates 9731698ecb9c (\"cputime, cpuacct: Include guest time in "
                    + "user time in cpuacct.stat\"), so user+system measure only the host-side overhead, as in the published "
                    + "validation study")
            }
        }
        return (.tickSampling, "\(what) \(split) (\(Self.percent(Double(value) / Double(max(usage, 1))))): user/system are tick "
            + "sampled on this kernel (before 8c92606ab810 made cpuacct.stat precise), so short bursts between ticks are lost")
    }

    func schedWaitSum(_ f: AccountingFigures) -> AccountingComparison {
        let delay = f.vcpuRunDelayNs
        var comparison = equality(.schedWaitSum, .schedstat, "vCPU threads' sched wait_sum vs schedstat run delay",
                                  sourceNs: f.vcpuWaitSumNs, referenceNs: delay, allowed: allowance(delay, tickThreads: 0),
                                  unavailable: "no wait_sum in /proc/PID/task/TID/sched: the kernel has no CONFIG_SCHEDSTATS "
                                      + "(or kernel.sched_schedstats=0), so libvirt's vcpu.N.wait stays 0 here; "
                                      + "schedstat's run delay (vcpu.N.delay) is the figure to use", precise: true) { value, agrees in
            if agrees { return (nil, "wait_sum \(Self.seconds(value)) matches the run delay \(Self.seconds(delay))") }
            if value == 0 {
                return (.missingSchedstats, "wait_sum did not move while the vCPUs waited \(Self.seconds(delay)) for a CPU: "
                    + "schedstats are off (sysctl kernel.sched_schedstats=0)")
            }
            return (.unexplained, "wait_sum \(Self.seconds(value)) vs run delay \(Self.seconds(delay))")
        }
        if comparison.state == .unavailable { comparison.cause = .missingSchedstats }
        return comparison
    }

    func libvirtComparisons(_ lv: LibvirtCPUFigures, _ f: AccountingFigures, vcpus: Int, threads: Int, skewNs: UInt64)
        -> [AccountingComparison]
    {
        let extra = Self.libvirtExtraRelative
        let vcpuSkew = skewNs * UInt64(max(vcpus, 1))
        let allSkew = skewNs * UInt64(max(threads, 1))
        var out: [AccountingComparison] = []
        let cpuReference = f.cgroupUsageNs ?? (f.vcpuOnCPUNs + f.vmmThreadsOnCPUNs)
        let cpuReferenceSource: AccountingSource = f.cgroupUsageNs == nil ? .schedstat : .cgroupUsage
        out.append(equality(.libvirtCPUTime, cpuReferenceSource, "libvirt cpu.time vs \(cpuReferenceSource.rawValue)",
                            sourceNs: lv.cpuTimeNs, referenceNs: cpuReference,
                            allowed: allowance(cpuReference, tickThreads: 0, extraRelative: extra) + allSkew,
                            unavailable: "domstats has no cpu.time") { value, agrees in
            agrees ? (nil, "libvirt's cpu_time \(Self.seconds(value)) is the cgroup's usage, read a moment later")
                : (.differentReading, "libvirt's cpu_time \(Self.seconds(value)) vs \(Self.seconds(cpuReference)): libvirt reads a "
                    + "different cgroup (or the VM has none of its own), or read at another time")
        })
        let userSystem: UInt64? = if let u = lv.userNs, let s = lv.systemNs { u + s } else { nil }
        let total = lv.cpuTimeNs ?? 0
        out.append(equality(.libvirtUserSystem, .libvirtCPUTime, "libvirt user_time+system_time vs cpu_time",
                            sourceNs: userSystem, referenceNs: total,
                            allowed: allowance(total, tickThreads: vcpus + 1, extraRelative: extra),
                            unavailable: "domstats has no cpu.user/cpu.system") { value, agrees in
            explainUserSystem(value, usage: total, user: lv.userNs ?? 0, system: lv.systemNs ?? 0, guest: f.vcpuGuestNs,
                              agrees: agrees, what: "libvirt")
        })
        out.append(equality(.libvirtVCPUTime, .schedstat, "libvirt Σ vcpu.N.time vs schedstat on-CPU", sourceNs: lv.vcpuTimeNs,
                            referenceNs: f.vcpuOnCPUNs, allowed: allowance(f.vcpuOnCPUNs, tickThreads: vcpus, extraRelative: extra) + vcpuSkew,
                            unavailable: "domstats has no vcpu.N.time") { value, agrees in
            agrees ? (nil, "libvirt's vcpu time \(Self.seconds(value)) matches schedstat within tick error")
                : (.tickSampling, "libvirt's vcpu time \(Self.seconds(value)) vs \(Self.seconds(f.vcpuOnCPUNs)): libvirt reads the "
                    + "threads' utime+stime, tick grained")
        })
        out.append(equality(.libvirtVCPUDelay, .schedstat, "libvirt Σ vcpu.N.delay vs schedstat run delay", sourceNs: lv.vcpuDelayNs,
                            referenceNs: f.vcpuRunDelayNs, allowed: allowance(f.vcpuRunDelayNs, tickThreads: 0, extraRelative: extra) + vcpuSkew,
                            unavailable: "domstats has no vcpu.N.delay (libvirt before 7.2)", precise: true) { value, agrees in
            agrees ? (nil, "libvirt's delay \(Self.seconds(value)) is schedstat's run delay")
                : (.differentReading, "libvirt's delay \(Self.seconds(value)) vs \(Self.seconds(f.vcpuRunDelayNs)), read at another time")
        })
        var wait = equality(.libvirtVCPUWait, .schedstat, "libvirt Σ vcpu.N.wait vs schedstat run delay", sourceNs: lv.vcpuWaitNs,
                            referenceNs: f.vcpuRunDelayNs, allowed: allowance(f.vcpuRunDelayNs, tickThreads: 0, extraRelative: extra),
                            unavailable: "domstats has no vcpu.N.wait", precise: true) { value, agrees in
            if agrees { return (nil, "libvirt's wait \(Self.seconds(value)) matches the run delay") }
            if value == 0 {
                return (.missingSchedstats, "libvirt's vcpu.N.wait is 0 while the vCPUs waited \(Self.seconds(f.vcpuRunDelayNs)): "
                    + "it is wait_sum from /proc/PID/sched, which needs CONFIG_SCHEDSTATS and kernel.sched_schedstats=1 "
                    + "(and it is run-queue wait, not I/O wait as libvirt's docs say)")
            }
            return (.differentReading, "libvirt's wait \(Self.seconds(value)) vs \(Self.seconds(f.vcpuRunDelayNs))")
        }
        if wait.state == .notJudged, f.vcpuWaitSumNs == nil, lv.vcpuWaitNs == 0 {
            wait.cause = .missingSchedstats
            wait.explanation += "; and it can never move here: no CONFIG_SCHEDSTATS"
        }
        out.append(wait)
        return out
    }

    // MARK: Host-wide

    func hostComparisons(_ before: HostSample, _ after: HostSample, _ vms: [VMAccounting]) -> [AccountingComparison] {
        guard let a = before.cpuTicks[Optional<Int>.none], let b = after.cpuTicks[Optional<Int>.none], a.count >= 9, b.count >= 9 else {
            return []
        }
        // guest and guest_nice (fields 9 and 10).
        let guestTicks = b[8].sub(a[8]) + (b.count > 9 && a.count > 9 ? b[9].sub(a[9]) : 0)
        let procGuest = guestTicks * nsPerTick
        let cpus = max(after.cpuTicks.count - 1, 1)
        let vmGuest = vms.reduce(0) { $0 + $1.figures.vcpuGuestNs }
        let vmOnCPU = vms.reduce(0) { $0 + $1.figures.vcpuOnCPUNs }
        let threads = vms.reduce(0) { $0 + $1.vcpus.count }
        var out: [AccountingComparison] = []
        // Both sides count the same ticks (account_guest_time adds to the task and to cpustat), so
        // they differ by undiscovered guests and by ticks between the two reads.
        var sum = equality(.procStatGuest, .guestTime, "/proc/stat guest vs Σ VMs' vCPU guest_time", sourceNs: procGuest,
                           referenceNs: vmGuest, allowed: allowance(vmGuest, tickThreads: cpus + threads),
                           unavailable: "") { value, agrees in
            agrees ? (nil, "/proc/stat's guest \(Self.seconds(value)) is the discovered VMs' guest time")
                : (.undiscoveredGuests, "/proc/stat's guest \(Self.seconds(value)) vs the discovered VMs' \(Self.seconds(vmGuest)): "
                    + (value > vmGuest ? "guests hvtax did not discover ran on this host" : "VM threads ended or moved during the interval"))
        }
        if sum.state == .notJudged, vmGuest == 0, procGuest > minimumNs {
            sum.state = .disagrees
            sum.cause = .undiscoveredGuests
            sum.discrepancyRatio = nil
            sum.explanation = "/proc/stat shows \(Self.seconds(procGuest)) of guest time but no discovered VM accounted any: guests "
                + "hvtax did not discover ran on this host"
        } else if sum.state == .notJudged, vmGuest == 0, procGuest == 0, vmOnCPU >= minimumNs {
            sum.explanation = "both are zero: no time was accounted as guest time anywhere on this host, although vCPU threads ran "
                + "\(Self.seconds(vmOnCPU))"
        }
        out.append(sum)
        out.append(equality(.procStatGuest, .schedstat, "/proc/stat guest vs Σ VMs' vCPU on-CPU", sourceNs: procGuest,
                            referenceNs: vmOnCPU, allowed: allowance(vmOnCPU, tickThreads: cpus + threads),
                            unavailable: "") { value, agrees in
            if agrees || value * 10 >= vmOnCPU {
                return (nil, "/proc/stat's guest \(Self.seconds(value)) is \(Self.percent(Double(value) / Double(max(vmOnCPU, 1)))) of "
                    + "the vCPU threads' \(Self.seconds(vmOnCPU)); the rest is host-side work of the vCPU threads")
            }
            return (isEmulated ? .emulatedGuestAsSystem : .guestTimeNotAccounted,
                    "/proc/stat's guest \(Self.seconds(value)) vs the vCPU threads' \(Self.seconds(vmOnCPU)): "
                        + (isEmulated ? "\(Self.describe(backend)) runs guest code as host kernel (system) time"
                                      : "the vCPUs spent their time in the host, not in guest mode"))
        })
        // Host guest under a tenth of the vCPU time is the only disagreement that matters here.
        if var last = out.popLast() {
            if last.state == .disagrees, let s = last.sourceNs, s * 10 >= last.referenceNs {
                last.state = .agrees
                last.cause = nil
            }
            out.append(last)
        }
        return out
    }

    // MARK: Verdicts

    func verdicts(_ v: AccountingValidation) -> [SourceVerdict] {
        let all = v.allComparisons
        var out: [SourceVerdict] = [SourceVerdict(
            source: .schedstat, verdict: .trustworthy, worstDiscrepancyRatio: nil,
            reason: "the reference: precise per-thread ns from the scheduler (CONFIG_SCHED_INFO); `hvtax validate --experiment` "
                + "checks it against a load whose truth is known")]
        for source in AccountingSource.allCases where source != .schedstat {
            let mine = all.filter { $0.comparison.source == source }
            let worst = mine.compactMap { $0.comparison.state == .unavailable ? nil : $0.comparison.discrepancyRatio }.max()
            func label(_ vm: String?) -> String { vm.map { "VM \($0): " } ?? "host: " }
            if let bad = mine.first(where: { $0.comparison.state == .disagrees }) {
                let count = mine.filter { $0.comparison.state == .disagrees }.count
                out.append(SourceVerdict(
                    source: source, verdict: .notTrustworthy, worstDiscrepancyRatio: worst,
                    reason: (count > 1 ? "\(count) disagreements; first: " : "") + label(bad.vm) + bad.comparison.explanation))
            } else if let good = mine.first(where: { $0.comparison.state == .agrees }) {
                out.append(SourceVerdict(source: source, verdict: .trustworthy, worstDiscrepancyRatio: worst,
                                         reason: "agrees within tolerance; " + label(good.vm) + good.comparison.explanation))
            } else if let judged = mine.first(where: { $0.comparison.state == .notJudged }) {
                out.append(SourceVerdict(source: source, verdict: .notJudged, worstDiscrepancyRatio: nil,
                                         reason: label(judged.vm) + judged.comparison.explanation))
            } else if let missing = mine.first {
                out.append(SourceVerdict(source: source, verdict: .unavailable, worstDiscrepancyRatio: nil,
                                         reason: label(missing.vm) + missing.comparison.explanation))
            } else {
                let why: String =
                    switch source {
                    case .libvirtCPUTime, .libvirtUserSystem, .libvirtVCPUTime, .libvirtVCPUDelay, .libvirtVCPUWait:
                        v.environment.libvirt == "not read" ? "libvirt not asked" : "no libvirt domain: \(v.environment.libvirt)"
                    default: "no VM on this host"
                    }
                out.append(SourceVerdict(source: source, verdict: .unavailable, worstDiscrepancyRatio: nil, reason: why))
            }
        }
        return out
    }

    // MARK: Words

    static func describe(_ backend: KVMBackend) -> String {
        switch backend {
        case .intelVMX: "Intel VT-x (kvm_intel)"
        case .amdSVM: "AMD-V (kvm_amd)"
        case .paravirtual(let module): "the paravirtual KVM (\(module))"
        case .none: "no KVM backend"
        }
    }

    static func delta(_ now: UInt64?, _ then: UInt64?) -> UInt64? {
        guard let now, let then else { return nil }
        return now.sub(then)
    }

    static func seconds(_ ns: UInt64) -> String { SnapshotAnalyzer.seconds(ns) }
    static func percent(_ ratio: Double) -> String { SnapshotAnalyzer.fixed(ratio * 100, 1) + "%" }
}
