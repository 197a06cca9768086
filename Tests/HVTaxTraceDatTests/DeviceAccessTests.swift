import Foundation
import HVTaxAnalysis
import HVTaxEvents
import HVTaxModel
import HVTaxPipeline
import HVTaxRender
import HVTaxTestSupport
import HVTaxTrace
import Testing

/// The port I/O and MMIO table (`perf kvm stat --event=ioport/mmio`), on a constructed trace whose
/// accesses and their times are known exactly, in every text form and as a converted trace.dat.
@Suite(.scratchDirectory)
struct DeviceAccessTests {
    /// One vCPU (tid 101 of VM 100), µs after 1 s, each access inside its exit:
    /// - 0x3f8 OUT at 102 -> userspace exit -> entry at 120: 18 µs, through the VMM
    /// - 0x70 IN at 201 -> entry at 204: 3 µs, in the kernel
    /// - fast MMIO 0xfebf1000 at 301 -> entry at 302: 1 µs
    /// - HPET read at 401, unsatisfied -> userspace exit -> its completion at 420 (the same access) -> entry
    ///   at 421: 20 µs, through the VMM, one read
    /// - local APIC write at 501 -> entry at 503: 2 µs
    /// - 0x3f8 OUT at 601, and the trace ends: unfinished
    static let events: [(us: Int, ftrace: String, raw: String)] = [
        (0, "kvm_entry: vcpu 0, rip 0x1000", "kvm_entry: vcpu_id=0 rip=4096"),
        (100, "kvm_exit: vcpu 0 reason IO_INSTRUCTION rip 0x1000 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0",
         "kvm_exit: exit_reason=30 guest_rip=0x1000 isa=1 info1=0x0 info2=0x0 vcpu_id=0"),
        (102, "kvm_pio: pio_write at 0x3f8 size 1 count 1 val 0x41 ", "kvm_pio: rw=1 port=1016 size=1 count=1 val=65"),
        (105, "kvm_userspace_exit: reason KVM_EXIT_IO (2)", "kvm_userspace_exit: reason=2 errno=0"),
        (120, "kvm_entry: vcpu 0, rip 0x1000", "kvm_entry: vcpu_id=0 rip=4096"),
        (200, "kvm_exit: vcpu 0 reason IO_INSTRUCTION rip 0x1000 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0",
         "kvm_exit: exit_reason=30 guest_rip=0x1000 isa=1 info1=0x0 info2=0x0 vcpu_id=0"),
        (201, "kvm_pio: pio_read at 0x70 size 1 count 1 val 0x0 ", "kvm_pio: rw=0 port=112 size=1 count=1 val=0"),
        (204, "kvm_entry: vcpu 0, rip 0x1000", "kvm_entry: vcpu_id=0 rip=4096"),
        (300, "kvm_exit: vcpu 0 reason EPT_MISCONFIG rip 0x1000 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0",
         "kvm_exit: exit_reason=49 guest_rip=0x1000 isa=1 info1=0x0 info2=0x0 vcpu_id=0"),
        (301, "kvm_fast_mmio: fast mmio at gpa 0xfebf1000", "kvm_fast_mmio: gpa=4273934336"),
        (302, "kvm_entry: vcpu 0, rip 0x1000", "kvm_entry: vcpu_id=0 rip=4096"),
        (400, "kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0x1000 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0",
         "kvm_exit: exit_reason=48 guest_rip=0x1000 isa=1 info1=0x0 info2=0x0 vcpu_id=0"),
        (401, "kvm_mmio: mmio unsatisfied-read len 4 gpa 0xfed00000 val 0x0", "kvm_mmio: type=0 len=4 gpa=4275044352 val=0"),
        (405, "kvm_userspace_exit: reason KVM_EXIT_MMIO (6)", "kvm_userspace_exit: reason=6 errno=0"),
        (420, "kvm_mmio: mmio read len 4 gpa 0xfed00000 val 0x1234", "kvm_mmio: type=1 len=4 gpa=4275044352 val=4660"),
        (421, "kvm_entry: vcpu 0, rip 0x1000", "kvm_entry: vcpu_id=0 rip=4096"),
        (500, "kvm_exit: vcpu 0 reason APIC_ACCESS rip 0x1000 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0",
         "kvm_exit: exit_reason=44 guest_rip=0x1000 isa=1 info1=0x0 info2=0x0 vcpu_id=0"),
        (501, "kvm_mmio: mmio write len 4 gpa 0xfee000b0 val 0x0", "kvm_mmio: type=2 len=4 gpa=4276093104 val=0"),
        (503, "kvm_entry: vcpu 0, rip 0x1000", "kvm_entry: vcpu_id=0 rip=4096"),
        (600, "kvm_exit: vcpu 0 reason IO_INSTRUCTION rip 0x1000 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0",
         "kvm_exit: exit_reason=30 guest_rip=0x1000 isa=1 info1=0x0 info2=0x0 vcpu_id=0"),
        (601, "kvm_pio: pio_write at 0x3f8 size 1 count 1 val 0x42 ", "kvm_pio: rw=1 port=1016 size=1 count=1 val=66"),
    ]

    enum Form: String, CaseIterable { case ftrace, traceCmdRaw, perf }

    func write(_ form: Form) throws -> String {
        let lines = Self.events.map { event -> String in
            let seconds = String(format: "1.%06d", event.us)
            switch form {
            case .ftrace: return "       CPU 0/KVM-101     (    100) [000] d.... \(seconds): \(event.ftrace)"
            case .traceCmdRaw: return "       CPU 0/KVM-101     (    100) [000] \(seconds): \(event.raw)"
            case .perf: return "       CPU 0/KVM   100/101   [000] \(seconds)000: kvm:\(event.ftrace)"
            }
        }
        let path = try ScratchDirectory.path("accesses-\(form.rawValue).txt")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    struct Expected: Equatable, CustomStringConvertible {
        var key: String, device: String?, count: UInt64, throughVMM: UInt64?, time: UInt64, unfinished: UInt64
        var description: String { "\(key) \(device ?? "-") n=\(count) vmm=\(throughVMM.map(String.init) ?? "nil") t=\(time) open=\(unfinished)" }
    }

    static let truth = [
        Expected(key: "0xfed00000:R", device: "HPET", count: 1, throughVMM: 1, time: 20_000, unfinished: 0),
        Expected(key: "0x3f8:POUT", device: "COM1", count: 2, throughVMM: 1, time: 18_000, unfinished: 1),
        Expected(key: "0x70:PIN", device: "RTC/CMOS", count: 1, throughVMM: 0, time: 3_000, unfinished: 0),
        Expected(key: "0xfee000b0:W", device: "local APIC", count: 1, throughVMM: 0, time: 2_000, unfinished: 0),
        Expected(key: "0xfebf1000:W", device: nil, count: 1, throughVMM: 0, time: 1_000, unfinished: 0),
    ]

    static func table(_ accesses: [DeviceAccessStats]?) -> [Expected] {
        (accesses ?? []).map {
            Expected(key: $0.key, device: $0.device, count: $0.count, throughVMM: $0.throughVMM, time: $0.time, unfinished: $0.unfinished)
        }
    }

    @Test("every access at its address and direction, its path and its time to the next entry", arguments: Form.allCases)
    func groundTruth(form: Form) throws {
        let report = try TraceReportPipeline.run(paths: [try write(form)])
        #expect(report.quality.malformedLines == 0, "\(report.quality.malformedExamples)")
        #expect(Self.table(report.host.exits.accesses) == Self.truth)
        // The vCPU's and the VM's tables are the same accesses.
        #expect(Self.table(report.vms.first?.exits.accesses) == Self.truth)
        #expect(Self.table(report.vms.first?.vcpus.first?.exits.accesses) == Self.truth)
        let port = try #require(report.host.exits.accesses?.first { $0.key == "0x3f8:POUT" })
        #expect(port.latency.count == 1 && port.latency.min == 18_000 && port.latency.max == 18_000)
        // kvm_pio and kvm_mmio are events the analysis uses, not "other" events.
        #expect(report.quality.unknownEvents.isEmpty)
        #expect(report.quality.eventsByKind["kvm_pio"] == 3 && report.quality.eventsByKind["kvm_mmio"] == 4)
    }

    @Test("converted to trace.dat, the file holds every access and the report is identical")
    func convertedTraceDat() throws {
        let text = try write(.ftrace)
        let symbols = SymbolTable()
        let stream = try TraceInputs.open(text, symbols: symbols)
        let encoder = TraceDatEncoder(symbols: symbols)
        while let event = try stream.next() { try encoder.add(event) }
        let dat = try ScratchDirectory.path("accesses.dat")
        try encoder.finish(to: try TraceDatOutput(path: dat))
        #expect(encoder.skippedOther == 0)
        var fromText = try TraceReportPipeline.run(paths: [text])
        var fromDat = try TraceReportPipeline.run(paths: [dat])
        #expect(Self.table(fromDat.host.exits.accesses) == Self.truth)
        fromText.sources = []
        fromDat.sources = []
        #expect(fromText == fromDat)
        // trace-cmd reads our records as the kernel's: the same ports, addresses and directions.
        guard let (status, output) = try run(["trace-cmd", "report", dat]) else {
            print("trace-cmd is not installed: the written records were not cross-checked")
            return
        }
        #expect(status == 0)
        let lines = output.split(separator: "\n")
        #expect(lines.filter { $0.contains("kvm_pio:") && $0.contains("pio_write at 0x3f8 size 1") }.count == 2)
        #expect(lines.filter { $0.contains("kvm_pio:") && $0.contains("pio_read at 0x70 size 1") }.count == 1)
        // (The length and value are not kept: the analysis uses neither.)
        #expect(lines.filter { $0.contains("kvm_mmio:") && $0.contains(" mmio unsatisfied-read len") && $0.contains("gpa 0xfed00000") }.count == 1)
        #expect(lines.filter { $0.contains("kvm_mmio:") && $0.contains(" mmio read len") && $0.contains("gpa 0xfed00000") }.count == 1)
        #expect(lines.filter { $0.contains("kvm_mmio:") && $0.contains(" mmio write len") && $0.contains("gpa 0xfee000b0") }.count == 1)
        #expect(lines.filter { $0.contains("kvm_fast_mmio:") && $0.contains("fast mmio at gpa 0xfebf1000") }.count == 1)
    }

    @Test("two VMs: the host table adds them up, each VM's table has its own, and the text shows both")
    func twoVMs() throws {
        let first = Self.events.map { "       CPU 0/KVM-101     (    100) [000] d.... \(String(format: "1.%06d", $0.us)): \($0.ftrace)" }
        // The second VM (pid 200) only writes COM1, 10 µs after the first VM's events.
        let second = Self.events.filter { !$0.ftrace.contains("mmio") && !$0.ftrace.contains("pio_read") }
            .map { "       CPU 0/KVM-201     (    200) [001] d.... \(String(format: "1.%06d", $0.us + 10)): \($0.ftrace)" }
        let path = try ScratchDirectory.path("two-vms.txt")
        try ((first + second).joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let report = try TraceReportPipeline.run(paths: [path])
        let byVM = Dictionary(uniqueKeysWithValues: report.vms.map { ($0.pid ?? -1, Self.table($0.exits.accesses)) })
        #expect(byVM[100] == Self.truth)
        #expect(byVM[200]?.map(\.key) == ["0x3f8:POUT"])
        #expect(byVM[200]?.first?.count == 2)
        #expect(report.host.exits.accesses?.first { $0.key == "0x3f8:POUT" }?.count == 4)
        let text = TraceReportTextRenderer(style: TerminalStyle(colour: false)).render(report)
        #expect(text.contains("Port I/O and MMIO, pid-100"))
        #expect(text.contains("Port I/O and MMIO, pid-200"))
    }

    @Test("a window (--since) counts only the accesses inside it")
    func window() throws {
        var options = AnalysisOptions()
        options.filters.since = 300_000  // from 1.000300: the fast MMIO write on
        let report = try TraceReportPipeline.run(paths: [try write(.ftrace)], options: options)
        #expect(Self.table(report.host.exits.accesses).map(\.key) == ["0xfed00000:R", "0xfee000b0:W", "0xfebf1000:W", "0x3f8:POUT"])
    }

    @Test("no kvm_pio or kvm_mmio events: no table at all, so such reports keep their JSON shape")
    func absentWithoutAccesses() throws {
        let path = try ScratchDirectory.path("no-accesses.txt")
        try (Self.events.filter { !$0.ftrace.contains("mmio") && !$0.ftrace.hasPrefix("kvm_pio") }
            .map { "       CPU 0/KVM-101     (    100) [000] d.... \(String(format: "1.%06d", $0.us)): \($0.ftrace)" }
            .joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let report = try TraceReportPipeline.run(paths: [path])
        #expect(report.host.exits.count == 6)
        #expect(report.host.exits.accesses == nil)
    }

    @Test("bodies that are not kvm_pio's or kvm_mmio's are malformed lines naming what was expected")
    func malformedBodies() throws {
        let path = try ScratchDirectory.path("bad-accesses.txt")
        try """
               CPU 0/KVM-101     (    100) [000] d.... 1.000000: kvm_pio: pio_sideways at 0x3f8 size 1
               CPU 0/KVM-101     (    100) [000] d.... 1.000001: kvm_mmio: mmio write len 4 gpa zz
               CPU 0/KVM-101     (    100) [000] d.... 1.000002: kvm_mmio: type=7 len=4 gpa=4096 val=0

        """.write(toFile: path, atomically: true, encoding: .utf8)
        let report = try TraceReportPipeline.run(paths: [path])
        #expect(report.quality.malformedLines == 3)
        let problems = report.quality.malformedExamples.map { "\($0.line): \($0.problem)" }
        #expect(problems.count == 3)
        #expect(problems.first?.hasPrefix("1: kvm_pio body: expected 'pio_write at 0xPORT") == true)
        #expect(problems.dropFirst().allSatisfy { $0.contains("kvm_mmio body: expected") })
        #expect(report.host.exits.accesses == nil)
    }
}
