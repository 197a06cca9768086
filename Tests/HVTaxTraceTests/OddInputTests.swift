import Foundation
import HVTaxEvents
import HVTaxModel
import HVTaxPipeline
import HVTaxTestSupport
import HVTaxTrace
import Testing

/// Bad and odd input: counted and shown, or a clear error naming file and line; never a crash.
@Suite(.scratchDirectory)
struct OddInputTests {
    func write(_ text: String, name: String = "odd-\(UUID().uuidString).txt") throws -> String {
        let path = try ScratchDirectory.path(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    let prefix = "  CPU 0/KVM-2001    (   2000) [002] d.... "

    @Test func reasonsWithSpacesFailedEntriesAndUnknownNumbers() throws {
        let path = try write("""
            \(prefix)1.000000: kvm_entry: vcpu 0, rip 0x1
            \(prefix)1.000010: kvm_exit: vcpu 0 reason PF excp rip 0x2 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
            \(prefix)1.000020: kvm_entry: vcpu 0, rip 0x1
            \(prefix)1.000030: kvm_exit: vcpu 0 reason INVALID_STATE FAILED_VMENTRY rip 0x2 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
            \(prefix)1.000040: kvm_entry: vcpu 0, rip 0x1
            \(prefix)1.000050: kvm_exit: vcpu 0 reason UNKNOWN (99) rip 0x2 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
            \(prefix)1.000060: kvm_entry: vcpu 0, rip 0x1
            \(prefix)1.000070: kvm_exit: vcpu 0 reason 77 rip 0x2 info 0 0
            \(prefix)1.000080: kvm_entry: vcpu 0, rip 0x1

            """)
        let report = try TraceReportPipeline.run(paths: [path])
        let reasons = Set(report.host.exits.byReason.map(\.reason))
        #expect(reasons == ["PF excp", "INVALID_STATE", "UNKNOWN (99)", "UNKNOWN (77)"])
        #expect(report.quality.failedVMEntries == 1)
        #expect(report.quality.unknownReasons == ["UNKNOWN (99)": 1, "UNKNOWN (77)": 1])
        #expect(report.host.exits.byReason.first { $0.reason == "PF excp" }?.isa == .svm)
    }

    /// A KVM_RUN cut short by a signal (errno -EINTR) is `reason restart (4)` in the default format,
    /// `reason=0 errno=-4` in trace-cmd's raw one and `reason=0x0 (0) errno=0xfffffffc (-4)` with the
    /// kernel's `fields` option: each is the restart (code 4) with its errno, as a trace.dat reads it.
    /// The raw forms used to give code 0 (the unused reason field), seen in a real `fields` trace.
    @Test func interruptedRunReadsTheSameInEveryFormat() throws {
        let bodies = ["reason restart (4)", "reason=0 errno=-4", "reason=0x0 (0) errno=0xfffffffc (-4)",
                      "reason error (22)", "reason=0 errno=-22", "reason KVM_EXIT_IO (2)", "reason=0x2 (2) errno=0x0 (0)"]
        let path = try write(bodies.enumerated().map { index, body in
            "\(prefix)1.0000\(10 + index): kvm_userspace_exit: \(body)\n"
        }.joined())
        let stream = try TraceInputs.open(path, symbols: SymbolTable())
        var seen: [(code: UInt32, errno: Int32)] = []
        while let event = try stream.next() {
            if event.kind == .userspaceExit { seen.append((event.code, Int32(truncatingIfNeeded: Int64(bitPattern: event.value)))) }
        }
        #expect(seen.map(\.code) == [4, 4, 4, 22, 22, 2, 2])
        #expect(seen.map(\.errno) == [-4, -4, -4, -22, -22, 0, 0])
        #expect(stream.diagnostics.malformedLines == 0)
    }

    @Test func unpairedExitsAndEntriesLostEventsAndUnknownEventsAreCounted() throws {
        let path = try write("""
            \(prefix)1.000000: kvm_entry: vcpu 0, rip 0x1
            \(prefix)1.000010: kvm_exit: vcpu 0 reason MSR_WRITE rip 0x2 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0
            \(prefix)1.000020: kvm_exit: vcpu 0 reason CPUID rip 0x2 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0
            \(prefix)1.000030: kvm_entry: vcpu 0, rip 0x1
            \(prefix)1.000040: kvm_entry: vcpu 0, rip 0x1
            \(prefix)1.000045: kvm_msr: msr_write 38f = 0x0
            CPU:2 [LOST 7 EVENTS]
            \(prefix)1.000100: kvm_exit: vcpu 0 reason HLT rip 0x2 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0
            \(prefix)1.000150: kvm_entry: vcpu 0, rip 0x1
            \(prefix)1.000160: kvm_exit: vcpu 0 reason CPUID rip 0x2 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0
            """)
        let report = try TraceReportPipeline.run(paths: [path])
        let q = report.quality
        #expect(q.unpairedExits == 1)
        #expect(q.unpairedEntries == 1)
        #expect(q.lost == [.init(cpu: 2, events: 7, occurrences: 1)])
        #expect(q.unknownEvents == ["kvm_msr": 1])
        #expect(q.exitsOpenAtEnd == 1)
        let vcpu = report.vms[0].vcpus[0]
        // 40 µs guest..., then unknown from the loss (at the kvm_msr, 1.000045) to the next exit.
        #expect(vcpu.split.unknown == 55_000)
        #expect(vcpu.split.total == vcpu.wallTime)
        // The last line has no newline but is complete: parsed, not truncated.
        #expect(q.truncatedFiles.isEmpty)
        #expect(q.statesIncludingOffCPU == [.hypervisor, .vmm])
        #expect(report.host.steal.level == .unavailable)
    }

    /// The latency format prints a task name in exactly 8 bytes, and a name may hold a colon and a
    /// space: tmux calls its threads `tmux: server` and `tmux: client`, so the kernel writes
    /// `tmux: se-14389`. The `tmux:` was taken for the timestamp and every line of those threads was
    /// malformed (seen in CI, where the `hvtax top` test's tmux ran while another test recorded).
    /// Lines as this machine's kernel wrote them, and the same names in `trace-cmd report -l`'s layout.
    @Test func latencyFormatTaskNamesWithColonsAndSpaces() throws {
        let path = try write("""
              <idle>-0         0d..2. 1547766507us!: sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=tmux: client next_pid=14388 next_prio=120
            tmux: cl-14388     0d..2. 1547766704us+: sched_switch: prev_comm=tmux: client prev_pid=14388 prev_prio=120 prev_state=Z ==> next_comm=tmux: client next_pid=14389 next_prio=120
            tmux: se-14389     1d..2. 1547771598us!: sched_switch: prev_comm=tmux: server prev_pid=14389 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120
            a: 1d..2-300       1d..2. 1547771700us : sched_switch: prev_comm=a: 1d..2 prev_pid=300 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120
            tmux: se-14389   1d..2.  1547.771800: sched_switch: prev_comm=tmux: server prev_pid=14389 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120

            """)
        let symbols = SymbolTable()
        let stream = try TraceInputs.open(path, symbols: symbols)
        var seen: [(tid: Int32, comm: String, cpu: Int32, time: UInt64)] = []
        while let event = try stream.next() { seen.append((event.tid, symbols.names.string(event.comm), event.cpu, event.time)) }
        #expect(stream.diagnostics.malformedLines == 0, "\(stream.diagnostics.malformedExamples)")
        #expect(seen.map(\.tid) == [0, 14388, 14389, 300, 14389])
        #expect(seen.map(\.comm) == ["<idle>", "tmux: cl", "tmux: se", "a: 1d..2", "tmux: se"])
        #expect(seen.map(\.cpu) == [0, 0, 1, 1, 1])
        #expect(seen.map(\.time) == [1_547_766_507_000, 1_547_766_704_000, 1_547_771_598_000, 1_547_771_700_000, 1_547_771_800_000])
    }

    @Test func truncatedLastLineIsReportedNotFatal() throws {
        let path = try write("""
            \(prefix)1.000000: kvm_entry: vcpu 0, rip 0x1
            \(prefix)1.000010: kvm_exit: vcpu 0 reason MSR_WRITE rip 0x2 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0
            \(prefix)1.000020: kvm_entry: vcpu 0, rip 0x1
            \(prefix)1.0000
            """)
        let report = try TraceReportPipeline.run(paths: [path])
        #expect(report.quality.truncatedFiles == [path])
        #expect(report.quality.malformedLines == 0)
        #expect(report.host.exits.count == 1)
    }

    @Test func outOfOrderCPUStreamsAreReordered() throws {
        // Two vCPUs on two CPUs whose lines arrive in per-CPU batches, as trace_pipe readers give them.
        let a = "  CPU 0/KVM-2001    (   2000) [000] d.... "
        let b = "  CPU 1/KVM-2002    (   2000) [001] d.... "
        let path = try write("""
            \(a)1.000000: kvm_entry: vcpu 0, rip 0x1
            \(a)1.000100: kvm_exit: vcpu 0 reason CPUID rip 0x2 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0
            \(a)1.000150: kvm_entry: vcpu 0, rip 0x1
            \(b)1.000050: kvm_entry: vcpu 1, rip 0x1
            \(b)1.000120: kvm_exit: vcpu 1 reason CPUID rip 0x2 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0
            \(b)1.000130: kvm_entry: vcpu 1, rip 0x1

            """)
        let report = try TraceReportPipeline.run(paths: [path])
        #expect(report.quality.reorderedEvents == 3)
        #expect(report.quality.lateEvents == 0)
        #expect(report.vms[0].vcpus.map(\.split.hypervisor) == [50_000, 10_000])
        #expect(report.host.duration == 150_000)
    }

    @Test func garbageIsAClearErrorWithFileAndLine() throws {
        let path = try write(String(repeating: "this is not a trace at all\n", count: 30), name: "garbage.txt")
        #expect {
            try TraceReportPipeline.run(paths: [path])
        } throws: { error in
            guard let error = error as? TraceReadError else { return false }
            return error.file == path && error.location == "line 1" && error.problem.contains("not a text trace")
        }
    }

    /// Under 20 bad lines and nothing else, a file gave an empty report with status 0; and 20
    /// damaged kvm_exit lines were called "not a text trace", though the file is one.
    @Test func aShortFileOfBadLinesIsNoTraceButDamagedEventsAre() throws {
        let short = try write("hello world\nfoo bar\n", name: "short.txt")
        #expect {
            try TraceReportPipeline.run(paths: [short])
        } throws: { error in
            guard let error = error as? TraceReadError else { return false }
            return error.file == short && error.location == "line 1" && error.problem.hasPrefix("not a text trace: expected a CPU column")
        }
        let damaged = try write(String(repeating: " CPU 0/KVM-1001 [000] 10.000001: kvm_exit: nonsense\n", count: 25), name: "damaged.txt")
        let report = try TraceReportPipeline.run(paths: [damaged])
        #expect(report.quality.malformedLines == 25)
        #expect(report.quality.malformedExamples.first?.problem.hasPrefix("kvm_exit body: expected") == true)
        let comments = try write("# tracer: nop\n#\n", name: "comments.txt")
        #expect(try TraceReportPipeline.run(paths: [comments]).quality.malformedLines == 0, "an empty trace is a trace")
    }

    @Test func binaryAndMissingFilesAreClearErrors() throws {
        let directory = try ScratchDirectory.current
        let path = directory.appendingPathComponent("blob").path
        _ = FileManager.default.createFile(atPath: path, contents: Data([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 1, 2, 3]))
        #expect(throws: TraceReadError.self) { try TraceReportPipeline.run(paths: [path]) }
        #expect(throws: TraceReadError.self) { try TraceReportPipeline.run(paths: ["/nonexistent/trace.txt"]) }
        let corruptGzip = directory.appendingPathComponent("bad.gz").path
        _ = FileManager.default.createFile(atPath: corruptGzip, contents: Data([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff]))
        #expect {
            try TraceReportPipeline.run(paths: [corruptGzip])
        } throws: { error in
            (error as? TraceReadError)?.location.contains("compressed byte offset") == true
        }
    }

    @Test func counterClockConvertsWithAFrequency() throws {
        let path = GoldenFormatTests.fixture("ftrace-x86-tsc.txt")
        // 2 GHz: 1,600,000 ticks = 800 µs.
        let report = try TraceReportPipeline.run(paths: [path], inputOptions: .init(counterHz: 2_000_000_000))
        #expect(report.clock == ClockInfo(unit: .ns, convertedFromCounterHz: 2e9))
        #expect(report.vms[0].vcpus[0].wallTime == 800_000)
    }

    @Test(arguments: [("CPU:2 [LOST 7 EVENTS]", 7), ("CPU:2 [7 EVENTS DROPPED]", 7), ("CPU:2 [LOST EVENTS]", 0)])
    func lostEventLinesOfEveryTool(_ line: String, _ events: UInt64) throws {
        let path = try write("""
            \(prefix)1.000000: kvm_entry: vcpu 0, rip 0x1
            \(line)
            \(prefix)1.000100: kvm_exit: vcpu 0 reason HLT rip 0x2 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0

            """)
        let report = try TraceReportPipeline.run(paths: [path])
        // No count: a gap of unknown size, not a loss of 0 events.
        #expect(report.quality.lost == [.init(cpu: 2, events: events, occurrences: 1, uncounted: line.contains("LOST EVENTS") ? 1 : nil)])
        #expect(report.quality.malformedLines == 0)
        #expect(report.vms[0].vcpus[0].split.unknown == 100_000)
    }
}
