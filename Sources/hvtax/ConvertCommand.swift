import ArgumentParser
import HVTaxEvents
import HVTaxTrace
#if canImport(Glibc)
import Glibc
#endif

/// `hvtax convert TRACE... -o FILE.dat`: any trace hvtax reads, as a trace.dat.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write the kvm, sched and irq events of any trace hvtax reads as a trace-cmd trace.dat.",
        discussion: """
            The trace.dat is much smaller and faster to read than text; `hvtax report` and `trace-cmd report` \
            read it. Events hvtax does not use (kvm_pio, ...) carry no payload in the other formats' events \
            and are left out, counted. The output appears under its name only when it is whole: \
            SIGINT or SIGTERM stop the conversion and leave no file behind.
            """)

    @Argument(help: "Trace files ('-' for stdin).")
    var traces: [String]

    @Option(help: "trace.dat version: 6 (every trace-cmd reads it) or 7.")
    var fileVersion = 6

    @Option(help: "v7 compression: none, zstd, or zlib (hvtax reads zlib v7; Debian's trace-cmd 3.1.6 does not).")
    var compression = "none"

    @Option(name: .shortAndLong, help: "The trace.dat to write.")
    var output: String

    func validate() throws {
        if fileVersion != 6 && fileVersion != 7 { throw ValidationError("--file-version must be 6 or 7") }
        if TraceDatCompression(name: compression) == nil { throw ValidationError("--compression must be none, zstd or zlib") }
        if fileVersion == 6 && compression != "none" { throw ValidationError("compression needs --file-version 7") }
    }

    func run() throws {
        let symbols = SymbolTable()
        TopSignals.install()
        do {
            // Opened first, so a folder that does not exist or cannot be written is said before
            // the input is read; the file appears under its name only when it is whole.
            let file = try TraceDatOutput(path: output)
            let streams = try traces.map { try TraceInputs.open($0, symbols: symbols) }
            let merged = StreamMerger(streams)
            // Pages are spooled next to the output, not held in memory.
            let directory = output.lastIndex(of: "/").map { $0 == output.startIndex ? "/" : String(output[..<$0]) } ?? "."
            let encoder = TraceDatEncoder(symbols: symbols, spoolDirectory: directory)
            var events = 0
            while let event = try merged.next() {
                try encoder.add(event)
                events &+= 1
                // SIGINT or SIGTERM: stop, and leave neither the output nor spool files behind.
                if events & 0xFFF == 0 && TopSignals.stop.load(ordering: .relaxed) { throw ConversionStopped() }
            }
            // A pipe's writer dies with the same Ctrl-C, and its end of input may come first.
            if TopSignals.stop.load(ordering: .relaxed) { throw ConversionStopped() }
            try encoder.finish(to: file, version: fileVersion == 6 ? .v6 : .v7(TraceDatCompression(name: compression)!))
            var note = "wrote \(output): \(encoder.written) events"
            if encoder.skippedOther > 0 { note += "; left out \(encoder.skippedOther) events hvtax does not use" }
            if encoder.skippedUnknownReason > 0 { note += "; left out \(encoder.skippedUnknownReason) exits with reasons in neither table" }
            StandardError.write(note + "\n")
        } catch {
            StandardError.write("hvtax convert: \(error)\n")
            throw ExitCode.failure
        }
    }
}

struct ConversionStopped: Error, CustomStringConvertible {
    var description: String { "stopped by a signal before the end of the input; nothing written" }
}
