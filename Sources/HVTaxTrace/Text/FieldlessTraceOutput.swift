/// The kernel's `raw`, `hex` and `bin` trace options print a tracepoint's event as its type number
/// alone: no event name and no fields (kernel/trace/trace_output.c: trace events have no raw, hex
/// or binary printer of their own, and the fallback prints `type: N`). With `raw`:
///
///     25250 1 59002338722232 type: 372                     pid, CPU, time in decimal
///     000062a2 00000001 000035a98d70c1b8 type: 372         hex: the same in fixed-width hex
///     <16 bytes: pid, CPU, time>type: 372                  bin: the same in binary
///
/// Nothing in such a file can be analysed, and the ftrace header above it looks like a trace: the
/// reader says which option printed it and how to print it again, rather than "not a text trace".
enum FieldlessTraceOutput {
    /// `raw`, `hex` or `bin` and the line (1-based) of the first event, when the first event of
    /// `head` is one of these options' `type: N` lines; nil otherwise.
    static func option(in head: [UInt8]) -> (option: String, line: Int)? {
        head.withUnsafeBytes { bytes in
            // The header's comment lines and blank lines come first.
            var line = 1, start = 0
            while true {
                let first = bytes.skipSpaces(from: start)
                guard first < bytes.count, bytes[first] == 0x23 /* # */ || bytes[first] == 0x0a else { break }
                guard let newline = bytes.slice(first, bytes.count).firstIndex(of: 0x0a) else { return nil }
                start = first + newline + 1
                line += 1
            }
            // The first event: its columns, then `type: N`. Not split at newlines first: `bin`'s 16
            // bytes of pid, CPU and time may hold a 0x0a.
            guard let at = bytes.slice(start, min(bytes.count, start + 64)).find("type: ").map({ start + $0 }) else { return nil }
            var end = at + 6
            guard bytes.decimal(at: &end) != nil, end == bytes.count || bytes[end] == 0x0a || bytes[end] == 0x20 else { return nil }
            let columns = bytes.slice(start, at)
            if columns.contains(where: { $0 < 0x20 || $0 >= 0x7f }) { return columns.count <= 16 ? ("bin", line) : nil }
            let fields = columns.split(separator: 0x20)
            guard fields.count == 3 else { return nil }
            // hex prints the pid and CPU as 8 hex digits and the time as 16; raw in decimal.
            let isHex = { (byte: UInt8) in byte &- 0x30 < 10 || byte &- 0x61 < 6 }
            if fields.map(\.count) == [8, 8, 16], fields.allSatisfy({ $0.allSatisfy(isHex) }) { return ("hex", line) }
            if fields.allSatisfy({ $0.allSatisfy { $0 &- 0x30 < 10 } }) { return ("raw", line) }
            return nil
        }
    }

    /// The error for such a file.
    static func error(path: String, option: String, line: Int) -> TraceReadError {
        TraceReadError(file: path, location: "line \(line)",
                       problem: "printed with the kernel's '\(option)' trace option: each event is its type number alone "
                           + "('type: N'), with no name or fields to analyse; print the trace again with the option off "
                           + "(echo 0 > options/\(option) in its tracefs instance), or record it with hvtax record or trace-cmd")
    }
}
