import Foundation
import Testing

@testable import HVTaxKVM

/// Whether this machine can run the live tests, and why not.
enum KVMTestSupport {
    static let availability: (available: Bool, reason: String) = {
        let result = KVMDevice.availability()
        if !result.available {
            // Printed once so the skip reason is visible even where test output hides skip comments.
            print("HVTaxKVMTests: skipping the live /dev/kvm tests: \(result.reason)")
        }
        return result
    }()

    static var available: Bool { availability.available }
    static var skipReason: Comment { Comment(rawValue: "needs a working /dev/kvm: \(availability.reason)") }

    /// The `hvtax` executable next to the test bundle (swift test builds every product).
    static var hvtaxExecutable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("hvtax")
    }

    /// Runs `executable` with `arguments`, returning its standard output and exit status.
    static func run(_ executable: String, _ arguments: [String]) throws -> (output: String, status: Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (String(decoding: data, as: UTF8.self), process.terminationStatus)
    }

    /// Runs `body` with this session's autogroup at `nice`, restored afterwards whatever happens.
    ///
    /// With autogroup scheduling (kernel.sched_autogroup_enabled=1) the CPUs are shared fairly
    /// between sessions first, and a thread's nice value only orders it within its own session: on
    /// a machine shared with other sessions' builds, only the session's weight gets the workload
    /// the CPU time its duty needs. Without autogroups, or as non-root, `body` just runs.
    @discardableResult
    static func withAutogroupNice<T>(_ nice: Int, _ body: () throws -> T) throws -> T {
        let path = "/proc/self/autogroup"
        // "/autogroup-6 nice 0"
        guard getuid() == 0, let text = try? String(contentsOfFile: path, encoding: .utf8),
              let old = text.split(separator: " ").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        else { return try body() }
        func set(_ value: Int) { try? String(value).write(toFile: path, atomically: false, encoding: .utf8) }
        set(nice)
        defer { set(old) }
        return try body()
    }

    /// Whole-ns CPU time and run-queue wait of any thread, from its schedstat.
    static func schedstat(tid: Int32) -> ThreadSchedstat? {
        ThreadSchedstat.read(path: "/proc/self/task/\(tid)/schedstat")
    }
}

/// The live tests share the machine's CPUs and /dev/kvm: they run one at a time, in this suite.
@Suite("Live /dev/kvm", .serialized, .enabled(if: KVMTestSupport.available, KVMTestSupport.skipReason))
struct LiveKVM {}
