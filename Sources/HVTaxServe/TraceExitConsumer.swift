import HVTaxAnalysis
import HVTaxEvents
import HVTaxMetrics
import HVTaxModel
import HVTaxTrace

/// The analysis half of the tracing collector: trace.dat chunks (one per interval, as
/// `LiveTraceSession.drain()` wraps the kernel's pages) go through the trace.dat reader into one
/// `TraceAnalyzer` that lives as long as the collector, so every figure is cumulative since the
/// start, as Prometheus counters and histograms must be. Separate from the tracefs side so that a
/// written trace.dat (a synthesized one with known truth) takes exactly this path in tests.
public final class TraceExitConsumer {
    private let symbols = SymbolTable()
    private let analyzer: TraceAnalyzer
    private var clock: ClockInfo?
    private var sources: [TraceSource] = []
    private var readerQuality = TraceQuality()
    public private(set) var chunks = 0

    public init() {
        analyzer = TraceAnalyzer(symbols: symbols)
    }

    /// Decodes one chunk and feeds its events to the analysis. `name` names the chunk in errors.
    public func consume(traceDat bytes: [UInt8], name: String) throws {
        let reader = try TraceDatReader(bytes: bytes, name: name, symbols: symbols)
        if let clock, clock.unit != reader.clock.unit {
            throw TraceReadError(file: name, location: "trace clock",
                                 problem: "the clock changed from \(clock.unit) to \(reader.clock.unit) between intervals")
        }
        clock = reader.clock
        try reader.forEachBatch { analyzer.consume($0) }
        reader.diagnostics.merge(into: &readerQuality, path: name)
        if sources.isEmpty { sources = [reader.source] }
        chunks += 1
    }

    /// The analysis of everything consumed so far (exits still open are left out of the latencies).
    public func report() -> TraceReport {
        let quality = readerQuality
        return analyzer.report(sources: sources, clock: clock ?? ClockInfo(unit: .ns), readerQuality: { merged in
            merged.malformedLines += quality.malformedLines
            merged.truncatedFiles += quality.truncatedFiles
            merged.reorderedEvents += quality.reorderedEvents
            merged.lateEvents += quality.lateEvents
            for note in quality.notes where !merged.notes.contains(note) { merged.notes.append(note) }
        }, generator: "hvtax serve")
    }

    /// The collector's families for the published view.
    public func families(vmLabels: [Int32: String], liveExitLabels: Set<String>) -> (families: [MetricFamily], report: TraceReport) {
        let report = report()
        return (TraceMetrics.collectorFamilies(report, vmLabels: vmLabels, liveExitLabels: liveExitLabels), report)
    }
}
