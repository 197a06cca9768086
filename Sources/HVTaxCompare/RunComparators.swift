import Foundation
import HVTaxModel

/// Compares two `hvtax probe` results: per exit kind and vantage point the percentiles in cycles
/// and nanoseconds, and a Mann-Whitney U over the log2 buckets (as for trace reports).
public struct ProbeComparator {
    public var alpha = 0.05
    public var minimumSamples: UInt64 = 10

    public init(alpha: Double = 0.05) { self.alpha = alpha }

    public func compare(_ a: ProbeReport, _ b: ProbeReport, labels: (String, String) = ("A", "B"),
                        generator: String = "hvtax") -> ProbeComparison {
        // Cycles of two TSCs at different rates are different units: then rank nanoseconds.
        let sameClock = a.tsc.hz > 0 && b.tsc.hz > 0 && abs(b.tsc.hz / a.tsc.hz - 1) <= 0.01
        let testedIn = sameClock ? "cycles" : "ns"
        func buckets(_ m: ExitCostMeasurement?) -> LatencySummary? {
            guard let m, m.status == .measured else { return nil }
            return sameClock ? m.cycles : m.ns
        }

        struct Pending { var kind: ProbeKind; var vantage: ProbeVantage; var a: ExitCostMeasurement?; var b: ExitCostMeasurement? }
        var pairs: [(String, String, [Pending])] = []
        for index in 0..<max(a.runs.count, b.runs.count) {
            let runA = index < a.runs.count ? a.runs[index] : nil
            let runB = index < b.runs.count ? b.runs[index] : nil
            var keys: [(ProbeKind, ProbeVantage)] = []
            for m in (runA?.measurements ?? []) + (runB?.measurements ?? []) where !keys.contains(where: { $0 == (m.kind, m.vantage) }) {
                keys.append((m.kind, m.vantage))
            }
            pairs.append((runA?.label ?? "-", runB?.label ?? "-",
                          keys.map { Pending(kind: $0.0, vantage: $0.1, a: runA?.measurement($0.0, $0.1), b: runB?.measurement($0.0, $0.1)) }))
        }
        var tests = 0
        for (_, _, rows) in pairs {
            for row in rows {
                if let x = buckets(row.a), let y = buckets(row.b), x.count >= minimumSamples, y.count >= minimumSamples { tests += 1 }
            }
        }
        let level = alpha / Double(max(1, tests))

        let runs = pairs.map { labelA, labelB, rows in
            ProbeComparison.RunPair(labelA: labelA, labelB: labelB, kinds: rows.map { row in
                var test: TraceComparison.SignificanceTest?
                if let x = buckets(row.a), let y = buckets(row.b), x.count >= minimumSamples, y.count >= minimumSamples,
                   let result = RankTests.mannWhitney(binsA: x.log2Buckets, binsB: y.log2Buckets) {
                    test = .init(method: "mann-whitney-u-log2-bins", z: result.z, pValue: result.pValue, effect: result.effect,
                                 significant: result.pValue < level)
                }
                func why(_ m: ExitCostMeasurement?, _ tag: String) -> String? {
                    guard let m else { return "not in \(tag)" }
                    guard m.status == .measured else { return "\(tag): \(m.unavailableReason ?? "unavailable")" }
                    return nil
                }
                var reasons = [why(row.a, "A"), why(row.b, "B")].compactMap { $0 }
                if reasons.count == 2, reasons[0].dropFirst(2) == reasons[1].dropFirst(2) { reasons = ["both" + reasons[0].dropFirst()] }
                let measuredA = row.a?.status == .measured ? row.a : nil, measuredB = row.b?.status == .measured ? row.b : nil
                return .init(kind: row.kind, vantage: row.vantage, samplesA: measuredA?.samples ?? 0, samplesB: measuredB?.samples ?? 0,
                             cyclesA: measuredA?.cycles, cyclesB: measuredB?.cycles, nsA: measuredA?.ns, nsB: measuredB?.ns,
                             latencyTest: test, unavailable: reasons.isEmpty ? nil : reasons.joined(separator: "; "))
            })
        }

        var notes: [String] = []
        if a.world.kind != b.world.kind {
            notes.append("different worlds: A \(a.world.kind.rawValue) (\(a.world.summary)), B \(b.world.kind.rawValue) (\(b.world.summary)); "
                         + "exit costs of an emulating KVM and of hardware virtualization are not the same quantity")
        }
        if !sameClock {
            notes.append("TSC rates differ: A \(Self.mhz(a.tsc.hz)) (\(a.tsc.source)), B \(Self.mhz(b.tsc.hz)) (\(b.tsc.source)); "
                         + "cycles are not comparable, the latency test ranks nanoseconds")
        } else if a.tsc.source != b.tsc.source {
            notes.append("TSC rate from different sources: A \(a.tsc.source), B \(b.tsc.source)")
        }
        let modelA = a.host.cpuModel.isEmpty ? a.host.cpuVendor : a.host.cpuModel
        let modelB = b.host.cpuModel.isEmpty ? b.host.cpuVendor : b.host.cpuModel
        if modelA != modelB { notes.append("different CPUs: A \(modelA), B \(modelB)") }
        if a.host.kernelRelease != b.host.kernelRelease {
            notes.append("different kernels: A \(a.host.kernelRelease), B \(b.host.kernelRelease)")
        }
        if a.settings.samplesPerKind != b.settings.samplesPerKind {
            notes.append("different sample counts per kind: A \(a.settings.samplesPerKind), B \(b.settings.samplesPerKind) (the tails p99/max of the smaller run are less certain)")
        }
        for pair in runs where pair.labelA != pair.labelB {
            notes.append("runs paired by position have different placements: A \(pair.labelA), B \(pair.labelB)")
        }
        return ProbeComparison(generator: generator, a: .init(label: labels.0, report: a), b: .init(label: labels.1, report: b),
                               alpha: alpha, tests: tests, testedIn: testedIn, runs: runs, notes: notes)
    }

    static func mhz(_ hz: Double) -> String { String(format: "%.1f MHz", hz / 1e6) }
}

/// Compares two `hvtax snapshot` runs: per VM (matched by name) and for the host, each figure's
/// interval-weighted mean over the run with its spread. No significance test (see SnapshotComparison).
public struct SnapshotComparator {
    public init() {}

    public enum ComparisonError: Error, CustomStringConvertible {
        case empty(String)
        public var description: String {
            switch self {
            case let .empty(label): "\(label): no snapshot intervals"
            }
        }
    }

    /// The figures compared per VM: name, unit, and how to read one interval's value (nil: not measured).
    static let vmMetrics: [(String, String, @Sendable (VMFigures) -> Double?)] = [
        ("steal", "ratio", { $0.steal.ratio }),
        ("worst-vcpu-steal", "ratio", { vm in vm.vcpus.compactMap(\.steal.ratio).max() }),
        ("on-cpu", "cpus", { $0.vcpuOnCPU }),
        ("vmm-overhead", "ratio", { $0.vmmOverhead.ratio }),
        ("exits", "per-second", { $0.exitsPerSecond }),
    ]

    public func compare(_ a: [HostSnapshot], _ b: [HostSnapshot], labels: (String, String) = ("A", "B"),
                        generator: String = "hvtax") throws -> SnapshotComparison {
        guard !a.isEmpty else { throw ComparisonError.empty(labels.0) }
        guard !b.isEmpty else { throw ComparisonError.empty(labels.1) }
        func side(_ run: [HostSnapshot], _ label: String) -> SnapshotComparison.Side {
            .init(label: label, intervals: run.count, durationNs: run.reduce(0) { $0 + $1.intervalNs },
                  firstEndUnixNs: run.map(\.endUnixNs).min() ?? 0, lastEndUnixNs: run.map(\.endUnixNs).max() ?? 0, root: run[0].root)
        }
        func summary(_ run: [HostSnapshot], _ value: (HostSnapshot) -> Double?) -> SnapshotComparison.Summary? {
            .init(values: run.compactMap { s in value(s).map { (value: $0, weight: Double(s.intervalNs)) } })
        }
        func aggregate(_ s: HostSnapshot) -> HostCPUFigures? { s.hostCPUs.first { $0.cpu == nil } }
        let hostFigures: [(String, String, (HostSnapshot) -> Double?)] = [
            ("host-user", "ratio", { aggregate($0)?.user }),
            ("host-system", "ratio", { aggregate($0)?.system }),
            ("host-guest", "ratio", { aggregate($0)?.guest }),
            ("host-idle", "ratio", { aggregate($0)?.idle }),
            ("host-steal", "ratio", { aggregate($0)?.steal }),
            ("interrupts", "per-second", { $0.interrupts.totalPerSecond }),
        ]
        let host = hostFigures.map { name, unit, value in
            SnapshotComparison.Metric(name: name, unit: unit, a: summary(a, value), b: summary(b, value))
        }

        func names(_ run: [HostSnapshot]) -> Set<String> { Set(run.flatMap { $0.vms.map(\.name) }) }
        let namesA = names(a), namesB = names(b)
        let ordered = namesA.intersection(namesB).sorted() + namesA.symmetricDifference(namesB).sorted()
        let vms = ordered.map { name in
            func present(_ run: [HostSnapshot]) -> [(VMFigures, Double)] {
                run.compactMap { s in s.vms.first { $0.name == name }.map { ($0, Double(s.intervalNs)) } }
            }
            let inA = present(a), inB = present(b)
            func stats(_ seen: [(VMFigures, Double)], _ value: (VMFigures) -> Double?) -> SnapshotComparison.Summary? {
                .init(values: seen.compactMap { vm, weight in value(vm).map { (value: $0, weight: weight) } })
            }
            return SnapshotComparison.VMComparison(
                name: name, intervalsA: inA.count, intervalsB: inB.count,
                vcpusA: inA.map(\.0.vcpus.count).max(), vcpusB: inB.map(\.0.vcpus.count).max(),
                metrics: Self.vmMetrics.map { metric, unit, value in .init(name: metric, unit: unit, a: stats(inA, value), b: stats(inB, value)) })
        }

        var notes = ["figures are interval-weighted means over each run with min-max and standard deviation over intervals; "
                     + "no significance test: a run's intervals are few and autocorrelated, so treat differences within the spread as noise"]
        let onlyA = namesA.subtracting(namesB).sorted(), onlyB = namesB.subtracting(namesA).sorted()
        if !onlyA.isEmpty { notes.append("only in A: \(onlyA.joined(separator: ", "))") }
        if !onlyB.isEmpty { notes.append("only in B: \(onlyB.joined(separator: ", "))") }
        if a[0].root != b[0].root { notes.append("read under different roots: A \(a[0].root), B \(b[0].root)") }
        if a[0].exitRates.kind != b[0].exitRates.kind {
            notes.append("exit rates from different sources: A \(a[0].exitRates.kind.rawValue), B \(b[0].exitRates.kind.rawValue)")
        }
        return SnapshotComparison(generator: generator, a: side(a, labels.0), b: side(b, labels.1), host: host, vms: vms, notes: notes)
    }
}
