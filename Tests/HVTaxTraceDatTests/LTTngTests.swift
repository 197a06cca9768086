import Foundation
import Testing
import HVTaxEvents
import HVTaxModel
import HVTaxTestSupport
import HVTaxTrace

/// babeltrace2 text written by hand in the shapes of docs/sources.md ("KVM trace formats", LTTng)
/// and of lttng-modules' kvm, sched and irq events.
enum LTTngFixtures {
    static let session = """
    [19:01:16.525090000] (+?.?????????) myhost kvm_x86_entry: { cpu_id = 3 }, { tid = 812, vtid = 812, pid = 800, procname = "CPU 0/KVM" }, { vcpu_id = 0 }
    [19:01:16.525092220] (+0.000002220) myhost kvm_x86_exit: { cpu_id = 3 }, { tid = 812, vtid = 812, pid = 800, procname = "CPU 0/KVM" }, { exit_reason = 30, guest_rip = 18446744071581, isa = 1, info1 = 0, info2 = 0, intr_info = 0, error_code = 0, vcpu_id = 0 }
    [19:01:16.525093000] (+0.000000780) myhost kvm_userspace_exit: { cpu_id = 3 }, { tid = 812, vtid = 812, pid = 800, procname = "CPU 0/KVM" }, { reason = 2, errno = 0 }
    [19:01:16.525099000] (+0.000006000) myhost kvm_x86_entry: { cpu_id = 3 }, { tid = 812, vtid = 812, pid = 800, procname = "CPU 0/KVM" }, { vcpu_id = 0 }
    [19:01:16.525100000] (+0.000001000) myhost irq_handler_entry: { cpu_id = 3 }, { tid = 812, vtid = 812, pid = 800, procname = "CPU 0/KVM" }, { irq = 11, name = "virtio0" }
    [19:01:16.525101000] (+0.000001000) myhost irq_handler_exit: { cpu_id = 3 }, { tid = 812, vtid = 812, pid = 800, procname = "CPU 0/KVM" }, { irq = 11, ret = 1 }
    [19:01:16.525102000] (+0.000001000) myhost kvm_x86_exit: { cpu_id = 3 }, { tid = 812, vtid = 812, pid = 800, procname = "CPU 0/KVM" }, { exit_reason = 2147483649, guest_rip = 4096, isa = 1, info1 = 0, info2 = 0, intr_info = 0, error_code = 0, vcpu_id = 0 }
    [19:01:16.525103000] (+0.000001000) myhost sched_switch: { cpu_id = 3 }, { tid = 812, vtid = 812, pid = 800, procname = "CPU 0/KVM" }, { prev_comm = "CPU 0/KVM", prev_tid = 812, prev_prio = 20, prev_state = ( "TASK_RUNNING" : container = 0 ), next_comm = "kworker/3:1", next_tid = 90, next_prio = 20 }
    [19:01:16.525104000] (+0.000001000) myhost sched_wakeup: { cpu_id = 3 }, { tid = 90, vtid = 90, pid = 90, procname = "kworker/3:1" }, { comm = "CPU 0/KVM", tid = 812, prio = 20, target_cpu = 3 }
    [19:01:16.525105000] (+0.000001000) myhost sched_switch: { cpu_id = 3 }, { tid = 90, vtid = 90, pid = 90, procname = "kworker/3:1" }, { prev_comm = "kworker/3:1", prev_tid = 90, prev_prio = 20, prev_state = 1, next_comm = "CPU 0/KVM", next_tid = 812, next_prio = 20 }
    [19:01:16.525106000] (+0.000001000) myhost kvm_exit: { cpu_id = 2 }, { tid = 813, vtid = 813, pid = 800, procname = "CPU 1/KVM" }, { exit_reason = 1024, guest_rip = 4096, isa = 2, info1 = 0, info2 = 0 }
    [19:01:16.525107000] (+0.000001000) myhost kvm_entry: { cpu_id = 2 }, { tid = 813, vtid = 813, pid = 800, procname = "CPU 1/KVM" }, { vcpu_id = 1 }
    [19:01:16.525108000] (+0.000001000) myhost kvm_mmio: { cpu_id = 2 }, { tid = 813, vtid = 813, pid = 800, procname = "CPU 1/KVM" }, { type = 2, len = 4, gpa = 0xfee000b0, val = 0 }

    """
}

func openText(_ text: String, name: String) throws -> (events: [TraceEvent], stream: EventStream, symbols: SymbolTable) {
    let path = FileManager.default.temporaryDirectory.path + "/hvtax-lttng-\(getpid())-\(name)-\(UInt64.random(in: 0...UInt64.max)).txt"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let symbols = SymbolTable()
    let stream = try TraceInputs.open(path, symbols: symbols)
    var events: [TraceEvent] = []
    while let event = try stream.next() { events.append(event) }
    return (events, stream, symbols)
}

@Suite("LTTng (babeltrace2 text and CTF directories)", .scratchDirectory)
struct LTTngTests {
    @Test("kvm_x86_* and old kvm_* events, userspace exits, sched and irq events with tid context")
    func session() throws {
        let (events, stream, symbols) = try openText(LTTngFixtures.session, name: "session")
        #expect(stream is LTTngTextReader)
        #expect(stream.source.format == "lttng-babeltrace2")
        #expect(events.map(\.kind) == [.kvmEntry, .kvmExit, .userspaceExit, .kvmEntry, .irqHandlerEntry, .irqHandlerExit,
                                        .kvmExit, .schedSwitch, .schedWakeup, .schedSwitch, .kvmExit, .kvmEntry, .mmio])
        let exits = events.filter { $0.kind == .kvmExit }
        #expect(exits.map { symbols.reasons.string($0.code) } == ["IO_INSTRUCTION", "EXTERNAL_INTERRUPT", "npf"])
        #expect(exits.map { $0.flags.contains(.failedVMEntry) } == [false, true, false])
        #expect(exits.map(\.vcpu) == [0, 0, TraceEvent.unknownID])
        #expect(exits.map(\.tid) == [812, 812, 813])
        #expect(exits.map(\.tgid) == [800, 800, 800])
        #expect(exits.map(\.cpu) == [3, 3, 2])
        #expect(symbols.names.string(exits[0].comm) == "CPU 0/KVM")
        #expect(events[1].time - events[0].time == 2220)
        #expect(events[0].time == ((19 * 3600 + 60 + 16) * 1_000_000_000 + 525_090_000))
        let userspace = events[2]
        #expect(userspace.code == 2 && userspace.tid == 812)
        let switches = events.filter { $0.kind == .schedSwitch }
        #expect(switches.map { $0.flags.contains(.prevRunnable) } == [true, false])
        #expect(switches.map(\.tid) == [812, 90])
        #expect(switches.map(\.otherTid) == [90, 812])
        #expect(switches.map { symbols.names.string($0.otherComm) } == ["kworker/3:1", "CPU 0/KVM"])
        let wakeup = events[8]
        // The payload's tid is the woken task; the context's tid the waker.
        #expect(wakeup.otherTid == 812 && wakeup.tid == 90)
        #expect(events[4].code == 11)
        // kvm_mmio `{ type = 2, len = 4, gpa = 0xfee000b0 }`: a write to the local APIC.
        let mmio = events.last!
        #expect(mmio.code == MMIOAccess.write.rawValue && mmio.value == 0xfee0_00b0 && mmio.flags.contains(.write))
        #expect(mmio.tid == 813)
        #expect(stream.diagnostics.malformedLines == 0)
    }

    struct Stamp: Sendable, CustomTestStringConvertible {
        var line: String
        var ns: UInt64
        var testDescription: String { line }
    }

    @Test("timestamps: time of day, date, seconds (--clock-seconds)", arguments: [
        Stamp(line: "[00:00:01.5]", ns: 1_500_000_000),
        Stamp(line: "[2026-11-22 19:01:16.525092220]", ns: (LTTngTextReaderDays.nov22 * 86_400 + 68_476) * 1_000_000_000 + 525_092_220),
        Stamp(line: "[1763838076.525092220]", ns: 1_763_838_076_525_092_220),
    ])
    func timestamps(stamp: Stamp) throws {
        let (events, _, _) = try openText("\(stamp.line) host kvm_x86_entry: { cpu_id = 0 }, { tid = 1 }, { vcpu_id = 0 }\n", name: "stamp")
        #expect(events.map(\.time) == [stamp.ns])
    }

    /// Each once trapped in the reader's arithmetic (found by mutating numbers in babeltrace2 text):
    /// now the line is malformed, counted, and the good line beside it is read.
    @Test("times past UInt64 nanoseconds or off the calendar are malformed lines, not traps", arguments: [
        "[5124095576030432:00:00.000000000]", "[00:307445734561825861:00.000000000]", "[18446744074.000000000]",
        "[2026-13-01 00:00:00.000000000]", "[2026-12-99999999999999999 00:00:00.000000000]", "[2026-12-05 5124095576030431:00:00.0]",
    ])
    func impossibleTimes(stamp: String) throws {
        let text = """
        \(stamp) h kvm_x86_entry: { cpu_id = 0 }, { tid = 1 }, { vcpu_id = 0 }
        [00:00:01.000000000] h kvm_x86_exit: { cpu_id = 0 }, { tid = 1 }, { exit_reason = 12, isa = 1, vcpu_id = 0 }

        """
        let (events, stream, _) = try openText(text, name: "impossible")
        #expect(events.map(\.kind) == [.kvmExit])
        #expect(stream.diagnostics.malformedLines == 1)
    }

    @Test("a time of day that wraps at midnight keeps counting up")
    func midnight() throws {
        let text = """
        [23:59:59.900000000] h kvm_x86_entry: { cpu_id = 0 }, { tid = 1 }, { vcpu_id = 0 }
        [00:00:00.100000000] h kvm_x86_exit: { cpu_id = 0 }, { tid = 1 }, { exit_reason = 12, isa = 1, vcpu_id = 0 }

        """
        let (events, _, _) = try openText(text, name: "midnight")
        #expect(events[1].time - events[0].time == 200_000_000)
    }

    @Test("discarded events become lost events; garbage is counted; no tid context is noted")
    func lostAndMalformed() throws {
        let text = """
        [10:00:00.000000100] h kvm_x86_entry: { cpu_id = 1 }, { vcpu_id = 0 }
        WARNING: Tracer discarded 321 events between [10:00:00.000000100] and [10:00:00.000000900] in trace "kernel" (CPU id 1)
        [10:00:00.000001000] h kvm_x86_exit: { cpu_id = 1 }, { exit_reason = 12, isa = 1 }
        this is not babeltrace2 output

        """
        let (events, stream, _) = try openText(text, name: "lost")
        #expect(events.map(\.kind) == [.kvmEntry, .lost, .kvmExit])
        #expect(events[1].value == 321 && events[1].cpu == 1)
        #expect(stream.diagnostics.malformedLines == 1)
        #expect(stream.diagnostics.notes.contains { $0.contains("add-context") })
    }

    @Test("perf script's [CPU] prefix is not taken for LTTng")
    func detection() {
        #expect(LTTngTextReader.looksLikeLTTng(Array("[19:01:16.525092220] (+0.1) h kvm_x86_exit: { cpu_id = 3 }".utf8)))
        #expect(!LTTngTextReader.looksLikeLTTng(Array("[001]   770.850287:                      kvm:kvm_entry: vcpu 0, rip 0x100146".utf8)))
        #expect(!LTTngTextReader.looksLikeLTTng(Array("# tracer: nop".utf8)))
    }

    @Test("a directory with no CTF trace in it is a clear error before babeltrace2 runs; one nested deep is found")
    func directoryWithoutCTF() throws {
        let plain = try ScratchDirectory.path("plain")
        try FileManager.default.createDirectory(atPath: plain + "/sub", withIntermediateDirectories: true)
        try "not a trace\n".write(toFile: plain + "/sub/notes.txt", atomically: true, encoding: .utf8)
        #expect {
            _ = try TraceInputs.open(plain, symbols: SymbolTable())
        } throws: { error in
            guard let error = error as? TraceReadError else { return false }
            return error.file == plain && error.location == "directory" && error.problem.hasPrefix("no CTF trace in it")
        }
        // An LTTng session keeps its metadata a few levels down: that directory goes on to babeltrace2
        // (which rejects this empty metadata with its own error, or is missing: either way not ours).
        let session = try ScratchDirectory.path("session")
        try FileManager.default.createDirectory(atPath: session + "/ust/uid/0/64-bit", withIntermediateDirectories: true)
        try "".write(toFile: session + "/ust/uid/0/64-bit/metadata", atomically: true, encoding: .utf8)
        #expect {
            var events = 0
            let stream = try TraceInputs.open(session, symbols: SymbolTable())
            while try stream.next() != nil { events += 1 }
        } throws: { error in
            (error as? TraceReadError).map { !$0.problem.hasPrefix("no CTF trace in it") } ?? false
        }
    }

    @Test("a CTF directory is converted by babeltrace2 (a real CTF trace made from dmesg text)")
    func ctfDirectory() throws {
        guard let babeltrace = which("babeltrace2") else {
            // Without babeltrace2 the reader must say how to get it.
            let dir = try ScratchDirectory.path("ctf-missing")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try "".write(toFile: dir + "/metadata", atomically: true, encoding: .utf8)
            #expect(throws: TraceReadError.self) { _ = try TraceInputs.open(dir, symbols: SymbolTable()) }
            print("skipped the conversion: babeltrace2 is not installed (apt-get install babeltrace2)")
            return
        }
        let base = FileManager.default.temporaryDirectory.path + "/hvtax-ctf-\(getpid())"
        try? FileManager.default.removeItem(atPath: base)
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        try "[    1.000000] first line\n[    2.500000] second line\n".write(toFile: base + "/dmesg.txt", atomically: true, encoding: .utf8)
        let child = try #require(Child.spawn(babeltrace, [
            "convert", "--component=src.text.dmesg", "--params=path=\"\(base)/dmesg.txt\"",
            "--component=sink.ctf.fs", "--params=path=\"\(base)/ctf\""]))
        #expect(child.wait() == 0)
        let symbols = SymbolTable()
        let stream = try TraceInputs.open(base + "/ctf", symbols: symbols)
        var events: [TraceEvent] = []
        while let event = try stream.next() { events.append(event) }
        #expect(stream.source.format == "lttng-ctf (babeltrace2)")
        #expect(events.count == 2)
        #expect(events.map { symbols.names.string($0.code) } == ["string", "string"])
        #expect(events[1].time - events[0].time == 1_500_000_000)
    }
}

enum LTTngTextReaderDays {
    /// Days from 1970-01-01 to 2026-11-22.
    static let nov22: UInt64 = 20_779
}
