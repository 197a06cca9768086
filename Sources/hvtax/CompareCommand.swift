import ArgumentParser
import Foundation
import HVTaxCompare
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
        abstract: "Compare two runs (pinned vs unpinned, before vs after): split, exit rates and latencies, with significance.",
        discussion: """
            Each run is a JSON report written by 'hvtax report --format json' or a trace file (read as \
            'hvtax report' would). Differences are B against A. Latency differences are tested with a \
            Mann-Whitney U test over the reports' log2 latency buckets, rates with a Poisson test, all \
            at --alpha family-wise (Bonferroni). See docs/html-perfetto-compare.md.
            """)

    @Argument(help: "Run A: a JSON report or a trace.")
    var a: String

    @Argument(help: "Run B: a JSON report or a trace.")
    var b: String

    @Option(name: .customLong("label-a"), help: "Name of run A in the output (default: its file name).")
    var labelA: String?

    @Option(name: .customLong("label-b"), help: "Name of run B in the output (default: its file name).")
    var labelB: String?

    @Option(help: "Family-wise significance level.")
    var alpha: Double = 0.05

    @Option(help: "Output format: text or json (schema hvtax.trace-comparison/1).")
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
    }

    func run() throws {
        let generator = "hvtax \(HVTaxVersion.string)"
        let reportA = try load(a, generator: generator), reportB = try load(b, generator: generator)
        let labels = (labelA ?? URL(fileURLWithPath: a).lastPathComponent, labelB ?? URL(fileURLWithPath: b).lastPathComponent)
        let comparison = try ReportComparator(alpha: alpha).compare(reportA, reportB, labels: labels, generator: generator)
        if let html {
            try ComparisonHTMLRenderer().render(comparison).write(toFile: html, atomically: true, encoding: .utf8)
        }
        switch format {
        case .text:
            let style: TerminalStyle = switch colour {
            case .always: TerminalStyle(colour: true)
            case .never: TerminalStyle(colour: false)
            case .auto: TerminalStyle(colour: isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil)
            }
            print(ComparisonTextRenderer(style: style).render(comparison), terminator: "")
        case .json:
            print(try JSONRendering.render(comparison), terminator: "")
        }
    }

    /// A JSON report (its first non-blank byte is `{`; no trace format starts so), else a trace.
    private func load(_ path: String, generator: String) throws -> TraceReport {
        if path != "-", let handle = FileHandle(forReadingAtPath: path) {
            let head = try handle.read(upToCount: 64) ?? Data()
            try handle.close()
            if head.first(where: { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }) == UInt8(ascii: "{") {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                let report: TraceReport
                do {
                    report = try JSONDecoder().decode(TraceReport.self, from: data)
                } catch {
                    throw ValidationError("\(path): not an hvtax report (\(TraceReport.schemaID)): \(error)")
                }
                guard report.schema == TraceReport.schemaID else {
                    throw ValidationError("\(path): schema \(report.schema), expected \(TraceReport.schemaID)")
                }
                return report
            }
        }
        return try TraceReportPipeline.run(paths: [path], inputOptions: .init(counterHz: counterHz), generator: generator)
    }
}
