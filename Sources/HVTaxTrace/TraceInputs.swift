#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HVTaxEvents
import HVTaxModel

/// Opens trace files of any supported format, recognised by content (never by name), each as an
/// `EventStream`. This is the one place that knows every reader.
public enum TraceInputs {
    public struct Options: Sendable {
        /// Frequency of a raw counter clock (`x86-tsc`), to report nanoseconds instead of ticks.
        public var counterHz: UInt64?

        public init(counterHz: UInt64? = nil) { self.counterHz = counterHz }
    }

    public static func open(_ path: String, symbols: SymbolTable, options: Options = Options()) throws -> EventStream {
        var info = stat()
        if path != "-", stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            // An LTTng session's output: a CTF trace directory, converted by babeltrace2.
            return try LTTngTextReader(ctfDirectory: path, symbols: symbols)
        }
        let input = try OpenedInput.open(path)
        if LTTngTextReader.looksLikeLTTng(input.head) {
            return LTTngTextReader(input: input, symbols: symbols)
        }
        if input.head.starts(with: TraceDatFile.magic) {
            // Binary trace-cmd files are read from the file itself (sections, pages) by offset.
            guard input.compression == nil, path != "-" else {
                throw TraceReadError(file: path, location: "byte offset 0",
                                     problem: "a trace.dat must be read from an uncompressed file (it is read by offset); v7 trace.dat compresses itself")
            }
            return try TraceDatReader(path: path, symbols: symbols, counterHz: options.counterHz)
        }
        guard TextTraceReader.looksLikeText(input.head) else {
            throw TraceReadError(file: path, location: "byte offset 0",
                                 problem: "binary data of an unknown format; expected a text trace (ftrace, trace-cmd report, perf script)")
        }
        return TextTraceReader(input: input, symbols: symbols, counterHz: options.counterHz)
    }

    /// The clock of a stream after it has been read (text readers learn it from the timestamps).
    public static func clock(of stream: EventStream) -> ClockInfo {
        if let binary = stream as? TraceDatReader { return binary.clock }
        return (stream as? TextTraceReader)?.clock ?? ClockInfo(unit: .ns)
    }
}
