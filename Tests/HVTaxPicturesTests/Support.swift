import Foundation
import HVTaxModel
import HVTaxSynth

/// Synthetic traces with known truth, and the external tools the checks use when present.
enum Support {
    static func synthesize(seed: UInt64, vms: Int = 3, vcpus: Int = 2, events: Int = 20_000, loss: Double = 0.002,
                           handlerScale: Double = 1) throws -> (path: String, truth: GroundTruth) {
        var configuration = TraceSynthesizer.Configuration()
        configuration.seed = seed
        configuration.vms = vms
        configuration.vcpusPerVM = vcpus
        configuration.events = events
        configuration.lossProbability = loss
        configuration.handlerScale = handlerScale
        var bytes = Data()
        let truth = TraceSynthesizer(configuration).generate { bytes.append(contentsOf: $0) }
        let path = temporary("trace-\(seed).txt")
        try bytes.write(to: URL(fileURLWithPath: path))
        return (path, truth)
    }

    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-pictures-\(UUID().uuidString)-\(name)").path
    }

    static var scripts: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts") }

    /// The first executable named `name` on PATH (or the usual places).
    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"] {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes while the process runs, so a chatty one cannot fill its pipe and block.
        nonisolated(unsafe) var errData = Data()
        let reader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !reader.isFinished { usleep(1000) }
        return Output(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// python3 with the modules given, or nil (the checks that need it are skipped, with a reason).
    static func python(with modules: [String]) -> String? {
        guard let python = which("python3"),
              let result = try? run(python, ["-c", modules.map { "import \($0)" }.joined(separator: "; ")]),
              result.status == 0 else { return nil }
        return python
    }
}
