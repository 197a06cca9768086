import Foundation
import HVTaxEvents
import HVTaxModel
import HVTaxPipeline
import HVTaxTrace
import Testing

/// One row per format generation of docs/sources.md ("KVM trace formats"). Every fixture encodes
/// the same scenario (see Fixtures/README.md), whose true split was computed by hand, so every
/// reader must agree on it.
struct GoldenFormatTests {
    struct Golden: CustomTestStringConvertible, Sendable {
        var file: String
        var format: String
        var reasons: [String]
        var unit: ClockInfo.Unit = .ns
        var vmGrouping = "tgid"
        var inferredVCPU: UInt64 = 0
        var testDescription: String { file }
    }

    static let vmxReasons = ["EPT_VIOLATION", "IO_INSTRUCTION", "HLT", "MSR_WRITE"]

    static let goldens: [Golden] = [
        Golden(file: "ftrace-5.10-vmx.txt", format: "ftrace", reasons: vmxReasons),
        Golden(file: "ftrace-6.13-requests-vmx.txt", format: "ftrace", reasons: vmxReasons),
        Golden(file: "ftrace-5.7-svm.txt", format: "ftrace", reasons: ["npf", "io", "hlt", "msr"]),
        Golden(file: "ftrace-old-vmx-no-tgid.txt", format: "ftrace", reasons: vmxReasons, vmGrouping: "thread-ids", inferredVCPU: 4),
        Golden(file: "trace-cmd-plugin.txt", format: "trace-cmd", reasons: vmxReasons, vmGrouping: "thread-ids", inferredVCPU: 4),
        Golden(file: "trace-cmd-raw.txt", format: "trace-cmd (raw fields)", reasons: vmxReasons, vmGrouping: "thread-ids"),
        Golden(file: "perf-script.txt", format: "perf-script", reasons: vmxReasons),
        Golden(file: "perf-script-flags.txt", format: "perf-script", reasons: vmxReasons, vmGrouping: "thread-ids", inferredVCPU: 4),
        Golden(file: "ftrace-x86-tsc.txt", format: "ftrace", reasons: vmxReasons, unit: .ticks),
    ]

    static func fixture(_ name: String) -> String {
        Bundle.module.path(forResource: "Fixtures/" + name, ofType: nil)!
    }

    @Test(arguments: goldens)
    func readsTheScenario(_ golden: Golden) throws {
        let report = try TraceReportPipeline.run(paths: [Self.fixture(golden.file)])
        #expect(report.sources.first?.format == golden.format)
        #expect(report.clock.unit == golden.unit)
        #expect(report.quality.malformedLines == 0, "\(report.quality.malformedExamples)")
        #expect(report.quality.events == 11)
        #expect(report.quality.vmGrouping == golden.vmGrouping)
        #expect(report.quality.exitsWithInferredVCPU == golden.inferredVCPU)
        try #require(report.vms.count == 1)
        try #require(report.vms[0].vcpus.count == 1)
        let vcpu = report.vms[0].vcpus[0]
        #expect(vcpu.tid == 2001)
        #expect(vcpu.vcpu == 0)
        if golden.vmGrouping == "tgid" { #expect(vcpu.vmPid == 2000) }
        // Without process ids the note says how to get them from the tool that wrote the trace.
        #expect(report.quality.notes.contains { $0.contains("perf script -F +pid") } == (golden.vmGrouping != "tgid"))
        // µs in the fixtures; the x86-tsc fixture counts ticks of 1 ns.
        let us: UInt64 = 1_000
        #expect(vcpu.split == TimeSplit(guest: 430 * us, hypervisor: 80 * us, vmm: 90 * us, preempted: 0,
                                         halted: 1_000 * us, unknown: 0))
        #expect(vcpu.split.total == vcpu.wallTime)
        #expect(vcpu.wallTime == 1_600 * us)
        let byReason = Dictionary(uniqueKeysWithValues: vcpu.exits.byReason.map { ($0.reason, $0) })
        #expect(Set(byReason.keys) == Set(golden.reasons))
        let (ept, io, hlt, msr) = (byReason[golden.reasons[0]]!, byReason[golden.reasons[1]]!,
                                   byReason[golden.reasons[2]]!, byReason[golden.reasons[3]]!)
        #expect(ept.latency.count == 1 && ept.latency.min == 50 * us && ept.paths.kernel.count == 1)
        #expect(io.latency.min == 100 * us && io.paths.vmm.count == 1 && io.vmmTime == 90 * us && io.hypervisorTime == 10 * us)
        #expect(hlt.latency.max == 1_020 * us && hlt.offCPUTime == 1_000 * us && hlt.hypervisorTime == 20 * us)
        #expect(msr.count == 1 && msr.latency.count == 0)
        #expect(report.quality.exitsOpenAtEnd == 1)
        #expect(vcpu.exits.count == 4)
        #expect(report.host.exits.paths.count == 4)
    }

    @Test func compressedAndPlainGiveTheSameReport() throws {
        let plain = Self.fixture("ftrace-5.10-vmx.txt")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-\(getpid())-compress")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let expected = try TraceReportPipeline.run(paths: [plain])
        for (tool, suffix) in [("gzip", "gz"), ("zstd", "zst")] {
            guard let path = which(tool) else {
                print("skipping \(tool): not installed (apt-get install \(tool))")
                continue
            }
            let output = directory.appendingPathComponent("trace.\(suffix)").path
            try run(path, ["-c", plain], stdout: output)
            let report = try TraceReportPipeline.run(paths: [output])
            #expect(report.sources[0].compression == (suffix == "gz" ? "gzip" : "zstd"))
            #expect(report.vms == expected.vms)
            #expect(report.quality.events == expected.quality.events)
        }
    }

    @Test func mergesFilesByTimestamp() throws {
        // Split the scenario across two files by line parity: the merge must restore it exactly.
        let lines = try String(contentsOfFile: Self.fixture("ftrace-5.10-vmx.txt"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-\(getpid())-merge")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let a = directory.appendingPathComponent("a.txt").path, b = directory.appendingPathComponent("b.txt").path
        try lines.enumerated().filter { $0.offset % 2 == 0 }.map(\.element).joined(separator: "\n").write(toFile: a, atomically: true, encoding: .utf8)
        try lines.enumerated().filter { $0.offset % 2 == 1 }.map(\.element).joined(separator: "\n").write(toFile: b, atomically: true, encoding: .utf8)
        let merged = try TraceReportPipeline.run(paths: [a, b])
        let whole = try TraceReportPipeline.run(paths: [Self.fixture("ftrace-5.10-vmx.txt")])
        #expect(merged.vms == whole.vms)
        #expect(merged.sources.count == 2)
    }
}

func which(_ tool: String) -> String? {
    for directory in ["/usr/bin", "/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: "\(directory)/\(tool)") {
        return "\(directory)/\(tool)"
    }
    return nil
}

func run(_ executable: String, _ arguments: [String], stdout path: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    process.standardOutput = FileHandle(forWritingAtPath: path)
    try process.run()
    process.waitUntilExit()
}
