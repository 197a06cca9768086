import HVTaxEvents
import HVTaxModel

/// Reads a text trace — the kernel's `trace`/`trace_pipe` output, `trace-cmd report` (print,
/// plugin and `-R` raw formats) or `perf script` — as a time-ordered `EventStream`.
public final class TextTraceReader: EventStream {
    private let lines: LineReader
    private var parser: TextLineParser
    private var reorder: ReorderBuffer
    private let path: String
    private let compression: Compression?
    private let counterHz: UInt64?
    private var sawTraceCmdHeader = false
    private var eventCount: UInt64 = 0
    /// The time of the last event read.
    private var lastTime: UInt64 = 0
    /// The time of the last event on each CPU (index: CPU number; 0: none yet, so a CPU's first
    /// event is never a step back). Plain memory, not an Array: it is written for every event, and
    /// an Array write checks uniqueness each time (5% of a text report's time in a profile).
    private var lastTimeOnCPU = UnsafeMutableBufferPointer<UInt64>(start: nil, count: 0)
    /// Events earlier than the one before them on the same CPU, which no kernel per-CPU buffer
    /// records (merged or not, each CPU's events are in time order).
    private var stepsBackOnCPU: UInt64 = 0
    private var ended = false
    /// A line shaped like an event was met, even if its body was damaged: the file is a trace.
    private var sawEventLine = false
    private var pendingError: TraceReadError?
    public private(set) var diagnostics = ReaderDiagnostics()

    /// Malformed lines tolerated before the first good event: past that the file is not a trace.
    static let garbageLimit: UInt64 = 20

    /// - Parameter counterHz: converts raw counter timestamps (`x86-tsc`) to nanoseconds.
    public init(input: OpenedInput, symbols: SymbolTable, counterHz: UInt64? = nil, reorderCapacity: Int = 1 << 13) {
        lines = LineReader(source: input.bytes, path: input.path)
        parser = TextLineParser(symbols: symbols)
        reorder = ReorderBuffer(capacity: reorderCapacity)
        path = input.path
        compression = input.compression
        self.counterHz = counterHz
    }

    deinit { lastTimeOnCPU.deallocate() }

    /// True when `head` (the first bytes of a file) looks like a text trace and not binary data.
    public static func looksLikeText(_ head: [UInt8]) -> Bool {
        !head.prefix(4096).contains(0)
    }

    public var clock: ClockInfo {
        switch parser.clock {
        case .ticks?:
            if let hz = counterHz { return ClockInfo(unit: .ns, convertedFromCounterHz: Double(hz)) }
            return ClockInfo(unit: .ticks)
        default:
            return ClockInfo(unit: .ns)
        }
    }

    public var source: TraceSource {
        TraceSource(path: path, format: formatName, compression: compression?.rawValue,
                    lines: lines.lineNumber, events: eventCount)
    }

    private var formatName: String {
        var name = parser.sawSystemPrefix ? "perf-script" : sawTraceCmdHeader ? "trace-cmd" : "ftrace"
        if parser.sawRawFields { name += " (raw fields)" }
        return name
    }

    public func next() throws -> TraceEvent? {
        while true {
            if let ready = reorder.popReady() { return deliver(ready) }
            if ended { return reorder.popEarliest().map(deliver) }
            try readOneLine()
        }
    }

    public func read(into buffer: UnsafeMutableBufferPointer<TraceEvent>) throws -> Int {
        var count = 0
        while count < buffer.count {
            if let ready = reorder.popReady() {
                (buffer.baseAddress! + count).initialize(to: ready)
                count += 1
                continue
            }
            if ended {
                guard let event = reorder.popEarliest() else { break }
                (buffer.baseAddress! + count).initialize(to: event)
                count += 1
                continue
            }
            try readOneLine()
        }
        diagnostics.reorderedEvents = reorder.reordered
        diagnostics.lateEvents = reorder.lateCount
        return count
    }

    private func deliver(_ event: TraceEvent) -> TraceEvent {
        diagnostics.reorderedEvents = reorder.reordered
        diagnostics.lateEvents = reorder.lateCount
        return event
    }

    private func readOneLine() throws {
        guard let line = try lines.next() else {
            ended = true
            // A short file of nothing but bad lines is no trace either (below the garbage limit it
            // gave an empty report, status 0).
            if isNotATrace && diagnostics.malformedLines > 0 { throw notATrace() }
            noteTimesGoingBack()
            return
        }
        var event = TraceEvent(time: 0, kind: .other)
        let parsed = parser.parse(line, into: &event)
        switch parsed {
        case .event:
            if event.kind == .lost {
                // `CPU:N [LOST M EVENTS]` has no timestamp of its own. The kernel and trace-cmd print
                // it just before CPU N's next event, which in a time-merged file comes after other
                // CPUs' events: the events were lost after CPU N's last one, so that is its time.
                let cpu = Int(event.cpu)
                let last = cpu >= 0 && cpu < lastTimeOnCPU.count ? lastTimeOnCPU[cpu] : 0
                event.time = last == 0 ? lastTime : last
            } else {
                if let hz = counterHz, parser.clock == .ticks {
                    let (high, low) = event.time.multipliedFullWidth(by: 1_000_000_000)
                    event.time = UInt64(hz).dividingFullWidth((high, low)).quotient
                }
                lastTime = event.time
                let cpu = Int(event.cpu)
                if cpu >= 0 && cpu < lastTimeOnCPU.count {
                    if event.time < lastTimeOnCPU[cpu] { stepsBackOnCPU += 1 }
                    lastTimeOnCPU[cpu] = event.time
                } else if cpu >= 0 && cpu < 65_536 {
                    growCPUTimes(to: cpu + 1)
                    lastTimeOnCPU[cpu] = event.time
                }
            }
            eventCount += 1
            reorder.push(event)
        case .ignorable:
            break
        case .traceCmdHeader:
            sawTraceCmdHeader = true
        case .malformed(let problem), .damagedEvent(let problem):
            if lines.lastLineUnterminated {
                diagnostics.truncated = true
                return
            }
            if case .damagedEvent = parsed { sawEventLine = true }
            diagnostics.malformed(file: path, line: lines.lineNumber, problem: problem)
            if isNotATrace && diagnostics.malformedLines >= Self.garbageLimit { throw notATrace() }
        }
    }

    /// Room for `count` CPUs' last times; kept out of line, it happens once per CPU.
    @inline(never)
    private func growCPUTimes(to count: Int) {
        let grown = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: count)
        grown.initialize(repeating: 0)
        if let old = lastTimeOnCPU.baseAddress {
            grown.baseAddress!.update(from: old, count: lastTimeOnCPU.count)
            lastTimeOnCPU.deallocate()
        }
        lastTimeOnCPU = grown
    }

    /// Times that often go back on one CPU are not the events' own times: most likely `perf script
    /// --deltatime` (each line's time is the gap since the line before), which reads without a
    /// single bad line and gives a report of nonsense. Said in the report, with the count.
    private func noteTimesGoingBack() {
        guard stepsBackOnCPU >= 10, stepsBackOnCPU * 100 > eventCount else { return }
        diagnostics.notes.append("\(path): \(stepsBackOnCPU) of \(eventCount) events are earlier than the event before them "
            + "on the same CPU, which a kernel's per-CPU trace buffer never records: the times look like gaps between events "
            + "(perf script --deltatime) or are damaged. The split and latencies of this file are not to be trusted; print "
            + "each event's own time (perf script without --deltatime; --reltime is fine).")
    }

    /// No event read and no line shaped like one: bad lines so far are all the file has.
    private var isNotATrace: Bool { eventCount == 0 && !sawEventLine }

    /// The first bad line, and what a line of a text trace looks like.
    private func notATrace() -> TraceReadError {
        let first = diagnostics.malformedExamples.first!
        return TraceReadError(
            file: path, location: "line \(first.line)",
            problem: "not a text trace: \(first.problem); expected lines like "
                + "'TASK-PID [CPU] TIMESTAMP: EVENT: BODY' (ftrace, trace-cmd report) or perf script output")
    }
}
