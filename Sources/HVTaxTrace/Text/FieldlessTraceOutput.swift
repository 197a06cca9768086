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
        // The header's comment lines and blank lines come first.
        var lineNumber = 1
        var start = 0
        while start < head.count {
            let end = head[start...].firstIndex(of: 0x0a) ?? head.count
            guard let first = head[start..<end].first(where: { $0 != 0x20 && $0 != 0x09 }), first != 0x23 /* # */ else {
                start = end + 1
                lineNumber += 1
                continue
            }
            break
        }
        // The first event: its columns, then `type: N`. Not split at newlines first: `bin`'s 16
        // bytes of pid, CPU and time may hold a 0x0a.
        let marker = Array("type: ".utf8)
        let window = head[start..<min(head.count, start + 64)]
        guard let at = window.indices.first(where: { window[$0...].starts(with: marker) }) else { return nil }
        var digits = at + marker.count
        while digits < head.count, (0x30...0x39).contains(head[digits]) { digits += 1 }
        guard digits > at + marker.count, digits == head.count || head[digits] == 0x0a || head[digits] == 0x20 else { return nil }
        let columns = head[start..<at]
        if columns.contains(where: { $0 < 0x20 || $0 >= 0x7f }) { return columns.count <= 16 ? ("bin", lineNumber) : nil }
        let fields = columns.split(separator: 0x20)
        guard fields.count == 3 else { return nil }
        // hex prints the pid and CPU as 8 hex digits and the time as 16; raw in decimal.
        let isHex = { (field: ArraySlice<UInt8>) in field.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) } }
        if fields.map(\.count) == [8, 8, 16], fields.allSatisfy(isHex) { return ("hex", lineNumber) }
        if fields.allSatisfy({ $0.allSatisfy { (0x30...0x39).contains($0) } }) { return ("raw", lineNumber) }
        return nil
    }

    /// The error for such a file.
    static func error(path: String, option: String, line: Int) -> TraceReadError {
        TraceReadError(file: path, location: "line \(line)",
                       problem: "printed with the kernel's '\(option)' trace option: each event is its type number alone "
                           + "('type: N'), with no name or fields to analyse; print the trace again with the option off "
                           + "(echo 0 > options/\(option) in its tracefs instance), or record it with hvtax record or trace-cmd")
    }
}
