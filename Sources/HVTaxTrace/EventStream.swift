import HVTaxEvents
import HVTaxModel

/// A source of trace events in time order: one per input file, whatever its format. Adding a trace
/// format means one new type conforming to this; the analysis never knows which format it reads.
public protocol EventStream: AnyObject {
    /// The next event, or nil at the end. Throws `TraceReadError` on input that is not a trace.
    func next() throws -> TraceEvent?
    /// The file, its detected format and counts so far.
    var source: TraceSource { get }
    /// What the reader could not read cleanly, so the report can show it.
    var diagnostics: ReaderDiagnostics { get }
    /// Writes up to `buffer.count` events from the start of `buffer`; returns how many (0 only at
    /// the end). Readers that can fill a batch in one tight loop override it: per-event calls cost
    /// more than the parsing.
    func read(into buffer: UnsafeMutableBufferPointer<TraceEvent>) throws -> Int
}

extension EventStream {
    public func read(into buffer: UnsafeMutableBufferPointer<TraceEvent>) throws -> Int {
        var count = 0
        while count < buffer.count, let event = try next() {
            (buffer.baseAddress! + count).initialize(to: event)
            count += 1
        }
        return count
    }

    /// Reads the whole stream in batches of `batchSize` events, handing each to `body`.
    ///
    /// A raw buffer, not an array: appending to an array once per event was a call the optimizer
    /// left out of line, with a uniqueness and a capacity check, 3% of a trace.dat report.
    public func forEachBatch(of batchSize: Int = 4096, _ body: (UnsafeBufferPointer<TraceEvent>) throws -> Void) throws {
        let buffer = UnsafeMutableBufferPointer<TraceEvent>.allocate(capacity: max(1, batchSize))
        defer { buffer.deallocate() }
        while true {
            let count = try read(into: buffer)
            guard count > 0 else { return }
            // TraceEvent is trivial: the events need no deinitialization before the next batch.
            try body(UnsafeBufferPointer(rebasing: buffer[0..<count]))
        }
    }
}

/// What a reader met that was not a clean event: counted and shown, never silently dropped.
public struct ReaderDiagnostics: Sendable, Equatable {
    public var malformedLines: UInt64 = 0
    public var malformedExamples: [TraceQuality.LineIssue] = []
    /// The input ended in the middle of a line (or record) that could not be parsed.
    public var truncated = false
    public var reorderedEvents: UInt64 = 0
    public var lateEvents: UInt64 = 0
    /// Plain-language notes about the file (options it lacked, fields it did not have).
    public var notes: [String] = []

    public init() {}

    public static let maxExamples = 5

    public mutating func malformed(file: String, line: UInt64, problem: String) {
        malformedLines += 1
        if malformedExamples.count < Self.maxExamples {
            malformedExamples.append(.init(file: file, line: line, problem: problem))
        }
    }

    /// Folds these diagnostics into a report's quality section.
    public func merge(into quality: inout TraceQuality, path: String) {
        quality.malformedLines += malformedLines
        for example in malformedExamples where quality.malformedExamples.count < Self.maxExamples {
            quality.malformedExamples.append(example)
        }
        if truncated { quality.truncatedFiles.append(path) }
        quality.reorderedEvents += reorderedEvents
        quality.lateEvents += lateEvents
        for note in notes where !quality.notes.contains(note) { quality.notes.append(note) }
    }
}

/// Input that cannot be read as a trace: says which file, where, and what was expected.
public struct TraceReadError: Error, CustomStringConvertible, Equatable {
    public var file: String
    /// "line 12", "byte offset 4096", "section 'options'"...
    public var location: String
    public var problem: String

    public init(file: String, location: String, problem: String) {
        self.file = file
        self.location = location
        self.problem = problem
    }

    public var description: String { "\(file): \(location): \(problem)" }
}
