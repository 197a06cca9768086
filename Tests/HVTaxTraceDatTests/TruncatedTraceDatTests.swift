import Foundation
import HVTaxAnalysis
import HVTaxEvents
import HVTaxModel
import HVTaxPipeline
import HVTaxSynth
import HVTaxTestSupport
import HVTaxTrace
import Testing

/// A trace.dat cut short (the recorder killed while writing, a full disk): trace-cmd refuses it;
/// hvtax reads every whole page that is there, says where the file ends, and makes the vCPUs of a
/// CPU whose data stops early unknown from its last event on, instead of frozen in their state.
@Suite("truncated trace.dat", .scratchDirectory)
struct TruncatedTraceDatTests {
    /// A synthetic host (2 VMs x 2 vCPUs on 4 CPUs, nothing lost) written as a trace.dat.
    static func whole(_ version: TraceDatVersion, symbols: SymbolTable) throws -> [UInt8] {
        let encoder = try synthesizedEncoder(events: 40_000, loss: 0, textPath: try ScratchDirectory.path("synth.txt"),
                                             symbols: symbols)
        let output = TraceDatOutput()
        try encoder.finish(to: output, version: version)
        return output.bytes
    }

    static func events(_ bytes: [UInt8], symbols: SymbolTable) throws -> (events: [TraceEvent], reader: TraceDatReader) {
        let reader = try TraceDatReader(bytes: bytes, name: "cut.dat", symbols: symbols)
        var events: [TraceEvent] = []
        while let event = try reader.next() { events.append(event) }
        return (events, reader)
    }

    /// The report of an explicit event list: the ground truth a cut file must give.
    static func report(of events: [TraceEvent], symbols: SymbolTable) -> TraceReport {
        let analyzer = TraceAnalyzer(symbols: symbols)
        events.withUnsafeBufferPointer { analyzer.consume($0) }
        return analyzer.report(sources: [], clock: ClockInfo(unit: .ns), generator: "hvtax")
    }

    struct Cut: CustomTestStringConvertible, Sendable {
        var name: String
        var version: TraceDatVersion
        /// Which CPU's data (by position in the file) the file ends in, and how far into it.
        var cpuPosition: Int
        var pagesKept: Double
        var testDescription: String { name }
    }

    @Test("cut inside a CPU's data: the pages there are read, its vCPUs are unknown after its last event",
          arguments: [
              Cut(name: "v6, inside the last CPU's data", version: .v6, cpuPosition: -1, pagesKept: 2.5),
              Cut(name: "v6, inside the second CPU's data: the CPUs after it have none", version: .v6, cpuPosition: 1, pagesKept: 1.5),
          ])
    func cutInsideTheData(_ cut: Cut) throws {
        let symbols = SymbolTable()
        let bytes = try Self.whole(cut.version, symbols: symbols)
        let file = try TraceDatFile(bytes: bytes, name: "whole.dat")
        let data = file.cpuData.filter { $0.size > 0 }.sorted { $0.offset < $1.offset }
        #expect(data.count == 4)
        let cutCPU = data[cut.cpuPosition < 0 ? data.count + cut.cpuPosition : cut.cpuPosition]
        let end = Int(cutCPU.offset) + Int(Double(min(cutCPU.size, UInt64(4 * file.pageSize))) * cut.pagesKept / 4)
        let cutBytes = Array(bytes.prefix(end))

        // trace-cmd's view of the same file is an error; hvtax reads it.
        let (whole, _) = try Self.events(bytes, symbols: symbols)
        let (read, reader) = try Self.events(cutBytes, symbols: symbols)
        #expect(reader.source.format.hasSuffix(", truncated"))
        let cutFile = reader.file
        #expect(cutFile.truncatedCPUs.map(\.cpu) == data.filter { $0.offset + $0.size > UInt64(end) }.map(\.cpu))
        let note = try #require(reader.diagnostics.notes.first { $0.contains("is truncated: it ends at byte \(end)") })
        #expect(note.contains("cpu \(cutCPU.cpu) has \(end - Int(cutCPU.offset)) of its \(cutCPU.size) bytes"))

        // Whole CPUs read as before; the cut one gives a prefix of its events and then one gap of
        // unknown size at its last event; CPUs after the cut give nothing.
        for cpu in data {
            let before = whole.filter { $0.cpu == Int32(cpu.cpu) }
            let after = read.filter { $0.cpu == Int32(cpu.cpu) }
            if cpu.offset + cpu.size <= UInt64(end) {
                #expect(after.map(\.time) == before.map(\.time), "cpu \(cpu.cpu) is whole")
                #expect(!after.contains { $0.kind == .lost })
            } else if cpu.offset >= UInt64(end) {
                #expect(after.isEmpty, "cpu \(cpu.cpu) starts after the end of the file")
            } else {
                let marker = try #require(after.last)
                #expect(marker.kind == .lost && marker.flags.contains(.countUnknown) && marker.value == 0)
                let kept = after.dropLast()
                #expect(!kept.isEmpty && kept.count < before.count, "cpu \(cpu.cpu): \(kept.count) of \(before.count) events")
                #expect(kept.map(\.time) == before.prefix(kept.count).map(\.time), "a prefix of the CPU's events")
                #expect(kept.map(\.kind) == before.prefix(kept.count).map(\.kind))
                #expect(marker.time == kept.last?.time, "the gap starts at the CPU's last event")
            }
        }

        // The report of the cut file is the report of exactly those events and the gap.
        let path = try ScratchDirectory.path("cut.dat")
        try Data(cutBytes).write(to: URL(fileURLWithPath: path))
        let report = try TraceReportPipeline.run(paths: [path], symbols: symbols)
        let truth = Self.report(of: read, symbols: symbols)
        #expect(report.vms == truth.vms)
        let lost = try #require(report.quality.lost.first { $0.cpu == Int32(cutCPU.cpu) })
        #expect(lost.uncounted == 1 && lost.events == 0)
        #expect(report.quality.notes.contains { $0.contains("Events were lost in 1 gap of unknown size") })

        // hvtax convert keeps the gap as one of unknown size (a page flagged without a count).
        let encoder = TraceDatEncoder(symbols: symbols)
        for event in read { try encoder.add(event) }
        let converted = TraceDatOutput()
        try encoder.finish(to: converted)
        let (again, _) = try Self.events(converted.bytes, symbols: symbols)
        let gaps = again.filter { $0.kind == .lost }
        #expect(gaps.count == 1 && gaps.allSatisfy { $0.cpu == Int32(cutCPU.cpu) && $0.flags.contains(.countUnknown) && $0.value == 0 })
    }

    @Test("a vCPU that moves from the cut CPU to a whole one is unknown over the gap, not still in the guest")
    func migratingVCPU() throws {
        // CPU 0 (whole): the vCPU thread is switched in at 5 ms, exits at 5.1 ms, enters at 5.2 ms
        // and exits at 6 ms. CPU 1 (cut after its first page): it entered the guest at 1 ms; the
        // second page, with its exit and the switch away at 4.5 ms, is lost.
        var cpu0 = PageBuilder(bigEndian: false, commitSize: 8)
        cpu0.startPage(time: 4_900_000)
        cpu0.add(RecordBuilder.schedSwitch(prev: "swapper/0", prevPid: 0, state: 0, next: "CPU 0/KVM", nextPid: 1001), time: 5_000_000)
        cpu0.add(RecordBuilder.kvmExit(pid: 1001, reason: 30, isa: 1, vcpu: 0), time: 5_100_000)
        cpu0.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 5_200_000)
        cpu0.add(RecordBuilder.kvmExit(pid: 1001, reason: 30, isa: 1, vcpu: 0), time: 6_000_000)
        var cpu1 = PageBuilder(bigEndian: false, commitSize: 8)
        cpu1.startPage(time: 1_000_000)
        cpu1.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 1_000_000)
        cpu1.startPage(time: 2_000_000)
        cpu1.add(RecordBuilder.kvmExit(pid: 1001, reason: 30, isa: 1, vcpu: 0), time: 2_000_000)
        cpu1.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 2_100_000)
        cpu1.add(RecordBuilder.schedSwitch(prev: "CPU 0/KVM", prevPid: 1001, state: 0x100, next: "swapper/1", nextPid: 0), time: 4_500_000)
        let bytes = try write(Formats.metadata(), [cpu0.build(), cpu1.build()], version: .v6)
        let cpu1Data = try #require(try TraceDatFile(bytes: bytes, name: "whole.dat").cpuData.first { $0.cpu == 1 })
        #expect(cpu1Data.size == 2 * 4096)
        let path = try ScratchDirectory.path("migrating.dat")
        try Data(bytes.prefix(Int(cpu1Data.offset) + 4096 + 1000)).write(to: URL(fileURLWithPath: path))

        let report = try TraceReportPipeline.run(paths: [path])
        let split = try #require(report.vms.first?.vcpus.first?.split)
        // Guest from 1 ms to the gap there; unknown from then until the exit at 5.1 ms; then
        // 0.1 ms in KVM and 0.8 ms in the guest.
        #expect(split.unknown == 4_100_000)
        #expect(split.guest == 800_000)
        #expect(split.hypervisor == 100_000)
        // The same events without the gap: 4.1 ms more of guest that nothing in the file shows.
        let symbols = SymbolTable()
        let (events, _) = try Self.events(Array(bytes.prefix(Int(cpu1Data.offset) + 4096 + 1000)), symbols: symbols)
        let frozen = try #require(Self.report(of: events.filter { $0.kind != .lost }, symbols: symbols).vms.first?.vcpus.first?.split)
        #expect(frozen.unknown == 0 && frozen.guest == 4_900_000)
    }

    @Test("a v7 file cut inside its data: a clear error, since the section saying where the data is comes after it",
          arguments: [TraceDatCompression.none, .zstd])
    func version7(_ compression: TraceDatCompression) throws {
        let symbols = SymbolTable()
        let bytes = try Self.whole(.v7(compression), symbols: symbols)
        let first = try TraceDatFile(bytes: bytes, name: "whole.dat").cpuData.filter { $0.size > 0 }.map(\.offset).min()!
        #expect {
            _ = try Self.events(Array(bytes.prefix(Int(first) + 5000)), symbols: symbols)
        } throws: { error in
            let text = "\(error)"
            return text.contains("cut.dat") && text.contains("starts past the end of the file") && text.contains("truncated")
        }
    }

    @Test("a file that ends before any CPU's data: an empty report that says so, not an error")
    func endsBeforeTheData() throws {
        let symbols = SymbolTable()
        let bytes = try Self.whole(.v6, symbols: symbols)
        let first = try TraceDatFile(bytes: bytes, name: "whole.dat").cpuData.filter { $0.size > 0 }.map(\.offset).min()!
        let (read, reader) = try Self.events(Array(bytes.prefix(Int(first))), symbols: symbols)
        #expect(read.isEmpty)
        #expect(reader.file.truncatedCPUs.count == 4 && reader.file.truncatedCPUs.allSatisfy { $0.presentBytes == 0 })
    }

    @Test("'CPU:N [LOST EVENTS]' without a count is a gap of unknown size, not 0 events")
    func uncountedTextLoss() throws {
        let path = try ScratchDirectory.path("lost.txt")
        let prefix = "  CPU 0/KVM-2001    (   2000) [002] d.... "
        try """
            \(prefix)1.000000: kvm_entry: vcpu 0, rip 0x1
            CPU:2 [LOST EVENTS]
            \(prefix)1.000100: kvm_exit: vcpu 0 reason HLT rip 0x2 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
            \(prefix)1.000200: kvm_entry: vcpu 0, rip 0x1
            CPU:2 [LOST 7 EVENTS]
            \(prefix)1.000300: kvm_exit: vcpu 0 reason HLT rip 0x2 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000

            """.write(toFile: path, atomically: true, encoding: .utf8)
        let report = try TraceReportPipeline.run(paths: [path])
        #expect(report.quality.lost == [.init(cpu: 2, events: 7, occurrences: 2, uncounted: 1)])
        #expect(report.quality.notes.contains { $0.hasPrefix("7 events were lost, and more in 1 gap of unknown size") })
    }
}
