import Foundation
import Testing
import HVTaxEvents
import HVTaxTrace
import HVTaxTracefs

/// The kernel's `fields` trace option (6.x) prints every event as its raw fields, each number as
/// `0xHEX (DEC)`: `prev_pid=0x76f1 (30449) ... prev_state=0x1 (1) next_comm=...`. Read as
/// decimals, a pid of 0x76f1 was 0, and every sched_switch (no `==>`) was a malformed line. The
/// ground truth is the kernel: one buffer of this test's own instance, read through its `trace`
/// file with the option off and on.
@Suite("the kernel's trace file with its 'fields' option")
struct KernelFieldsOptionTests {
    /// What the analysis uses of each event.
    struct Seen: Equatable, CustomStringConvertible {
        var kind: EventKind, time: UInt64, cpu: Int32, tid: Int32, vcpu: Int32
        var code: UInt32, otherTid: Int32, value: UInt64, runnable: Bool
        var description: String { "\(kind.name) t=\(time) cpu=\(cpu) tid=\(tid) code=\(code) other=\(otherTid) value=\(value) R=\(runnable)" }
    }

    static func events(_ text: String, at path: String) throws -> (seen: [Seen], stream: EventStream) {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let stream = try TraceInputs.open(path, symbols: SymbolTable())
        var seen: [Seen] = []
        while let e = try stream.next() {
            seen.append(Seen(kind: e.kind, time: e.time, cpu: e.cpu, tid: e.tid, vcpu: e.vcpu, code: e.code,
                             otherTid: e.otherTid, value: e.value, runnable: e.flags.contains(.prevRunnable)))
        }
        return (seen, stream)
    }

    @Test("every field as 0xHEX (DEC) reads as the same events as the kernel's own print format")
    func sameEvents() throws {
        if let reason = recordingUnavailable() {
            print("skipped: \(reason)")
            return
        }
        let instance = try TracefsInstance(tracefs: try Tracefs.locate())
        defer { try? instance.remove() }
        guard FileManager.default.fileExists(atPath: instance.file("options/fields")) else {
            print("skipped: this kernel's tracefs has no 'fields' option (added in 6.x)")
            return
        }
        try instance.write("buffer_size_kb", "256")
        let wanted = ["sched/sched_switch", "sched/sched_wakeup", "kvm/kvm_entry", "kvm/kvm_exit", "kvm/kvm_userspace_exit",
                      "kvm/kvm_pio", "irq/irq_handler_entry", "irq/irq_handler_exit"]
        for event in wanted where FileManager.default.fileExists(atPath: instance.file("events/\(event)/enable")) {
            try instance.enable(event: event)
        }
        try instance.write("tracing_on", "1")
        // A QEMU whose guest writes a port in a loop (kvm_pio, kvm_userspace_exit), and a shell
        // that sleeps (sched_switch, sched_wakeup).
        let guest = try TinyGuest(name: "hvtax-fields-\(getpid())")
        _ = Child.spawn("/bin/sh", ["-c", "i=0; while [ $i -lt 100 ]; do sleep 0.002; i=$((i+1)); done"])?.wait()
        try instance.write("tracing_on", "0")
        _ = guest

        let plainText = try Tracefs.read(instance.file("trace"), limit: 64 << 20)
        try instance.write("options/fields", "1")
        let fieldsText = try Tracefs.read(instance.file("trace"), limit: 64 << 20)
        #expect(fieldsText.contains("prev_pid=0x"), "the fields option prints hex and decimal")

        let base = FileManager.default.temporaryDirectory.path + "/hvtax-fields-\(getpid())"
        defer {
            try? FileManager.default.removeItem(atPath: base + "-plain.txt")
            try? FileManager.default.removeItem(atPath: base + "-fields.txt")
        }
        let plain = try Self.events(plainText, at: base + "-plain.txt")
        let fields = try Self.events(fieldsText, at: base + "-fields.txt")
        #expect(plain.stream.diagnostics.malformedLines == 0)
        #expect(fields.stream.diagnostics.malformedLines == 0, "\(fields.stream.diagnostics.malformedExamples)")
        #expect(plain.seen.contains { $0.kind == .schedSwitch && $0.runnable == false })
        #expect(plain.seen.contains { $0.kind == .pio } && plain.seen.contains { $0.kind == .userspaceExit })
        #expect(fields.seen.count == plain.seen.count)
        let first = zip(plain.seen, fields.seen).first { $0 != $1 }
        #expect(first == nil, "first difference: \(String(describing: first))")
    }
}
