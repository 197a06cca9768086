import ArgumentParser
import HVTaxAdvice
import HVTaxImport
import HVTaxModel
import HVTaxRender
import HVTaxTrace

/// `hvtax import FILE`: a Hyper-V perfmon or esxtop capture into the capture report. `hvtax report`
/// routes PDH-CSV files here too; this command is for scripts that know what the file holds.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Report the hypervisor tax from a Hyper-V perfmon or VMware esxtop capture (PDH-CSV).",
        discussion: """
            Reads typeperf -f CSV, relog -f csv and perfmon CSV logs of the Hyper-V Hypervisor \
            Logical Processor, Virtual Processor and Root Virtual Processor counters, and esxtop -b \
            batch output. Figures a hypervisor cannot provide are listed as such, never shown as zero. \
            JSON schema: docs/capture-report-schema.md.

            Capture with, for example:
              typeperf "\\Hyper-V Hypervisor Virtual Processor(*)\\*" "\\Hyper-V Hypervisor Logical Processor(*)\\*" -si 5 -sc 120 -f CSV -o hv.csv
              esxtop -b -d 5 -n 120 > esx.csv
            """)

    @Argument(help: "The capture file (PDH-CSV).")
    var file: String

    @OptionGroup var output: OutputOptions
    @OptionGroup var thresholds: ThresholdOptions

    func run() throws {
        try Self.report(file, output: output, thresholds: thresholds)
    }

    static func report(_ path: String, output: OutputOptions, thresholds: ThresholdOptions) throws {
        var report: CaptureReport
        do {
            report = try CaptureImporter.importFile(path: path, thresholds: CaptureThresholds(try thresholds.thresholds()),
                                                    generator: "hvtax \(HVTaxVersion.string)")
        } catch let error as TraceReadError {
            throw CommandFailure(error.description)
        }
        report.advice = try Advisor.standard().advise(report)
        try output.write(report)
    }

    /// For `hvtax report`: the one capture among its inputs, or nil when they are traces. A capture
    /// is a report of its own (other units, other figures), so it cannot be merged with traces.
    static func capture(among paths: [String]) throws -> String? {
        let captures = paths.filter { path in
            // stdin cannot be sniffed without consuming it: it stays a trace.
            path != "-" && (try? CaptureImporter.detect(path: path)) != nil
        }
        guard let first = captures.first else { return nil }
        guard paths.count == 1 else {
            throw ValidationError("\(first) is a PDH-CSV capture (Hyper-V or esxtop): report it on its own, not with other files")
        }
        return first
    }
}

extension OutputOptions {
    func write(_ report: CaptureReport) throws {
        switch format {
        case .text: print(CaptureTextRenderer(style: style).render(report), terminator: "")
        case .json: print(try JSONRendering.render(report), terminator: "")
        case .csv: print(CaptureCSVRenderer.render(report), terminator: "")
        case .influx: throw ValidationError("--format influx exports the hvtax serve metrics of traces and snapshots; a capture has other figures: use json or csv")
        }
    }
}
