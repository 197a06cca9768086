#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HVTaxEvents
import HVTaxModel

/// What one line of a text trace turned out to be.
enum ParsedLine {
    case event
    /// Blank, `#` comment, or a header line (`cpus=N`, `version = 6`, `CPU 3 is empty`, the plugin
    /// lines of `trace-cmd report -V`).
    case ignorable
    /// `cpus=N`: the file is `trace-cmd report` output.
    case traceCmdHeader
    /// Not a line of a text trace at all.
    case malformed(String)
    /// A trace line (CPU, timestamp and event name are there) whose body is not what its event's
    /// format says: the file is a trace, with damaged events.
    case damagedEvent(String)
}

/// Parses the line prefix shared by the kernel's trace output, `trace-cmd report` and `perf script`:
///
///     TASK-PID [(TGID)] [CPU] [FLAGS] TIMESTAMP: EVENT: BODY       ftrace, trace-cmd
///     [COMM] [PID/]TID [FLAGS] [CPU] TIMESTAMP: SYSTEM:EVENT: BODY perf script
///
/// then hands the body to the event's parser. One parser serves all three formats because they
/// differ only in the task column and the `system:` prefix (docs/sources.md, "KVM trace formats").
struct TextLineParser {
    let symbols: SymbolTable
    /// Event name symbol -> kind; grows as new names appear.
    private var kinds: [EventKind] = [.other]
    private let bodies: EventBodyParser
    private let prefixes = PrefixCache()

    /// The clock, decided by the first timestamp: seconds with decimals (ns) or a raw counter.
    private(set) var clock: ClockInfo.Unit?
    /// Seen along the way, to name the format.
    private(set) var sawSystemPrefix = false
    private(set) var sawRawFields = false
    private(set) var sawExitWithoutVCPU = false

    init(symbols: SymbolTable) {
        self.symbols = symbols
        bodies = EventBodyParser(symbols: symbols)
    }

    mutating func parse(_ line: UnsafeRawBufferPointer, into event: inout TraceEvent) -> ParsedLine {
        var i = line.skipSpaces(from: 0)
        if i == line.count { return .ignorable }
        let first = line[i]
        if first == 0x23 /* # */ { return .ignorable }
        if first == 0x43 /* C */ {
            if line.matches("CPU:", at: i) { return parseLost(line, from: i + 4, into: &event) }
            // trace-cmd's `CPU 3 is empty`; vCPU threads are named `CPU 0/KVM`, so match exactly.
            if line.matches("CPU ", at: i) {
                var k = i + 4
                if line.decimal(at: &k) != nil, line.matches(" is empty", at: k) { return .ignorable }
            }
        }
        if line.matches("cpus=", at: i) { return .traceCmdHeader }
        if line.matches("version = ", at: i) { return .ignorable }
        // `trace-cmd report -V` says on standard output which libtraceevent plugins it loaded and
        // which events they print, before the events and after them: tool messages, not events.
        if first == 0x72 /* r */ && (line.matches("registering plugin: ", at: i)
            || line.matches("removing override handler for event (", at: i)) { return .ignorable }
        if first == 0x6f /* o */ && line.matches("overriding event (", at: i) { return .ignorable }

        // Lines of one thread on one CPU share their prefix up to `[CPU]`: reuse its parse.
        let close: Int
        var newPrefix = false
        if let cached = prefixes.lookup(line) {
            close = cached.length - 1
            event.tid = cached.tid
            event.tgid = cached.tgid
            event.comm = cached.comm
            event.cpu = cached.cpu
        } else if let (bracket, end, cpu) = Self.cpuColumn(line, from: i) {
            parseTask(line, end: bracket, into: &event)
            event.cpu = cpu
            close = end
            newPrefix = true
        } else if let (taskEnd, cpuEnd, cpu) = Self.latencyCPUColumn(line, from: i) {
            parseTask(line, end: taskEnd, into: &event)
            event.cpu = cpu
            close = cpuEnd - 1
        } else {
            return .malformed("expected a CPU column like '[001]' (perf script: keep cpu in -F)")
        }

        // Flags (`d..2.`) may stand between the CPU and the timestamp, which ends with ':'. This
        // loop runs for every line: kept inline, the rare layouts are handled after it.
        var scanFrom = close + 1
        var timestamp: UInt64?
        while true {
            i = line.skipSpaces(from: scanFrom)
            while i < line.count {
                var tokenEnd = i
                while tokenEnd < line.count, line[tokenEnd] != 0x20 { tokenEnd += 1 }
                if tokenEnd > i, line[tokenEnd - 1] == 0x3a /* : */ {
                    timestamp = parseTimestamp(line, i, tokenEnd - 1) ?? latencyTimestamp(line, tokenStart: i, tokenEnd: tokenEnd)
                    i = tokenEnd
                    break
                }
                i = line.skipSpaces(from: tokenEnd)
            }
            // The first `[digits]` was no CPU column: in `trace-cmd report -l` output it can be in a
            // sched_switch body (`CPU 0/KVM:1101 [120] R ==> ...`), after the timestamp. Once more
            // with the latency format's CPU.
            guard timestamp == nil, newPrefix,
                  let (taskEnd, cpuEnd, cpu) = Self.latencyCPUColumn(line, from: 0) else { break }
            parseTask(line, end: taskEnd, into: &event)
            event.cpu = cpu
            newPrefix = false
            scanFrom = cpuEnd
        }
        guard let time = timestamp else { return .malformed("expected a timestamp like '95922.997039:'") }
        event.time = time
        if newPrefix {
            prefixes.store(line, .init(length: close + 1, tid: event.tid, tgid: event.tgid, comm: event.comm, cpu: event.cpu))
        }
        i = line.skipSpaces(from: i)
        // The usual case is the event name, which starts with a letter.
        if i < line.count, line[i] == 0x28 /* ( */ || line[i] &- 0x30 < 10 { i = Self.skipColumnsBeforeEventName(line, from: i) }

        // The event name: `kvm_exit:` or perf's `kvm:kvm_exit:`.
        var nameEnd = i
        while nameEnd < line.count, line[nameEnd] != 0x20 { nameEnd += 1 }
        guard nameEnd > i + 1, line[nameEnd - 1] == 0x3a else {
            return .malformed("expected an event name like 'kvm_exit:'")
        }
        var nameStart = i
        for k in stride(from: nameEnd - 2, through: i, by: -1) where line[k] == 0x3a {
            nameStart = k + 1
            sawSystemPrefix = true
            break
        }
        let nameSymbol = symbols.names.intern(line.slice(nameStart, nameEnd - 1), readableBytes: line.count - nameStart)
        let kind = kind(of: nameSymbol)
        event.kind = kind
        let body = line.slice(line.skipSpaces(from: nameEnd), line.count)
        switch kind {
        case .kvmExit:
            guard let style = bodies.exit(body, into: &event) else {
                return .damagedEvent("kvm_exit body: expected 'reason NAME rip ...' or 'exit_reason=N ...'")
            }
            if style == .raw { sawRawFields = true } else if style == .withoutVCPU { sawExitWithoutVCPU = true }
        case .kvmEntry:
            guard bodies.entry(body, into: &event) else {
                return .damagedEvent("kvm_entry body: expected 'vcpu N' or 'vcpu_id=N'")
            }
        case .userspaceExit:
            guard bodies.userspaceExit(body, into: &event) else {
                return .damagedEvent("kvm_userspace_exit body: expected 'reason KVM_EXIT_X (N)' or 'reason=N'")
            }
        case .pio:
            guard bodies.pio(body, into: &event) else {
                return .damagedEvent("kvm_pio body: expected 'pio_write at 0xPORT size N ...' or 'rw=N port=N ...'")
            }
        case .mmio:
            guard bodies.mmio(body, into: &event) else {
                return .damagedEvent("kvm_mmio body: expected 'mmio write|read|unsatisfied-read len N gpa 0xADDR ...', "
                    + "'fast mmio at gpa 0xADDR' or 'type=N len=N gpa=N ...'")
            }
        case .schedSwitch:
            guard bodies.schedSwitch(body, into: &event) else {
                return .damagedEvent("sched_switch body: expected 'prev_comm=... prev_pid=... prev_state=S ==> next_comm=... next_pid=...'")
            }
        case .schedWakeup:
            bodies.wakeup(body, into: &event)
        case .irqHandlerEntry, .irqHandlerExit:
            bodies.irq(body, into: &event)
        case .other:
            event.code = nameSymbol
        case .lost, .syscallEnter, .syscallExit:
            // Text traces name no syscall kinds (`kind(named:)`): sys_enter lines are `other`.
            break
        }
        return .event
    }

    private mutating func kind(of symbol: UInt32) -> EventKind {
        let index = Int(symbol)
        while kinds.count <= index {
            kinds.append(Self.kind(named: symbols.names.string(UInt32(kinds.count))))
        }
        return kinds[index]
    }

    static func kind(named name: String) -> EventKind {
        switch name {
        case "kvm_exit", "kvm_x86_exit": .kvmExit
        case "kvm_entry", "kvm_x86_entry": .kvmEntry
        case "kvm_userspace_exit": .userspaceExit
        case "kvm_pio", "kvm_x86_pio": .pio
        case "kvm_mmio", "kvm_fast_mmio": .mmio
        case "sched_switch": .schedSwitch
        case "sched_wakeup", "sched_waking", "sched_wakeup_new": .schedWakeup
        case "irq_handler_entry": .irqHandlerEntry
        case "irq_handler_exit": .irqHandlerExit
        default: .other
        }
    }

    /// `CPU:N [LOST M EVENTS]` (the kernel's trace output) or `CPU:N [M EVENTS DROPPED]` (trace-cmd
    /// report); `CPU:N [LOST EVENTS]` when the count is unknown (a gap of unknown size).
    private func parseLost(_ line: UnsafeRawBufferPointer, from index: Int, into event: inout TraceEvent) -> ParsedLine {
        var i = index
        let expected = "expected 'CPU:N [LOST M EVENTS]' or 'CPU:N [M EVENTS DROPPED]'"
        guard let cpu = line.decimal(at: &i) else { return .damagedEvent(expected) }
        i = line.skipSpaces(from: i)
        guard i < line.count, line[i] == 0x5b /* [ */ else { return .damagedEvent(expected) }
        i += 1
        // `trace-cmd report --debug` marks where each ring-buffer page starts
        // (`CPU:0 [SUBBUFFER START] [1000000000:0x4000]`): where the page is, not an event.
        if line.matches("SUBBUFFER START]", at: i) { return .ignorable }
        var count: UInt64 = 0
        if line.matches("LOST ", at: i) {
            i += 5
            if let lost = line.decimal(at: &i) {
                count = lost
            } else if line.matches("EVENTS]", at: i) {
                event.flags.insert(.countUnknown)
            } else {
                return .damagedEvent(expected)
            }
        } else if let dropped = line.decimal(at: &i), line.matches(" EVENTS DROPPED]", at: i) {
            count = dropped
        } else {
            return .damagedEvent(expected)
        }
        event.kind = .lost
        event.cpu = Int32(truncatingIfNeeded: cpu)
        event.value = count
        return .event
    }

    /// The kernel's latency-format option prints the time as microseconds since the buffer started
    /// and a delay mark (`lat_print_timestamp`): `48432991151us!:`, or `48432991151us :` when the mark
    /// is a space, where the token ending in ':' is the ':' alone and the time the token before it.
    /// Only tried when the token is no ordinary timestamp.
    private mutating func latencyTimestamp(_ line: UnsafeRawBufferPointer, tokenStart: Int, tokenEnd: Int) -> UInt64? {
        var from = tokenStart, to = tokenEnd - 1
        if to == from {
            // `us :`: the time is the token before the lone ':'.
            while to > 0, line[to - 1] == 0x20 { to -= 1 }
            from = to
            while from > 0, line[from - 1] != 0x20 { from -= 1 }
        }
        var i = from
        guard let micros = line.decimal(at: &i), line.matches("us", at: i) else { return nil }
        let mark = i + 2
        guard mark == to || (mark + 1 == to && [0x21, 0x23, 0x24, 0x40, 0x2a, 0x2b].contains(line[mark])) else { return nil }
        if clock == nil { clock = .ns }
        guard clock == .ns else { return nil }
        return micros.times(1_000, plus: 0)
    }

    /// What may stand between the timestamp and the event name: `trace-cmd report --ts-diff`'s time
    /// since the previous event, `(+1000)` (blank on the first event), or the sample period of
    /// `perf script -F ...,period,...` (a bare number; no event name is one). `from` is the column's
    /// first byte; returns the index of the name.
    private static func skipColumnsBeforeEventName(_ line: UnsafeRawBufferPointer, from i: Int) -> Int {
        var k = i
        if line.decimal(at: &k) != nil {
            return k < line.count && line[k] == 0x20 ? line.skipSpaces(from: k) : i
        }
        guard line.matches("(+", at: i) else { return i }
        k = i + 2
        if k < line.count, line[k] == 0x2d /* - */ { k += 1 }
        guard line.decimal(at: &k) != nil, k < line.count, line[k] == 0x29 /* ) */ else { return i }
        return line.skipSpaces(from: k + 1)
    }

    /// The CPU of `trace-cmd report -l` (latency format), which has no brackets: `%8.8s-%-5d %3d`
    /// and the latency flags right after the number (`CPU 0/KV-1001    0d..2.     1.000000: ...`),
    /// or with `-R` the raw flags (`0-0x1`). The CPU is the token before the timestamp whose digits
    /// are followed by flags; the end of the task column, the end of the CPU digits and the CPU.
    /// The name is always 8 bytes, padded on the left, and may hold spaces and colons of its own:
    /// tmux names its threads `tmux: server` and `tmux: client` (`tmux: se-2590     1d..2.`), whose
    /// `tmux:` looked like the timestamp, so every line of theirs was unreadable. When byte 8 is the
    /// dash before the tid, the search starts after the tid.
    private static func latencyCPUColumn(_ line: UnsafeRawBufferPointer, from: Int) -> (Int, Int, Int32)? {
        var afterTask = from
        if line.count > 9, line[8] == 0x2d /* - */, line[9] &- 0x30 < 10 {
            var k = 9
            _ = line.decimal(at: &k)
            afterTask = max(from, k)
        }
        var start = line.skipSpaces(from: afterTask)
        while start < line.count {
            var end = start
            while end < line.count, line[end] != 0x20 { end += 1 }
            if end > start, line[end - 1] == 0x3a { return nil }  // reached the timestamp: no CPU
            var digitsEnd = start
            if let cpu = line.decimal(at: &digitsEnd), digitsEnd < end, cpu <= UInt64(Int32.max),
               isLatencyFlags(line, digitsEnd, end) {
                return (start, digitsEnd, Int32(cpu))
            }
            start = line.skipSpaces(from: end)
        }
        return nil
    }

    /// The latency columns of libtraceevent and of the kernel (`trace_print_lat_fmt`): irqs-off
    /// `d`/`D` (bottom halves off too)/`X`/`b`, need-resched `N`/`n`/`p`/`L`/`l`/`B`/`b` (the lazy
    /// ones since 6.12), hard/soft irq and NMI `H`/`h`/`s`/`Z`/`z`, preempt and migrate-disable
    /// depths, `.` for none; or `-0xFLAGS` with `-R`. The first is never a digit, so the CPU's
    /// digits end where they start.
    private static func isLatencyFlags(_ line: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> Bool {
        if line.matches("-0x", at: from) {
            guard to > from + 3 else { return false }
            for k in (from + 3)..<to where !(line[k] &- 0x30 < 10 || (line[k] | 0x20) &- 0x61 < 6) { return false }
            return true
        }
        guard to - from >= 3 else { return false }
        for k in from..<to {
            switch line[k] {
            case 0x2e, 0x30...0x39, 0x61...0x66, 0x44, 0x58, 0x4e, 0x6e, 0x70, 0x4c, 0x6c, 0x48, 0x68, 0x73, 0x5a, 0x7a, 0x42: continue
            default: return false
            }
        }
        return true
    }

    private static func cpuColumn(_ line: UnsafeRawBufferPointer, from: Int) -> (Int, Int, Int32)? {
        var i = from
        while i < line.count, let hit = memchr(line.baseAddress! + i, 0x5b /* [ */, line.count - i) {
            let open = line.baseAddress!.distance(to: UnsafeRawPointer(hit))
            var j = open + 1
            if let cpu = line.decimal(at: &j), j < line.count, line[j] == 0x5d /* ] */ {
                return (open, j, Int32(truncatingIfNeeded: cpu))
            }
            i = open + 1
        }
        return nil
    }

    /// The task column before `[CPU]`: `comm-tid`, `comm-tid (tgid)`, perf's `comm tid`,
    /// `comm pid/tid`, perhaps followed by perf's flags. Task names may contain spaces and dashes.
    private func parseTask(_ line: UnsafeRawBufferPointer, end: Int, into event: inout TraceEvent) {
        var (a, b) = line.trimmed(0, end)
        event.tid = TraceEvent.unknownID
        event.tgid = TraceEvent.unknownID
        event.comm = 0
        guard a < b else { return }
        // perf's flags token (`.N..`) right before the CPU column.
        var tokenStart = b
        while tokenStart > a, line[tokenStart - 1] != 0x20 { tokenStart -= 1 }
        if tokenStart > a, Self.isFlagsToken(line, tokenStart, b) {
            (a, b) = line.trimmed(a, tokenStart)
        }
        // `(TGID)` from ftrace's record-tgid option; `(-------)` when unknown.
        if b > a, line[b - 1] == 0x29 /* ) */ {
            var open = b - 1
            while open > a, line[open] != 0x28 /* ( */ { open -= 1 }
            if line[open] == 0x28 {
                var k = line.skipSpaces(from: open + 1)
                if let tgid = line.decimal(at: &k) { event.tgid = Int32(truncatingIfNeeded: tgid) }
                (a, b) = line.trimmed(a, open)
            }
        }
        guard a < b else { return }
        tokenStart = b
        while tokenStart > a, line[tokenStart - 1] != 0x20 { tokenStart -= 1 }
        // perf: the last token is `tid` or `pid/tid`.
        var k = tokenStart
        if let number = line.decimal(at: &k) {
            if k == b {
                event.tid = Int32(truncatingIfNeeded: number)
                let (c, d) = line.trimmed(a, tokenStart)
                event.comm = symbols.names.intern(line.slice(c, d))
                return
            }
            if line[k] == 0x2f /* / */ {
                k += 1
                if let tid = line.decimal(at: &k), k == b {
                    event.tgid = Int32(truncatingIfNeeded: number)
                    event.tid = Int32(truncatingIfNeeded: tid)
                    let (c, d) = line.trimmed(a, tokenStart)
                    event.comm = symbols.names.intern(line.slice(c, d))
                    return
                }
            }
        }
        // ftrace: `comm-tid`, the tid after the last dash.
        var dash = b - 1
        while dash > a, line[dash] != 0x2d /* - */ { dash -= 1 }
        if line[dash] == 0x2d {
            var t = dash + 1
            if let tid = line.decimal(at: &t), t == b {
                event.tid = Int32(truncatingIfNeeded: tid)
                event.comm = symbols.names.intern(line.slice(a, dash))
                return
            }
        }
        event.comm = symbols.names.intern(line.slice(a, b))
    }

    /// Irq/preempt flags as the kernel and perf print them: `d..2.`, `.N..`, `dNh1`.
    private static func isFlagsToken(_ line: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> Bool {
        var hasDot = false
        for k in from..<to {
            switch line[k] {
            case 0x2e: hasDot = true
            case 0x30...0x39, 0x64, 0x44, 0x6e, 0x4e, 0x68, 0x48, 0x73, 0x53, 0x62, 0x42, 0x58, 0x7a, 0x5a, 0x70:
                continue
            default: return false
            }
        }
        return hasDot
    }

    /// `95922.997039` (seconds, any number of decimals) -> ns; `303280081909057` -> counter ticks.
    private mutating func parseTimestamp(_ line: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> UInt64? {
        // The common case, ftrace's microseconds: `SSSS.uuuuuu`, read without a loop over the fraction.
        if clock == .ns, to - from >= 8, line[to - 7] == 0x2e {
            var i = from
            if let seconds = line.decimal(at: &i), i == to - 7 {
                var micros: UInt64 = 0
                var valid = true
                for k in (to - 6)..<to {
                    let digit = line[k] &- 0x30
                    valid = valid && digit < 10
                    micros = micros &* 10 &+ UInt64(digit)
                }
                if valid, seconds < 18_000_000_000 { return seconds * 1_000_000_000 + micros * 1_000 }
            }
        }
        var i = from
        guard let seconds = line.decimal(at: &i) else { return nil }
        if i == to {
            if clock == nil { clock = .ticks }
            return clock == .ticks ? seconds : nil
        }
        guard line[i] == 0x2e else { return nil }
        i += 1
        var fraction: UInt64 = 0
        var digits = 0
        while i < to {
            let digit = line[i] &- 0x30
            guard digit < 10 else { return nil }
            if digits < 9 {
                fraction = fraction * 10 + UInt64(digit)
                digits += 1
            }
            i += 1
        }
        guard digits > 0 else { return nil }
        while digits < 9 {
            fraction *= 10
            digits += 1
        }
        if clock == nil { clock = .ns }
        guard clock == .ns else { return nil }
        // 18446744073.709552 s is one microsecond past UInt64's nanoseconds: not a time, not a trap.
        return seconds.times(1_000_000_000, plus: fraction)
    }
}
