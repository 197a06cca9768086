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
            // Binary trace-cmd files are read by offset: from the file itself, or, from stdin or
            // through gzip/zstd, from memory (the whole trace, up to a limit).
            guard input.compression == nil, path != "-" else {
                let bytes = try readAll(input, limit: Self.inMemoryTraceDatLimit)
                let file = try TraceDatFile(bytes: bytes, name: path)
                return try TraceDatReader(file: file, symbols: symbols, counterHz: options.counterHz)
            }
            return try TraceDatReader(path: path, symbols: symbols, counterHz: options.counterHz)
        }
        if let (option, line) = FieldlessTraceOutput.option(in: input.head) {
            throw FieldlessTraceOutput.error(path: path, option: option, line: line)
        }
        guard TextTraceReader.looksLikeText(input.head) else {
            throw TraceReadError(file: path, location: "byte offset 0",
                                 problem: "binary data of an unknown format; expected a text trace (ftrace, trace-cmd report, perf script)")
        }
        return TextTraceReader(input: input, symbols: symbols, counterHz: options.counterHz)
    }

    /// The most a trace.dat from stdin or inside gzip/zstd may hold: it is read into memory.
    public static let inMemoryTraceDatLimit = 2 << 30

    private static func readAll(_ input: OpenedInput, limit: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try input.bytes.read(into: $0) }
            if n == 0 { return bytes }
            guard bytes.count + n <= limit else {
                throw TraceReadError(file: input.path, location: "byte offset \(bytes.count)",
                                     problem: "a trace.dat from stdin or a compressed file is read into memory, and this one exceeds \(limit >> 30) GiB: decompress it to a file")
            }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }

    /// The clock of a stream after it has been read (text readers learn it from the timestamps).
    public static func clock(of stream: EventStream) -> ClockInfo {
        if let binary = stream as? TraceDatReader { return binary.clock }
        return (stream as? TextTraceReader)?.clock ?? ClockInfo(unit: .ns)
    }
}
