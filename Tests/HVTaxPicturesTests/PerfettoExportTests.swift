import Foundation
import HVTaxAnalysis
import HVTaxEvents
import HVTaxExport
import HVTaxModel
import HVTaxPipeline
import Testing

/// The Perfetto timeline read back with real parsers: Foundation's JSON parser for the content,
/// a JSON schema of the Chrome trace-event format (python jsonschema) for the form. Each vCPU's
/// slices must tile its wall time without gap or overlap, and their durations per state must add
/// up to the synthesizer's true split, to the nanosecond.
struct PerfettoExportTests {
    struct Slice {
        var tid: Int
        var pid: Int
        var start: UInt64
        var duration: UInt64
        var name: String
        /// nil for a `mixed` slice (short slices batched), whose time per state is in `split`.
        var state: VCPUState?
        var reason: String?
        var split = TimeSplit()
    }

    /// µs with three decimals back to integer ns, exactly (no float arithmetic on the text).
    static func nanoseconds(_ text: String) -> UInt64 {
        let parts = text.split(separator: ".")
        let whole = UInt64(parts[0])! * 1000
        return parts.count > 1 ? whole + UInt64(parts[1].padding(toLength: 3, withPad: "0", startingAt: 0))! : whole
    }

    static func export(_ path: String, options: AnalysisOptions = AnalysisOptions(),
                       minimumSlice: UInt64 = 0) throws -> (report: TraceReport, file: String, writer: PerfettoTraceWriter) {
        let symbols = SymbolTable()
        let file = Support.temporary("timeline.json")
        let writer = try PerfettoTraceWriter(path: file, symbols: symbols, minimumSlice: minimumSlice)
        let report = try TraceReportPipeline.run(paths: [path], options: options, sinks: [writer], symbols: symbols)
        try writer.finish(report: report)
        return (report, file, writer)
    }

    /// Parses with JSONSerialization (validity), then re-reads ts/dur as text for exact ns.
    static func slices(_ file: String) throws -> (slices: [Slice], metadata: [[String: Any]]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let events = try #require(root["traceEvents"] as? [[String: Any]])
        var slices: [Slice] = []
        var metadata: [[String: Any]] = []
        // The numbers as written, one event per line: exact decimal ns without float rounding.
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").filter { $0.contains("\"ph\":\"X\"") }
        var lineIndex = 0
        for event in events {
            switch event["ph"] as? String {
            case "X":
                let line = String(lines[lineIndex])
                lineIndex += 1
                func field(_ name: String) -> String {
                    let start = line.range(of: "\"\(name)\":")!.upperBound
                    return String(line[start...].prefix { $0.isNumber || $0 == "." })
                }
                let args = try #require(event["args"] as? [String: Any])
                let stateName = try #require(args["state"] as? String)
                var slice = Slice(tid: try #require(event["tid"] as? Int), pid: try #require(event["pid"] as? Int),
                                  start: nanoseconds(field("ts")), duration: nanoseconds(field("dur")),
                                  name: try #require(event["name"] as? String),
                                  state: VCPUState(rawValue: stateName), reason: args["reason"] as? String)
                if let state = slice.state {
                    slice.split[state] = slice.duration
                } else {
                    #expect(stateName == "mixed")
                    for state in VCPUState.allCases { slice.split[state] = UInt64(args[state.rawValue + "Ns"] as? Int ?? 0) }
                    #expect(slice.split.total == slice.duration, "a mixed slice's states add up to its duration")
                }
                slices.append(slice)
            case "M": metadata.append(event)
            default: Issue.record("unexpected event \(event)")
            }
        }
        return (slices, metadata)
    }

    @Test func slicesTileEachVCPUAndAddUpToTheTruth() throws {
        let (trace, truth) = try Support.synthesize(seed: 2, vms: 2, vcpus: 4, events: 30_000, loss: 0.01)
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let (report, file, writer) = try Self.export(trace)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (slices, metadata) = try Self.slices(file)
        #expect(UInt64(slices.count) == writer.slices)
        let origin = truth.vcpus.map(\.firstTime).min()!
        for expected in truth.vcpus {
            let mine = slices.filter { $0.tid == Int(expected.tid) }.sorted { $0.start < $1.start }
            #expect(!mine.isEmpty)
            #expect(mine.allSatisfy { $0.pid == Int(expected.vmPid) })
            // Tiling: from the vCPU's first to its last event, each slice starts where the last ended.
            #expect(mine.first?.start == expected.firstTime - origin, "tid \(expected.tid)")
            for (previous, next) in zip(mine, mine.dropFirst()) {
                #expect(previous.start + previous.duration == next.start, "gap or overlap, tid \(expected.tid) at \(next.start)")
            }
            #expect(mine.last.map { $0.start + $0.duration } == expected.lastTime - origin)
            var split = TimeSplit()
            for slice in mine { split += slice.split }
            #expect(split == expected.split, "tid \(expected.tid)")
            // Exit-window slices are named by their reason; the others by their state.
            #expect(mine.allSatisfy { $0.name == ($0.reason ?? $0.state!.rawValue) })
            #expect(mine.contains { $0.reason == "HLT" && $0.state == .halted })
            #expect(mine.contains { $0.reason == "IO_INSTRUCTION" && $0.state == .vmm } || mine.contains { $0.reason == "EPT_MISCONFIG" && $0.state == .vmm })
        }
        // Tracks are named after the report's VMs and vCPUs.
        let names = metadata.filter { $0["name"] as? String == "thread_name" }.compactMap { ($0["args"] as? [String: Any])?["name"] as? String }
        #expect(names.count == truth.vcpus.count)
        #expect(names.contains("vCPU 0 (CPU 0/KVM)"))
        let processes = metadata.filter { $0["name"] as? String == "process_name" }.compactMap { ($0["args"] as? [String: Any])?["name"] as? String }
        #expect(Set(processes) == Set(report.vms.map { "VM " + $0.name }))
    }

    @Test func aTimeWindowClipsTheTimeline() throws {
        let (trace, _) = try Support.synthesize(seed: 1)
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let whole = try TraceReportPipeline.run(paths: [trace])
        var filters = ReportFilters()
        filters.since = whole.host.duration / 4
        filters.until = whole.host.duration / 2
        let (report, file, _) = try Self.export(trace, options: AnalysisOptions(filters: filters))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (slices, _) = try Self.slices(file)
        var split = TimeSplit()
        for slice in slices { split += slice.split }
        #expect(split == report.host.split)
        #expect(slices.allSatisfy { $0.start + $0.duration <= report.host.duration })
    }

    @Test(arguments: [UInt64(50_000), 1_000_000])
    func shortSlicesBatchedKeepExactTotals(minimumSlice: UInt64) throws {
        let (trace, truth) = try Support.synthesize(seed: 4, vms: 1, vcpus: 3, events: 20_000, loss: 0.01)
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let (_, exactFile, exact) = try Self.export(trace)
        try? FileManager.default.removeItem(atPath: exactFile)
        let (_, file, writer) = try Self.export(trace, minimumSlice: minimumSlice)
        defer { try? FileManager.default.removeItem(atPath: file) }
        // Slices longer than the minimum stay: how much goes depends on the trace (the synthesizer's
        // guest runs are 2-400 µs, so 50 µs keeps most of them; 1 ms batches nearly everything).
        #expect(writer.slices < exact.slices)
        if minimumSlice >= 1_000_000 { #expect(writer.slices * 2 < exact.slices, "\(writer.slices) of \(exact.slices)") }
        let (slices, _) = try Self.slices(file)
        let origin = truth.vcpus.map(\.firstTime).min()!
        for expected in truth.vcpus {
            let mine = slices.filter { $0.tid == Int(expected.tid) }.sorted { $0.start < $1.start }
            #expect(mine.first?.start == expected.firstTime - origin)
            for (previous, next) in zip(mine, mine.dropFirst()) { #expect(previous.start + previous.duration == next.start) }
            var split = TimeSplit()
            for slice in mine { split += slice.split }
            #expect(split == expected.split, "tid \(expected.tid)")
            // Only runs of short slices are batched; longer slices keep their state and reason.
            #expect(mine.allSatisfy { $0.state != nil || $0.name == "mixed" })
            #expect(mine.filter { $0.state != nil && $0.duration < minimumSlice }.count < mine.count / 2)
        }
    }

    @Test func matchesTheTraceEventSchema() throws {
        guard let python = Support.python(with: ["jsonschema"]) else {
            print("skipped: python3 with the jsonschema module is not installed")
            return
        }
        let (trace, _) = try Support.synthesize(seed: 3, loss: 0.01)
        defer { try? FileManager.default.removeItem(atPath: trace) }
        for minimumSlice: UInt64 in [0, 100_000] {
            let (_, file, _) = try Self.export(trace, minimumSlice: minimumSlice)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let result = try Support.run(python, [Support.scripts.appendingPathComponent("check_trace_events.py").path, file])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.hasPrefix("ok "))
        }

        // The schema is not vacuous: a slice without dur is refused.
        let broken = Support.temporary("broken.json")
        defer { try? FileManager.default.removeItem(atPath: broken) }
        try #"{"traceEvents":[{"ph":"X","pid":1,"tid":2,"ts":1.0,"name":"guest","args":{"state":"guest"}}]}"#
            .write(toFile: broken, atomically: true, encoding: .utf8)
        let refused = try Support.run(python, [Support.scripts.appendingPathComponent("check_trace_events.py").path, broken])
        #expect(refused.status != 0)
    }

    @Test func reasonNamesAreEscaped() throws {
        // `PF excp` has a space; names with quotes or backslashes must stay valid JSON.
        let symbols = SymbolTable()
        let quoted = "odd \"reason\" \\ name"
        let symbol = quoted.utf8CString.withUnsafeBytes { symbols.reasons.intern(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
        let file = Support.temporary("escaped.json")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let writer = try PerfettoTraceWriter(path: file, symbols: symbols)
        writer.begin(at: 100)
        let vcpu = TimelineVCPU(tid: 11, pid: 10, vcpu: 0)
        writer.interval(vcpu: vcpu, state: .guest, start: 100, end: 1_100, exitReason: nil)
        writer.interval(vcpu: vcpu, state: .hypervisor, start: 1_100, end: 1_600, exitReason: symbol)
        writer.interval(vcpu: vcpu, state: .hypervisor, start: 1_600, end: 1_700, exitReason: symbol)
        try writer.finish()
        let (slices, metadata) = try Self.slices(file)
        #expect(slices.count == 2, "contiguous intervals of one state and reason are merged")
        #expect(slices.last?.name == quoted)
        #expect(slices.last?.duration == 600)
        #expect(slices.first?.start == 0)
        #expect(metadata.count == 2)
    }
}
