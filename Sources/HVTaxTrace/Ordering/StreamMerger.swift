import HVTaxEvents
import HVTaxModel

/// Merges several time-ordered streams (one per input file) into one, by timestamp. Ties keep the
/// order of the files on the command line, so the merge is deterministic.
public final class StreamMerger: EventStream {
    public let streams: [EventStream]
    private var heads: [TraceEvent?]
    private var started = false

    public init(_ streams: [EventStream]) {
        self.streams = streams
        heads = Array(repeating: nil, count: streams.count)
    }

    public func next() throws -> TraceEvent? {
        if streams.count == 1 { return try streams[0].next() }
        if !started {
            for index in streams.indices { heads[index] = try streams[index].next() }
            started = true
        }
        // A linear scan: a handful of files, so cheaper than a heap.
        var best = -1
        var bestTime = UInt64.max
        for index in heads.indices {
            if let head = heads[index], best < 0 || head.time < bestTime {
                best = index
                bestTime = head.time
            }
        }
        guard best >= 0 else { return nil }
        let event = heads[best]
        heads[best] = try streams[best].next()
        return event
    }

    public var source: TraceSource {
        streams.count == 1 ? streams[0].source
            : TraceSource(path: streams.map(\.source.path).joined(separator: ","), format: "merged",
                          compression: nil, lines: streams.reduce(0) { $0 + $1.source.lines },
                          events: streams.reduce(0) { $0 + $1.source.events })
    }

    public var diagnostics: ReaderDiagnostics {
        streams.count == 1 ? streams[0].diagnostics : ReaderDiagnostics()
    }
}
