#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import HVTaxImport
import HVTaxModel
import HVTaxRender

/// `hvtax import FILE`: a Hyper-V perfmon or esxtop capture into the capture report. `hvtax report`
/// routes PDH-CSV files here too; this command stays for scripts that know what they hold.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Report the hypervisor tax from a Hyper-V perfmon or VMware esxtop capture (PDH-CSV).",
        discussion: """
            Reads typeperf -f CSV, relog -f csv and perfmon CSV logs of the Hyper-V Hypervisor \
            Logical/Virtual/Root Virtual Processor counters, and esxtop -b batch output. \
            Figures a hypervisor cannot provide are listed as such, never shown as zero.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, csv
    }

    enum ColorChoice: String, ExpressibleByArgument, CaseIterable {
        case auto, always, never
    }

    @Argument(help: "The capture file (PDH-CSV).")
    var file: String

    @Option(help: "Output: text (terminal report), json (docs/capture-report-schema.md) or csv (one row per figure).")
    var format: Format = .text

    @Option(help: "Colour in text output: auto (only on a terminal, and not with NO_COLOR set), always, never.")
    var color: ColorChoice = .auto

    func run() throws {
        let report = try CaptureImporter.importFile(path: file, generator: "hvtax \(HVTaxVersion.string)")
        print(try Self.render(report, format: format, color: color), terminator: "")
    }

    static func render(_ report: CaptureReport, format: Format, color: ColorChoice) throws -> String {
        switch format {
        case .text:
            let useColor = switch color {
            case .always: true
            case .never: false
            case .auto: isatty(STDOUT_FILENO) != 0 && getenv("NO_COLOR") == nil
            }
            return CaptureTextRenderer(color: useColor).render(report)
        case .json:
            return try CaptureJSONRenderer.render(report)
        case .csv:
            return CaptureCSVRenderer.render(report)
        }
    }
}
