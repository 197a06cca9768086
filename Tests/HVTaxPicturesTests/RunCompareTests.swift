import Foundation
import HVTaxCompare
import HVTaxModel
import HVTaxRender
import Testing

/// `hvtax compare` of probe results and of snapshot runs, built in code with known differences.
struct RunCompareTests {
    /// A summary of `samples` as the probe keeps it: exact order statistics and log2 buckets.
    static func summary(_ samples: [UInt64]) -> LatencySummary {
        let sorted = samples.sorted()
        func at(_ q: Double) -> UInt64 { sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.down)))] }
        var buckets: [UInt64] = []
        for value in sorted {
            let bucket = value < 2 ? 0 : 63 - value.leadingZeroBitCount
            if buckets.count <= bucket { buckets += Array(repeating: 0, count: bucket + 1 - buckets.count) }
            buckets[bucket] += 1
        }
        return LatencySummary(count: UInt64(sorted.count), min: sorted.first!, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999),
                              max: sorted.last!, mean: Double(sorted.reduce(0, +)) / Double(sorted.count), log2Buckets: buckets)
    }

    /// Cycles spread evenly over [base, 1.6 base): 200 samples, in one or two log2 buckets.
    static func measurement(_ kind: ProbeKind, _ vantage: ProbeVantage = .insideGuest, base: UInt64, tscHz: Double) -> ExitCostMeasurement {
        let cycles = (0..<200).map { base + UInt64($0) * base * 6 / 2000 }
        return ExitCostMeasurement(kind: kind, vantage: vantage, timedCode: "-", status: .measured, samples: cycles.count,
                                   cycles: summary(cycles), ns: summary(cycles.map { UInt64((Double($0) * 1e9 / tscHz).rounded()) }))
    }

    static func probe(cpuidBase: UInt64, portIOBase: UInt64 = 3_000, tscHz: Double = 2e9,
                      world: VirtualizationWorld.Kind = .hardwareVMX, mmioAvailable: Bool = true) -> ProbeReport {
        var measurements = [measurement(.cpuid, base: cpuidBase, tscHz: tscHz), measurement(.portIO, base: portIOBase, tscHz: tscHz),
                            measurement(.portIO, .aroundKVMRun, base: portIOBase, tscHz: tscHz)]
        measurements.append(mmioAvailable ? measurement(.mmio, base: 5_000, tscHz: tscHz)
            : ExitCostMeasurement(kind: .mmio, vantage: .insideGuest, timedCode: "-", status: .unavailable, unavailableReason: "no MMIO here"))
        return ProbeReport(
            host: ProbeHost(cpuVendor: "GenuineIntel", cpuModel: "Test CPU", kernelRelease: "6.1", logicalCPUs: 4, isItselfAGuest: false,
                            hypervisorSignature: nil, kvmModules: ["kvm", "kvm_intel"]),
            world: VirtualizationWorld(kind: world, summary: world.rawValue, evidence: [], guestCyclesPerInstruction: 1,
                                       emulatedInstructionFraction: nil),
            tsc: TSCFrequency(hz: tscHz, source: "test"),
            settings: ProbeSettings(samplesPerKind: 200, rounds: 10, minimumLoopCycles: 1 << 26, pinnedCPU: nil),
            runs: [ProbeRun(label: "unpinned", pinnedCPU: nil, cpusSeen: [0], durationNs: 1, measurements: measurements)],
            comparisons: [], notes: [])
    }

    @Test func probeCPUIDTwiceAsSlowIsSignificantPortIOIsNot() throws {
        let comparison = ProbeComparator().compare(Self.probe(cpuidBase: 1_000), Self.probe(cpuidBase: 2_000), labels: ("before", "after"))
        #expect(comparison.testedIn == "cycles")
        #expect(comparison.notes.isEmpty)
        #expect(comparison.tests == 4)
        let kinds = try #require(comparison.runs.first).kinds
        let cpuid = try #require(kinds.first { $0.kind == .cpuid })
        #expect(cpuid.latencyTest?.significant == true)
        #expect((cpuid.latencyTest?.z ?? 0) > 0)
        // A few of each side share the 1024-2047 bucket (ties count half), so P(B > A) is just under 1.
        #expect((cpuid.latencyTest?.effect ?? 0) > 0.95)
        let p50 = try #require(cpuid.figures.first { $0.name == "p50" })
        #expect(p50.cyclesA == 1_300 && p50.cyclesB == 2_600 && p50.cyclesDifference == 1_300)
        #expect(p50.nsA == 650 && p50.nsB == 1_300 && p50.nsDifference == 650)
        #expect(p50.ratio == 2)
        #expect(cpuid.figures.map(\.name) == ["min", "p50", "p90", "p99", "max"])
        #expect(cpuid.figures.first { $0.name == "min" }?.cyclesDifference == 1_000)
        for kind in kinds where kind.kind != .cpuid {
            #expect(kind.latencyTest?.significant == false, "\(kind.kind) \(kind.vantage)")
            #expect(kind.figures.allSatisfy { $0.cyclesDifference == 0 })
        }
    }

    @Test func probeNotesWorldTSCAndUnavailableKinds() throws {
        let a = Self.probe(cpuidBase: 1_000, tscHz: 2e9)
        let b = Self.probe(cpuidBase: 1_000, tscHz: 3e9, world: .emulating, mmioAvailable: false)
        let comparison = ProbeComparator().compare(a, b)
        #expect(comparison.testedIn == "ns")
        #expect(comparison.notes.contains { $0.hasPrefix("different worlds") })
        #expect(comparison.notes.contains { $0.hasPrefix("TSC rates differ") })
        let mmio = try #require(comparison.runs[0].kinds.first { $0.kind == .mmio })
        #expect(mmio.figures.isEmpty && mmio.latencyTest == nil)
        #expect(mmio.unavailable == "B: no MMIO here")
        #expect(comparison.tests == 3)
        // Same cycles at a 1.5x faster clock: B takes 2/3 the time, and ranking ns sees it.
        let cpuid = try #require(comparison.runs[0].kinds.first { $0.kind == .cpuid })
        #expect(cpuid.figures.allSatisfy { $0.cyclesDifference == 0 && $0.nsDifference < 0 })
        #expect(cpuid.latencyTest?.significant == true && (cpuid.latencyTest?.z ?? 0) < 0)
    }

    @Test func probeComparisonRendersAndRoundTrips() throws {
        let comparison = ProbeComparator().compare(Self.probe(cpuidBase: 1_000), Self.probe(cpuidBase: 2_000), labels: ("before", "after"))
        let text = RunComparisonTextRenderer(style: TerminalStyle(colour: false)).render(comparison)
        #expect(text.contains("A before") && text.contains("B after"))
        #expect(text.contains("B slower"))
        #expect(text.contains("+1,300"))
        let json = try JSONRendering.render(comparison)
        #expect(json.contains("\"schema\" : \"hvtax.probe-comparison/1\""))
        #expect(try JSONDecoder().decode(ProbeComparison.self, from: Data(json.utf8)) == comparison)
        let html = RunComparisonHTMLRenderer().render(comparison)
        #expect(html.contains("probe results") && !html.contains("<script"))
    }

    @Test func probeReportWithoutSchemaStillDecodes() throws {
        let report = Self.probe(cpuidBase: 1_000)
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
        #expect(object["schema"] as? String == ProbeReport.schemaID)
        object["schema"] = nil
        let decoded = try JSONDecoder().decode(ProbeReport.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(decoded == report)
    }

    // MARK: snapshots

    static func vm(_ name: String, steal: Double, onCPU: Double, overhead: Double, exits: Double?) -> VMFigures {
        let pair = Thresholds.standard.steal
        let vcpus = (0..<2).map {
            VCPUFigures(vcpu: $0, tid: Int32(100 + $0), thread: "CPU \($0)/KVM", onCPUNs: 0, runDelayNs: 0, userNs: 0, systemNs: 0, guestNs: 0,
                        voluntarySwitches: 0, involuntarySwitches: 0, migrations: nil, lastCPU: $0, onCPU: onCPU / 2,
                        steal: RatedRatio(steal + Double($0) * 0.01, against: pair))
        }
        return VMFigures(name: name, pid: 42, kind: .qemu, uuid: nil, vcpus: vcpus, emulator: .init(), io: .init(), vhost: .init(), cgroup: nil,
                         vcpuOnCPU: onCPU, vmmOverhead: RatedRatio(overhead, against: pair), steal: RatedRatio(steal, against: pair),
                         worstVCPUSteal: .ok, exitsPerSecond: exits, cpus: [0, 1])
    }

    static func snapshot(_ sequence: Int, intervalNs: UInt64 = 1_000_000_000, vms: [VMFigures], hostSteal: Double = 0) -> HostSnapshot {
        HostSnapshot(sequence: sequence, intervalNs: intervalNs, endUnixNs: UInt64(sequence) * 1_000_000_000, root: "/", clockTicksPerSecond: 100,
                     hostCPUs: [HostCPUFigures(cpu: nil, user: 0.5, system: 0.1, idle: 0.4 - hostSteal, iowait: 0, irq: 0, softirq: 0,
                                               steal: hostSteal, guest: 0.3)],
                     vms: vms, interrupts: InterruptFigures(totalPerSecond: 1_000), exitRates: ExitRateSource(kind: .none, detail: "test"),
                     noisyNeighbours: [], findings: [], sampler: SamplerCost(cpuNs: 0, filesRead: 0, threadsSampled: 0), thresholds: .standard)
    }

    @Test func snapshotMeansPerVMMatchedByName() throws {
        // A: web steal 2% and 4% over equal intervals (mean 3%); B: 10% in a 3 s interval, 20% in a 1 s one (weighted mean 12.5%).
        let a = [Self.snapshot(1, vms: [Self.vm("web", steal: 0.02, onCPU: 1.0, overhead: 0.05, exits: 1_000), Self.vm("db", steal: 0, onCPU: 2, overhead: 0.1, exits: nil)]),
                 Self.snapshot(2, vms: [Self.vm("web", steal: 0.04, onCPU: 1.5, overhead: 0.05, exits: 3_000), Self.vm("db", steal: 0, onCPU: 2, overhead: 0.1, exits: nil)])]
        let b = [Self.snapshot(1, intervalNs: 3_000_000_000, vms: [Self.vm("web", steal: 0.10, onCPU: 1.0, overhead: 0.07, exits: 2_000), Self.vm("cache", steal: 0, onCPU: 0.5, overhead: 0, exits: nil)], hostSteal: 0.02),
                 Self.snapshot(2, vms: [Self.vm("web", steal: 0.20, onCPU: 1.0, overhead: 0.07, exits: 2_000)], hostSteal: 0.02)]
        let comparison = try SnapshotComparator().compare(a, b, labels: ("pinned", "unpinned"))
        #expect(comparison.vms.map(\.name) == ["web", "cache", "db"])
        let web = comparison.vms[0]
        #expect(web.intervalsA == 2 && web.intervalsB == 2 && web.vcpusA == 2)
        let steal = try #require(web.metric("steal"))
        #expect(abs(try #require(steal.a).mean - 0.03) < 1e-12)
        #expect(abs(try #require(steal.b).mean - 0.125) < 1e-12)
        #expect(abs(try #require(steal.difference) - 0.095) < 1e-12)
        #expect(steal.a?.min == 0.02 && steal.a?.max == 0.04)
        #expect(abs((steal.a?.standardDeviation ?? 0) - 0.02.squareRoot() * 0.1) < 1e-12)
        #expect(abs((web.metric("worst-vcpu-steal")?.a?.mean ?? 0) - 0.04) < 1e-12)
        #expect(web.metric("on-cpu")?.a?.mean == 1.25 && web.metric("on-cpu")?.difference == -0.25)
        #expect(abs((web.metric("vmm-overhead")?.difference ?? 0) - 0.02) < 1e-12)
        #expect(web.metric("exits")?.a?.mean == 2_000)
        let db = comparison.vms[2]
        #expect(db.intervalsB == 0 && db.metric("steal")?.b == nil && db.metric("steal")?.difference == nil)
        #expect(db.metric("exits")?.a == nil)
        #expect(comparison.notes.contains("only in A: db") && comparison.notes.contains("only in B: cache"))
        #expect(comparison.notes[0].contains("no significance test"))
        let hostSteal = try #require(comparison.host.first { $0.name == "host-steal" })
        #expect(abs((hostSteal.difference ?? 0) - 0.02) < 1e-12)
        #expect(comparison.a.durationNs == 2_000_000_000 && comparison.b.durationNs == 4_000_000_000)

        let text = RunComparisonTextRenderer(style: TerminalStyle(colour: false)).render(comparison)
        #expect(text.contains("A pinned") && text.contains("+9.5 pp"))
        let json = try JSONRendering.render(comparison)
        #expect(json.contains("\"schema\" : \"hvtax.snapshot-comparison/1\""))
        #expect(try JSONDecoder().decode(SnapshotComparison.self, from: Data(json.utf8)) == comparison)
        #expect(RunComparisonHTMLRenderer().render(comparison).contains("VM web"))
        #expect(text.contains("A pinned: 2 intervals over"))
        let single = try SnapshotComparator().compare(Array(a.prefix(1)), b, labels: ("one", "two"))
        #expect(RunComparisonTextRenderer(style: TerminalStyle(colour: false)).render(single).contains("A one: 1 interval over"))
        #expect(throws: SnapshotComparator.ComparisonError.self) { try SnapshotComparator().compare([], b) }
    }
}
