import Foundation
import HVTaxAnalysis
import HVTaxModel
import HVTaxPipeline
import HVTaxSynth
import Testing

/// Generated traces whose truth is known by construction: several VMs and vCPUs interleaved on
/// several CPUs, every exit path, preemption, halts and lost events. The analysis must reproduce
/// the true split to the nanosecond, every count exactly, and latencies within the histogram's 1%.
struct GroundTruthTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var seed: UInt64
        var format: TraceSynthesizer.Configuration.Format
        var isa: ISA
        var loss: Double
        var vms: Int
        var vcpus: Int
        var events: Int
        var testDescription: String { "seed \(seed) \(format) \(isa) loss \(loss) \(vms)x\(vcpus)" }
    }

    static let cases: [Case] = [
        Case(seed: 1, format: .ftrace, isa: .vmx, loss: 0, vms: 3, vcpus: 2, events: 20_000),
        Case(seed: 2, format: .ftrace, isa: .vmx, loss: 0.01, vms: 2, vcpus: 4, events: 20_000),
        Case(seed: 3, format: .perf, isa: .svm, loss: 0.01, vms: 4, vcpus: 1, events: 20_000),
        Case(seed: 4, format: .perf, isa: .vmx, loss: 0.002, vms: 1, vcpus: 8, events: 30_000),
        Case(seed: 5, format: .ftrace, isa: .svm, loss: 0.05, vms: 5, vcpus: 3, events: 15_000),
        // More than 99 vCPUs a VM: the generator once gave VM 0's vCPU 100 the id of VM 1's process.
        Case(seed: 6, format: .ftrace, isa: .vmx, loss: 0, vms: 2, vcpus: 120, events: 30_000),
    ]

    static func generate(_ c: Case) throws -> (path: String, truth: GroundTruth) {
        var configuration = TraceSynthesizer.Configuration()
        configuration.seed = c.seed
        configuration.format = c.format
        configuration.isa = c.isa
        configuration.lossProbability = c.loss
        configuration.vms = c.vms
        configuration.vcpusPerVM = c.vcpus
        configuration.events = c.events
        configuration.keepLatencies = true
        var bytes = Data()
        let truth = TraceSynthesizer(configuration).generate { bytes.append(contentsOf: $0) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-truth-\(UUID().uuidString)-\(c.seed).txt").path
        try bytes.write(to: URL(fileURLWithPath: path))
        return (path, truth)
    }

    @Test(arguments: cases)
    func reproducesTheTruth(_ c: Case) throws {
        let (path, truth) = try Self.generate(c)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let report = try TraceReportPipeline.run(paths: [path])
        let vcpus = report.vms.flatMap(\.vcpus)
        #expect(vcpus.count == truth.vcpus.count)
        #expect(report.vms.count == c.vms)
        #expect(report.quality.lostTotal == truth.lostEvents)
        #expect(report.quality.lost.reduce(0) { $0 + $1.occurrences } == truth.lostMarkers)
        #expect(report.quality.exitsOpenAtEnd == truth.exitsOpenAtEnd)
        #expect(report.quality.unpairedExits == 0 && report.quality.unpairedEntries == 0)
        #expect(report.quality.malformedLines == 0)
        for expected in truth.vcpus {
            let vcpu = try #require(vcpus.first { $0.tid == expected.tid })
            #expect(vcpu.vmPid == expected.vmPid)
            #expect(vcpu.vcpu == expected.vcpu)
            // The time split, exactly; and it adds up to the wall time (the property).
            #expect(vcpu.split == expected.split, "tid \(expected.tid)")
            #expect(vcpu.split.total == expected.lastTime - expected.firstTime)
            #expect(vcpu.split.total == vcpu.wallTime)
            let byReason = Dictionary(uniqueKeysWithValues: vcpu.exits.byReason.map { ($0.reason, $0) })
            #expect(Set(byReason.keys) == Set(expected.reasons.keys))
            for (name, reasonTruth) in expected.reasons {
                let stats = try #require(byReason[name])
                #expect(stats.count == reasonTruth.count, "\(name)")
                #expect(stats.hypervisorTime == reasonTruth.hypervisorTime, "\(name)")
                #expect(stats.vmmTime == reasonTruth.vmmTime, "\(name)")
                #expect(stats.offCPUTime == reasonTruth.offCPUTime, "\(name)")
                for path in ExitPath.allCases {
                    #expect(stats.paths[path].count == reasonTruth.paths[path.rawValue] ?? 0, "\(name) \(path)")
                }
                let latency = stats.latency
                #expect(latency.count == reasonTruth.latencyCount)
                if reasonTruth.latencyCount > 0 {
                    #expect(latency.min == reasonTruth.latencyMin)
                    #expect(latency.max == reasonTruth.latencyMax)
                    #expect(abs(latency.mean - Double(reasonTruth.latencySum) / Double(reasonTruth.latencyCount)) < 1e-6 * latency.mean)
                    let sorted = reasonTruth.latencies.sorted()
                    for (percentile, measured) in [(50.0, latency.p50), (90.0, latency.p90), (99.0, latency.p99)] {
                        let exact = Double(sorted[min(sorted.count - 1, Int((percentile / 100 * Double(sorted.count)).rounded(.up)) - 1)])
                        #expect(abs(Double(measured) - exact) <= exact * 0.01 + 1, "\(name) p\(percentile)")
                    }
                }
            }
        }
        // Host figures are the sums of the vCPUs.
        var hostSplit = TimeSplit()
        for expected in truth.vcpus { hostSplit += expected.split }
        #expect(report.host.split == hostSplit)
        #expect(report.host.exits.count == truth.exitsByReason.values.reduce(0, +))
        #expect(report.host.exits.paths.count == report.host.exits.count)
        let tax = Double(hostSplit.hypervisor + hostSplit.vmm) / Double(hostSplit.guest + hostSplit.hypervisor + hostSplit.vmm)
        #expect(report.host.tax.ratio == tax)
        #expect(report.host.steal.ratio == Double(hostSplit.preempted) / Double(hostSplit.total))
    }

    @Test func filtersRestrictTheFigures() throws {
        let (path, truth) = try Self.generate(Self.cases[0])
        defer { try? FileManager.default.removeItem(atPath: path) }
        var filters = ReportFilters()
        filters.vcpus = [1]
        filters.reasons = ["HLT"]
        let report = try TraceReportPipeline.run(paths: [path], options: AnalysisOptions(filters: filters))
        let vcpus = report.vms.flatMap(\.vcpus)
        #expect(vcpus.count == truth.vcpus.filter { $0.vcpu == 1 }.count)
        #expect(report.host.exits.byReason.map(\.reason) == ["HLT"])
        let expectedHLT = truth.vcpus.filter { $0.vcpu == 1 }.reduce(0) { $0 + ($1.reasons["HLT"]?.count ?? 0) }
        #expect(report.host.exits.count == expectedHLT)

        var byVM = ReportFilters()
        byVM.vms = ["1100"]
        let one = try TraceReportPipeline.run(paths: [path], options: AnalysisOptions(filters: byVM))
        #expect(one.vms.map(\.pid) == [1100])
        #expect(!one.quality.notes.contains { $0.hasPrefix("--") }, "every filter matched")
    }

    /// A filter that matches nothing leaves an empty report, which reads like VMs that did nothing:
    /// each such filter is named in a note with what the trace has instead.
    @Test func filtersThatMatchNothingSaySo() throws {
        let (path, truth) = try Self.generate(Self.cases[0])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let whole = try TraceReportPipeline.run(paths: [path])
        var filters = ReportFilters()
        filters.vms = ["1100", "web01"]
        filters.pids = [4]
        filters.vcpus = [0, 77]
        filters.reasons = ["HLT", "VMCALL_TYPO"]
        filters.since = whole.host.duration + 1
        let report = try TraceReportPipeline.run(paths: [path], options: AnalysisOptions(filters: filters, vmNames: [1000: "db", 9: "ghost"]))
        let notes = report.quality.notes.filter { $0.hasPrefix("--") }
        let vmIDs = Set(truth.vcpus.map(\.vcpu)).sorted().map(String.init).joined(separator: ", ")
        let reasons = Set(truth.vcpus.flatMap(\.reasons.keys)).sorted().joined(separator: ", ")
        #expect(notes.count == 7, "\(notes)")
        #expect(notes.contains { $0.hasPrefix("--vm web01 matches no VM in the trace; its VMs are ") && $0.contains("db (pid 1000)") })
        #expect(notes.contains { $0.hasPrefix("--pid 4 is neither a VM's process id nor a vCPU thread id") })
        #expect(notes.contains("--vcpu 77 matches no vCPU in the trace; its vcpu ids are \(vmIDs)"))
        #expect(notes.contains { $0.hasPrefix("--vm-name 9=ghost names no VM in the trace") })
        #expect(notes.contains { $0.hasPrefix("--since ") && $0.hasSuffix("starts after the trace's last event, "
            + "\(Double(whole.host.duration) / 1e9) s after its first: the window is empty") })
        #expect(notes.contains("--reason HLT is no exit reason in the window; it has no exits"))
        #expect(report.host.duration == 0)

        var reasonsOnly = ReportFilters()
        reasonsOnly.reasons = ["HLT", "VMCALL_TYPO"]
        let typo = try TraceReportPipeline.run(paths: [path], options: AnalysisOptions(filters: reasonsOnly))
        #expect(typo.quality.notes.filter { $0.hasPrefix("--") } == ["--reason VMCALL_TYPO is no exit reason in the trace; it has \(reasons)"])
    }

    @Test func timeWindowClipsExactly() throws {
        let (path, _) = try Self.generate(Self.cases[0])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let whole = try TraceReportPipeline.run(paths: [path])
        var filters = ReportFilters()
        filters.since = whole.host.duration / 4
        filters.until = whole.host.duration / 2
        let part = try TraceReportPipeline.run(paths: [path], options: AnalysisOptions(filters: filters))
        #expect(part.host.duration == whole.host.duration / 2 - whole.host.duration / 4)
        for vcpu in part.vms.flatMap(\.vcpus) {
            #expect(vcpu.split.total == vcpu.wallTime)
            #expect(vcpu.split.total <= part.host.duration)
        }
        #expect(part.host.exits.count < whole.host.exits.count)
    }

    @Test func withoutSchedSwitchHaltsCountAsHaltedAndOffCPUIsFlagged() throws {
        let (path, truth) = try Self.generate(Self.cases[0])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let stripped = path + ".nosched"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.split(separator: "\n").filter { !$0.contains("sched_switch") }.joined(separator: "\n")
            .write(toFile: stripped, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: stripped) }
        let report = try TraceReportPipeline.run(paths: [stripped])
        #expect(report.quality.statesIncludingOffCPU == [.hypervisor, .vmm])
        #expect(report.host.steal.level == .unavailable)
        #expect(report.host.split.preempted == 0)
        // Without sched_switch the off-CPU time of HLT windows (and their on-CPU part) is halted;
        // preemption inside other windows stays in hypervisor/vmm, flagged.
        var expected = TimeSplit()
        for vcpu in truth.vcpus { expected += vcpu.split }
        #expect(report.host.split.total == expected.total)
        #expect(report.host.split.guest == expected.guest)
        let hltHypervisor = truth.vcpus.reduce(0) { $0 + ($1.reasons["HLT"]?.hypervisorTime ?? 0) }
        #expect(report.host.split.halted == expected.halted + hltHypervisor)
    }

    @Test func timeSeriesAddsUpToTheHostSplit() throws {
        let (path, _) = try Self.generate(Self.cases[1])
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A small bucket and a small cap force the series to coarsen several times.
        let sink = TimeSeriesSink(initialWidth: 10_000, maxBuckets: 16)
        let report = try TraceReportPipeline.run(paths: [path], sinks: [sink])
        let series = try #require(report.timeSeries)
        #expect(series.points.count <= 16)
        #expect(series.bucketWidth > 10_000)
        var total = TimeSplit()
        for point in series.points { total += point.split }
        #expect(total == report.host.split)
        #expect(series.points.first?.start == 0)
    }
}
