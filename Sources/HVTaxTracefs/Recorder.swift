#if canImport(Glibc)
import Glibc
#endif
import HVTaxTrace
import Synchronization

/// The signal that asked a recording to stop (0 while none has). A global atomic because a signal
/// handler can do nothing else safely.
private let stopSignal = Atomic<Int32>(0)

public struct RecordOptions: Sendable {
    /// How long to record; nil records until SIGINT or SIGTERM.
    public var durationNs: UInt64?
    /// Only these threads' events (and sched_switch events that involve them).
    public var pid: Int32?
    public var events: EventSelection
    /// Ring buffer per CPU, KiB.
    public var bufferKB = 8192
    public var output: String
    public var version: TraceDatVersion = .v6
    /// How often the per-CPU pipes are drained.
    public var pollIntervalMs = 100

    public init(output: String, events: EventSelection = EventSelection(events: EventSelection.presets["default"]!)) {
        self.output = output
        self.events = events
    }
}

/// One CPU's ring-buffer statistics at the end of a recording (`per_cpu/cpuN/stats`).
public struct CPURecordStats: Sendable, Equatable {
    public var cpu: Int
    public var pages: UInt64 = 0
    public var bytes: UInt64 = 0
    public var entries: UInt64 = 0
    /// Events overwritten before hvtax read them (the buffer was full).
    public var overrun: UInt64 = 0
    public var commitOverrun: UInt64 = 0
    /// Events the kernel refused because the buffer was full (overwrite off).
    public var dropped: UInt64 = 0
    public var readEvents: UInt64 = 0
    public var statsText = ""

    public var lost: UInt64 { overrun + commitOverrun + dropped }

    mutating func parse(_ text: String) {
        statsText = text
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let value = UInt64(parts[1].split(separator: " ").first ?? "") else { continue }
            switch parts[0] {
            case "entries": entries = value
            case "overrun": overrun = value
            case "commit overrun": commitOverrun = value
            case "dropped events": dropped = value
            case "read events": readEvents = value
            default: break
            }
        }
    }
}

public struct RecordSummary: Sendable {
    public var output: String
    public var instance: String
    public var events: [String]
    /// Requested events this kernel does not have.
    public var missingEvents: [String]
    public var filteredThreads: [Int32]
    public var pidFilterSupported: Bool
    public var recordedNs: UInt64
    public var stoppedBy: String
    public var cpus: [CPURecordStats]
    public var fileBytes: UInt64
    /// CPU time hvtax itself used while recording (user + system), the recording overhead.
    public var cpuTimeNs: UInt64
    public var staleInstancesRemoved: [String]
    public var bufferKB: Int

    public var lostTotal: UInt64 { cpus.reduce(0) { $0 + $1.lost } }

    /// What to change when events were lost.
    public var advice: [String] {
        guard lostTotal > 0 else { return [] }
        var advice = ["raise the ring buffer: --buffer-kb \(bufferKB * 4) (now \(bufferKB) KiB per CPU)"]
        if events.count > 4 { advice.append("record fewer events: --events minimal") }
        if filteredThreads.isEmpty { advice.append("record one VM only: --vm NAME or --pid PID") }
        return advice
    }
}

public enum RecordError: Error, CustomStringConvertible {
    case tracefs(TracefsError)
    case write(TraceDatWriteError)
    case noSuchVM(String, candidates: Int)
    case noSuchProcess(Int32)
    case noEvents([String])

    public var description: String {
        switch self {
        case .tracefs(let e): "tracefs: \(e)"
        case .write(let e): "writing the trace: \(e)"
        case .noSuchVM(let name, let count):
            count == 0 ? "no QEMU process was started with -name \(name) (or guest=\(name))"
                : "\(count) processes are named \(name); use --pid"
        case .noSuchProcess(let pid): "no process \(pid)"
        case .noEvents(let missing): "none of the events exist on this kernel: \(missing.joined(separator: ", "))"
        }
    }
}

/// Records kernel events into hvtax's own tracefs instance and writes a trace.dat: reads each CPU's
/// `trace_pipe_raw` pages as they are (no text formatting), spools them to disk, and on the end
/// (duration, SIGINT, SIGTERM, or an error) turns everything off and removes the instance.
public final class Recorder {
    public let options: RecordOptions
    private let log: (String) -> Void

    public init(options: RecordOptions, log: @escaping (String) -> Void = { _ in }) {
        self.options = options
        self.log = log
    }

    /// Where the per-CPU pages wait for the end of the recording: a hidden folder beside a regular
    /// output (one file system, so a long recording fills the disk the user chose), or the
    /// temporary folder for a device such as /dev/null (a folder in /dev is no place for them).
    static func spoolFolder(for output: String) -> String {
        var info = stat()
        let name = "hvtax-spool-\(getpid())"
        if stat(output, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG {
            let temporary = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
            return temporary + "/." + name
        }
        let slash = output.lastIndex(of: "/")
        let folder = slash.map { String(output[...$0]) } ?? ""
        let file = slash.map { String(output[output.index(after: $0)...]) } ?? output
        return folder + ".\(file).\(name)"
    }

    public static func resolveVM(named name: String) throws(RecordError) -> Int32 {
        let pids = ProcessTable.vm(named: name)
        guard pids.count == 1 else { throw .noSuchVM(name, candidates: pids.count) }
        return pids[0]
    }

    public func record() throws(RecordError) -> RecordSummary {
        // Opened before anything is recorded: a path that cannot be written is said at once, not
        // after the recording. The file appears under its name when the trace is whole.
        let output: TraceDatOutput
        do { output = try TraceDatOutput(path: options.output) } catch { throw .write(error) }
        let tracefs: Tracefs
        let stale: [TracefsInstance.Stale]
        do {
            tracefs = try Tracefs.locate()
            stale = try TracefsInstance.cleanStale(in: tracefs)
        } catch { throw .tracefs(error) }
        for instance in stale { log("removed a stale instance left by a killed run: \(instance.name)") }

        var threads: [Int32] = []
        if let pid = options.pid {
            threads = ProcessTable.threads(of: pid)
            guard !threads.isEmpty else { throw .noSuchProcess(pid) }
        }

        // Signals only set a flag; the loop below notices it and ends the recording cleanly.
        stopSignal.store(0, ordering: .relaxed)
        let previousInt = signal(SIGINT) { stopSignal.store($0, ordering: .relaxed) }
        let previousTerm = signal(SIGTERM) { stopSignal.store($0, ordering: .relaxed) }
        defer {
            signal(SIGINT, previousInt)
            signal(SIGTERM, previousTerm)
        }

        let instance: TracefsInstance
        do { instance = try TracefsInstance(tracefs: tracefs) } catch { throw .tracefs(error) }
        let spool = Self.spoolFolder(for: options.output)
        defer {
            do { try instance.remove() } catch { log("could not remove \(instance.path) (\(error)); `hvtax doctor --fix` will") }
            for entry in Tracefs.directoryEntries(spool) { unlink(spool + "/" + entry) }
            rmdir(spool)
        }
        do {
            return try record(instance: instance, tracefs: tracefs, threads: threads, spool: spool, stale: stale, output: output)
        } catch let error as TracefsError {
            throw .tracefs(error)
        } catch let error as TraceDatWriteError {
            throw .write(error)
        } catch let error as RecordError {
            throw error
        } catch {
            throw .tracefs(TracefsError(path: instance.path, action: "record", problem: "\(error)"))
        }
    }

    private func record(instance: TracefsInstance, tracefs: Tracefs, threads: [Int32], spool: String,
                        stale: [TracefsInstance.Stale], output: TraceDatOutput) throws -> RecordSummary {
        try instance.write("tracing_on", "0")
        try instance.write("buffer_size_kb", String(options.bufferKB))
        let (present, missing) = options.events.resolve(eventsDirectory: instance.file("events"))
        guard !present.isEmpty else { throw RecordError.noEvents(missing) }
        for event in missing { log("this kernel has no event \(event); recording without it") }

        var pidFilter = true
        if !threads.isEmpty {
            if Tracefs.exists(instance.file("set_event_pid")) {
                try instance.write("set_event_pid", threads.map(String.init).joined(separator: " "))
                // Threads the VM starts later (hot-plugged vCPUs) inherit the filter.
                if Tracefs.exists(instance.file("options/event-fork")) { try instance.write("options/event-fork", "1") }
            } else {
                pidFilter = false
                log("this kernel has no set_event_pid: recording every process")
            }
        }
        for event in present { try instance.enable(event: event) }

        let pageSize = Self.pageSize(instance: instance, tracefs: tracefs)
        guard mkdir(spool, 0o700) == 0 else { throw TracefsError.errno(spool, "mkdir (spool directory)") }
        let pipes = try RawPagePipes(instance: instance, pageSize: pageSize)
        defer { pipes.closeAll() }
        let cpus = pipes.cpus
        var spools: [Int32] = []
        defer { for fd in spools where fd >= 0 { close(fd) } }
        for cpu in cpus {
            let spoolPath = spool + "/cpu\(cpu)"
            let out = open(spoolPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard out >= 0 else { throw TracefsError.errno(spoolPath, "open") }
            spools.append(out)
        }
        var stats = cpus.map { CPURecordStats(cpu: $0) }

        /// Moves every page the kernel has for each CPU into its spool file.
        func drain() throws {
            try pipes.drain { index, page, n in
                let written = page.withUnsafeBytes { Glibc.write(spools[index], $0.baseAddress!, pageSize) }
                guard written == pageSize else { throw TracefsError.errno(spool + "/cpu\(cpus[index])", "write") }
                stats[index].pages += 1
                stats[index].bytes += UInt64(n)
            }
        }

        let usageBefore = Self.cpuTimeNs()
        let start = Self.monotonicNs()
        try instance.write("tracing_on", "1")
        log("recording \(present.count) events into \(instance.path)" + (threads.isEmpty ? "" : " for \(threads.count) threads")
            + (options.durationNs.map { " for \(Double($0) / 1e9) s" } ?? " until Ctrl-C"))
        var stoppedBy = "duration"
        while true {
            try drain()
            let signal = stopSignal.load(ordering: .relaxed)
            if signal != 0 {
                stoppedBy = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
                break
            }
            let elapsed = Self.monotonicNs() - start
            if let duration = options.durationNs, elapsed >= duration { break }
            let remaining = options.durationNs.map { $0 - elapsed } ?? UInt64.max
            var pause = timespec(tv_sec: 0, tv_nsec: Int(min(UInt64(options.pollIntervalMs) * 1_000_000, remaining)))
            nanosleep(&pause, nil)
        }
        try instance.write("tracing_on", "0")
        let recorded = Self.monotonicNs() - start
        try drain()
        for index in stats.indices {
            stats[index].parse((try? instance.read("per_cpu/cpu\(cpus[index])/stats")) ?? "")
        }
        let cpuTime = Self.cpuTimeNs() - usageBefore

        var meta = try Self.metadata(instance: instance, tracefs: tracefs, pageSize: pageSize, present: present)
        meta.cpuStats = stats.map { "CPU: \($0.cpu)\n" + $0.statsText }
        try TraceDatWriter.write(meta, cpus: cpus.map { .file(path: spool + "/cpu\($0)") }, version: options.version, to: output)
        var info = stat()
        stat(options.output, &info)

        return RecordSummary(output: options.output, instance: instance.name, events: present, missingEvents: missing,
                             filteredThreads: pidFilter ? threads : [], pidFilterSupported: pidFilter,
                             recordedNs: recorded, stoppedBy: stoppedBy, cpus: stats, fileBytes: UInt64(info.st_size),
                             cpuTimeNs: cpuTime, staleInstancesRemoved: stale.map(\.name), bufferKB: options.bufferKB)
    }

    /// The ring-buffer page (sub-buffer) size: `buffer_subbuf_size_kb` on 6.7+ kernels, else the
    /// size header_page gives.
    public static func pageSize(instance: TracefsInstance, tracefs: Tracefs) -> Int {
        if let text = try? instance.read("buffer_subbuf_size_kb"), let kb = Int(text.trimmingSpaces()), kb > 0 {
            return kb * 1024
        }
        if let text = try? Tracefs.read(tracefs.path("events/header_page")),
           case .success(let format) = EventFormat.parse(Substring(text), system: "header_page"),
           let data = format.field("data") {
            return data.offset + data.size
        }
        return Int(getpagesize())
    }

    public static func metadata(instance: TracefsInstance, tracefs: Tracefs, pageSize: Int, present: [String]) throws -> TraceDatMetadata {
        var meta = TraceDatMetadata(pageSize: pageSize,
                                    headerPage: try Tracefs.read(tracefs.path("events/header_page")),
                                    headerEvent: try Tracefs.read(tracefs.path("events/header_event")))
        var systems: [(system: String, formats: [String])] = []
        for event in present {
            let system = String(event.split(separator: "/")[0])
            let format = try instance.read("events/\(event)/format")
            if let index = systems.firstIndex(where: { $0.system == system }) {
                systems[index].formats.append(format)
            } else {
                systems.append((system, [format]))
            }
        }
        meta.eventSystems = systems
        // The kernel's cmdline cache first (names as they were while tracing), then every thread
        // alive now that the cache does not know.
        var lines = (try? Tracefs.read(tracefs.path("saved_cmdlines"))) ?? ""
        var known = Set(lines.split(separator: "\n").compactMap { $0.split(separator: " ").first.flatMap { Int32($0) } })
        let threads = ProcessTable.allThreads()
        for thread in threads where known.insert(thread.tid).inserted {
            lines += "\(thread.tid) \(thread.comm)\n"
        }
        meta.commandLines = lines
        // Which process each thread belongs to: vCPU threads are grouped into VMs by it.
        meta.threadGroups = threads.map { ($0.tid, $0.pid) }
        if let clock = try? instance.read("trace_clock"), let open = clock.firstIndex(of: "["),
           let close = clock[open...].firstIndex(of: "]") {
            meta.clock = String(clock[clock.index(after: open)..<close])
        }
        var name = utsname()
        uname(&name)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        meta.uname = "\(field(name.sysname)) \(field(name.nodename)) \(field(name.release)) \(field(name.version)) \(field(name.machine))"
        return meta
    }

    static func monotonicNs() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    static func cpuTimeNs() -> UInt64 {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = UInt64(usage.ru_utime.tv_sec) * 1_000_000_000 + UInt64(usage.ru_utime.tv_usec) * 1000
        let system = UInt64(usage.ru_stime.tv_sec) * 1_000_000_000 + UInt64(usage.ru_stime.tv_usec) * 1000
        return user + system
    }
}
