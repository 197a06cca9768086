import ArgumentParser
import HVTaxHost
import HVTaxModel
import HVTaxTrace
import HVTaxTracefs
#if canImport(Glibc)
import Glibc
#endif

/// `hvtax record`: KVM, scheduler and IRQ events into a trace.dat, from hvtax's own tracefs instance.
struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record kvm, sched and irq events into a trace.dat (own tracefs instance, cleaned up on exit).",
        discussion: """
        Presets for --events: \(EventSelection.presets.keys.sorted().joined(separator: ", ")); or a list such as
        kvm:kvm_exit,kvm:kvm_entry,sched:sched_switch (system:* for a whole system).
        The file is a trace-cmd trace.dat: `hvtax report FILE` and `trace-cmd report FILE` read it.
        """)

    @Option(help: "How long to record: 10s, 500ms, 2m. Without it, until Ctrl-C or SIGTERM.")
    var duration: String?

    @Option(help: "Record only the QEMU process started with -name NAME (or guest=NAME).")
    var vm: String?

    @Option(help: "Record only this process's threads (and the sched_switch events that involve them).")
    var pid: Int32?

    @Option(help: "A preset (default, minimal, all-kvm) or a comma-separated list of system:event.")
    var events = "default"

    @Option(help: "Ring buffer per CPU, KiB. Raise it when events are lost.")
    var bufferKb = 8192

    @Option(help: "trace.dat version: 6 (every trace-cmd reads it) or 7.")
    var fileVersion = 6

    @Option(help: "v7 compression: none, zstd, or zlib (hvtax reads zlib v7; Debian's trace-cmd 3.1.6 does not).")
    var compression = "none"

    @Option(name: .shortAndLong, help: "The trace.dat to write.")
    var output: String

    func validate() throws {
        if vm != nil && pid != nil { throw ValidationError("give --vm or --pid, not both") }
        if let duration, (DurationText.nanoseconds(duration) ?? 0) == 0 {
            throw ValidationError("--duration \(duration): expected a time above zero, \(DurationText.expected)")
        }
        if EventSelection.parse(events) == nil { throw ValidationError("--events \(events): not a preset nor a system:event list") }
        if fileVersion != 6 && fileVersion != 7 { throw ValidationError("--file-version must be 6 or 7") }
        if TraceDatCompression(name: compression) == nil { throw ValidationError("--compression must be none, zstd or zlib") }
        if fileVersion == 6 && compression != "none" { throw ValidationError("compression needs --file-version 7") }
    }

    func run() throws {
        var options = RecordOptions(output: output, events: EventSelection.parse(events)!)
        options.durationNs = duration.flatMap(DurationText.nanoseconds)
        options.bufferKB = bufferKb
        options.version = fileVersion == 6 ? .v6 : .v7(TraceDatCompression(name: compression)!)
        do {
            if let vm { options.pid = try Recorder.resolveVM(named: vm) } else { options.pid = pid }
            let recorder = Recorder(options: options) { message in
                StandardError.write("hvtax record: \(message)\n")
            }
            // Frequency and thermal throttling over the same span: a trace file cannot carry it, so
            // this summary is the one place it is known for a recording.
            let throttle = ThrottleReader(fs: HostFileSystem())
            let before = throttle.read()
            let summary = try recorder.record()
            let throttling = ThrottleAnalysis.interval(from: before, to: throttle.read())
            print(RecordSummaryText.render(summary))
            print("throttling during the recording: \(throttling.state.rawValue): \(throttling.detail)"
                  + (throttling.state == .throttled ? "; exit and guest times in this trace are inflated by it" : ""))
        } catch {
            StandardError.write("hvtax record: \(error)\n")
            throw ExitCode.failure
        }
    }
}

/// Plain-text summary of a recording: what was recorded, per-CPU losses, and what to do about them.
enum RecordSummaryText {
    static func render(_ s: RecordSummary) -> String {
        var lines: [String] = []
        let seconds = Double(s.recordedNs) / 1e9
        let totalPages = s.cpus.reduce(0) { $0 + $1.pages }
        let totalEntries = s.cpus.reduce(0) { $0 + $1.readEvents }
        lines.append("wrote \(s.output): \(s.fileBytes) bytes, \(totalPages) pages, \(fmt(seconds)) s (stopped by \(s.stoppedBy))")
        lines.append("events: \(s.events.map { $0.replacingSlash() }.joined(separator: " "))")
        if !s.missingEvents.isEmpty { lines.append("not on this kernel: \(s.missingEvents.joined(separator: " "))") }
        if !s.filteredThreads.isEmpty { lines.append("threads: \(s.filteredThreads.count) (set_event_pid)") }
        lines.append("")
        lines.append(pad("cpu", 4) + pad("pages", 9) + pad("bytes", 12) + pad("read", 11) + pad("overrun", 10) + pad("dropped", 10))
        for c in s.cpus {
            lines.append(pad("\(c.cpu)", 4) + pad("\(c.pages)", 9) + pad("\(c.bytes)", 12) + pad("\(c.readEvents)", 11)
                         + pad("\(c.overrun + c.commitOverrun)", 10) + pad("\(c.dropped)", 10))
        }
        lines.append("")
        lines.append("events read by the kernel's consumer: \(totalEntries); lost: \(s.lostTotal)")
        lines.append("hvtax CPU time while recording: \(fmt(Double(s.cpuTimeNs) / 1e6)) ms (\(fmt(Double(s.cpuTimeNs) / Double(max(s.recordedNs, 1)) * 100))% of one CPU)")
        for advice in s.advice { lines.append("to lose fewer events: \(advice)") }
        if !s.staleInstancesRemoved.isEmpty {
            lines.append("removed stale instances of killed runs: \(s.staleInstancesRemoved.joined(separator: " "))")
        }
        return lines.joined(separator: "\n")
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    static func fmt(_ value: Double) -> String {
        let scaled = (value * 100).rounded() / 100
        return String(scaled)
    }
}

extension String {
    func replacingSlash() -> String { String(map { $0 == "/" ? ":" : $0 }) }
}

/// Messages for the user on stderr (the report or summary goes to stdout).
enum StandardError {
    static func write(_ text: String) {
        var copy = text
        copy.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
