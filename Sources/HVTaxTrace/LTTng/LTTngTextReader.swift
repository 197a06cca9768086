#if canImport(Glibc)
import Glibc
#endif
import HVTaxEvents
import HVTaxModel

/// Reads LTTng kernel traces as babeltrace2 prints them (`sink.text.pretty`):
///
///     [19:01:16.525092220] (+0.000002128) host kvm_x86_exit: { cpu_id = 3 }, { tid = 812, procname = "CPU 0/KVM" }, { exit_reason = 30, guest_rip = 18446744071581, isa = 1, info1 = 0, info2 = 0 }
///
/// The groups are: the packet context (`cpu_id`), the contexts the session added (`tid`, `vtid`,
/// `pid`, `procname`), and last the event's payload. lttng-modules names the x86 KVM events
/// `kvm_x86_exit`/`kvm_x86_entry` (older: `kvm_exit`/`kvm_entry`); exit reasons are numbers.
public final class LTTngTextReader: EventStream {
    public private(set) var source: TraceSource
    public private(set) var diagnostics = ReaderDiagnostics()
    public let clock = ClockInfo(unit: .ns)

    private let lines: LineReader
    private let symbols: SymbolTable
    private let path: String
    /// babeltrace2, when the input is a CTF directory it converts for us.
    private let converter: BabeltraceProcess?
    private var fields: [Field] = []
    private var lastTime: UInt64 = 0
    /// Wall-clock timestamps (`[HH:MM:SS.ns]`) restart at midnight; days seen so far.
    private var dayOffset: UInt64 = 0
    private var warnedNoThread = false

    struct Field {
        var key: (Int, Int)
        var value: (Int, Int)
        var group: Int
        var number: Int64?
        var isString: Bool
    }

    /// Whether `head` (the first bytes of a file) is babeltrace2 text: a line starting with a
    /// bracketed time that holds `:` or `.` (perf script's `[001]` holds only digits).
    public static func looksLikeLTTng(_ head: [UInt8]) -> Bool {
        guard head.first == UInt8(ascii: "["), let close = head.prefix(64).firstIndex(of: UInt8(ascii: "]")) else { return false }
        let stamp = head[1..<close]
        guard stamp.contains(where: { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }),
              stamp.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x3a || $0 == 0x2e || $0 == 0x2d || $0 == 0x20 }) else { return false }
        let line = head.prefix { $0 != 0x0a }
        return line.count < 8 ? false : String(decoding: line, as: UTF8.self).contains(": {")
    }

    public init(input: OpenedInput, symbols: SymbolTable) {
        lines = LineReader(source: input.bytes, path: input.path)
        self.symbols = symbols
        path = input.path
        converter = nil
        source = TraceSource(path: input.path, format: "lttng-babeltrace2", compression: input.compression?.rawValue, lines: 0, events: 0)
    }

    /// Reads a CTF trace directory by running `babeltrace2` on it.
    public init(ctfDirectory: String, symbols: SymbolTable) throws(TraceReadError) {
        let process = try BabeltraceProcess(directory: ctfDirectory)
        converter = process
        lines = LineReader(source: process, path: ctfDirectory)
        self.symbols = symbols
        path = ctfDirectory
        source = TraceSource(path: ctfDirectory, format: "lttng-ctf (babeltrace2)", compression: nil, lines: 0, events: 0)
    }

    public func next() throws -> TraceEvent? {
        while let line = try lines.next() {
            source.lines += 1
            if line.isEmpty { continue }
            var event = TraceEvent(time: 0, kind: .other)
            switch parse(line, into: &event) {
            case .event:
                source.events += 1
                return event
            case .skip:
                continue
            case .malformed(let problem):
                if lines.lastLineUnterminated {
                    diagnostics.truncated = true
                } else {
                    diagnostics.malformed(file: path, line: lines.lineNumber, problem: problem)
                }
            }
        }
        if let converter { try converter.finish(diagnostics: &diagnostics) }
        return nil
    }

    enum Outcome {
        case event
        case skip
        case malformed(String)
    }

    // MARK: parsing one line

    func parse(_ line: UnsafeRawBufferPointer, into event: inout TraceEvent) -> Outcome {
        if line[0] != UInt8(ascii: "[") {
            return discarded(line, into: &event) ? .event : .malformed("expected '[TIME]' at the start of a babeltrace2 line")
        }
        guard let close = line.find("]", from: 1), let time = timestamp(line.slice(1, close)) else {
            return .malformed("expected a timestamp [HH:MM:SS.ns], [YYYY-MM-DD HH:MM:SS.ns] or [SECONDS.ns]")
        }
        var i = line.skipSpaces(from: close + 1)
        if i < line.count, line[i] == UInt8(ascii: "(") {
            guard let end = line.find(")", from: i) else { return .malformed("an unclosed (+delta)") }
            i = line.skipSpaces(from: end + 1)
        }
        // `[host] name: {`: the name is the last word before the first ": ".
        guard let colon = line.find(": ", from: i) ?? (line.count > 0 && line[line.count - 1] == UInt8(ascii: ":") ? line.count - 1 : nil) else {
            return .malformed("expected 'EVENT: { fields }'")
        }
        var nameStart = colon
        while nameStart > i, line[nameStart - 1] != 0x20 { nameStart -= 1 }
        let name = line.slice(nameStart, colon)
        guard !name.isEmpty else { return .malformed("an empty event name") }
        fields.removeAll(keepingCapacity: true)
        guard let groups = parseGroups(line, from: colon + 1) else { return .malformed("unbalanced { } in the fields") }
        let payload = payloadGroup(groups)

        event.time = time
        event.cpu = Int32(truncatingIfNeeded: context("cpu_id", in: line, payload: payload) ?? -1)
        event.tid = Int32(truncatingIfNeeded: context("tid", in: line, payload: payload) ?? context("vtid", in: line, payload: payload) ?? -1)
        event.tgid = Int32(truncatingIfNeeded: context("pid", in: line, payload: payload) ?? context("vpid", in: line, payload: payload) ?? -1)
        if let procname = string("procname", in: line, group: nil, payload: payload) {
            event.comm = symbols.names.intern(procname)
        }
        func field(_ key: StaticString) -> Int64? { number(key, in: line, group: payload) }

        if name.matches("kvm_x86_exit", at: 0) && name.count == 12 || name.matches("kvm_exit", at: 0) && name.count == 8 {
            guard let reason = field("exit_reason") else { return .malformed("kvm_exit without exit_reason") }
            let code = UInt32(truncatingIfNeeded: reason)
            let isa: ISA = switch field("isa") { case 1: .vmx; case 2: .svm; default: .unknown }
            event.kind = .kvmExit
            event.code = symbols.reason(code: code, isa: isa)
            if isa == .vmx && code & ExitReasonTable.vmxFailedEntryBit != 0 { event.flags.insert(.failedVMEntry) }
            if let vcpu = field("vcpu_id") { event.vcpu = Int32(truncatingIfNeeded: vcpu) }
        } else if name.matches("kvm_x86_entry", at: 0) && name.count == 13 || name.matches("kvm_entry", at: 0) && name.count == 9 {
            event.kind = .kvmEntry
            if let vcpu = field("vcpu_id") { event.vcpu = Int32(truncatingIfNeeded: vcpu) }
        } else if name.matches("kvm_userspace_exit", at: 0) && name.count == 18 {
            event.setUserspaceExit(reason: UInt64(bitPattern: field("reason") ?? 0), errno: field("errno"))
        } else if name.matches("kvm_x86_pio", at: 0) && name.count == 11 || name.matches("kvm_pio", at: 0) && name.count == 7 {
            // lttng-modules: `{ rw, port, size, count }`.
            guard let port = field("port") else { return .malformed("kvm_x86_pio without port") }
            event.setPortIO(port: UInt64(truncatingIfNeeded: port), size: UInt64(truncatingIfNeeded: field("size") ?? 0),
                            write: (field("rw") ?? 0) != 0)
        } else if name.matches("kvm_mmio", at: 0) && name.count == 8 {
            // lttng-modules: `{ type, len, gpa, val }`, type as the kernel's KVM_TRACE_MMIO_*.
            guard let gpa = field("gpa"), let type = field("type"), let access = MMIOAccess(kernelType: type) else {
                return .malformed("kvm_mmio without gpa, or a type other than 0 (unsatisfied-read), 1 (read), 2 (write)")
            }
            event.setMMIO(access, gpa: UInt64(bitPattern: gpa))
        } else if name.matches("sched_switch", at: 0) && name.count == 12 {
            guard let prev = field("prev_tid"), let next = field("next_tid") else { return .malformed("sched_switch without prev_tid/next_tid") }
            event.kind = .schedSwitch
            event.tid = Int32(truncatingIfNeeded: prev)
            event.otherTid = Int32(truncatingIfNeeded: next)
            if let comm = string("prev_comm", in: line, group: payload, payload: payload) { event.comm = symbols.names.intern(comm) }
            if let comm = string("next_comm", in: line, group: payload, payload: payload) { event.otherComm = symbols.names.intern(comm) }
            // LTTng records a preempted task as TASK_RUNNING (0) or the TASK_REPORT_MAX bit, as the kernel does.
            if (field("prev_state") ?? 1) & 0xff == 0 { event.flags.insert(.prevRunnable) }
        } else if name.matches("sched_wakeup", at: 0) && name.count == 12 {
            event.kind = .schedWakeup
            if let woken = field("tid") { event.otherTid = Int32(truncatingIfNeeded: woken) }
        } else if name.matches("irq_handler_entry", at: 0) && name.count == 17 {
            event.kind = .irqHandlerEntry
            event.code = UInt32(truncatingIfNeeded: field("irq") ?? 0)
        } else if name.matches("irq_handler_exit", at: 0) && name.count == 16 {
            event.kind = .irqHandlerExit
            event.code = UInt32(truncatingIfNeeded: field("irq") ?? 0)
        } else {
            event.code = symbols.names.intern(name)
        }
        if event.tid == -1 && event.kind != .other && event.kind != .schedSwitch && !warnedNoThread {
            warnedNoThread = true
            diagnostics.notes.append("LTTng events carry no tid/vtid context: add it when tracing (lttng add-context -k -t tid -t procname)")
        }
        lastTime = time
        return .event
    }

    /// babeltrace2 reports discarded events as a warning line; it becomes a `lost` event.
    private func discarded(_ line: UnsafeRawBufferPointer, into event: inout TraceEvent) -> Bool {
        guard let at = line.find("discarded ") else { return false }
        var i = at + 10
        guard let count = line.decimal(at: &i) else { return false }
        event.kind = .lost
        event.time = lastTime
        event.value = count
        var cpu: Int32 = -1
        if let id = line.find("CPU id ") {
            var j = id + 7
            cpu = Int32(truncatingIfNeeded: line.decimal(at: &j) ?? 0)
        } else if let channel = line.find("channel0_") {
            var j = channel + 9
            cpu = Int32(truncatingIfNeeded: line.decimal(at: &j) ?? 0)
        }
        event.cpu = cpu
        return true
    }

    /// `HH:MM:SS.ns`, `YYYY-MM-DD HH:MM:SS.ns` or `SECONDS.ns` (babeltrace2 --clock-seconds).
    private func timestamp(_ text: UnsafeRawBufferPointer) -> UInt64? {
        var i = 0
        var days: UInt64 = 0
        if text.count > 10, text[4] == UInt8(ascii: "-"), text[7] == UInt8(ascii: "-") {
            var y = 0, m = 5, d = 8
            // The year has four digits (a '-' at 4); month and day are checked before the calendar sums.
            guard let year = text.decimal(at: &y), let month = text.decimal(at: &m), let day = text.decimal(at: &d),
                  (1...12).contains(month), (1...31).contains(day) else { return nil }
            days = Self.daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day))
            i = text.skipSpaces(from: 10)
        }
        guard let first = text.decimal(at: &i) else { return nil }
        var seconds = first
        if i < text.count, text[i] == UInt8(ascii: ":") {
            i += 1
            guard let minutes = text.decimal(at: &i), i < text.count, text[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            guard let secs = text.decimal(at: &i), let hoursAndSeconds = first.times(3600, plus: secs),
                  let total = minutes.times(60, plus: hoursAndSeconds) else { return nil }
            seconds = total
        }
        var nanos: UInt64 = 0
        if i < text.count, text[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            guard let fraction = text.decimal(at: &i), i - start <= 9 else { return nil }
            nanos = fraction
            for _ in 0..<(9 - (i - start)) { nanos *= 10 }
        }
        // A damaged line's numbers can pass UInt64 nanoseconds: then it has no time, and is malformed.
        guard i == text.count, let wholeSeconds = days.times(86_400, plus: seconds),
              var time = wholeSeconds.times(1_000_000_000, plus: nanos) else { return nil }
        // A time of day that goes back by more than 12 hours crossed midnight.
        if days == 0 && first < 24 && time < 86_400_000_000_000 && text.contains(UInt8(ascii: ":")) {
            time += dayOffset
            if time + 43_200_000_000_000 < lastTime {
                dayOffset += 86_400_000_000_000
                time += 86_400_000_000_000
            }
        }
        return time
    }

    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> UInt64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return UInt64(max(0, era * 146_097 + doe - 719_468))
    }

    /// Splits `{ k = v, ... }, { ... }` into fields; returns the number of groups, nil when unbalanced.
    private func parseGroups(_ line: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var i = start
        var group = 0
        while true {
            i = line.skipSpaces(from: i)
            if i < line.count, line[i] == UInt8(ascii: ",") { i = line.skipSpaces(from: i + 1) }
            guard i < line.count else { return group }
            guard line[i] == UInt8(ascii: "{") else { return group }
            i += 1
            while true {
                i = line.skipSpaces(from: i)
                guard i < line.count else { return nil }
                if line[i] == UInt8(ascii: "}") { i += 1; break }
                if line[i] == UInt8(ascii: ",") { i += 1; continue }
                let keyStart = i
                while i < line.count, line[i] != 0x20, line[i] != UInt8(ascii: "=") { i += 1 }
                let keyEnd = i
                i = line.skipSpaces(from: i)
                guard i < line.count, line[i] == UInt8(ascii: "=") else { return nil }
                i = line.skipSpaces(from: i + 1)
                guard i < line.count else { return nil }
                let valueStart = i
                var isString = false
                switch line[i] {
                case UInt8(ascii: "\""):
                    isString = true
                    i += 1
                    while i < line.count, line[i] != UInt8(ascii: "\"") { i += line[i] == UInt8(ascii: "\\") ? 2 : 1 }
                    guard i < line.count else { return nil }
                    i += 1
                case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "("):
                    // Nested structures, arrays and enums: skip to the matching bracket.
                    var depth = 0
                    repeat {
                        let c = line[i]
                        if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") || c == UInt8(ascii: "(") { depth += 1 }
                        if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") || c == UInt8(ascii: ")") { depth -= 1 }
                        if c == UInt8(ascii: "\"") {
                            i += 1
                            while i < line.count, line[i] != UInt8(ascii: "\"") { i += 1 }
                        }
                        i += 1
                    } while depth > 0 && i < line.count
                    guard depth == 0 else { return nil }
                default:
                    while i < line.count, line[i] != UInt8(ascii: ","), line[i] != UInt8(ascii: "}") { i += 1 }
                }
                var valueEnd = i
                while valueEnd > valueStart, line[valueEnd - 1] == 0x20 { valueEnd -= 1 }
                fields.append(Field(key: (keyStart, keyEnd), value: (valueStart, valueEnd), group: group,
                                    number: isString ? nil : Self.number(line.slice(valueStart, valueEnd)), isString: isString))
            }
            group += 1
        }
    }

    /// A number: decimal, negative, `0x` hex, or an enum `( "NAME" : container = N )`.
    static func number(_ text: UnsafeRawBufferPointer) -> Int64? {
        guard !text.isEmpty else { return nil }
        if text[0] == UInt8(ascii: "("), let at = text.find("container = ") {
            return number(text.slice(at + 12, text.count - (text[text.count - 1] == UInt8(ascii: ")") ? 1 : 0)).trimmedSpaces())
        }
        var i = 0
        var negative = false
        if text[0] == UInt8(ascii: "-") { negative = true; i = 1 }
        if text.count > i + 2, text[i] == UInt8(ascii: "0"), text[i + 1] | 0x20 == UInt8(ascii: "x") {
            var value: UInt64 = 0
            for k in (i + 2)..<text.count {
                let c = text[k] | 0x20
                let digit: UInt8
                if c &- 0x30 < 10 { digit = c - 0x30 } else if c >= 0x61 && c <= 0x66 { digit = c - 0x61 + 10 } else { return nil }
                value = value << 4 | UInt64(digit)
            }
            return negative ? -Int64(bitPattern: value) : Int64(bitPattern: value)
        }
        var j = i
        guard let value = text.decimal(at: &j), j == text.count else { return nil }
        return negative ? -Int64(bitPattern: value) : Int64(bitPattern: value)
    }

    private func payloadGroup(_ groups: Int) -> Int {
        if groups >= 2 { return groups - 1 }
        if groups == 1 && !fields.contains(where: { $0.group == 0 && $0.key.1 - $0.key.0 == 6 }) { return 0 }
        return -1
    }

    private func find(_ key: StaticString, in line: UnsafeRawBufferPointer, where accept: (Int) -> Bool) -> Field? {
        let length = key.utf8CodeUnitCount
        for field in fields where accept(field.group) && field.key.1 - field.key.0 == length && line.matches(key, at: field.key.0) {
            return field
        }
        return nil
    }

    private func number(_ key: StaticString, in line: UnsafeRawBufferPointer, group: Int) -> Int64? {
        find(key, in: line) { $0 == group }?.number
    }

    /// A context field: in any group but the payload.
    private func context(_ key: StaticString, in line: UnsafeRawBufferPointer, payload: Int) -> Int64? {
        find(key, in: line) { $0 != payload }?.number
    }

    /// A string field's bytes without the quotes; `group` nil means any context group.
    private func string(_ key: StaticString, in line: UnsafeRawBufferPointer, group: Int?, payload: Int) -> UnsafeRawBufferPointer? {
        guard let field = find(key, in: line, where: { candidate in group.map { candidate == $0 } ?? (candidate != payload) }), field.isString else { return nil }
        return line.slice(field.value.0 + 1, field.value.1 - 1)
    }
}

extension UnsafeRawBufferPointer {
    func trimmedSpaces() -> UnsafeRawBufferPointer {
        let (a, b) = trimmed(0, count)
        return slice(a, b)
    }
}
