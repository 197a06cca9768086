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
            The trace.dat is much smaller and faster to read than text; `hvtax report` and `trace-cmd report`
            read it. Events hvtax does not use (kvm_pio, ...) carry no payload in the other formats' events
            and are left out, counted.
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
        do {
            let streams = try traces.map { try TraceInputs.open($0, symbols: symbols) }
            let merged = StreamMerger(streams)
            // Pages are spooled next to the output, not held in memory.
            let directory = output.lastIndex(of: "/").map { $0 == output.startIndex ? "/" : String(output[..<$0]) } ?? "."
            let encoder = TraceDatEncoder(symbols: symbols, spoolDirectory: directory)
            while let event = try merged.next() { try encoder.add(event) }
            let file = try TraceDatOutput(path: output)
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
