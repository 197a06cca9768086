import ArgumentParser
import Foundation
import HVTaxCompare
import HVTaxFiles
import HVTaxModel
import HVTaxPipeline
import HVTaxRender
import HVTaxTrace

#if canImport(Glibc)
import Glibc
#endif

/// `hvtax compare A B`: two runs side by side, B against A.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two runs (pinned vs unpinned, before vs after): reports, traces, probe results or snapshots.",
        discussion: """
            Each run is a JSON report written by 'hvtax report --format json' or a trace file (read as \
            'hvtax report' would), a probe result ('hvtax probe --format json'), or a snapshot run \
            ('hvtax snapshot --format json', JSON Lines); the JSON's schema tells which, and both runs \
            must be of one kind. Probe results are compared per exit kind (percentiles in cycles and ns), \
            snapshots per VM by name (means over intervals, no significance test). Differences are B against A. Latency differences are tested with a \
            Mann-Whitney U test over the reports' log2 latency buckets, rates with a Poisson test, all \
            at --alpha family-wise (Bonferroni). See docs/html-perfetto-compare.md.
            """)

    @Argument(help: "Run A: a JSON report, a trace, a probe result or snapshots.")
    var a: String

    @Argument(help: "Run B: of the same kind as A.")
    var b: String

    @Option(name: .customLong("label-a"), help: "Name of run A in the output (default: its file name).")
    var labelA: String?

    @Option(name: .customLong("label-b"), help: "Name of run B in the output (default: its file name).")
    var labelB: String?

    @Option(help: "Family-wise significance level.")
    var alpha: Double = 0.05

    @Option(help: "Output format: text or json (schema hvtax.trace-comparison/1, hvtax.probe-comparison/1 or hvtax.snapshot-comparison/1).")
    var format: Format = .text

    @Option(help: ArgumentHelp("Also write the comparison as one self-contained HTML page.", valueName: "file"))
    var html: String?

    @Option(name: .customLong("color"), help: "Colour the text output: auto, always, never.")
    var colour: OutputOptions.Colour = .auto

    @Option(name: .customLong("counter-hz"), help: "Frequency of a raw counter clock (x86-tsc), for traces given as runs.")
    var counterHz: UInt64?

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    func validate() throws {
        guard alpha > 0, alpha < 1 else { throw ValidationError("--alpha must be between 0 and 1") }
        if counterHz == 0 { throw ValidationError("--counter-hz must be above 0 (the counter clock's ticks per second)") }
    }

    func run() throws {
        let generator = "hvtax \(HVTaxVersion.string)"
        // Opened before two traces are analysed: a path that cannot be written is said at once.
        let htmlFile = try html.map { try OutputFile(path: $0) }
        let runA = try load(a, generator: generator), runB = try load(b, generator: generator)
        let labels = (labelA ?? URL(fileURLWithPath: a).lastPathComponent, labelB ?? URL(fileURLWithPath: b).lastPathComponent)
        let style: TerminalStyle = switch colour {
        case .always: TerminalStyle(colour: true)
        case .never: TerminalStyle(colour: false)
        case .auto: TerminalStyle(colour: isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil)
        }
        let text: String, json: String, page: String?
        switch (runA, runB) {
        case let (.trace(reportA), .trace(reportB)):
            let comparison = try ReportComparator(alpha: alpha).compare(reportA, reportB, labels: labels, generator: generator)
            text = ComparisonTextRenderer(style: style).render(comparison)
            json = try JSONRendering.render(comparison)
            page = html == nil ? nil : ComparisonHTMLRenderer().render(comparison)
        case let (.probe(reportA), .probe(reportB)):
            let comparison = ProbeComparator(alpha: alpha).compare(reportA, reportB, labels: labels, generator: generator)
            text = RunComparisonTextRenderer(style: style).render(comparison)
            json = try JSONRendering.render(comparison)
            page = html == nil ? nil : RunComparisonHTMLRenderer().render(comparison)
        case let (.snapshots(runA), .snapshots(runB)):
            let comparison = try SnapshotComparator().compare(runA, runB, labels: labels, generator: generator)
            text = RunComparisonTextRenderer(style: style).render(comparison)
            json = try JSONRendering.render(comparison)
            page = html == nil ? nil : RunComparisonHTMLRenderer().render(comparison)
        default:
            throw ValidationError("cannot compare \(runA.kindName) (\(a)) with \(runB.kindName) (\(b)): "
                                  + "both runs must be trace reports or traces, both probe results, or both snapshot runs")
        }
        if let htmlFile, let page {
            try htmlFile.write(page)
            try htmlFile.commit()
        }
        print(format == .text ? text : json, terminator: "")
    }

    /// One side of the comparison, of the kind its JSON `schema` names.
    enum Run {
        case trace(TraceReport)
        case probe(ProbeReport)
        case snapshots([HostSnapshot])

        var kindName: String {
            switch self {
            case .trace: "a trace report"
            case .probe: "a probe result"
            case .snapshots: "a snapshot run"
            }
        }
    }

    private struct SchemaPeek: Decodable {
        var schema: String?
        /// A probe result written before it carried `schema`.
        var runs: [IgnoredValue]?
        var world: IgnoredValue?
    }

    private struct IgnoredValue: Decodable {
        init(from decoder: any Decoder) throws {}
    }

    /// JSON (its first non-blank byte is `{`; no trace format starts so) of a kind told by its
    /// `schema`: a trace report, a probe result, or snapshots (JSON Lines); anything else is a trace.
    private func load(_ path: String, generator: String) throws -> Run {
        if path != "-", let handle = FileHandle(forReadingAtPath: path) {
            let head = try handle.read(upToCount: 64) ?? Data()
            try handle.close()
            if head.first(where: { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }) == UInt8(ascii: "{") {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                return try decode(data, path: path)
            }
        }
        return .trace(try TraceReportPipeline.run(paths: [path], inputOptions: .init(counterHz: counterHz), generator: generator))
    }

    func decode(_ data: Data, path: String) throws -> Run {
        let decoder = JSONDecoder()
        // One JSON document, or JSON Lines (snapshots): then the first line tells the kind.
        let firstLine = data.split(separator: UInt8(ascii: "\n")).first { $0.contains { ![0x20, 0x09, 0x0d].contains($0) } }
        let peek: SchemaPeek
        do {
            peek = try decoder.decode(SchemaPeek.self, from: data)
        } catch {
            guard let firstLine, let line = try? decoder.decode(SchemaPeek.self, from: Data(firstLine)) else {
                throw CommandFailure("\(path): not an hvtax report, probe result or snapshot: " + JSONInput.problem(error, in: data))
            }
            peek = line
        }
        let schema = peek.schema ?? (peek.runs != nil && peek.world != nil ? ProbeReport.schemaID : "none")
        let known = [TraceReport.schemaID, ProbeReport.schemaID, HostSnapshot.schemaVersion]
        guard known.contains(schema) else {
            throw CommandFailure("\(path): not an hvtax report, probe result or snapshot (schema \(schema); expected "
                                 + known.joined(separator: ", ") + ")")
        }
        do throws(JSONInputError) {
            switch schema {
            case TraceReport.schemaID: return .trace(try JSONInput.decode(TraceReport.self, from: data))
            case ProbeReport.schemaID: return .probe(try JSONInput.decode(ProbeReport.self, from: data))
            default: return .snapshots(try JSONInput.decodeLines(HostSnapshot.self, from: data))
            }
        } catch {
            throw CommandFailure("\(path): not a valid \(schema) document: \(error.problem)")
        }
    }
}
