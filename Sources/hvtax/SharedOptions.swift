import ArgumentParser
import HVTaxOTLP
import HVTaxExporters
import HVTaxHost
import HVTaxMetrics
import HVTaxModel
import HVTaxRender

#if canImport(Glibc)
import Glibc
#endif

/// Output format and colour, shared by every command that prints a report.
struct OutputOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, csv
        /// InfluxDB line protocol of the `hvtax serve` metrics (docs/export.md).
        case influx
    }

    enum Colour: String, ExpressibleByArgument, CaseIterable {
        case auto, always, never
    }

    @Option(name: .long, help: "Output format: text, json (schema: docs/report-schema.md), csv (long form) or influx (InfluxDB line protocol of the hvtax serve metrics, docs/export.md; traces and snapshots).")
    var format: Format = .text

    @Option(name: .customLong("color"), help: "Colour the text output: auto (only on a terminal), always, never.")
    var colour: Colour = .auto

    var style: TerminalStyle {
        switch colour {
        case .always: TerminalStyle(colour: true)
        case .never: TerminalStyle(colour: false)
        case .auto: TerminalStyle(colour: isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil)
        }
    }

    func write(_ report: TraceReport) throws {
        switch format {
        case .text: print(TraceReportTextRenderer(style: style).render(report), terminator: "")
        case .json: print(try JSONRendering.render(report), terminator: "")
        case .csv: print(TraceReportCSVRenderer().render(report), terminator: "")
        case .influx:
            // A trace has no wall-clock time of its own: its points carry the time of the report.
            let encoded = InfluxLineProtocol().encode(TraceMetrics.families(report), timestampNs: Self.nowUnixNs())
            print(encoded.body, terminator: "")
        }
    }
}

extension OutputOptions {
    static func nowUnixNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// Where `--influx-url` pushes, with its token.
struct InfluxOptions: ParsableArguments {
    @Option(name: .customLong("influx-url"), help: ArgumentHelp(
        "Also push every interval to this InfluxDB write endpoint: http://HOST:8086/api/v2/write?org=ORG&bucket=BUCKET (v2) or http://HOST:8086/write?db=DB (v1).",
        valueName: "url"))
    var influxURL: String?

    @Option(name: .customLong("influx-token-file"), help: ArgumentHelp(
        "File holding the InfluxDB v2 API token (else HVTAX_INFLUX_TOKEN; never on the command line, where ps shows it).",
        valueName: "file"))
    var influxTokenFile: String?

    func writer() throws -> InfluxWriter? {
        guard let influxURL else { return nil }
        var token = getenv("HVTAX_INFLUX_TOKEN").map { String(cString: $0) }
        if let influxTokenFile {
            guard let text = try? String(contentsOfFile: influxTokenFile, encoding: .utf8) else {
                throw CommandFailure("--influx-token-file \(influxTokenFile): cannot be read")
            }
            token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        do {
            return InfluxWriter(target: try InfluxTarget(url: influxURL, token: token))
        } catch {
            throw ValidationError("--influx-url \(error)")
        }
    }
}

/// Where `--otlp-endpoint` exports.
struct OTLPOptions: ParsableArguments {
    @Option(name: .customLong("otlp-endpoint"), help: ArgumentHelp(
        "Also export every interval as OTLP metrics (OTLP/HTTP protobuf) to this Collector, e.g. http://127.0.0.1:4318 (docs/export.md).",
        valueName: "url"))
    var otlpEndpoint: String?

    /// The exporter, exporting every `intervalNs` rounded up to whole seconds (swift-otel's unit).
    func exporter(intervalNs: UInt64) throws -> OTLPExporter? {
        guard let otlpEndpoint else { return nil }
        do {
            return try OTLPExporter(endpoint: otlpEndpoint, exportIntervalSeconds: Int64(max(1, (intervalNs + 999_999_999) / 1_000_000_000)))
        } catch {
            throw ValidationError("--otlp-endpoint \(otlpEndpoint): \(error)")
        }
    }
}

/// Tax and steal thresholds, as percentages.
/// `--exit-rates`: which source of exit rates the live sampler may use (snapshot, top, serve).
struct ExitRateOptions: ParsableArguments {
    @Option(name: .customLong("exit-rates"), help: ArgumentHelp(
        "Exit rates from: auto (KVM debugfs, else kvm tracepoint counters), debugfs, tracepoints, or off (no perf events on the vCPU threads, no debugfs reads).",
        valueName: "source"))
    var exitRates: ExitRateChoice = .auto
}

extension ExitRateChoice: ExpressibleByArgument {}

struct ThresholdOptions: ParsableArguments {
    @Option(name: .customLong("tax-warning"), help: ArgumentHelp("Tax at or above this is a warning.", valueName: "percent"))
    var taxWarning: PercentArgument = PercentArgument(ratio: Thresholds.standard.tax.warning)
    @Option(name: .customLong("tax-critical"), help: ArgumentHelp("Tax at or above this is critical.", valueName: "percent"))
    var taxCritical: PercentArgument = PercentArgument(ratio: Thresholds.standard.tax.critical)
    @Option(name: .customLong("steal-warning"), help: ArgumentHelp("Steal at or above this is a warning.", valueName: "percent"))
    var stealWarning: PercentArgument = PercentArgument(ratio: Thresholds.standard.steal.warning)
    @Option(name: .customLong("steal-critical"), help: ArgumentHelp("Steal at or above this is critical.", valueName: "percent"))
    var stealCritical: PercentArgument = PercentArgument(ratio: Thresholds.standard.steal.critical)

    func thresholds() throws -> Thresholds {
        guard taxWarning.ratio <= taxCritical.ratio, stealWarning.ratio <= stealCritical.ratio else {
            throw ValidationError("a warning threshold must not be above its critical threshold")
        }
        return Thresholds(tax: .init(warning: taxWarning.ratio, critical: taxCritical.ratio),
                          steal: .init(warning: stealWarning.ratio, critical: stealCritical.ratio))
    }
}

/// `5%`, `5` or `0.05%`: a percentage given on the command line.
struct PercentArgument: ExpressibleByArgument, CustomStringConvertible {
    var ratio: Double

    init(ratio: Double) { self.ratio = ratio }

    init?(argument: String) {
        let text = argument.hasSuffix("%") ? String(argument.dropLast()) : argument
        guard let value = Double(text), value >= 0, value <= 100 else { return nil }
        ratio = value / 100
    }

    var description: String { Formatting.fixed(ratio * 100, 1) + "%" }
}

/// `1.5s`, `200ms`, `30us`, `100ns`, `2m`, or plain seconds.
struct DurationArgument: ExpressibleByArgument {
    var nanoseconds: UInt64

    init?(argument: String) {
        guard let nanoseconds = DurationText.nanoseconds(argument) else { return nil }
        self.nanoseconds = nanoseconds
    }

    /// Help shows `(default: 5s)`, not the struct's debug description.
    var defaultValueDescription: String { DurationText.text(nanoseconds: nanoseconds) }
}

/// `1234=web01`.
struct VMNameArgument: ExpressibleByArgument {
    var pid: Int32
    var name: String

    init?(argument: String) {
        guard let equals = argument.firstIndex(of: "="), let pid = Int32(argument[..<equals]) else { return nil }
        self.pid = pid
        name = String(argument[argument.index(after: equals)...])
    }
}
