import Foundation
import HVTaxModel
import HVTaxPipeline
import HVTaxTestSupport
import HVTaxTrace
import Testing

/// Damaged timestamps, as mutating a converted trace's bytes produced them. A CPU's records in a
/// trace.dat are in time order unless the file is damaged: a page whose timestamp steps back makes
/// the records after it late; they are counted, and the analysis charges them at their vCPU's last
/// time (before, a late kvm_entry closed its exit before the exit began and the latency's
/// subtraction trapped). A time centuries off is left out, counted (before, sums of vCPU times
/// overflowed and trapped).
@Suite(.scratchDirectory)
struct DamagedTimeTests {
    /// vCPU 0 enters at 1,000,100 and exits (IO) at 1,000,500; the next page claims 900,000, so its
    /// entry and EPT_VIOLATION exit are late; the last page enters again at 1,100,000.
    static func steppingBack() throws -> [UInt8] {
        var page = PageBuilder()
        page.startPage(time: 1_000_000)
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 1_000_100)
        page.add(RecordBuilder.kvmExit(pid: 1001, reason: 30, isa: 1, vcpu: 0), time: 1_000_500)
        page.startPage(time: 900_000)
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 900_100)
        page.add(RecordBuilder.kvmExit(pid: 1001, reason: 48, isa: 1, vcpu: 0), time: 900_200)
        page.startPage(time: 1_100_000)
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 1_100_000)
        return try write(Formats.metadata(), [page.build()], version: .v6)
    }

    @Test("records earlier than their CPU's last are counted late by the reader")
    func counted() throws {
        let (events, reader) = try readAll(try Self.steppingBack())
        #expect(events.map(\.time) == [1_000_100, 1_000_500, 900_100, 900_200, 1_100_000])
        #expect(reader.diagnostics.lateEvents == 2)
    }

    @Test("the analysis charges late events at the vCPU's last time: no time is lost or made up")
    func charged() throws {
        let path = try ScratchDirectory.path("stepping-back.dat")
        try Data(try Self.steppingBack()).write(to: URL(fileURLWithPath: path))
        let report = try TraceReportPipeline.run(paths: [path])
        #expect(report.quality.lateEvents == 2)
        let vcpu = try #require(report.vms.first?.vcpus.first)
        // Guest from the first entry to the IO exit; then in the hypervisor until the last entry:
        // the late entry and exit both sit at 1,000,500, the IO exit's own time.
        #expect(vcpu.split.guest == 400)
        #expect(vcpu.split.hypervisor == 99_500)
        #expect(vcpu.split.total == vcpu.wallTime && vcpu.wallTime == 99_900)
        #expect(vcpu.exits.count == 2)
        let byReason = Dictionary(uniqueKeysWithValues: vcpu.exits.byReason.map { ($0.reason, $0) })
        #expect(byReason["IO_INSTRUCTION"]?.hypervisorTime == 0, "closed by the late entry, at zero length")
        #expect(byReason["EPT_VIOLATION"]?.hypervisorTime == 99_500)
    }

    @Test("an event centuries from the rest is left out and counted; the figures are those without it")
    func outOfRange() throws {
        var page = PageBuilder()
        page.startPage(time: 1_000_000)
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 1_000_100)
        page.add(RecordBuilder.kvmExit(pid: 1001, reason: 30, isa: 1, vcpu: 0), time: 1_000_500)
        page.startPage(time: 1 << 62)  // a damaged page header
        page.add(RecordBuilder.kvmExit(pid: 1001, reason: 48, isa: 1, vcpu: 0), time: (1 << 62) + 10)
        page.startPage(time: 1_100_000)
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 1_100_000)
        let path = try ScratchDirectory.path("centuries-off.dat")
        try Data(try write(Formats.metadata(), [page.build()], version: .v6)).write(to: URL(fileURLWithPath: path))
        let report = try TraceReportPipeline.run(paths: [path])
        #expect(report.quality.eventsOutOfRange == 1)
        #expect(report.quality.lateEvents == 1, "the last page is earlier than the damaged one")
        let vcpu = try #require(report.vms.first?.vcpus.first)
        #expect(vcpu.split.guest == 400 && vcpu.split.hypervisor == 99_500 && vcpu.wallTime == 99_900)
        #expect(vcpu.exits.count == 1 && vcpu.exits.byReason.map(\.reason) == ["IO_INSTRUCTION"])
        #expect(report.host.duration == 99_900)
    }

    /// The shipped example with one kvm_exit's time replaced near 2^64 ns: at 18446744073.709551 s it
    /// trapped in the sum of a VM's times, and is now left out; one microsecond later it trapped in the
    /// parser's seconds + fraction, and is now a malformed line (no time at all).
    @Test("a text trace line with a time at the top of the clock",
          arguments: [("18446744073.709551:", UInt64(1), UInt64(0)), ("18446744073.709552:", 0, 1)])
    func textAtTheTop(stamp: String, outOfRange: UInt64, malformed: UInt64) throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/three-vms.ftrace.txt.gz").path
        let text = try #require(String(data: try gunzip(example), encoding: .utf8))
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let index = try #require(lines.firstIndex { $0.contains("kvm_exit:") })
        let time = try #require(lines[index].range(of: #"\d+\.\d{6}:"#, options: .regularExpression))
        lines[index].replaceSubrange(time, with: stamp)
        let path = try ScratchDirectory.path("top-of-clock.txt")
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let report = try TraceReportPipeline.run(paths: [path])
        #expect(report.quality.eventsOutOfRange == outOfRange)
        #expect(report.quality.malformedLines == malformed)
        #expect(report.host.duration < 10_000_000_000, "the trace's own few seconds, not centuries")
    }

    func gunzip(_ path: String) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc", path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data
    }
}
