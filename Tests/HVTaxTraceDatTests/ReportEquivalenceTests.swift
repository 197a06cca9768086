import Foundation
import Testing
import HVTaxModel
import HVTaxPipeline
import HVTaxSynth
import HVTaxEvents
import HVTaxTrace
import HVTaxTracefs

/// A longer life of two vCPUs on two CPUs, every exit with an entry after it, some through the
/// userspace VMM, some preempted: the analysis has something to split.
func busyCPUs() -> [[UInt8]] {
    var pages: [[UInt8]] = []
    for cpu in 0..<2 {
        let tid = Int32(1001 + cpu)
        let name = "CPU \(cpu)/KVM"
        var builder = PageBuilder()
        var time: UInt64 = 1_000_000_000 + UInt64(cpu) * 333
        builder.startPage(time: time)
        var records = 0
        for round in 0..<3000 {
            if builder.room < 400 {
                builder.startPage(time: time)
            }
            time += 700 + UInt64(round % 13) * 50
            builder.add(RecordBuilder.kvmEntry(pid: tid, vcpu: UInt32(cpu)), time: time)
            time += 2000 + UInt64(round % 7) * 300
            let reason: UInt32 = [48, 30, 1, 12, 32][round % 5]
            builder.add(RecordBuilder.kvmExit(pid: tid, reason: reason, isa: 1, vcpu: UInt32(cpu)), time: time)
            if reason == 30 {
                time += 400
                builder.add(RecordBuilder.userspaceExit(pid: tid, reason: 2), time: time)
            }
            if round % 17 == 0 {
                time += 100
                builder.add(RecordBuilder.schedSwitch(prev: name, prevPid: tid, state: round % 2 == 0 ? 0 : 1, next: "kworker/\(cpu):1", nextPid: 70 + Int32(cpu)), time: time)
                time += 5000
                builder.add(RecordBuilder.schedSwitch(prev: "kworker/\(cpu):1", prevPid: 70 + Int32(cpu), state: 1, next: name, nextPid: tid), time: time)
            }
            records += 1
        }
        pages.append(builder.build())
    }
    return pages
}

/// The parts of a report that depend on the events, not on the file they came from. VM names are
/// left out: the trace.dat hvtax writes knows each thread's process (`pid-N`), trace-cmd's text
/// does not (VMs are then named after their first vCPU thread).
/// `trace-cmd report -l` prints at most 8 bytes of a task name (`CPU 0/KV`): `withoutThreadNames`
/// leaves those out too.
func analysis(_ report: TraceReport, withoutThreadNames: Bool = false)
    -> (vms: [VMReport], host: HostSummary, events: UInt64, kinds: [String: UInt64]) {
    let anonymous = report.vms.map { vm in
        var vm = vm
        vm.name = ""
        vm.pid = nil
        vm.vcpus = vm.vcpus.map { vcpu in
            var vcpu = vcpu
            vcpu.vm = ""
            vcpu.vmPid = nil
            if withoutThreadNames { vcpu.thread = "" }
            return vcpu
        }
        return vm
    }
    return (anonymous, report.host, report.quality.events, report.quality.eventsByKind)
}

/// A synthesized host of 2 VMs x 2 vCPUs written as ftrace text to `textPath`, and its events
/// read back into a trace.dat encoder, not yet finished.
func synthesizedEncoder(events: Int, isa: ISA = .vmx, loss: Double, textPath: String,
                        symbols: SymbolTable = SymbolTable()) throws -> TraceDatEncoder {
    var configuration = TraceSynthesizer.Configuration()
    configuration.events = events
    configuration.vms = 2
    configuration.vcpusPerVM = 2
    configuration.isa = isa
    configuration.lossProbability = loss
    var text: [UInt8] = []
    _ = TraceSynthesizer(configuration).generate { text.append(contentsOf: $0) }
    try Data(text).write(to: URL(fileURLWithPath: textPath))
    let stream = try TraceInputs.open(textPath, symbols: symbols)
    let encoder = TraceDatEncoder(symbols: symbols)
    while let event = try stream.next() { try encoder.add(event) }
    return encoder
}

@Suite("same report from trace.dat and from trace-cmd report text")
struct ReportEquivalenceTests {
    /// Whether the first event line's time has no decimal point.
    static func hasBareTimes(_ path: String) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
        return text.split(separator: "\n").lazy.compactMap(ReportLine.timeIsBare).first ?? false
    }

    /// - Parameter layout: more `trace-cmd report` options that change how its lines look.
    func compare(datPath: String, layout: [String] = []) throws {
        let text = datPath + ".txt"
        defer { try? FileManager.default.removeItem(atPath: text) }
        guard let path = which("trace-cmd"), let child = Child.spawn(path, ["report", "-t"] + layout + [datPath], stdoutPath: text) else {
            print("skipped: trace-cmd is not installed (apt-get install trace-cmd)")
            return
        }
        #expect(child.wait() == 0)
        let fromDat = try TraceReportPipeline.run(paths: [datPath])
        // Debian's trace-cmd 3.1.6 now and then (about 1 run in 200 on the same file) prints every
        // time as bare nanoseconds instead of SECONDS.NANOS despite -t. hvtax reads a bare number as
        // a raw counter's ticks, as it must for an x86-tsc trace, so that text is read here as a
        // counter at 1 GHz: the same nanoseconds.
        let bare = Self.hasBareTimes(text)
        if bare { print("trace-cmd printed bare nanoseconds for \(datPath): read as a 1 GHz counter") }
        let fromText = try TraceReportPipeline.run(paths: [text], inputOptions: .init(counterHz: bare ? 1_000_000_000 : nil))
        #expect(fromDat.sources.first?.format.hasPrefix("trace.dat") == true)
        let short = layout.contains("-l")
        let a = analysis(fromDat, withoutThreadNames: short), b = analysis(fromText, withoutThreadNames: short)
        #expect(fromText.quality.malformedLines == 0, "trace-cmd report \(layout)")
        #expect(a.events == b.events)
        #expect(a.kinds == b.kinds)
        #expect(a.host == b.host)
        #expect(a.vms == b.vms)
        #expect(!a.vms.isEmpty)
        #expect(fromDat.vms.allSatisfy { $0.pid != nil }, "the trace.dat's thread groups name the VM processes")
    }

    @Test("bare-nanosecond times in trace-cmd's text are told from SECONDS.NANOS")
    func bareTimesDetected() throws {
        let path = FileManager.default.temporaryDirectory.path + "/hvtax-bare-\(getpid()).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // As trace-cmd 3.1.6 printed the same event in two runs.
        let header = "cpus=2\nCPU:1 [3 EVENTS DROPPED]\n"
        try (header + "       CPU 0/KVM-1001  [000]  1000000000: kvm_entry:             vcpu 0 rip 0x0\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(Self.hasBareTimes(path))
        try (header + "       CPU 0/KVM-1001  [000]     1.000000000: kvm_entry:             vcpu 0 rip 0x0\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(!Self.hasBareTimes(path))
    }

    @Test("a synthetic trace of several VMs, with lost events, converted to trace.dat: the identical report",
          arguments: [ISA.vmx, .svm])
    func synthesized(isa: ISA) throws {
        let base = FileManager.default.temporaryDirectory.path + "/hvtax-synth-\(getpid())-\(isa)"
        defer {
            try? FileManager.default.removeItem(atPath: base + ".txt")
            try? FileManager.default.removeItem(atPath: base + ".dat")
        }
        let encoder = try synthesizedEncoder(events: 60_000, isa: isa, loss: 0.01, textPath: base + ".txt")
        try encoder.finish(to: try TraceDatOutput(path: base + ".dat"))
        #expect(encoder.skippedOther == 0 && encoder.skippedUnknownReason == 0)

        var fromText = try TraceReportPipeline.run(paths: [base + ".txt"])
        var fromDat = try TraceReportPipeline.run(paths: [base + ".dat"])
        #expect(fromDat.quality.lostTotal > 0)
        fromText.sources = []
        fromDat.sources = []
        #expect(fromText == fromDat)
    }

    /// Raw fields (`-R`: sched_switch without its arrow, prev_state a number), the time since the
    /// previous event (`--ts-diff`: `(+1000)` before the event name), and the latency format (`-l`:
    /// no brackets around the CPU, flags right after it, task names cut to 8 bytes). Each used to
    /// lose events: every sched_switch with -R, every line but the first with --ts-diff, the whole
    /// file with -l. `-V` (verbose) prints libtraceevent's plugin lines around the events, and
    /// `--debug` a line where each ring-buffer page starts and the record's place after each event:
    /// those lines were counted as malformed. `-N` prints without plugins (each event's own format).
    @Test("trace-cmd report's other layouts give the same report",
          arguments: [["-R"], ["--ts-diff"], ["-l"], ["-l", "-R", "--ts-diff"], ["-V"], ["--debug"], ["-N"]])
    func otherLayouts(layout: [String]) throws {
        let base = FileManager.default.temporaryDirectory.path + "/hvtax-layout-\(getpid())-\(layout.joined())"
        defer {
            try? FileManager.default.removeItem(atPath: base + ".txt")
            try? FileManager.default.removeItem(atPath: base + ".dat")
        }
        let encoder = try synthesizedEncoder(events: 20_000, loss: 0.01, textPath: base + ".txt")
        try encoder.finish(to: try TraceDatOutput(path: base + ".dat"))
        try compare(datPath: base + ".dat", layout: layout)
    }

    @Test("a written trace.dat with kvm_exit/kvm_entry, userspace exits and preemption")
    func synthetic() throws {
        let path = FileManager.default.temporaryDirectory.path + "/hvtax-equiv-\(getpid()).dat"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try TraceDatOutput(path: path)
        try TraceDatWriter.write(Formats.metadata(), cpus: busyCPUs().map { .bytes($0) }, version: .v6, to: output)
        try compare(datPath: path)
    }

    @Test("a trace.dat recorded here while a QEMU guest runs")
    func recorded() throws {
        if let reason = recordingUnavailable() {
            print("skipped: \(reason)")
            return
        }
        let guest = try TinyGuest(name: "hvtax-eq-\(getpid())")
        var options = RecordOptions(output: guest.directory + "/eq.dat")
        options.durationNs = 500_000_000
        options.pid = guest.process.pid
        let summary = try Recorder(options: options).record()
        #expect(summary.lostTotal == 0)
        try compare(datPath: options.output)
    }
}
