import HVTaxHost
import HVTaxModel
import Testing

/// The validator on samples built by hand, one per kind of host the accounting study met: each
/// sample pair is a constructed ground truth (what each kernel counter would show), and the test
/// checks the verdict and the cause named.
@Suite("accounting validator")
struct AccountingValidatorTests {
    static let ms: UInt64 = 1_000_000

    /// One VM, pid 100: vCPUs 101 and 102, emulator thread 100, I/O thread 103, in a v2 cgroup.
    static func vm(cgroup: Bool = true) -> DiscoveredVM {
        DiscoveredVM(
            pid: 100, name: "web01", kind: .libvirt, uuid: nil,
            threads: [
                DiscoveredThread(tid: 101, pid: 100, name: "CPU 0/KVM", role: .vcpu, vcpu: 0),
                DiscoveredThread(tid: 102, pid: 100, name: "CPU 1/KVM", role: .vcpu, vcpu: 1),
                DiscoveredThread(tid: 100, pid: 100, name: "qemu-system-x86", role: .emulator, vcpu: nil),
                DiscoveredThread(tid: 103, pid: 100, name: "IO iothread0", role: .io, vcpu: nil),
            ],
            cgroup: cgroup ? CgroupLocation(version: .v2, path: "/machine.slice/web01.scope", directory: "/sys/fs/cgroup/machine.slice/web01.scope") : nil)
    }

    /// What happened in the interval, per thread and for the cgroup; `sample` makes a before/after pair of it.
    struct Interval {
        /// Per vCPU: on-CPU ms, run delay ms, utime ticks, stime ticks, guest ticks, wait_sum ms (nil: no schedstats).
        var vcpus: [(onCPU: UInt64, delay: UInt64, user: UInt64, system: UInt64, guest: UInt64, wait: UInt64?)]
        var emulatorMs: UInt64 = 50
        var ioMs: UInt64 = 30
        var cgroupUsageMs: UInt64?
        var cgroupUserMs: UInt64 = 0
        var cgroupSystemMs: UInt64 = 0
        var procGuestTicks: UInt64 = 0
        var processTicks: UInt64?
        var libvirt: LibvirtDomainStats?
    }

    static func samples(_ i: Interval) -> (HostSample, HostSample) {
        var before = HostSample(monotonicNs: 10_000 * ms, realtimeNs: 10_000 * ms)
        var after = HostSample(monotonicNs: 11_000 * ms, realtimeNs: 11_000 * ms)
        // Counters start from arbitrary non-zero values so only deltas can pass.
        for (index, v) in i.vcpus.enumerated() {
            var a = ThreadCounters()
            a.onCPUNs = 5_000 * ms
            a.runDelayNs = 700 * ms
            a.utimeTicks = 300
            a.stimeTicks = 200
            a.guestTicks = 250
            a.waitSumNs = v.wait.map { _ in 700 * ms }
            var b = a
            b.onCPUNs += v.onCPU * ms
            b.runDelayNs += v.delay * ms
            b.utimeTicks += v.user
            b.stimeTicks += v.system
            b.guestTicks += v.guest
            b.waitSumNs = v.wait.map { 700 * ms + $0 * ms }
            before.threads[Int32(101 + index)] = a
            after.threads[Int32(101 + index)] = b
        }
        for (tid, used) in [(Int32(100), i.emulatorMs), (103, i.ioMs)] {
            var a = ThreadCounters()
            a.onCPUNs = 900 * ms
            var b = a
            b.onCPUNs += used * ms
            before.threads[tid] = a
            after.threads[tid] = b
        }
        if let usage = i.cgroupUsageMs {
            before.cgroups[100] = CgroupCounters(usageNs: 90_000 * ms, userNs: 40_000 * ms, systemNs: 50_000 * ms)
            after.cgroups[100] = CgroupCounters(usageNs: (90_000 + usage) * ms, userNs: (40_000 + i.cgroupUserMs) * ms,
                                                systemNs: (50_000 + i.cgroupSystemMs) * ms)
        }
        if let ticks = i.processTicks {
            var a = ThreadCounters()
            a.utimeTicks = 1000
            a.stimeTicks = 500
            var b = a
            b.utimeTicks += ticks
            before.processes[100] = a
            after.processes[100] = b
        }
        // /proc/stat aggregate and two CPU lines: user nice system idle iowait irq softirq steal guest guest_nice.
        before.cpuTicks = [nil: [1000, 0, 500, 9000, 0, 0, 0, 0, 400, 0], 0: [], 1: []]
        after.cpuTicks = [nil: [1100, 0, 550, 9050, 0, 0, 0, 0, 400 + i.procGuestTicks, 0], 0: [], 1: []]
        if let domain = i.libvirt {
            let zero = LibvirtDomainStats(name: domain.name, cpuTimeNs: 0, userNs: 0, systemNs: 0,
                                          vcpus: domain.vcpus.mapValues { _ in LibvirtVCPUStats(timeNs: 0, waitNs: 0, delayNs: 0) })
            before.libvirt = LibvirtStatsReading(domains: [domain.name: zero], detail: "virsh domstats", available: true)
            after.libvirt = LibvirtStatsReading(domains: [domain.name: domain], detail: "virsh domstats", available: true)
        }
        return (before, after)
    }

    static func validate(_ i: Interval, backend: KVMBackend = .intelVMX, cgroup: Bool = true) -> AccountingValidation {
        let (a, b) = samples(i)
        return AccountingValidator(ticksPerSecond: 100, backend: backend).validate(from: a, to: b, vms: [vm(cgroup: cgroup)])
    }

    static func comparison(_ v: AccountingValidation, _ source: AccountingSource, against reference: AccountingSource? = nil,
                           host: Bool = false) -> AccountingComparison? {
        let list = host ? v.host : v.vms.first?.comparisons ?? []
        return list.first { $0.source == source && (reference == nil || $0.reference == reference) }
    }

    static func verdict(_ v: AccountingValidation, _ source: AccountingSource) -> SourceVerdict.Verdict? {
        v.verdicts.first { $0.source == source }?.verdict
    }

    @Test("a healthy VT-x host with cgroup v2 and schedstats: every source agrees and is trustworthy")
    func healthyHost() throws {
        // vCPUs 800 + 600 ms, 95% guest; cgroup = threads; /proc/stat guest = Σ guest ticks.
        let i = Interval(
            vcpus: [(800, 20, 78, 2, 76, 20), (600, 10, 58, 2, 57, 10)], cgroupUsageMs: 1480, cgroupUserMs: 1400,
            cgroupSystemMs: 80, procGuestTicks: 133, processTicks: 148)
        let v = Self.validate(i)
        #expect(v.schema == "hvtax.validation/1")
        let vm = try #require(v.vms.first)
        #expect(vm.figures.vcpuOnCPUNs == 1400 * Self.ms)
        #expect(vm.figures.vmmThreadsOnCPUNs == 80 * Self.ms)
        #expect(vm.figures.vcpuWaitSumNs == 30 * Self.ms)
        for c in vm.comparisons + v.host {
            #expect(c.state == .agrees, "\(c.title): \(c.explanation)")
        }
        for source in [AccountingSource.threadStat, .guestTime, .processStat, .cgroupUsage, .cgroupUserSystem, .schedWaitSum, .procStatGuest] {
            #expect(Self.verdict(v, source) == .trustworthy, "\(source)")
        }
        #expect(Self.verdict(v, .libvirtCPUTime) == .unavailable)
        // The ratio is |source - reference| / reference: 1480 vs 1480 ms.
        #expect(Self.comparison(v, .cgroupUsage)?.discrepancyRatio == 0)
    }

    @Test("this machine: paravirtual KVM, vCPU time all system, guest_time zero: detected, explained, not trustworthy")
    func emulatedGuest() throws {
        let i = Interval(vcpus: [(990, 5, 0, 99, 0, nil), (400, 0, 0, 40, 0, nil)], procGuestTicks: 0, processTicks: 147)
        let v = Self.validate(i, backend: .paravirtual(module: "kvm_pvm"), cgroup: false)
        let guest = try #require(Self.comparison(v, .guestTime))
        #expect(guest.state == .disagrees)
        #expect(guest.cause == .emulatedGuestAsSystem)
        #expect(guest.discrepancyRatio == 1)
        #expect(guest.explanation.contains("100.0% of the vCPU time is system time and guest time is zero"))
        #expect(guest.explanation.contains("kvm_pvm"))
        #expect(Self.verdict(v, .guestTime) == .notTrustworthy)
        // utime+stime still match schedstat: the ticks are scaled to the precise runtime.
        #expect(Self.comparison(v, .threadStat)?.state == .agrees)
        #expect(Self.verdict(v, .threadStat) == .trustworthy)
        // Host-wide: /proc/stat guest is zero against 1.39 s of vCPU time.
        let host = try #require(Self.comparison(v, .procStatGuest, against: .schedstat, host: true))
        #expect(host.state == .disagrees && host.cause == .emulatedGuestAsSystem)
        #expect(Self.verdict(v, .procStatGuest) == .notTrustworthy)
        // No cgroup of its own, no schedstats.
        #expect(Self.comparison(v, .cgroupUsage)?.state == .unavailable)
        #expect(Self.verdict(v, .cgroupUsage) == .unavailable)
        let wait = try #require(Self.comparison(v, .schedWaitSum))
        #expect(wait.state == .unavailable && wait.cause == .missingSchedstats)
        #expect(v.environment.guestCodeEmulated && !v.environment.schedstatsAvailable)
    }

    @Test("a kernel before 9731698ecb9c: cgroup user+system short by the guest time, as in the published study")
    func guestMissingFromCgroupUser() throws {
        // 1.4 s of vCPU time, 1.33 s of it guest; the cgroup's user+system only the host-side 150 ms.
        let i = Interval(vcpus: [(800, 0, 78, 2, 76, 0), (600, 0, 58, 2, 57, 0)], cgroupUsageMs: 1480, cgroupUserMs: 70,
                         cgroupSystemMs: 80, procGuestTicks: 133)
        let v = Self.validate(i)
        let c = try #require(Self.comparison(v, .cgroupUserSystem))
        #expect(c.state == .disagrees)
        #expect(c.cause == .guestTimeMissingFromUser)
        #expect(c.explanation.contains("9731698ecb9c"))
        let ratio = try #require(c.discrepancyRatio)
        #expect(abs(ratio - 1330.0 / 1480.0) < 1e-9)
        #expect(Self.verdict(v, .cgroupUserSystem) == .notTrustworthy)
        #expect(Self.verdict(v, .cgroupUsage) == .trustworthy)
    }

    @Test("tick sampling: cgroup v1 user+system off by more than the tick allowance, with no guest time to explain it")
    func tickSampled() throws {
        let i = Interval(vcpus: [(800, 0, 40, 40, 0, nil)], cgroupUsageMs: 880, cgroupUserMs: 300, cgroupSystemMs: 100)
        let v = Self.validate(i, backend: .paravirtual(module: "kvm_pvm"))
        let c = try #require(Self.comparison(v, .cgroupUserSystem))
        #expect(c.state == .disagrees && c.cause == .tickSampling)
    }

    @Test("cgroup scope: the cgroup used more than the VM's threads, or exactly them plus their vhost workers")
    func cgroupScope() throws {
        let busy = Interval(vcpus: [(800, 0, 78, 2, 76, nil)], cgroupUsageMs: 1180, cgroupUserMs: 1100, cgroupSystemMs: 80)
        let v = Self.validate(busy)
        let c = try #require(Self.comparison(v, .cgroupUsage))
        #expect(c.state == .disagrees && c.cause == .cgroupScope)
        #expect(c.explanation.contains("0.300 s more than the VM's threads"))
        #expect(Self.verdict(v, .cgroupUsage) == .notTrustworthy)

        let fewer = Interval(vcpus: [(800, 0, 78, 2, 76, nil)], cgroupUsageMs: 500, cgroupUserMs: 450, cgroupSystemMs: 50)
        #expect(Self.comparison(Self.validate(fewer), .cgroupUsage)?.explanation.contains("outside this cgroup") == true)
    }

    @Test("too little ran: nothing is judged, no ratio is given")
    func idle() throws {
        let v = Self.validate(Interval(vcpus: [(5, 0, 0, 1, 0, nil)], emulatorMs: 1, ioMs: 0, cgroupUsageMs: 6, cgroupUserMs: 0, cgroupSystemMs: 10))
        #expect(Self.comparison(v, .threadStat)?.state == .notJudged)
        #expect(Self.comparison(v, .threadStat)?.discrepancyRatio == nil)
        #expect(Self.verdict(v, .threadStat) == .notJudged)
    }

    @Test("libvirt's figures side by side: cpu_time is the cgroup's usage, vcpu.N.wait stays 0 without schedstats")
    func libvirtFigures() throws {
        let domain = LibvirtDomainStats(
            name: "web01", cpuTimeNs: 1490 * Self.ms, userNs: 1400 * Self.ms, systemNs: 80 * Self.ms,
            vcpus: [0: LibvirtVCPUStats(timeNs: 800 * Self.ms, waitNs: 0, delayNs: 200 * Self.ms),
                    1: LibvirtVCPUStats(timeNs: 600 * Self.ms, waitNs: 0, delayNs: 101 * Self.ms)])
        let i = Interval(vcpus: [(800, 200, 78, 2, 76, nil), (600, 100, 58, 2, 57, nil)], cgroupUsageMs: 1480, cgroupUserMs: 1400,
                         cgroupSystemMs: 80, procGuestTicks: 133, libvirt: domain)
        let v = Self.validate(i)
        #expect(Self.comparison(v, .libvirtCPUTime)?.state == .agrees)
        #expect(Self.comparison(v, .libvirtCPUTime)?.reference == .cgroupUsage)
        #expect(Self.comparison(v, .libvirtVCPUTime)?.state == .agrees)
        #expect(Self.comparison(v, .libvirtVCPUDelay)?.state == .agrees)
        let wait = try #require(Self.comparison(v, .libvirtVCPUWait))
        #expect(wait.state == .disagrees && wait.cause == .missingSchedstats)
        #expect(Self.verdict(v, .libvirtVCPUWait) == .notTrustworthy)
        #expect(v.vms.first?.vcpus.map(\.libvirtTimeNs) == [800 * Self.ms, 600 * Self.ms])
    }

    @Test("virsh domstats text: domains, cpu totals and vCPU figures; a stray line is an error naming it")
    func domstatsParser() throws {
        let text = """
            Domain: 'web01'
              cpu.time=1316000000000
              cpu.user=12500000000
              cpu.system=79500000000
              cpu.cache.monitor.count=0
              vcpu.current=2
              vcpu.maximum=2
              vcpu.0.state=1
              vcpu.0.time=650000000000
              vcpu.0.wait=0
              vcpu.0.delay=1234567
              vcpu.1.state=1
              vcpu.1.time=640000000000
              vcpu.1.wait=0
              vcpu.1.delay=7654321

            Domain: 'db, primary'
              cpu.time=5
            """
        let domains = try LibvirtDomstatsParser.parse(text)
        #expect(domains.count == 2)
        let web = try #require(domains["web01"])
        #expect(web.cpuTimeNs == 1_316_000_000_000)
        #expect(web.userNs == 12_500_000_000 && web.systemNs == 79_500_000_000)
        #expect(web.vcpus[0] == LibvirtVCPUStats(timeNs: 650_000_000_000, waitNs: 0, delayNs: 1_234_567))
        #expect(web.vcpus[1]?.delayNs == 7_654_321)
        #expect(domains["db, primary"]?.cpuTimeNs == 5)
        #expect(throws: HostError.self) { try LibvirtDomstatsParser.parse("cpu.time=5\n") }
        do {
            _ = try LibvirtDomstatsParser.parse("Domain: 'a'\n  cpu.time=1\n  garbage\n", source: "virsh domstats")
        } catch {
            #expect(error.description == "parsing virsh domstats: line 3: expected key=value after a Domain: line, got garbage")
        }
    }

    @Test("/proc/PID/sched wait_sum in ms with decimals, old and new key names")
    func waitSum() {
        for key in ["wait_sum", "se.statistics.wait_sum"] {
            var c = ThreadCounters()
            let text = "se.nr_migrations : 3\n\(key)                  :          1234.567891\nnr_voluntary_switches : 7\n"
            ProcParse.sched(ArraySlice(Array(text.utf8)), into: &c)
            #expect(c.waitSumNs == 1_234_567_891)
            #expect(c.migrations == 3 && c.voluntarySwitches == 7)
        }
        var none = ThreadCounters()
        ProcParse.sched(ArraySlice(Array("se.nr_migrations : 3\nwait_start : 5.0\n".utf8)), into: &none)
        #expect(none.waitSumNs == nil)
    }
}
