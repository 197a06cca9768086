import HVTaxAnalysis
import HVTaxEvents
import HVTaxModel
import HVTaxTrace

/// sources -> events -> analysis -> model: the report pipeline, in one place for the command.
public enum TraceReportPipeline {
    /// - Parameter symbols: the names the readers intern; pass one when a sink must name exit
    ///   reasons (the Perfetto exporter), or leave the default.
    public static func run(paths: [String], options: AnalysisOptions = AnalysisOptions(),
                           inputOptions: TraceInputs.Options = .init(), generator: String = "hvtax",
                           sinks: [TimelineSink] = [], symbols: SymbolTable = SymbolTable()) throws -> TraceReport {
        let streams = try paths.map { try TraceInputs.open($0, symbols: symbols, options: inputOptions) }
        // A guest trace.dat given with its host's: guest events go onto the host's clock, marked.
        let guests = try HostGuestPairing.pair(streams)
        let merged = StreamMerger(streams)
        let analyzer = TraceAnalyzer(symbols: symbols, options: options, sinks: sinks, guests: guests)
        if streams.count == 1 {
            // One file: no merge to do; read in batches to keep the per-event cost in the parser.
            try streams[0].forEachBatch { analyzer.consume($0) }
        } else {
            while let event = try merged.next() { analyzer.consume(event) }
        }
        let clocks = Set(streams.map { TraceInputs.clock(of: $0).unit })
        if clocks.count > 1 {
            throw TraceReadError(file: paths.joined(separator: ", "), location: "timestamps",
                                 problem: "the files use different clocks (seconds and raw counter): merge needs one clock")
        }
        return analyzer.report(
            sources: streams.map(\.source), clock: streams.first.map(TraceInputs.clock(of:)) ?? ClockInfo(unit: .ns),
            readerQuality: { quality in
                for stream in streams { stream.diagnostics.merge(into: &quality, path: stream.source.path) }
            },
            generator: generator)
    }
}
