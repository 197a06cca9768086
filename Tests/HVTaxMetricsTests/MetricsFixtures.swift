import Foundation
import HVTaxHost
import HVTaxModel
import HVTaxMetrics

/// Snapshots of the live view's fixture trees (Tests/HVTaxLiveTests/Fixtures, written by
/// scripts/gen-proc-tree.py), with the two samples exactly one second apart so every figure is the
/// fixture's own delta.
enum MetricsFixtures {
    static func tree(_ name: String, _ step: Int) -> String {
        let here = #filePath
        let tests = here[..<here.lastIndex(of: "/")!].dropLast("HVTaxMetricsTests".count)
        return "\(tests)HVTaxLiveTests/Fixtures/\(name)/t\(step)"
    }

    static func snapshot(_ name: String) throws -> HostSnapshot { try interval(name).snapshot }

    /// The snapshot and the accounting validation (`AccountingValidator`) of the fixture's interval.
    static func interval(_ name: String) throws -> (snapshot: HostSnapshot, validation: AccountingValidation) {
        let samplers = [0, 1].map { LiveSampler(fs: HostFileSystem(root: tree(name, $0)), ticksPerSecond: 100) }
        var analyzer = SnapshotAnalyzer(
            ticksPerSecond: 100, root: "fixture", exitRateSource: samplers[1].exitRateSource, backend: samplers[1].backend)
        var snapshot: HostSnapshot?
        var samples: [HostSample] = []
        for (i, sampler) in samplers.enumerated() {
            var sample = try sampler.sample()
            sample.monotonicNs = UInt64(i + 1) * 1_000_000_000
            sample.realtimeNs = 1_795_000_000_000_000_000 + UInt64(i) * 1_000_000_000
            samples.append(sample)
            snapshot = analyzer.add(sample, vms: sampler.vms, affinity: sampler.affinity)
        }
        guard let snapshot else { throw FixtureError.noInterval }
        let validator = AccountingValidator(ticksPerSecond: 100, backend: samplers[1].backend)
        return (snapshot, validator.validate(from: samples[0], to: samples[1], vms: samplers[1].vms))
    }

    enum FixtureError: Error { case noInterval }

    /// Runs a program to its end; nil when it is not installed.
    static func run(_ program: String, _ arguments: [String], stdin: String? = nil) throws -> (status: Int32, output: String)? {
        guard let path = ["/usr/bin/", "/usr/local/bin/", "/bin/"].map({ $0 + program })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
